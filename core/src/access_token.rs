//! Signing in through Cloudflare Access.
//!
//! When a deployment sits behind an Access application, every request a
//! person makes carries a token Access signed (RS256 JWT): the
//! `Cf-Access-Jwt-Assertion` header, or the `CF_Authorization` cookie the
//! browser keeps. This module reads the token and checks everything but the
//! signature — which key signed it (`kid`), the audience (the application's
//! AUD tag), the issuer (the team), and the validity window with a small
//! leeway — and reads the team's JWKS. The worker verifies the signature
//! with the runtime's WebCrypto against the key this module picks, so no
//! RSA code is linked into the worker.
//!
//! Every refusal is a 401 `invalid_access_token` whose details name the
//! `reason` (`malformed`, `algorithm`, `unknown_key`, `signature`,
//! `audience`, `issuer`, `expired`, `not_yet_valid`, `no_email`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{Error, ErrorKind, Result};

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: i64 = 60;
/// The header Access adds to every request it lets through.
pub const ASSERTION_HEADER: &str = "cf-access-jwt-assertion";
/// The cookie Access keeps in the browser (the console's requests carry it).
pub const COOKIE_NAME: &str = "CF_Authorization";
/// Tokens longer than this are refused unread.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// A refusal of the token, naming why.
pub fn refused(reason: &str, message: &str) -> Error {
    Error::new(ErrorKind::InvalidAccessToken, message).with_details(json!({ "reason": reason }))
}

/// The Access application the worker trusts: its team and audience tag
/// (`ACCESS_TEAM_DOMAIN` and `ACCESS_AUD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessConfig {
    /// `https://<team>.cloudflareaccess.com`: the issuer tokens must name.
    team_origin: String,
    aud: String,
}

impl AccessConfig {
    /// The configuration from the worker's vars; `None` when either is unset
    /// (sign-in through Access is off). A team domain is written as Access
    /// shows it (`acme.cloudflareaccess.com`) or as an origin
    /// (`https://acme.cloudflareaccess.com`; tests use a local `http://` one).
    pub fn from_vars(team_domain: Option<&str>, aud: Option<&str>) -> Option<Self> {
        let team = team_domain.map(str::trim).filter(|t| !t.is_empty())?;
        let aud = aud.map(str::trim).filter(|a| !a.is_empty())?;
        let origin = if team.starts_with("https://") || team.starts_with("http://") {
            team.trim_end_matches('/').to_owned()
        } else {
            format!("https://{}", team.trim_end_matches('/'))
        };
        Some(AccessConfig {
            team_origin: origin,
            aud: aud.to_owned(),
        })
    }

    pub fn team_origin(&self) -> &str {
        &self.team_origin
    }

    /// Where the team publishes its signing keys.
    pub fn certs_url(&self) -> String {
        format!("{}/cdn-cgi/access/certs", self.team_origin)
    }
}

/// The token as sent, taken from the assertion header or, failing that,
/// the `CF_Authorization` cookie.
pub fn token_of<'a>(assertion: Option<&'a str>, cookie: Option<&'a str>) -> Option<&'a str> {
    if let Some(a) = assertion.map(str::trim).filter(|a| !a.is_empty()) {
        return Some(a);
    }
    cookie?.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == COOKIE_NAME && !value.is_empty()).then_some(value)
    })
}

/// What a request presents to sign in with.
#[derive(Debug, Clone, Copy, Default)]
pub struct Presented<'a> {
    pub authorization: Option<&'a str>,
    pub assertion: Option<&'a str>,
    pub cookie: Option<&'a str>,
    /// The browser's `Sec-Fetch-Site`: `same-origin` for the console's own
    /// requests (machines and other sites do not send it so).
    pub fetch_site: Option<&'a str>,
    /// `Sec-WebSocket-Protocol`: a WebSocket client that cannot set
    /// headers offers its key there (`live.rs`).
    pub protocols: Option<&'a str>,
}

/// How the caller signs in.
#[derive(Debug, Clone, PartialEq)]
pub enum Credential<'a> {
    Key(crate::apikey::ApiKey),
    /// An Access token, to verify.
    Person(&'a str),
}

