//! The release planner: the one place that decides what may change what an
//! environment serves, and what such a change writes.
//!
//! Four kinds of change alter what users get: promote, rollback, an
//! experiment set or ended, and an approval that deploys. The worker's
//! release service loads an [`EnvState`] for one prompt in one environment,
//! asks [`plan`] what a [`Change`] does, and executes the [`Plan`]: its
//! writes in one D1 batch behind its guards, then a publish tagged with the
//! environment's new release sequence. The rules:
//!
//! * Rollback is the brake: it ends a running experiment, else returns to
//!   the previous deployment; it needs no approval and is always audited.
//! * Promote while an experiment runs is refused (`experiment_running`)
//!   unless the request ends the experiment in the same change.
//! * An experiment is a promotion of each variant: gates, the variable
//!   contract and approval apply to every variant that is not live already.
//! * An approval is decided against the state it was asked on: if the
//!   prompt's release sequence moved since, it is stale (and marked
//!   superseded). A newer request supersedes the older pending ones.
//! * Every change bumps the environment's release sequence; the edge
//!   documents carry it, so an older publish never replaces a newer one.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::api::{ApprovalStatus, ApprovalView, DeploymentView, ExperimentStatus, ExperimentView, RequestedChange};
use crate::audit::{AuditAction, AuditEntry};
use crate::deployment::{rollback_target, DeploymentAction, DeploymentStep};
use crate::environment::GatePolicy;
use crate::error::{Error, ErrorKind, Result};
use crate::gates::{refusal, GateFailure, Measurements};
use crate::member::Person;
use crate::render::VersionVariables;
use crate::routing::{ExperimentSpec, VariantSpec};

/// Who asks for the change.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    /// How the audit trail names them.
    pub name: String,
    /// The credential they used.
    pub key_id: String,
    /// The person behind the credential (signed in, or who created the
    /// key): four eyes compares people, and keys only where no person is
    /// known.
    pub person: Option<Person>,
}

impl Actor {
    /// Whether this actor is the one who asked for `approval`: the same
    /// person, or the same key.
    fn asked_for(&self, approval: &ApprovalView) -> bool {
        let same_person = matches!((&self.person, &approval.requested_by_person),
            (Some(me), Some(them)) if &me.email == them);
        same_person || approval.requested_by_key == self.key_id
    }
}

/// What the planner needs to know of one version.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionFacts {
    pub number: u32,
    pub id: String,
    pub variables: VersionVariables,
    /// What the version adds to its environment's bundle: its expanded
    /// content, model parameters and variables, in bytes.
    pub bytes: u64,
    /// Measured in the environment the gates read ([`EnvState::measured_in`]).
    pub measurements: Measurements,
}

/// The deployment an environment serves when no experiment runs.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveDeployment {
    pub id: String,
    pub version: u32,
    pub version_id: String,
    pub created_at: String,
}

/// One prompt in one environment, as the release service loads it.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvState {
    pub workspace_id: String,
    pub prompt_id: String,
    pub slug: String,
    pub environment_id: String,
    pub environment: String,
    pub policy: GatePolicy,
    /// The environment whose measurements the gates read.
    pub measured_in: String,
    /// The environment's release sequence: bumped by every change to what
    /// any prompt there serves.
    pub env_seq: u64,
    /// The sequence of this prompt's last change in the environment.
    pub prompt_seq: u64,
    /// Deployment history, oldest first.
    pub history: Vec<DeploymentStep>,
    pub live: Option<LiveDeployment>,
    /// The running experiment, if any.
    pub experiment: Option<ExperimentView>,
    /// Pending approval requests of this prompt in this environment.
    pub pending: Vec<String>,
    /// Every version the change names, and those of the deployment stack.
    pub versions: BTreeMap<u32, VersionFacts>,
    /// What the environment's bundle holds for its other prompts, in bytes.
    pub other_prompts_bytes: u64,
}

/// The largest bundle a change may make: KV takes values up to 25 MiB, and
/// the bundle's JSON adds names, hashes and escapes to the bytes counted.
pub const MAX_BUNDLE_BYTES: u64 = 20 * 1024 * 1024;

