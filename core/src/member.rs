//! People in a workspace: members (an email, or an identity-provider group)
//! with a role, and what a signed-in person may do.
//!
//! API keys are for machines; people sign in through Cloudflare Access and
//! are known by email. A person's role in a workspace is their own
//! member's role if they have one, else the highest role among the groups
//! they are in, else the workspace's default role, else they are refused
//! with 403 `not_a_member`. Four-eyes approval compares people: see
//! [`Person`] and `release::Actor`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::access_token::Identity;
use crate::error::{Error, ErrorKind, Result};
use crate::names::bounded_text;
use crate::request::parse_json;
use crate::role::Role;

/// A person as the audit trail, approvals and webhooks name them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub email: String,
    /// Their display name; the email when none is known.
    pub name: String,
}

impl Person {
    /// How the audit trail's `actor` names a person: `Ada Lovelace <ada@example.com>`.
    pub fn actor(&self) -> String {
        if self.name == self.email {
            self.email.clone()
        } else {
            format!("{} <{}>", self.name, self.email)
        }
    }
}

/// A member as stored and shown (`GET /v1/members`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub id: String,
    /// Exactly one of `email` and `group` is set.
    pub email: Option<String>,
    pub group: Option<String>,
    pub display_name: String,
    pub role: Role,
    /// Told of approval decisions, refused gates and rollbacks.
    pub subscribed: bool,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

/// An email address as members are keyed: trimmed, lowercased, one `@`
/// with text on both sides, no spaces, at most 320 characters.
pub fn email(field: &str, value: &str) -> Result<String> {
    let e = value.trim().to_ascii_lowercase();
    let ok = e.len() <= 320
        && !e
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == ',')
        && e.split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.contains('@'));
    if ok {
        Ok(e)
    } else {
        Err(Error::invalid_field(field, format!("{field} must be an email address")))
    }
}

/// `POST /v1/members`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMember {
    pub email: Option<String>,
    pub group: Option<String>,
    pub role: Role,
    pub display_name: String,
    pub subscribed: bool,
}

impl NewMember {
    pub fn parse(body: &[u8]) -> Result<Self> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(default)]
            email: Option<String>,
            #[serde(default)]
            group: Option<String>,
            role: String,
            #[serde(default)]
            display_name: Option<String>,
            #[serde(default)]
            subscribed: bool,
        }
        let raw: Raw = parse_json(body)?;
        let (email, group) = match (raw.email, raw.group) {
            (Some(e), None) => (Some(email("email", &e)?), None),
            (None, Some(g)) => (None, Some(bounded_text("group", &g, 200, true)?)),
            _ => {
                return Err(Error::invalid_field(
                    "email",
                    "a member is either an email or a group: give exactly one of them",
                ))
            }
        };
        let display_name = match raw.display_name {
            Some(n) => bounded_text("display_name", &n, 200, false)?,
            None => String::new(),
        };
        let display_name = if display_name.is_empty() {
            email.clone().or_else(|| group.clone()).unwrap_or_default()
        } else {
            display_name
        };
        Ok(NewMember {
            email,
            group,
            role: Role::parse(&raw.role)?,
            display_name,
            subscribed: raw.subscribed,
        })
    }
}

impl NewMember {
    /// The member this adds to `members`, or 409 `already_exists` when the
    /// email or group is one already.
    pub fn admit(self, members: &[Member], id: String, created_by: &str, at: &str) -> Result<Member> {
        let twin = members.iter().find(|m| {
            (self.email.is_some() && m.email == self.email) || (self.group.is_some() && m.group == self.group)
        });
        if let Some(m) = twin {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!(
                    "{} is a member already",
                    self.email.as_ref().or(self.group.as_ref()).cloned().unwrap_or_default()
                ),
            )
            .with_details(json!({ "member_id": m.id })));
        }
        Ok(Member {
            id,
            email: self.email,
            group: self.group,
            display_name: self.display_name,
            role: self.role,
            subscribed: self.subscribed,
            created_by: created_by.to_owned(),
            created_at: at.to_owned(),
            updated_at: at.to_owned(),
        })
    }
}