/// Which credential a request signs in with: an API key when it sends one
/// (refused from the console when the deployment turned key sign-in off),
/// else the Access token when Access is on (`access`), else 401.
pub fn credential<'a>(p: Presented<'a>, access: bool, console_keys: bool) -> Result<Credential<'a>> {
    if p.authorization.is_some() {
        let key = crate::apikey::ApiKey::from_authorization(p.authorization)?;
        if !console_keys && p.fetch_site == Some("same-origin") {
            return Err(Error::new(
                ErrorKind::KeySignInDisabled,
                "this deployment signs people in through Cloudflare Access; API keys are for machines",
            ));
        }
        return Ok(Credential::Key(key));
    }
    if let Some(key) = crate::live::key_in_protocols(p.protocols) {
        return Ok(Credential::Key(key));
    }
    match token_of(p.assertion, p.cookie) {
        // A person's sign-in travels with every request their browser
        // makes, other sites' included: only the console's own
        // (same-origin) requests, and non-browser ones, may use it.
        Some(_) if access && matches!(p.fetch_site, Some("cross-site" | "same-site")) => Err(Error::new(
            ErrorKind::Forbidden,
            "requests from other sites cannot act with your sign-in",
        )),
        Some(token) if access => Ok(Credential::Person(token)),
        _ => Err(crate::apikey::unauthenticated(if access {
            "sign in through Cloudflare Access, or send Authorization: Bearer <api key>"
        } else {
            "missing Authorization: Bearer <api key> header"
        })),
    }
}

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

/// Audience: Access sends an array; a single string is accepted too.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
    /// Group names, when the identity provider passes them through.
    #[serde(default)]
    groups: Option<Value>,
    #[serde(default)]
    custom: Option<Value>,
}

/// A token whose shape is right, not yet checked.
#[derive(Debug)]
pub struct AccessToken {
    /// The signing key's id, to find it in the team's JWKS.
    pub kid: String,
    /// `header.payload`, the bytes the signature covers.
    pub signed_part: String,
    pub signature: Vec<u8>,
    claims: Claims,
}

/// The person a valid token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Lowercased, as members are stored.
    pub email: String,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

fn part<T: for<'de> Deserialize<'de>>(b64: &str) -> Result<T> {
    let bytes = URL_SAFE_NO_PAD
        .decode(b64.trim_end_matches('='))
        .map_err(|_| refused("malformed", "the Access token is not base64url JSON"))?;
    serde_json::from_slice(&bytes).map_err(|_| refused("malformed", "the Access token is not base64url JSON"))
}

