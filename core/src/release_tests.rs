//! The planner's rules, one test each, and a property test: random
//! sequences of changes applied through the planner serve every user what
//! a small reference model of the rules says.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::routing::{bucket, bucket_ranges, choose_variant};

const EDITOR: &str = "editor-key";
const APPROVER: &str = "approver-key";

/// `key`, or `person/key` for a key a person created (or a signed-in person).
fn actor(key: &str) -> Actor {
    let (person, key_id) = match key.split_once('/') {
        Some((p, k)) => (
            Some(Person {
                email: format!("{p}@example.com"),
                name: p.to_owned(),
            }),
            k,
        ),
        None => (None, key),
    };
    Actor {
        name: format!("{key_id} (pvct_x)"),
        key_id: key_id.to_owned(),
        person,
    }
}

fn vars(names: &[&str]) -> VersionVariables {
    VersionVariables {
        uses: names.iter().map(|s| s.to_string()).collect(),
        declares: Vec::new(),
    }
}

/// Versions 1..=5: v4 fails every measured gate (nothing measured), v5
/// needs a variable the others do not.
fn version(n: u32) -> VersionFacts {
    VersionFacts {
        number: n,
        id: format!("v{n}-id"),
        variables: if n == 5 {
            vars(&["name", "tone"])
        } else {
            vars(&["name"])
        },
        bytes: 1_000,
        measurements: if n == 4 {
            Measurements::default()
        } else {
            Measurements {
                samples: 500,
                mean_score: Some(0.9),
                error_rate: Some(0.01),
                p95_ms: Some(800.0),
                test_run: None,
            }
        },
    }
}

fn gated(requires_approval: bool) -> GatePolicy {
    GatePolicy {
        min_samples: Some(100),
        requires_approval,
        ..GatePolicy::default()
    }
}

fn split(pairs: &[(u32, f64)]) -> Vec<VariantSpec> {
    pairs
        .iter()
        .map(|(version, weight)| VariantSpec {
            version: *version,
            weight: *weight,
        })
        .collect()
}

fn spec(pairs: &[(u32, f64)], salt: &str) -> ExperimentSpec {
    ExperimentSpec {
        variants: split(pairs),
        salt: Some(salt.to_owned()),
        name: None,
        accept_variable_changes: false,
    }
}

fn promote(version: u32) -> Change {
    Change::Promote {
        version,
        reason: String::new(),
        accept_variable_changes: false,
        end_experiment: false,
    }
}

fn rollback() -> Change {
    Change::Rollback {
        reason: "incident".into(),
    }
}

/// One prompt in one environment, kept in memory: the store a plan is
/// executed against in these tests.
struct World {
    state: EnvState,
    approvals: BTreeMap<String, ApprovalView>,
    audits: Vec<AuditEntry>,
    ids: u64,
}

impl World {
    fn new(policy: GatePolicy) -> World {
        World {
            state: EnvState {
                workspace_id: "ws".into(),
                prompt_id: "p".into(),
                slug: "bot".into(),
                environment_id: "env".into(),
                environment: "production".into(),
                policy,
                measured_in: "staging".into(),
                env_seq: 0,
                prompt_seq: 0,
                history: Vec::new(),
                live: None,
                experiment: None,
                pending: Vec::new(),
                versions: (1..=5).map(|n| (n, version(n))).collect(),
                other_prompts_bytes: 0,
            },
            approvals: BTreeMap::new(),
            audits: Vec::new(),
            ids: 0,
        }
    }

    fn plan(&mut self, change: &Change, key: &str) -> Plan {
        let mut ids = self.ids;
        let mut next = || {
            ids += 1;
            format!("id{ids}")
        };
        let p = plan(&self.state, change, &actor(key), "2026-12-04T00:00:00Z", &mut next);
        self.ids = ids;
        p
    }

    fn run(&mut self, change: &Change, key: &str) -> Result<Answer> {
        let p = self.plan(change, key);
        self.execute(&p);
        p.answer
    }

    fn decide(&mut self, id: &str, approve: bool, key: &str) -> Result<Answer> {
        let change = Change::Decide {
            approval: self.approvals[id].clone(),
            approve,
            note: String::new(),
        };
        self.run(&change, key)
    }