/// `PATCH /v1/members/{id}`: fields left out keep their value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MemberUpdate {
    pub role: Option<Role>,
    pub display_name: Option<String>,
    pub subscribed: Option<bool>,
}

impl MemberUpdate {
    pub fn parse(body: &[u8]) -> Result<Self> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(default)]
            role: Option<String>,
            #[serde(default)]
            display_name: Option<String>,
            #[serde(default)]
            subscribed: Option<bool>,
        }
        let raw: Raw = parse_json(body)?;
        Ok(MemberUpdate {
            role: raw.role.as_deref().map(Role::parse).transpose()?,
            display_name: raw
                .display_name
                .map(|n| bounded_text("display_name", &n, 200, true))
                .transpose()?,
            subscribed: raw.subscribed,
        })
    }

    /// The member after the update, at `at`.
    pub fn apply(&self, member: &Member, at: &str) -> Member {
        let mut next = member.clone();
        if let Some(r) = self.role {
            next.role = r;
        }
        if let Some(n) = &self.display_name {
            next.display_name = n.clone();
        }
        if let Some(s) = self.subscribed {
            next.subscribed = s;
        }
        next.updated_at = at.to_owned();
        next
    }
}

/// Refuses a change to `members` that leaves the workspace without an admin
/// member when it had one (`after` is the list as it would be): nobody
/// could then manage people without the bootstrap key.
pub fn keep_an_admin(before: &[Member], after: &[Member]) -> Result<()> {
    let admins = |all: &[Member]| all.iter().filter(|m| m.role == Role::Admin).count();
    if admins(before) > 0 && admins(after) == 0 {
        return Err(Error::new(
            ErrorKind::Conflict,
            "this would leave the workspace without an admin member; make someone else admin first",
        )
        .with_details(json!({ "reason": "last_admin" })));
    }
    Ok(())
}

/// A signed-in person's standing in one workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    pub role: Role,
    pub person: Person,
}