impl AccessToken {
    pub fn parse(token: &str) -> Result<Self> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(refused("malformed", "the Access token is too long"));
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(refused(
                "malformed",
                "the Access token is not a JWT (header.payload.signature)",
            ));
        };
        let header: Header = part(h)?;
        if header.alg != "RS256" {
            return Err(refused("algorithm", "the Access token must be signed with RS256"));
        }
        let kid = header
            .kid
            .filter(|k| !k.is_empty() && k.len() <= 200)
            .ok_or_else(|| refused("malformed", "the Access token names no signing key (kid)"))?;
        let claims: Claims = part(p)?;
        let signature = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| refused("malformed", "the Access token's signature is not base64url"))?;
        Ok(AccessToken {
            kid,
            signed_part: format!("{h}.{p}"),
            signature,
            claims,
        })
    }

    /// Checks audience, issuer and validity window at `now` (Unix seconds),
    /// and names the person. Call only once the signature is verified.
    pub fn identity(&self, config: &AccessConfig, now: i64) -> Result<Identity> {
        let c = &self.claims;
        let audience_ok = match &c.aud {
            Some(Audience::One(a)) => a == &config.aud,
            Some(Audience::Many(all)) => all.iter().any(|a| a == &config.aud),
            None => false,
        };
        if !audience_ok {
            return Err(refused(
                "audience",
                "the Access token was issued for another application",
            ));
        }
        if c.iss.as_deref().map(|i| i.trim_end_matches('/')) != Some(config.team_origin.as_str()) {
            return Err(refused("issuer", "the Access token was issued by another team"));
        }
        let exp = c
            .exp
            .ok_or_else(|| refused("malformed", "the Access token has no expiry"))?;
        if now > exp + LEEWAY_SECONDS {
            return Err(refused("expired", "the Access token has expired; sign in again"));
        }
        if c.nbf.is_some_and(|nbf| now + LEEWAY_SECONDS < nbf) {
            return Err(refused("not_yet_valid", "the Access token is not valid yet"));
        }
        let email = c
            .email
            .as_deref()
            .map(|e| e.trim().to_ascii_lowercase())
            .filter(|e| e.contains('@') && e.len() <= 320)
            .ok_or_else(|| {
                refused(
                    "no_email",
                    "the Access token names no person (service tokens sign in with an API key)",
                )
            })?;
        let groups = c
            .groups
            .as_ref()
            .or_else(|| c.custom.as_ref().and_then(|x| x.get("groups")))
            .map(group_names)
            .unwrap_or_default();
        let name = c
            .name
            .clone()
            .or_else(|| {
                c.custom
                    .as_ref()
                    .and_then(|x| x.get("name"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .filter(|n| !n.trim().is_empty() && n.len() <= 200);
        Ok(Identity { email, name, groups })
    }
}

/// Group names as identity providers send them: strings, or objects with
/// a `name` (Access's own identity shape).
fn group_names(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|all| {
            all.iter()
                .filter_map(|g| g.as_str().or_else(|| g.get("name").and_then(Value::as_str)))
                .map(str::to_owned)
                .take(200)
                .collect()
        })
        .unwrap_or_default()
}

/// One RSA public key of the team's JWKS, as WebCrypto imports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Jwk {
    pub kid: String,
    pub kty: String,
    pub n: String,
    pub e: String,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Value>,
}

/// The team's RSA signing keys from its JWKS document; keys of other types
/// are skipped.
pub fn parse_jwks(body: &[u8]) -> Result<Vec<Jwk>> {
    let jwks: Jwks = serde_json::from_slice(body).map_err(|_| Error::internal())?;
    Ok(jwks
        .keys
        .into_iter()
        .filter_map(|k| serde_json::from_value::<Jwk>(k).ok())
        .filter(|k| k.kty == "RSA")
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn token(header: Value, claims: Value) -> String {
        format!("{}.{}.{}", b64(&header), b64(&claims), URL_SAFE_NO_PAD.encode(b"sig"))
    }

    fn config() -> AccessConfig {
        AccessConfig::from_vars(Some("acme.cloudflareaccess.com"), Some("aud-1")).unwrap()
    }

    fn claims() -> Value {
        json!({ "aud": ["aud-1"], "iss": "https://acme.cloudflareaccess.com", "exp": 2000, "nbf": 1000, "email": "Alice@Example.com" })
    }

    fn reason(e: Error) -> String {
        assert_eq!(e.status(), 401);
        assert_eq!(e.code(), "invalid_access_token");
        e.details()["reason"].as_str().unwrap().to_owned()
    }

    #[test]
    fn config_needs_both_vars_and_takes_a_domain_or_an_origin() {
        assert!(AccessConfig::from_vars(None, Some("a")).is_none());
        assert!(AccessConfig::from_vars(Some("acme.cloudflareaccess.com"), Some(" ")).is_none());
        assert_eq!(
            config().certs_url(),
            "https://acme.cloudflareaccess.com/cdn-cgi/access/certs"
        );
        let local = AccessConfig::from_vars(Some("http://127.0.0.1:9/"), Some("a")).unwrap();
        assert_eq!(local.team_origin(), "http://127.0.0.1:9");
    }

    #[test]
    fn a_key_wins_and_access_is_used_only_when_on() {
        let key = format!("Bearer pvct_{}", "a".repeat(48));
        let both = Presented {
            authorization: Some(&key),
            assertion: Some("t"),
            ..Presented::default()
        };
        assert!(matches!(credential(both, true, true).unwrap(), Credential::Key(_)));
        let token = Presented {
            assertion: Some("t"),
            ..Presented::default()
        };
        assert_eq!(credential(token, true, true).unwrap(), Credential::Person("t"));
        assert_eq!(credential(token, false, true).unwrap_err().code(), "unauthenticated");
        for site in ["cross-site", "same-site"] {
            let forged = Presented {
                fetch_site: Some(site),
                ..token
            };
            assert_eq!(credential(forged, true, true).unwrap_err().status(), 403, "{site}");
        }
        let console = Presented {
            fetch_site: Some("same-origin"),
            ..token
        };
        assert!(credential(console, true, true).is_ok());
        assert!(credential(Presented::default(), true, true)
            .unwrap_err()
            .message()
            .contains("Access"));
    }

    #[test]
    fn a_websocket_offers_its_key_as_a_subprotocol() {
        let protocols = format!("pvct.v1, pvct_{}", "c".repeat(48));
        let ws = Presented {
            protocols: Some(&protocols),
            ..Presented::default()
        };
        assert!(matches!(credential(ws, false, true).unwrap(), Credential::Key(_)));
    }

    #[test]
    fn the_console_may_be_refused_keys() {
        let key = format!("Bearer pvct_{}", "a".repeat(48));
        let console = Presented {
            authorization: Some(&key),
            fetch_site: Some("same-origin"),
            ..Presented::default()
        };
        let e = credential(console, true, false).unwrap_err();
        assert_eq!((e.status(), e.code()), (403, "key_sign_in_disabled"));
        assert!(credential(console, true, true).is_ok());
        let machine = Presented {
            fetch_site: None,
            ..console
        };
        assert!(credential(machine, true, false).is_ok(), "machines keep their keys");
    }

    #[test]
    fn the_header_wins_over_the_cookie() {
        assert_eq!(token_of(Some("h"), Some("CF_Authorization=c")), Some("h"));
        assert_eq!(token_of(None, Some("a=1; CF_Authorization=c; b=2")), Some("c"));
        assert_eq!(token_of(Some(""), Some("CF_Authorization=")), None);
        assert_eq!(token_of(None, None), None);
    }

    #[test]
    fn a_valid_token_names_the_person_lowercased() {
        let t = AccessToken::parse(&token(json!({"alg": "RS256", "kid": "k1"}), claims())).unwrap();
        assert_eq!(t.kid, "k1");
        assert_eq!(t.signature, b"sig");
        assert!(t.signed_part.split('.').count() == 2);
        let who = t.identity(&config(), 1500).unwrap();
        assert_eq!(who.email, "alice@example.com");
        assert!(who.groups.is_empty());
    }

    #[test]
    fn groups_and_name_come_from_the_token_or_its_custom_claims() {
        let mut c = claims();
        c["custom"] = json!({ "groups": ["eng", {"name": "release-managers"}], "name": "Alice A." });
        let t = AccessToken::parse(&token(json!({"alg": "RS256", "kid": "k1"}), c)).unwrap();
        let who = t.identity(&config(), 1500).unwrap();
        assert_eq!(who.groups, ["eng", "release-managers"]);
        assert_eq!(who.name.as_deref(), Some("Alice A."));
    }

    #[test]
    fn wrong_algorithm_or_shape_is_refused() {
        let none = token(json!({"alg": "none", "kid": "k1"}), claims());
        assert_eq!(reason(AccessToken::parse(&none).unwrap_err()), "algorithm");
        let hs = token(json!({"alg": "HS256", "kid": "k1"}), claims());
        assert_eq!(reason(AccessToken::parse(&hs).unwrap_err()), "algorithm");
        let no_kid = token(json!({"alg": "RS256"}), claims());
        assert_eq!(reason(AccessToken::parse(&no_kid).unwrap_err()), "malformed");
        for bad in ["", "a.b", "a.b.c.d", "!!.!!.!!", &"a".repeat(20_000)] {
            assert_eq!(reason(AccessToken::parse(bad).unwrap_err()), "malformed");
        }
    }

    #[test]
    fn claims_are_checked_with_leeway() {
        let check = |c: Value, now: i64| {
            AccessToken::parse(&token(json!({"alg": "RS256", "kid": "k"}), c))
                .unwrap()
                .identity(&config(), now)
        };
        assert!(check(claims(), 2000 + LEEWAY_SECONDS).is_ok());
        assert_eq!(reason(check(claims(), 2001 + LEEWAY_SECONDS).unwrap_err()), "expired");
        assert!(check(claims(), 1000 - LEEWAY_SECONDS).is_ok());
        assert_eq!(
            reason(check(claims(), 999 - LEEWAY_SECONDS).unwrap_err()),
            "not_yet_valid"
        );
        let mut c = claims();
        c["aud"] = json!("aud-2");
        assert_eq!(reason(check(c, 1500).unwrap_err()), "audience");
        let mut c = claims();
        c["aud"] = json!("aud-1");
        assert!(check(c, 1500).is_ok(), "a single audience string is accepted");
        let mut c = claims();
        c["iss"] = json!("https://evil.cloudflareaccess.com");
        assert_eq!(reason(check(c, 1500).unwrap_err()), "issuer");
        let mut c = claims();
        c.as_object_mut().unwrap().remove("email");
        assert_eq!(reason(check(c, 1500).unwrap_err()), "no_email");
        let mut c = claims();
        c.as_object_mut().unwrap().remove("exp");
        assert_eq!(reason(check(c, 1500).unwrap_err()), "malformed");
    }

    #[test]
    fn jwks_keeps_rsa_keys_only() {
        let body = json!({ "keys": [
            { "kid": "a", "kty": "RSA", "n": "nn", "e": "AQAB", "alg": "RS256" },
            { "kid": "b", "kty": "EC", "crv": "P-256", "x": "x", "y": "y" }
        ], "public_cert": {} });
        let keys = parse_jwks(body.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid, "a");
        assert!(parse_jwks(b"nope").is_err());
    }
}