    fn execute(&mut self, p: &Plan) {
        for g in &p.guards {
            match g {
                Guard::EnvSeq(n) => assert_eq!(*n, self.state.env_seq),
                Guard::ApprovalPending(id) => assert_eq!(self.approvals[id].status, ApprovalStatus::Pending),
            }
        }
        for w in &p.writes {
            match w {
                Write::Deploy {
                    id,
                    version,
                    version_id,
                    action,
                    ..
                } => {
                    self.state.history.push(DeploymentStep {
                        action: *action,
                        version: *version,
                    });
                    self.state.live = Some(LiveDeployment {
                        id: id.clone(),
                        version: *version,
                        version_id: version_id.clone(),
                        created_at: "t".into(),
                    });
                }
                Write::StartExperiment(x) | Write::UpdateExperiment(x) => self.state.experiment = Some(x.clone()),
                Write::EndExperiment { id } => {
                    assert_eq!(self.state.experiment.as_ref().map(|x| &x.id), Some(id));
                    self.state.experiment = None;
                }
                Write::RequestApproval(a) => {
                    self.approvals.insert(a.id.clone(), a.clone());
                    self.state.pending.push(a.id.clone());
                }
                Write::Supersede { ids } => {
                    for id in ids {
                        self.approvals.get_mut(id).unwrap().status = ApprovalStatus::Superseded;
                    }
                    self.state.pending.retain(|p| !ids.contains(p));
                }
                Write::DecideApproval { id, status, .. } => {
                    self.approvals.get_mut(id).unwrap().status = *status;
                    self.state.pending.retain(|p| p != id);
                }
                Write::Audit(a) => self.audits.push(a.clone()),
            }
        }
        if let Some(seq) = p.release {
            assert_eq!(seq, self.state.env_seq + 1, "every change bumps the sequence by one");
            self.state.env_seq = seq;
            self.state.prompt_seq = seq;
        }
    }

    /// What user `key` is served.
    fn served(&self, key: &str) -> Option<u32> {
        match &self.state.experiment {
            Some(x) => Some(route(&x.variants, &x.salt, key)),
            None => self.state.live.as_ref().map(|l| l.version),
        }
    }
}

fn route(variants: &[VariantSpec], salt: &str, key: &str) -> u32 {
    let weights: Vec<f64> = variants.iter().map(|v| v.weight).collect();
    let i = choose_variant(bucket(salt, key), &bucket_ranges(&weights)).unwrap_or(0);
    variants[i].version
}

fn users() -> Vec<String> {
    (0..200).map(|i| format!("user-{i}")).collect()
}

fn share(w: &World, version: u32) -> usize {
    users().iter().filter(|u| w.served(u) == Some(version)).count()
}

// ---- rollback is the brake ---------------------------------------------------

#[test]
fn rollback_ends_a_running_experiment_for_everyone() {
    let mut w = World::new(GatePolicy::default());
    w.run(&promote(1), EDITOR).unwrap();
    w.run(&promote(2), EDITOR).unwrap();
    w.run(&Change::SetExperiment(spec(&[(2, 50.0), (3, 50.0)], "s")), EDITOR)
        .unwrap();
    assert!(share(&w, 3) > 50, "the split serves v3 to about half");
    let back = w.run(&rollback(), EDITOR).unwrap();
    assert_eq!(back.body["status"], "experiment_ended");
    assert_eq!(share(&w, 2), 200, "everyone is back on the deployed version");
    assert_eq!(w.audits.last().unwrap().action, AuditAction::DeploymentRollback);
    // The next rollback walks the deployment stack.
    w.run(&rollback(), EDITOR).unwrap();
    assert_eq!(share(&w, 1), 200);
}

#[test]
fn rollback_never_needs_approval() {
    let mut w = World::new(GatePolicy::default());
    w.run(&promote(1), EDITOR).unwrap();
    w.run(&promote(2), EDITOR).unwrap();
    w.state.policy = gated(true);
    let back = w.run(&rollback(), EDITOR).unwrap();
    assert_eq!(back.status, 201);
    assert_eq!(back.body["version"], 1);
    assert!(w.approvals.is_empty());
}

#[test]
fn rollback_with_nothing_earlier_is_refused_and_writes_nothing() {
    let mut w = World::new(GatePolicy::default());
    w.run(&promote(1), EDITOR).unwrap();
    let p = w.plan(&rollback(), EDITOR);
    assert_eq!(p.answer.unwrap_err().code(), "nothing_to_roll_back");
    assert!(p.writes.is_empty() && p.release.is_none());
}