/// A requested change. One is built per request, so the size spread of
/// its variants does not matter.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Change {
    Promote {
        version: u32,
        reason: String,
        accept_variable_changes: bool,
        end_experiment: bool,
    },
    Rollback {
        reason: String,
    },
    SetExperiment(ExperimentSpec),
    EndExperiment,
    Decide {
        approval: ApprovalView,
        approve: bool,
        note: String,
    },
}

/// A condition the batch re-checks inside its transaction; if it no longer
/// holds, nothing of the batch is written and the service plans again.
#[derive(Debug, Clone, PartialEq)]
pub enum Guard {
    /// The environment's release sequence is still this.
    EnvSeq(u64),
    /// This approval request is still pending.
    ApprovalPending(String),
}

/// One row to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Deploy {
        id: String,
        version: u32,
        version_id: String,
        action: DeploymentAction,
        reason: String,
    },
    StartExperiment(ExperimentView),
    UpdateExperiment(ExperimentView),
    EndExperiment {
        id: String,
    },
    RequestApproval(ApprovalView),
    /// Marks these pending requests superseded.
    Supersede {
        ids: Vec<String>,
    },
    DecideApproval {
        id: String,
        status: ApprovalStatus,
        note: String,
    },
    Audit(AuditEntry),
}

/// A webhook event to emit once the batch has committed.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: &'static str,
    pub data: Value,
}

/// The HTTP answer of a change that happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// What a change does. Writes happen even when `answer` is a refusal (a
/// stale approval is marked superseded and then refused).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub guards: Vec<Guard>,
    pub writes: Vec<Write>,
    /// The environment's new release sequence when what it serves changes:
    /// recorded in the batch, and carried by the published documents.
    pub release: Option<u64>,
    /// Publish the prompt's documents after the batch: on a release, and
    /// on a promote of the live version (it repairs a missed publish).
    pub publish: bool,
    pub events: Vec<Event>,
    pub answer: Result<Answer>,
}

impl Plan {
    fn refuse(error: Error) -> Plan {
        Plan {
            guards: Vec::new(),
            writes: Vec::new(),
            release: None,
            publish: false,
            events: Vec::new(),
            answer: Err(error),
        }
    }
}

/// The versions the service must load facts for before planning `change`
/// (besides those of the deployment stack).
pub fn versions_named(change: &Change) -> Vec<u32> {
    match change {
        Change::Promote { version, .. } => vec![*version],
        Change::SetExperiment(spec) => spec.variants.iter().map(|v| v.version).collect(),
        Change::Decide { approval, .. } => approval.change.versions(),
        Change::Rollback { .. } | Change::EndExperiment => Vec::new(),
    }
}

/// The environment whose measurements an environment's gates read: the
/// policy's `measured_in`, else the one before it in promotion order, else
/// itself. `environments` are (name, position).
pub fn measured_in(policy: &GatePolicy, environment: &str, environments: &[(String, i64)]) -> String {
    if let Some(name) = &policy.measured_in {
        return name.to_string();
    }
    let position = environments
        .iter()
        .find(|(n, _)| n == environment)
        .map_or(i64::MIN, |(_, p)| *p);
    environments
        .iter()
        .filter(|(_, p)| *p < position)
        .max_by_key(|(_, p)| *p)
        .map_or_else(|| environment.to_owned(), |(n, _)| n.clone())
}