/// What `identity` may do in a workspace with `members`, whose default
/// role for signed-in people who are not members is `default_role`.
pub fn membership(identity: &Identity, members: &[Member], default_role: Option<Role>) -> Result<Membership> {
    let own = members
        .iter()
        .find(|m| m.email.as_deref() == Some(identity.email.as_str()));
    let by_group = members
        .iter()
        .filter(|m| m.group.as_ref().is_some_and(|g| identity.groups.iter().any(|x| x == g)))
        .map(|m| m.role)
        .max();
    let role = own.map(|m| m.role).or(by_group).or(default_role).ok_or_else(|| {
        Error::new(
            ErrorKind::NotAMember,
            format!(
                "{} is signed in but not a member of this workspace; an admin adds people under Members",
                identity.email
            ),
        )
        .with_details(json!({ "email": identity.email }))
    })?;
    let name = own
        .map(|m| m.display_name.clone())
        .filter(|n| !n.is_empty() && n != &identity.email)
        .or_else(|| identity.name.clone())
        .unwrap_or_else(|| identity.email.clone());
    Ok(Membership {
        role,
        person: Person {
            email: identity.email.clone(),
            name,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(email: Option<&str>, group: Option<&str>, role: Role) -> Member {
        Member {
            id: "m".into(),
            email: email.map(str::to_owned),
            group: group.map(str::to_owned),
            display_name: email.unwrap_or("g").to_owned(),
            role,
            subscribed: false,
            created_by: "admin".into(),
            created_at: "t".into(),
            updated_at: "t".into(),
        }
    }

    fn who(email: &str, groups: &[&str]) -> Identity {
        Identity {
            email: email.into(),
            name: None,
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn own_membership_wins_then_groups_then_default() {
        let members = [
            member(Some("ada@example.com"), None, Role::Reader),
            member(None, Some("eng"), Role::Editor),
            member(None, Some("leads"), Role::Approver),
        ];
        assert_eq!(
            membership(&who("ada@example.com", &["leads"]), &members, None)
                .unwrap()
                .role,
            Role::Reader
        );
        assert_eq!(
            membership(&who("bob@example.com", &["eng", "leads"]), &members, None)
                .unwrap()
                .role,
            Role::Approver
        );
        assert_eq!(
            membership(&who("eve@example.com", &[]), &members, Some(Role::Reader))
                .unwrap()
                .role,
            Role::Reader
        );
        let e = membership(&who("eve@example.com", &["other"]), &members, None).unwrap_err();
        assert_eq!((e.status(), e.code()), (403, "not_a_member"));
        assert_eq!(e.details()["email"], "eve@example.com");
    }

    #[test]
    fn the_person_is_named_by_their_member_name_or_token_name_or_email() {
        let mut m = member(Some("ada@example.com"), None, Role::Admin);
        m.display_name = "Ada Lovelace".into();
        let p = membership(&who("ada@example.com", &[]), &[m], None).unwrap().person;
        assert_eq!(p.actor(), "Ada Lovelace <ada@example.com>");
        let mut id = who("bob@example.com", &[]);
        id.name = Some("Bob".into());
        assert_eq!(membership(&id, &[], Some(Role::Reader)).unwrap().person.name, "Bob");
        let p = membership(&who("c@example.com", &[]), &[], Some(Role::Reader))
            .unwrap()
            .person;
        assert_eq!(p.actor(), "c@example.com");
    }

    #[test]
    fn new_members_are_an_email_or_a_group() {
        let m = NewMember::parse(br#"{"email": " Ada@Example.com ", "role": "approver"}"#).unwrap();
        assert_eq!(m.email.as_deref(), Some("ada@example.com"));
        assert_eq!(m.display_name, "ada@example.com");
        let g = NewMember::parse(br#"{"group": "release-managers", "role": "approver", "subscribed": true}"#).unwrap();
        assert_eq!(g.group.as_deref(), Some("release-managers"));
        assert!(g.subscribed);
        for bad in [
            r#"{"role": "admin"}"#,
            r#"{"email": "a@b.co", "group": "g", "role": "admin"}"#,
            r#"{"email": "not-an-email", "role": "admin"}"#,
            r#"{"email": "a b@c.co", "role": "admin"}"#,
            r#"{"email": "a@b.co", "role": "owner"}"#,
            r#"{"email": "a@b.co", "role": "admin", "extra": 1}"#,
        ] {
            assert_eq!(NewMember::parse(bad.as_bytes()).unwrap_err().status(), 400, "{bad}");
        }
    }

    #[test]
    fn a_twin_is_refused() {
        let ada = member(Some("ada@example.com"), None, Role::Reader);
        let again = NewMember::parse(br#"{"email": "ADA@example.com", "role": "admin"}"#).unwrap();
        let e = again
            .admit(std::slice::from_ref(&ada), "m2".into(), "admin", "t")
            .unwrap_err();
        assert_eq!((e.status(), e.code()), (409, "already_exists"));
        let bob = NewMember::parse(br#"{"email": "bob@example.com", "role": "admin"}"#).unwrap();
        let m = bob.admit(&[ada], "m2".into(), "admin", "t").unwrap();
        assert_eq!((m.id.as_str(), m.role, m.created_at.as_str()), ("m2", Role::Admin, "t"));
    }

    #[test]
    fn updates_change_only_what_they_name() {
        let m = member(Some("a@b.co"), None, Role::Reader);
        let u = MemberUpdate::parse(br#"{"subscribed": true}"#).unwrap();
        let next = u.apply(&m, "t2");
        assert_eq!(
            (next.role, next.subscribed, next.updated_at.as_str()),
            (Role::Reader, true, "t2")
        );
        assert!(MemberUpdate::parse(br#"{"display_name": "  "}"#).is_err());
        assert!(MemberUpdate::parse(br#"{"role": "root"}"#).is_err());
    }

    #[test]
    fn the_last_admin_member_stays() {
        let admin = member(Some("a@b.co"), None, Role::Admin);
        let reader = member(Some("r@b.co"), None, Role::Reader);
        let e = keep_an_admin(&[admin.clone(), reader.clone()], std::slice::from_ref(&reader)).unwrap_err();
        assert_eq!((e.status(), e.details()["reason"].as_str()), (409, Some("last_admin")));
        assert!(
            keep_an_admin(std::slice::from_ref(&reader), &[]).is_ok(),
            "no admin to keep"
        );
        assert!(keep_an_admin(std::slice::from_ref(&admin), std::slice::from_ref(&admin)).is_ok());
    }
}