// ---- promote ----------------------------------------------------------------

#[test]
fn promote_during_an_experiment_is_refused_unless_it_ends_it() {
    let mut w = World::new(GatePolicy::default());
    w.run(&promote(1), EDITOR).unwrap();
    w.run(&Change::SetExperiment(spec(&[(1, 50.0), (2, 50.0)], "s")), EDITOR)
        .unwrap();
    let refused = w.run(&promote(3), EDITOR).unwrap_err();
    assert_eq!(refused.code(), "experiment_running");
    assert_eq!(refused.status(), 409);
    let ends = Change::Promote {
        version: 3,
        reason: String::new(),
        accept_variable_changes: false,
        end_experiment: true,
    };
    let p = w.plan(&ends, EDITOR);
    assert!(matches!(p.writes[0], Write::EndExperiment { .. }));
    assert!(p.writes.iter().any(|x| matches!(x, Write::Deploy { version: 3, .. })));
    w.execute(&p);
    assert_eq!(share(&w, 3), 200);
}

#[test]
fn promoting_the_live_version_changes_nothing_but_republishes() {
    let mut w = World::new(GatePolicy::default());
    w.run(&promote(1), EDITOR).unwrap();
    let p = w.plan(&promote(1), EDITOR);
    assert_eq!(p.answer.as_ref().unwrap().body["status"], "unchanged");
    assert!(p.writes.is_empty() && p.release.is_none());
    assert!(p.publish, "a repeated promote repairs a missed publish");
}

#[test]
fn promote_checks_gates_and_variables() {
    let mut w = World::new(gated(false));
    w.run(&promote(1), EDITOR).unwrap();
    assert_eq!(w.run(&promote(4), EDITOR).unwrap_err().code(), "gates_failed");
    assert_eq!(w.run(&promote(5), EDITOR).unwrap_err().code(), "variables_changed");
    let accept = Change::Promote {
        version: 5,
        reason: String::new(),
        accept_variable_changes: true,
        end_experiment: false,
    };
    assert_eq!(w.run(&accept, EDITOR).unwrap().status, 201);
    assert_eq!(w.run(&promote(9), EDITOR).unwrap_err().code(), "not_found");
}

#[test]
fn every_change_bumps_the_sequence_and_the_deploy_carries_it() {
    let mut w = World::new(GatePolicy::default());
    let a = w.run(&promote(1), EDITOR).unwrap();
    assert_eq!(a.body["seq"], 1);
    let p = w.plan(&promote(2), EDITOR);
    assert_eq!(p.release, Some(2));
    assert_eq!(p.guards, vec![Guard::EnvSeq(1)]);
}

// ---- experiments are promotions of each variant ------------------------------

#[test]
fn a_change_that_would_outgrow_one_kv_value_is_refused_before_it_is_made() {
    let mut w = World::new(GatePolicy::default());
    w.run(&promote(1), EDITOR).unwrap();
    let room = MAX_BUNDLE_BYTES - 1_000;
    w.state.other_prompts_bytes = room;
    // Version 2 is as large as 1: the bundle stays at the limit.
    w.run(&promote(2), EDITOR).unwrap();
    w.state.versions.get_mut(&3).unwrap().bytes = 1_001;
    let seq = w.state.env_seq;
    let refused = w.run(&promote(3), EDITOR).unwrap_err();
    assert_eq!((refused.status(), refused.code()), (409, "bundle_too_large"));
    assert_eq!(refused.details()["bundle_bytes"], MAX_BUNDLE_BYTES + 1);
    assert_eq!(w.state.env_seq, seq, "nothing was written");
    assert_eq!(w.served("anyone"), Some(2));
    // A split keeps the live version in the document beside its variants.
    w.state.other_prompts_bytes = room - 1_000;
    let split = w
        .run(&Change::SetExperiment(spec(&[(1, 50.0), (4, 50.0)], "s")), EDITOR)
        .unwrap_err();
    assert_eq!(split.code(), "bundle_too_large");
    // Rollback is the brake: never refused for size.
    w.state.other_prompts_bytes = MAX_BUNDLE_BYTES;
    w.run(&rollback(), EDITOR).unwrap();
    assert_eq!(w.served("anyone"), Some(1));
}