/// Decides what `change` does to `state`. Pure: ids come from `new_id`,
/// the time is `at`.
pub fn plan(state: &EnvState, change: &Change, actor: &Actor, at: &str, new_id: &mut dyn FnMut() -> String) -> Plan {
    let mut planner = Planner {
        state,
        actor,
        at,
        new_id,
        plan: Plan {
            guards: vec![Guard::EnvSeq(state.env_seq)],
            writes: Vec::new(),
            release: None,
            publish: false,
            events: Vec::new(),
            answer: Ok(Answer {
                status: 200,
                body: Value::Null,
            }),
        },
    };
    let answer = match change {
        Change::Promote {
            version,
            reason,
            accept_variable_changes,
            end_experiment,
        } => planner.promote(*version, reason, *accept_variable_changes, *end_experiment, None),
        Change::Rollback { reason } => planner.rollback(reason),
        Change::SetExperiment(spec) => planner.set_experiment(
            &spec.variants,
            spec.name.as_deref(),
            spec.salt.as_deref(),
            spec.accept_variable_changes,
            None,
        ),
        Change::EndExperiment => planner.end_experiment(),
        Change::Decide {
            approval,
            approve,
            note,
        } => planner.decide(approval, *approve, note),
    };
    match answer {
        Ok(answer) => {
            let mut plan = planner.plan;
            plan.answer = Ok(answer);
            plan
        }
        Err(Refusal::Clean(e)) => {
            let refused = gates_refused(state, change, actor, &e);
            let mut plan = Plan::refuse(e);
            plan.events.extend(refused);
            plan
        }
        Err(Refusal::AfterWrites(e)) => {
            let mut plan = planner.plan;
            plan.answer = Err(e);
            plan
        }
    }
}

/// The event of a change the gates refused, for the people to tell (not a
/// webhook event: nothing changed). Its requester is the approval's when
/// an approver's decision met the gates, else the caller.
fn gates_refused(state: &EnvState, change: &Change, actor: &Actor, e: &Error) -> Option<Event> {
    if e.kind() != ErrorKind::GatesFailed {
        return None;
    }
    let (requested_by, requested_by_person) = match change {
        Change::Decide { approval, .. } => (approval.requested_by.clone(), approval.requested_by_person.clone()),
        _ => (actor.name.clone(), actor.person.as_ref().map(|p| p.email.clone())),
    };
    Some(Event {
        name: GATES_REFUSED,
        data: json!({
            "prompt": state.slug, "environment": state.environment, "versions": versions_named(change),
            "message": e.message(), "failures": e.details().get("failures"),
            "requested_by": requested_by, "requested_by_person": requested_by_person, "person": actor.person,
        }),
    })
}

/// The name of [`gates_refused`]'s event.
pub const GATES_REFUSED: &str = "gates.refused";

/// Why a change does not happen: with nothing written, or after the
/// writes planned so far (a stale approval is marked superseded).
enum Refusal {
    Clean(Error),
    AfterWrites(Error),
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        Refusal::Clean(e)
    }
}

type Planned = std::result::Result<Answer, Refusal>;

struct Planner<'a> {
    state: &'a EnvState,
    actor: &'a Actor,
    at: &'a str,
    new_id: &'a mut dyn FnMut() -> String,
    plan: Plan,
}