#[test]
fn a_split_passes_gates_and_the_variable_contract_for_each_variant() {
    let mut w = World::new(gated(false));
    w.run(&promote(1), EDITOR).unwrap();
    let gates = w
        .run(&Change::SetExperiment(spec(&[(1, 10.0), (4, 90.0)], "s")), EDITOR)
        .unwrap_err();
    assert_eq!(gates.status(), 422);
    let vars = w
        .run(&Change::SetExperiment(spec(&[(2, 50.0), (5, 50.0)], "s")), EDITOR)
        .unwrap_err();
    assert_eq!(vars.code(), "variables_changed");
    let both = w
        .run(
            &Change::SetExperiment(spec(&[(1, 50.0), (4, 25.0), (3, 25.0)], "s")),
            EDITOR,
        )
        .unwrap_err();
    assert_eq!(both.details()["variants"][0]["version"], 4, "{both}");
    assert!(w.state.experiment.is_none());
    assert_eq!(
        w.run(&Change::SetExperiment(spec(&[(1, 50.0), (7, 50.0)], "s")), EDITOR)
            .unwrap_err()
            .details()["unknown_versions"],
        json!([7])
    );
}

#[test]
fn a_split_needs_something_deployed() {
    let mut w = World::new(GatePolicy::default());
    let e = w
        .run(&Change::SetExperiment(spec(&[(1, 50.0), (2, 50.0)], "s")), EDITOR)
        .unwrap_err();
    assert_eq!(e.status(), 409);
}

#[test]
fn in_a_protected_environment_a_split_is_a_request_another_approver_decides() {
    let mut w = World::new(gated(true));
    w.state.policy.requires_approval = false;
    w.run(&promote(1), EDITOR).unwrap();
    w.state.policy.requires_approval = true;
    let asked = w
        .run(&Change::SetExperiment(spec(&[(1, 50.0), (2, 50.0)], "s")), APPROVER)
        .unwrap();
    assert_eq!(asked.status, 202);
    assert_eq!(asked.body["kind"], "experiment");
    assert!(w.state.experiment.is_none(), "nothing changes before the decision");
    let id = asked.body["approval_id"].as_str().unwrap().to_owned();
    assert_eq!(w.decide(&id, true, APPROVER).unwrap_err().code(), "forbidden");
    let done = w.decide(&id, true, EDITOR).unwrap();
    assert_eq!(done.status, 201);
    assert!(share(&w, 2) > 50);
    // Ending is a brake: no approval.
    assert_eq!(w.run(&Change::EndExperiment, EDITOR).unwrap().status, 200);
    assert_eq!(share(&w, 1), 200);
}

#[test]
fn four_eyes_compares_people_not_keys() {
    let mut w = World::new(gated(true));
    w.state.policy = GatePolicy {
        requires_approval: true,
        ..GatePolicy::default()
    };
    let asked = w.run(&promote(1), "ada/ci-key").unwrap();
    assert_eq!(asked.status, 202);
    assert_eq!(asked.body["requested_by_person"], "ada@example.com");
    let id = asked.body["approval_id"].as_str().unwrap().to_owned();
    // Ada's other key, and Ada signed in, are still Ada.
    assert_eq!(w.decide(&id, true, "ada/approver-key").unwrap_err().code(), "forbidden");
    assert_eq!(w.decide(&id, true, "ada/person:ada").unwrap_err().code(), "forbidden");
    // Another person decides, and is named in the event and the audit.
    let plan = w.plan(
        &Change::Decide {
            approval: w.approvals[&id].clone(),
            approve: true,
            note: String::new(),
        },
        "bob/person:bob",
    );
    let decided = plan.events.iter().find(|e| e.name == "approval.decided").unwrap();
    assert_eq!(decided.data["requested_by_person"], "ada@example.com");
    assert_eq!(decided.data["person"]["email"], "bob@example.com");
    w.execute(&plan);
    assert_eq!(plan.answer.unwrap().status, 201);
    assert_eq!(
        w.audits.last().unwrap().person.as_ref().unwrap().email,
        "bob@example.com"
    );
}

#[test]
fn a_key_no_person_created_is_compared_as_a_key() {
    let mut w = World::new(GatePolicy {
        requires_approval: true,
        ..GatePolicy::default()
    });
    let id = w.run(&promote(1), EDITOR).unwrap().body["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(w.decide(&id, true, EDITOR).unwrap_err().code(), "forbidden");
    assert_eq!(w.decide(&id, true, APPROVER).unwrap().status, 201);
}

#[test]
fn refused_gates_are_an_event_naming_the_requester() {
    let mut w = World::new(gated(false));
    let p = w.plan(&promote(4), "ada/ci-key");
    assert_eq!(p.answer.as_ref().unwrap_err().code(), "gates_failed");
    assert!(p.writes.is_empty(), "nothing is written");
    let [e] = p.events.as_slice() else {
        panic!("one event: {:?}", p.events)
    };
    assert_eq!(e.name, GATES_REFUSED);
    assert_eq!(e.data["requested_by_person"], "ada@example.com");
    assert_eq!(e.data["environment"], "production");
    assert_eq!(e.data["versions"], json!([4]));
}

#[test]
fn setting_the_same_split_again_changes_nothing() {
    let mut w = World::new(GatePolicy::default());
    w.run(&promote(1), EDITOR).unwrap();
    let s = Change::SetExperiment(spec(&[(1, 50.0), (2, 50.0)], "s"));
    assert_eq!(w.run(&s, EDITOR).unwrap().status, 201);
    let again = w.plan(&s, EDITOR);
    assert!(again.writes.is_empty() && again.release.is_none());
    let moved = w
        .run(&Change::SetExperiment(spec(&[(1, 20.0), (2, 80.0)], "s")), EDITOR)
        .unwrap();
    assert_eq!(moved.status, 200);
    assert_eq!(w.audits.last().unwrap().action, AuditAction::ExperimentUpdate);
}

// ---- approvals are decided against the present --------------------------------

#[test]
fn a_newer_request_supersedes_an_older_one() {
    let mut w = World::new(GatePolicy::default());
    w.run(&promote(1), EDITOR).unwrap();
    w.state.policy.requires_approval = true;
    let v2 = w.run(&promote(2), EDITOR).unwrap().body["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let v3 = w.run(&promote(3), EDITOR).unwrap().body["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(w.approvals[&v2].status, ApprovalStatus::Superseded);
    w.decide(&v3, true, APPROVER).unwrap();
    let late = w.decide(&v2, true, APPROVER).unwrap_err();
    assert_eq!(late.status(), 409);
    assert_eq!(
        share(&w, 3),
        200,
        "approving an older request never regresses production"
    );
}

#[test]
fn approving_after_the_state_moved_is_stale_and_marks_the_request() {
    let mut w = World::new(GatePolicy::default());
    w.run(&promote(1), EDITOR).unwrap();
    w.run(&promote(2), EDITOR).unwrap();
    w.state.policy.requires_approval = true;
    let id = w.run(&promote(3), EDITOR).unwrap().body["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    w.run(&rollback(), EDITOR).unwrap();
    let p = w.plan(
        &Change::Decide {
            approval: w.approvals[&id].clone(),
            approve: true,
            note: String::new(),
        },
        APPROVER,
    );
    assert_eq!(p.answer.as_ref().unwrap_err().code(), "stale_approval");
    assert!(p.release.is_none(), "a stale approval deploys nothing");
    assert!(p.guards.contains(&Guard::ApprovalPending(id.clone())));
    w.execute(&p);
    assert_eq!(w.approvals[&id].status, ApprovalStatus::Superseded);
    assert_eq!(w.audits.last().unwrap().action, AuditAction::ApprovalSupersede);
    assert_eq!(share(&w, 1), 200);
}

#[test]
fn a_decision_is_guarded_by_the_request_still_pending() {
    let mut w = World::new(GatePolicy::default());
    w.run(&promote(1), EDITOR).unwrap();
    w.state.policy.requires_approval = true;
    let id = w.run(&promote(2), EDITOR).unwrap().body["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let p = w.plan(
        &Change::Decide {
            approval: w.approvals[&id].clone(),
            approve: false,
            note: "no".into(),
        },
        APPROVER,
    );
    assert!(p.guards.contains(&Guard::ApprovalPending(id.clone())));
    w.execute(&p);
    assert_eq!(w.decide(&id, true, APPROVER).unwrap_err().code(), "conflict");
    assert_eq!(share(&w, 1), 200);
}

#[test]
fn gates_are_checked_again_when_deciding() {
    let mut w = World::new(GatePolicy::default());
    w.run(&promote(1), EDITOR).unwrap();
    w.state.policy = gated(true);
    let id = w.run(&promote(2), EDITOR).unwrap().body["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    w.state.versions.get_mut(&2).unwrap().measurements = Measurements::default();
    let p = w.plan(
        &Change::Decide {
            approval: w.approvals[&id].clone(),
            approve: true,
            note: String::new(),
        },
        APPROVER,
    );
    assert_eq!(p.answer.unwrap_err().code(), "gates_failed");
    assert!(p.writes.is_empty(), "the request stays pending");
}

#[test]
fn measured_in_defaults_to_the_environment_before() {
    let envs = vec![
        ("dev".to_owned(), 0),
        ("staging".to_owned(), 1),
        ("production".to_owned(), 2),
    ];
    assert_eq!(measured_in(&GatePolicy::default(), "production", &envs), "staging");
    assert_eq!(measured_in(&GatePolicy::default(), "dev", &envs), "dev");
    let p: GatePolicy = serde_json::from_value(json!({ "measured_in": "dev" })).unwrap();
    assert_eq!(measured_in(&p, "production", &envs), "dev");
}

// ---- the property: the planner serves what the rules say ----------------------

/// The rules, written as plainly as possible.
#[derive(Default)]
struct Model {
    approval: bool,
    stack: Vec<u32>,
    split: Option<(Vec<VariantSpec>, String)>,
    /// Request id → (what, epoch asked on, status).
    requests: BTreeMap<String, (ModelChange, u64, ApprovalStatus)>,
    epoch: u64,
}

#[derive(Clone, Debug)]
enum ModelChange {
    Promote(u32, bool, bool),
    Split(Vec<VariantSpec>, String),
}

impl Model {
    fn live(&self) -> Option<u32> {
        self.stack.last().copied()
    }

    fn allowed(&self, v: u32, accept: bool) -> bool {
        if Some(v) == self.live() {
            return true;
        }
        let contract = match self.live() {
            None => true,
            Some(l) => accept || (l == 5) == (v == 5),
        };
        contract && v != 4
    }

    /// Ok(true): what users get changed; Ok(false): nothing changed.
    fn apply(&mut self, c: &ModelChange, decided: bool) -> Result<bool, ()> {
        match c {
            ModelChange::Promote(v, end, accept) => {
                if self.split.is_some() && !end {
                    return Err(());
                }
                if self.split.is_none() && self.live() == Some(*v) {
                    return Ok(false);
                }
                if !self.allowed(*v, *accept) {
                    return Err(());
                }
                if self.approval && !decided {
                    return Ok(false);
                }
                self.split = None;
                if self.live() != Some(*v) {
                    self.stack.push(*v);
                }
                Ok(true)
            }
            ModelChange::Split(variants, salt) => {
                if self.stack.is_empty() || !variants.iter().all(|x| self.allowed(x.version, false)) {
                    return Err(());
                }
                if self.approval && !decided {
                    return Ok(false);
                }
                if self.split.as_ref().is_some_and(|(v, s)| v == variants && s == salt) && !decided {
                    return Ok(false);
                }
                self.split = Some((variants.clone(), salt.clone()));
                Ok(true)
            }
        }
    }

    /// A 202 answer files a request that supersedes the pending ones.
    fn record_request(&mut self, planned: &Result<Answer>, c: ModelChange) {
        if let Some(a) = planned.as_ref().ok().filter(|a| a.status == 202) {
            for r in self.requests.values_mut().filter(|r| r.2 == ApprovalStatus::Pending) {
                r.2 = ApprovalStatus::Superseded;
            }
            let id = a.body["approval_id"].as_str().unwrap().to_owned();
            self.requests.insert(id, (c, self.epoch, ApprovalStatus::Pending));
        }
    }

    fn served(&self, key: &str) -> Option<u32> {
        match &self.split {
            Some((variants, salt)) => Some(route(variants, salt, key)),
            None => self.live(),
        }
    }
}

/// xorshift64*: a deterministic stream of choices, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_split(rng: &mut Rng) -> Vec<VariantSpec> {
    let a = 1 + rng.below(5) as u32;
    let mut b = 1 + rng.below(5) as u32;
    if b == a {
        b = a % 5 + 1;
    }
    let w = (1 + rng.below(99)) as f64;
    split(&[(a, w), (b, 100.0 - w)])
}

fn check_sequence(seed: u64, approval: bool) {
    let mut rng = Rng(seed);
    let mut w = World::new(gated(approval));
    let mut m = Model {
        approval,
        ..Model::default()
    };
    // Something must be live to start from in a protected environment.
    w.state.policy.requires_approval = false;
    w.run(&promote(1), EDITOR).unwrap();
    w.state.policy.requires_approval = approval;
    m.stack.push(1);
    m.epoch = 1;
    for step in 0..60 {
        let roll = rng.below(100);
        let (planned, modelled): (Result<Answer>, Result<bool, ()>);
        if roll < 30 {
            let v = 1 + rng.below(5) as u32;
            let (end, accept) = (rng.below(2) == 0, rng.below(4) == 0);
            planned = w.run(
                &Change::Promote {
                    version: v,
                    reason: String::new(),
                    accept_variable_changes: accept,
                    end_experiment: end,
                },
                EDITOR,
            );
            let c = ModelChange::Promote(v, end, accept);
            modelled = m.apply(&c, false);
            m.record_request(&planned, c);
        } else if roll < 45 {
            planned = w.run(&rollback(), EDITOR);
            modelled = if m.split.take().is_some() {
                Ok(true)
            } else if m.stack.len() >= 2 {
                m.stack.pop();
                Ok(true)
            } else {
                Err(())
            };
        } else if roll < 65 {
            let variants = random_split(&mut rng);
            let salt = format!("salt{}", rng.below(3));
            planned = w.run(&Change::SetExperiment(spec(&pairs(&variants), &salt)), EDITOR);
            let c = ModelChange::Split(variants, salt);
            modelled = m.apply(&c, false);
            m.record_request(&planned, c);
        } else if roll < 75 {
            planned = w.run(&Change::EndExperiment, EDITOR);
            modelled = if m.split.take().is_some() { Ok(true) } else { Err(()) };
        } else if !m.requests.is_empty() {
            let ids: Vec<String> = m.requests.keys().cloned().collect();
            let id = ids[rng.below(ids.len() as u64) as usize].clone();
            let approve = rng.below(4) != 0;
            planned = w.decide(&id, approve, APPROVER);
            let (c, asked_on, status) = m.requests[&id].clone();
            modelled = if status != ApprovalStatus::Pending {
                Err(())
            } else if !approve {
                m.requests.get_mut(&id).unwrap().2 = ApprovalStatus::Rejected;
                Ok(false)
            } else if asked_on != m.epoch {
                m.requests.get_mut(&id).unwrap().2 = ApprovalStatus::Superseded;
                Err(())
            } else {
                let r = m.apply(&c, true);
                if r.is_ok() {
                    m.requests.get_mut(&id).unwrap().2 = ApprovalStatus::Approved;
                }
                r
            };
        } else {
            continue;
        }
        if modelled == Ok(true) {
            m.epoch += 1;
        }
        assert_eq!(
            planned.is_ok(),
            modelled.is_ok(),
            "seed {seed} step {step}: planner {planned:?} vs model {modelled:?}"
        );
        for (id, (_, _, status)) in &m.requests {
            assert_eq!(w.approvals[id].status, *status, "seed {seed} step {step}: request {id}");
        }
        for u in users().iter().take(40) {
            assert_eq!(w.served(u), m.served(u), "seed {seed} step {step}: user {u}");
        }
    }
}

fn pairs(variants: &[VariantSpec]) -> Vec<(u32, f64)> {
    variants.iter().map(|v| (v.version, v.weight)).collect()
}

#[test]
fn random_changes_serve_what_the_rules_say() {
    for seed in 1..=300u64 {
        check_sequence(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15), false);
        check_sequence(seed.wrapping_mul(0xD1B5_4A32_D192_ED03), true);
    }
}

#[test]
fn failed_publishes_back_off_to_a_minute() {
    let delays: Vec<u32> = (0..8).map(publish_retry_seconds).collect();
    assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 60, 60]);
    assert_eq!(publish_retry_seconds(40), 60);
}

#[test]
fn the_edge_is_current_when_every_document_has_the_sequence() {
    assert!(edge_is_current(4, &[Some(4), Some(7)]));
    assert!(!edge_is_current(4, &[Some(4), Some(3)]), "an older document is behind");
    assert!(!edge_is_current(0, &[Some(0), None]), "a missing document is behind");
}