impl Planner<'_> {
    fn audit(&self, action: AuditAction, target: String, details: Value) -> Write {
        Write::Audit(
            AuditEntry::new(&self.state.workspace_id, &self.actor.name, self.at, action, target)
                .by(self.actor.person.as_ref())
                .prompt(&self.state.slug)
                .details(details),
        )
    }

    fn target(&self, what: impl std::fmt::Display) -> String {
        format!("{}@{what} -> {}", self.state.slug, self.state.environment)
    }

    fn release(&mut self) {
        self.plan.release = Some(self.state.env_seq + 1);
        self.plan.publish = true;
    }

    fn event(&mut self, name: &'static str, mut data: Value) {
        data["prompt"] = json!(self.state.slug);
        data["person"] = json!(self.actor.person);
        self.plan.events.push(Event { name, data });
    }

    fn facts(&self, version: u32) -> Result<&VersionFacts> {
        self.state
            .versions
            .get(&version)
            .ok_or_else(|| Error::not_found(&format!("version {version} of '{}'", self.state.slug)))
    }

    /// The environment's bundle with `versions` served (and the live one,
    /// which a split keeps in the document) must fit in one KV value: a
    /// bundle that does not would fail every later publish, so the change
    /// is refused now.
    fn check_bundle_size(&self, versions: &[u32]) -> Result<()> {
        let mut served: Vec<u32> = versions.to_vec();
        if versions.len() > 1 {
            served.extend(self.live_version());
        }
        served.sort_unstable();
        served.dedup();
        let mut bytes = self.state.other_prompts_bytes;
        for v in &served {
            bytes += self.facts(*v)?.bytes;
        }
        if bytes > MAX_BUNDLE_BYTES {
            return Err(Error::new(
                ErrorKind::BundleTooLarge,
                format!(
                    "the {} bundle would be {bytes} bytes with this change; the limit is {MAX_BUNDLE_BYTES} \
                     (one KV value): make prompts smaller or split them across environments",
                    self.state.environment
                ),
            )
            .with_details(json!({ "bundle_bytes": bytes, "limit_bytes": MAX_BUNDLE_BYTES })));
        }
        Ok(())
    }

    fn live_version(&self) -> Option<u32> {
        self.state.live.as_ref().map(|l| l.version)
    }

    /// Gates, the variable contract and the bundle's size, for every
    /// version not live already.
    fn check(&self, versions: &[u32], accept_variable_changes: bool) -> Result<()> {
        let live = self.live_version();
        self.check_bundle_size(versions)?;
        let candidates: Vec<&VersionFacts> = versions
            .iter()
            .filter(|v| Some(**v) != live)
            .map(|v| self.facts(*v))
            .collect::<Result<_>>()?;
        if let (Some(live), false) = (live, accept_variable_changes) {
            let live_vars = &self.facts(live)?.variables;
            let mut failing = Vec::new();
            for c in &candidates {
                if let Err(e) = c.variables.check_replaces(live_vars, live, c.number) {
                    if candidates.len() == 1 {
                        return Err(e);
                    }
                    failing.push(e);
                }
            }
            if !failing.is_empty() {
                let details: Vec<&Value> = failing.iter().map(|e| e.details()).collect();
                return Err(Error::new(
                    ErrorKind::VariablesChanged,
                    format!(
                        "{} variant(s) require different variables than live version {live}: {}; \
                         send accept_variable_changes: true once callers are ready",
                        failing.len(),
                        failing
                            .iter()
                            .map(|e| e.details()["version"].to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .with_details(json!({ "live_version": live, "variants": details })));
            }
        }
        let policy = &self.state.policy;
        if !policy.has_gates() {
            return Ok(());
        }
        let failing: Vec<(u32, Vec<GateFailure>)> = candidates
            .iter()
            .map(|c| (c.number, policy.evaluate(&c.measurements)))
            .filter(|(_, f)| !f.is_empty())
            .collect();
        let (env, measured_in) = (&self.state.environment, &self.state.measured_in);
        match failing.as_slice() {
            [] => Ok(()),
            [(_, failures)] if candidates.len() == 1 => Err(refusal(env, measured_in, failures)),
            _ => {
                let all: Vec<&GateFailure> = failing.iter().flat_map(|(_, f)| f).collect();
                Err(Error::new(
                    ErrorKind::GatesFailed,
                    format!(
                        "gates of {env} refused {} variant(s) (measured in {measured_in}): {}",
                        failing.len(),
                        failing
                            .iter()
                            .map(|(v, f)| format!(
                                "version {v}: {}",
                                f.iter().map(|x| x.message.as_str()).collect::<Vec<_>>().join(", ")
                            ))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                )
                .with_details(json!({
                    "environment": env, "measured_in": measured_in, "failures": all,
                    "variants": failing.iter().map(|(v, f)| json!({ "version": v, "failures": f })).collect::<Vec<_>>(),
                })))
            }
        }
    }

    /// Files a pending request; it supersedes older pending ones.
    fn request_approval(&mut self, change: RequestedChange, reason: &str) -> Planned {
        let id = (self.new_id)();
        let supersedes = self.state.pending.clone();
        if !supersedes.is_empty() {
            self.plan.writes.push(Write::Supersede {
                ids: supersedes.clone(),
            });
        }
        let view = ApprovalView {
            id: id.clone(),
            prompt: self.state.slug.clone(),
            environment: self.state.environment.clone(),
            change: change.clone(),
            reason: reason.to_owned(),
            status: ApprovalStatus::Pending,
            requested_by: self.actor.name.clone(),
            requested_by_key: self.actor.key_id.clone(),
            requested_by_person: self.actor.person.as_ref().map(|p| p.email.clone()),
            base_seq: self.state.prompt_seq,
            decided_by: None,
            decision_note: None,
            created_at: self.at.to_owned(),
            decided_at: None,
            test_runs: Vec::new(),
        };
        let what = match &change {
            RequestedChange::Promote { version, .. } => version.to_string(),
            RequestedChange::Experiment { variants, .. } => split_text(variants),
        };
        let mut details = serde_json::to_value(&view).unwrap_or_default();
        details["approval_id"] = json!(id);
        details["supersedes"] = json!(supersedes);
        let audit = self.audit(AuditAction::ApprovalRequest, self.target(what), details);
        self.plan.writes.push(Write::RequestApproval(view.clone()));
        self.plan.writes.push(audit);
        let mut body = serde_json::to_value(&view).unwrap_or_default();
        body["status"] = json!("pending_approval");
        body["approval_id"] = json!(id);
        body["supersedes"] = json!(supersedes);
        self.event("approval.requested", body.clone());
        Ok(Answer { status: 202, body })
    }

    fn promote(
        &mut self,
        version: u32,
        reason: &str,
        accept_variable_changes: bool,
        end_experiment: bool,
        approval: Option<&ApprovalView>,
    ) -> Planned {
        let facts = self.facts(version)?.clone();
        let running = self.state.experiment.clone();
        if let (Some(x), false) = (&running, end_experiment) {
            return Err(Error::new(
                ErrorKind::ExperimentRunning,
                format!(
                    "an experiment ({}) splits {}'s traffic in {}; end it first, or promote with end_experiment: true",
                    split_text(&x.variants),
                    self.state.slug,
                    self.state.environment
                ),
            )
            .with_details(json!({ "experiment_id": x.id, "variants": x.variants }))
            .into());
        }
        let live = self.state.live.clone();
        if running.is_none() {
            if let Some(live) = live.as_ref().filter(|l| l.version == version) {
                // Promoting what is live changes nothing (re-running a
                // pipeline must not stack duplicates) but republishes, which
                // repairs an edge copy a failed publish left behind.
                self.plan.publish = true;
                return Ok(Answer {
                    status: 200,
                    body: json!({ "status": "unchanged", "id": live.id, "environment": self.state.environment,
                                  "version": live.version, "version_id": live.version_id, "created_at": live.created_at }),
                });
            }
        }
        self.check(&[version], accept_variable_changes)?;
        if approval.is_none() && self.state.policy.requires_approval {
            return self.request_approval(
                RequestedChange::Promote {
                    version,
                    end_experiment,
                    accept_variable_changes,
                },
                reason,
            );
        }
        let ended = running.map(|x| self.end_running(x, "promote"));
        self.release();
        let mut extra = json!({ "previous_version": live.as_ref().map(|l| l.version), "seq": self.state.env_seq + 1 });
        if let Some(x) = &ended {
            extra["ended_experiment"] = serde_json::to_value(x).unwrap_or_default();
        }
        if let Some(a) = approval {
            extra["approval_id"] = json!(a.id);
        }
        if live.as_ref().is_some_and(|l| l.version == version) {
            // The split ends and everyone gets the version already deployed.
            let live = live.expect("checked");
            let mut body = json!({ "status": "experiment_ended", "id": live.id, "environment": self.state.environment,
                                   "version": live.version, "version_id": live.version_id, "created_at": live.created_at });
            merge(&mut body, &extra);
            return Ok(Answer { status: 200, body });
        }
        Ok(self.deploy(&facts, DeploymentAction::Promote, reason, extra))
    }

    /// Writes a deployment and its audit row; the answer is its view.
    fn deploy(&mut self, facts: &VersionFacts, action: DeploymentAction, reason: &str, extra: Value) -> Answer {
        let view = DeploymentView {
            id: (self.new_id)(),
            environment: self.state.environment.clone(),
            version: facts.number,
            version_id: facts.id.clone(),
            action,
            reason: reason.to_owned(),
            actor: self.actor.name.clone(),
            created_at: self.at.to_owned(),
        };
        self.plan.writes.push(Write::Deploy {
            id: view.id.clone(),
            version: facts.number,
            version_id: facts.id.clone(),
            action,
            reason: reason.to_owned(),
        });
        let mut details = json!({ "environment": self.state.environment, "version": facts.number, "reason": reason });
        merge(&mut details, &extra);
        let audit_action = match action {
            DeploymentAction::Promote => AuditAction::DeploymentPromote,
            DeploymentAction::Rollback => AuditAction::DeploymentRollback,
        };
        let audit = self.audit(audit_action, self.target(facts.number), details);
        self.plan.writes.push(audit);
        let mut body = serde_json::to_value(&view).unwrap_or_default();
        body["status"] = json!("deployed");
        merge(&mut body, &extra);
        let event = match action {
            DeploymentAction::Promote => "deployment.created",
            DeploymentAction::Rollback => "deployment.rolled_back",
        };
        self.event(event, body.clone());
        Answer { status: 201, body }
    }

    /// Ends the running experiment (writes the end; the caller audits).
    fn end_running(&mut self, mut x: ExperimentView, by: &str) -> ExperimentView {
        self.plan.writes.push(Write::EndExperiment { id: x.id.clone() });
        x.status = ExperimentStatus::Ended;
        x.ended_by = Some(self.actor.name.clone());
        x.ended_at = Some(self.at.to_owned());
        x.updated_at = self.at.to_owned();
        let mut data = serde_json::to_value(&x).unwrap_or_default();
        data["ended_by_change"] = json!(by);
        self.event("experiment.ended", data);
        x
    }

    fn rollback(&mut self, reason: &str) -> Planned {
        if let Some(x) = self.state.experiment.clone() {
            let live = self.state.live.clone().ok_or_else(Error::internal)?;
            let ended = self.end_running(x, "rollback");
            self.release();
            let details = json!({ "environment": self.state.environment, "version": live.version, "reason": reason,
                                  "ended_experiment": ended.id, "variants": ended.variants, "seq": self.state.env_seq + 1 });
            let audit = self.audit(
                AuditAction::DeploymentRollback,
                format!("{} split ended -> {}", self.state.slug, self.state.environment),
                details,
            );
            self.plan.writes.push(audit);
            let body = json!({ "status": "experiment_ended", "environment": self.state.environment, "version": live.version,
                               "version_id": live.version_id, "action": "rollback", "reason": reason,
                               "ended_experiment": ended, "seq": self.state.env_seq + 1 });
            self.event("deployment.rolled_back", body.clone());
            return Ok(Answer { status: 200, body });
        }
        let target = rollback_target(&self.state.history)?;
        let facts = self.facts(target).map_err(|_| Error::internal())?.clone();
        self.release();
        let extra = json!({ "previous_version": self.live_version(), "seq": self.state.env_seq + 1 });
        Ok(self.deploy(&facts, DeploymentAction::Rollback, reason, extra))
    }

    fn set_experiment(
        &mut self,
        variants: &[VariantSpec],
        name: Option<&str>,
        salt: Option<&str>,
        accept_variable_changes: bool,
        approval: Option<&ApprovalView>,
    ) -> Planned {
        if self.state.live.is_none() {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "promote a version of '{}' to {} before splitting its traffic",
                    self.state.slug, self.state.environment
                ),
            )
            .into());
        }
        let unknown: Vec<u32> = variants
            .iter()
            .map(|v| v.version)
            .filter(|v| !self.state.versions.contains_key(v))
            .collect();
        if !unknown.is_empty() {
            return Err(Error::invalid_field(
                "variants",
                format!("no such version of '{}': {unknown:?}", self.state.slug),
            )
            .with_details(json!({ "field": "variants", "unknown_versions": unknown }))
            .into());
        }
        let versions: Vec<u32> = variants.iter().map(|v| v.version).collect();
        self.check(&versions, accept_variable_changes)?;
        if approval.is_none() && self.state.policy.requires_approval {
            return self.request_approval(
                RequestedChange::Experiment {
                    variants: variants.to_vec(),
                    name: name.map(str::to_owned),
                    salt: salt.map(str::to_owned),
                    accept_variable_changes,
                },
                "",
            );
        }
        let running = self.state.experiment.clone();
        if let Some(x) = &running {
            let same = x.variants == variants && salt.is_none_or(|s| s == x.salt) && name.is_none_or(|n| n == x.name);
            if same && approval.is_none() {
                return Ok(Answer {
                    status: 200,
                    body: serde_json::to_value(x).unwrap_or_default(),
                });
            }
        }
        self.release();
        let seq = self.state.env_seq + 1;
        let (view, status) = match running {
            Some(x) => {
                let view = ExperimentView {
                    name: name.map_or_else(|| x.name.clone(), str::to_owned),
                    salt: salt.map_or_else(|| x.salt.clone(), str::to_owned),
                    variants: variants.to_vec(),
                    updated_at: self.at.to_owned(),
                    ..x.clone()
                };
                let details = json!({ "experiment_id": x.id, "environment": self.state.environment, "from": x.variants,
                                      "to": variants, "salt_changed": view.salt != x.salt, "seq": seq,
                                      "approval_id": approval.map(|a| &a.id) });
                let audit = self.audit(AuditAction::ExperimentUpdate, self.split_target(), details);
                self.plan.writes.push(Write::UpdateExperiment(view.clone()));
                self.plan.writes.push(audit);
                (view, 200)
            }
            None => {
                let id = (self.new_id)();
                let view = ExperimentView {
                    salt: salt.map_or_else(|| id.clone(), str::to_owned),
                    id,
                    prompt: self.state.slug.clone(),
                    environment: self.state.environment.clone(),
                    name: name.unwrap_or_default().to_owned(),
                    variants: variants.to_vec(),
                    status: ExperimentStatus::Running,
                    started_by: self.actor.name.clone(),
                    started_at: self.at.to_owned(),
                    updated_at: self.at.to_owned(),
                    ended_by: None,
                    ended_at: None,
                };
                let details = json!({ "experiment_id": view.id, "environment": self.state.environment,
                                      "variants": variants, "seq": seq, "approval_id": approval.map(|a| &a.id) });
                let audit = self.audit(AuditAction::ExperimentStart, self.split_target(), details);
                self.plan.writes.push(Write::StartExperiment(view.clone()));
                self.plan.writes.push(audit);
                (view, 201)
            }
        };
        let mut body = serde_json::to_value(&view).unwrap_or_default();
        body["seq"] = json!(seq);
        if let Some(a) = approval {
            body["approval_id"] = json!(a.id);
        }
        let event = if status == 201 {
            "experiment.started"
        } else {
            "experiment.updated"
        };
        self.event(event, body.clone());
        Ok(Answer { status, body })
    }

    fn split_target(&self) -> String {
        format!("{} in {}", self.state.slug, self.state.environment)
    }

    fn end_experiment(&mut self) -> Planned {
        let Some(x) = self.state.experiment.clone() else {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "no experiment is running for '{}' in {}",
                    self.state.slug, self.state.environment
                ),
            )
            .into());
        };
        let ended = self.end_running(x, "end");
        self.release();
        let seq = self.state.env_seq + 1;
        let details = json!({ "experiment_id": ended.id, "environment": self.state.environment, "seq": seq });
        let audit = self.audit(AuditAction::ExperimentEnd, self.split_target(), details);
        self.plan.writes.push(audit);
        let mut body = serde_json::to_value(&ended).unwrap_or_default();
        body["seq"] = json!(seq);
        Ok(Answer { status: 200, body })
    }

    fn decide(&mut self, a: &ApprovalView, approve: bool, note: &str) -> Planned {
        if a.status != ApprovalStatus::Pending {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("this approval was already {}", a.status.as_str()),
            )
            .with_details(json!({ "approval_id": a.id, "status": a.status }))
            .into());
        }
        if self.actor.asked_for(a) {
            return Err(Error::new(
                ErrorKind::Forbidden,
                "an approval must be decided by someone other than its requester",
            )
            .into());
        }
        // A decision only writes while the request is still pending; it
        // deploys only while the environment is as it was planned on.
        self.plan.guards.push(Guard::ApprovalPending(a.id.clone()));
        let target = self.target(match &a.change {
            RequestedChange::Promote { version, .. } => version.to_string(),
            RequestedChange::Experiment { variants, .. } => split_text(variants),
        });
        let decided = |status: ApprovalStatus| {
            json!({ "approval_id": a.id, "prompt": a.prompt, "environment": a.environment, "kind": a.change,
                    "status": status, "decided_by": self.actor.name, "note": note,
                    "requested_by": a.requested_by, "requested_by_person": a.requested_by_person })
        };
        if !approve {
            self.plan.writes.push(Write::DecideApproval {
                id: a.id.clone(),
                status: ApprovalStatus::Rejected,
                note: note.to_owned(),
            });
            let audit = self.audit(
                AuditAction::ApprovalReject,
                target,
                json!({ "approval_id": a.id, "note": note }),
            );
            self.plan.writes.push(audit);
            let data = decided(ApprovalStatus::Rejected);
            self.event("approval.decided", data);
            return Ok(Answer {
                status: 200,
                body: json!({ "id": a.id, "status": "rejected", "decided_by": self.actor.name, "decided_at": self.at }),
            });
        }
        if a.base_seq != self.state.prompt_seq {
            let why = format!(
                "what {} serves in {} changed after this approval was requested; request the change again",
                self.state.slug, self.state.environment
            );
            self.plan.writes.push(Write::DecideApproval {
                id: a.id.clone(),
                status: ApprovalStatus::Superseded,
                note: why.clone(),
            });
            let audit = self.audit(
                AuditAction::ApprovalSupersede,
                target,
                json!({ "approval_id": a.id, "requested_against": a.base_seq, "current": self.state.prompt_seq }),
            );
            self.plan.writes.push(audit);
            return Err(Refusal::AfterWrites(
                Error::new(ErrorKind::StaleApproval, why).with_details(json!({
                    "approval_id": a.id, "requested_against": a.base_seq, "current": self.state.prompt_seq,
                })),
            ));
        }
        self.plan.writes.push(Write::DecideApproval {
            id: a.id.clone(),
            status: ApprovalStatus::Approved,
            note: note.to_owned(),
        });
        let audit = self.audit(
            AuditAction::ApprovalApprove,
            target,
            json!({ "approval_id": a.id, "note": note }),
        );
        self.plan.writes.push(audit);
        let data = decided(ApprovalStatus::Approved);
        self.event("approval.decided", data);
        match &a.change {
            RequestedChange::Promote {
                version,
                end_experiment,
                accept_variable_changes,
            } => {
                let reason = format!("approved by {}: {}", self.actor.name, a.reason);
                self.promote(*version, &reason, *accept_variable_changes, *end_experiment, Some(a))
            }
            RequestedChange::Experiment {
                variants,
                name,
                salt,
                accept_variable_changes,
            } => self.set_experiment(
                variants,
                name.as_deref(),
                salt.as_deref(),
                *accept_variable_changes,
                Some(a),
            ),
        }
    }
}

/// Whether the edge documents (their sequences; None when missing) all
/// reflect the environment's sequence `seq`, so there is nothing to publish.
pub fn edge_is_current(seq: u64, documents: &[Option<u64>]) -> bool {
    documents.iter().all(|d| d.is_some_and(|s| s >= seq))
}

/// How long a failed publish waits before its next try: 1, 2, 4 … seconds,
/// at most a minute; it is tried until KV holds the current sequence.
pub fn publish_retry_seconds(round: u32) -> u32 {
    1u32.checked_shl(round).unwrap_or(u32::MAX).min(60)
}

fn merge(into: &mut Value, extra: &Value) {
    if let (Some(d), Some(e)) = (into.as_object_mut(), extra.as_object()) {
        d.extend(e.clone());
    }
}

fn split_text(variants: &[VariantSpec]) -> String {
    variants
        .iter()
        .map(|v| format!("v{} {}%", v.version, v.weight))
        .collect::<Vec<_>>()
        .join(" / ")
}

#[cfg(test)]
#[path = "release_tests.rs"]
mod tests;
