//! Background jobs: which queue carries each kind of work, what happens to a
//! job that fails, and what a dead letter says about it.
//!
//! Each kind of work has its own queue, so one tenant's slow judge or
//! webhook receiver holds up only evaluations or deliveries, never another
//! tenant's telemetry. A job that fails is sent again with a growing delay,
//! counted in its own envelope (the Queue's own attempt counter is not
//! readable from Rust); after [`MAX_ATTEMPTS`] it becomes a dead letter,
//! stored where admins can see and replay it. A message that no longer
//! reads as a job is dead-lettered at once, alone, without failing its batch.
//! Messages that reach the dead-letter queue itself are those whose consumer
//! never answered (a crash, a CPU or memory limit): they are stored too.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// The queues of background work, each with its own consumer batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobQueue {
    /// Executions and feedback: counted into the metrics the gates read.
    Telemetry,
    /// Evaluator scoring, judge calls included.
    Evaluations,
    /// Webhook deliveries.
    Deliveries,
    /// Bringing KV up to a committed release.
    Publish,
}

impl JobQueue {
    pub const ALL: [JobQueue; 4] = [
        JobQueue::Telemetry,
        JobQueue::Evaluations,
        JobQueue::Deliveries,
        JobQueue::Publish,
    ];

    /// The producer binding in wrangler.toml.
    pub const fn binding(self) -> &'static str {
        match self {
            JobQueue::Telemetry => "QUEUE_TELEMETRY",
            JobQueue::Evaluations => "QUEUE_EVALUATIONS",
            JobQueue::Deliveries => "QUEUE_DELIVERIES",
            JobQueue::Publish => "QUEUE_PUBLISH",
        }
    }

    /// The name stored with dead letters and shown to admins.
    pub const fn as_str(self) -> &'static str {
        match self {
            JobQueue::Telemetry => "telemetry",
            JobQueue::Evaluations => "evaluations",
            JobQueue::Deliveries => "deliveries",
            JobQueue::Publish => "publish",
        }
    }

    pub fn parse(s: &str) -> Option<JobQueue> {
        JobQueue::ALL.into_iter().find(|q| q.as_str() == s)
    }
}

/// What a consumer batch is, by the name of the queue it came from:
/// `pvct-<queue>` with an optional `-<deployment>` suffix (`pvct-telemetry-staging`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumer {
    Jobs(JobQueue),
    DeadLetters,
}

/// The prefix of every queue name; the dead-letter queue is `pvct-dead-letters`.
const PREFIX: &str = "pvct-";
const DEAD_LETTERS: &str = "dead-letters";

impl Consumer {
    pub fn of_queue_name(name: &str) -> Option<Consumer> {
        let rest = name.strip_prefix(PREFIX)?;
        let first = |word: &str| rest == word || rest.strip_prefix(word).is_some_and(|t| t.starts_with('-'));
        if first(DEAD_LETTERS) {
            return Some(Consumer::DeadLetters);
        }
        JobQueue::ALL
            .into_iter()
            .find(|q| first(q.as_str()))
            .map(Consumer::Jobs)
    }
}

/// How many times a job runs before it becomes a dead letter.
pub const MAX_ATTEMPTS: u32 = 6;

/// What to do with a job that failed, or asked to run again later, on its
/// `attempt`-th run (counting from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Send it again, to run in this many seconds.
    RetryIn(u32),
    /// Store it as a dead letter.
    DeadLetter,
}

/// `asked`: the delay the job itself asked for (a judge's rate limit), if any.
pub fn after_failure(attempt: u32, asked: Option<u32>) -> AfterFailure {
    if attempt >= MAX_ATTEMPTS {
        return AfterFailure::DeadLetter;
    }
    // 1, 2, 4, 8, 16 s (31 s in all): a transient D1 or network failure
    // has passed by then; a job that asked for a delay gets at least that.
    let backoff = 1u32 << attempt.saturating_sub(1).min(4);
    AfterFailure::RetryIn(asked.map_or(backoff, |a| a.max(backoff)).min(MAX_DELAY_SECONDS))
}

/// Queues deliver a delayed message at most 12 hours later.
const MAX_DELAY_SECONDS: u32 = 12 * 3600;

/// Why a message became a dead letter: a stable code, shown to admins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadReason {
    /// The message does not read as a job (a format from another version).
    Unreadable,
    /// The job failed on every attempt.
    Failed,
    /// The consumer never answered for it (crash, CPU or memory limit);
    /// the Queue moved it to the dead-letter queue.
    ConsumerCrashed,
}

impl DeadReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            DeadReason::Unreadable => "unreadable",
            DeadReason::Failed => "failed",
            DeadReason::ConsumerCrashed => "consumer_crashed",
        }
    }

    pub fn parse(s: &str) -> Option<DeadReason> {
        [DeadReason::Unreadable, DeadReason::Failed, DeadReason::ConsumerCrashed]
            .into_iter()
            .find(|r| r.as_str() == s)
    }

    /// The human sentence shown with the code. Never the internal error
    /// text, which the worker logs under the dead letter's id instead.
    pub const fn message(self) -> &'static str {
        match self {
            DeadReason::Unreadable => "the message does not read as a job of this version",
            DeadReason::Failed => "the job failed on every attempt; the worker's log has the cause under this id",
            DeadReason::ConsumerCrashed => {
                "the consumer stopped without an answer on every delivery (a crash, CPU or memory limit)"
            }
        }
    }
}

/// A dead letter as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub id: String,
    pub queue: JobQueue,
    /// The job's kind (`executions`, `deliver`, …), or `unknown`.
    pub kind: String,
    pub reason: DeadReason,
    pub attempts: u32,
    pub created_at: String,
    pub replayed_at: Option<String>,
}

/// What replaying a dead letter does: send its body again, as a first
/// attempt, to its queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    pub queue: JobQueue,
}

/// May `letter` (stored `age_days` ago) be replayed? Once only: a second
/// replay would run the job twice (a replayed job that fails again comes
/// back as a new dead letter). Telemetry and evaluation jobs only while
/// the telemetry ledger still knows what they counted
/// ([`crate::rollup::LEDGER_DAYS`]): a crash after the count, replayed
/// later, would count again.
pub fn plan_replay(letter: &DeadLetter, age_days: i64) -> Result<Replay> {
    if let Some(at) = &letter.replayed_at {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!("this dead letter was replayed at {at}; a failure after that is a new dead letter"),
        ));
    }
    let counted = matches!(letter.queue, JobQueue::Telemetry | JobQueue::Evaluations);
    if counted && age_days >= i64::from(crate::rollup::LEDGER_DAYS) {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!(
                "this {} job is {age_days} days old: past {} days the ledger no longer knows whether it was counted, \
                 so replaying it could count it twice",
                letter.kind,
                crate::rollup::LEDGER_DAYS
            ),
        ));
    }
    Ok(Replay { queue: letter.queue })
}

/// Rows (ledger, dead letters) one retention job deletes per table in one
/// statement: small enough
/// for one D1 batch and one consumer invocation, whatever the workspace's
/// volume. (Raw log objects go 1,000 per R2 listing page.)
pub const PRUNE_CHUNK: u32 = 2_000;

/// After a retention job deleted `deleted` rows of each table (ledger, dead
/// letters) and a raw log page (`page_full`: every object of a full listing
/// page was expired): is there more to do? Any full chunk or page queues
/// the next job, which resumes where this one stopped (the oldest left);
/// otherwise the workspace's run ends.
pub fn prune_again(deleted: &[u32], page_full: bool) -> bool {
    deleted.iter().any(|d| *d >= PRUNE_CHUNK) || page_full
}

/// What a cron trigger (wrangler.toml `[triggers]`) runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduled {
    /// Every minute: queue webhook deliveries whose jobs were never queued.
    Sweep,
    /// Daily: drop raw telemetry past each workspace's retention.
    Retention,
}

/// The cron expressions in wrangler.toml.
pub const SWEEP_CRON: &str = "* * * * *";
pub const RETENTION_CRON: &str = "17 3 * * *";

impl Scheduled {
    pub fn of_cron(cron: &str) -> Option<Scheduled> {
        match cron {
            SWEEP_CRON => Some(Scheduled::Sweep),
            RETENTION_CRON => Some(Scheduled::Retention),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_map_to_consumers_in_every_deployment() {
        assert_eq!(
            Consumer::of_queue_name("pvct-telemetry"),
            Some(Consumer::Jobs(JobQueue::Telemetry))
        );
        assert_eq!(
            Consumer::of_queue_name("pvct-deliveries-staging"),
            Some(Consumer::Jobs(JobQueue::Deliveries))
        );
        assert_eq!(
            Consumer::of_queue_name("pvct-dead-letters-production"),
            Some(Consumer::DeadLetters)
        );
        assert_eq!(
            Consumer::of_queue_name("pvct-publish"),
            Some(Consumer::Jobs(JobQueue::Publish))
        );
        assert_eq!(Consumer::of_queue_name("pvct-telemetryx"), None);
        assert_eq!(Consumer::of_queue_name("other-telemetry"), None);
        for q in JobQueue::ALL {
            assert_eq!(JobQueue::parse(q.as_str()), Some(q));
        }
    }

    #[test]
    fn failures_back_off_then_dead_letter() {
        let delays: Vec<AfterFailure> = (1..=MAX_ATTEMPTS).map(|a| after_failure(a, None)).collect();
        assert_eq!(
            delays,
            vec![
                AfterFailure::RetryIn(1),
                AfterFailure::RetryIn(2),
                AfterFailure::RetryIn(4),
                AfterFailure::RetryIn(8),
                AfterFailure::RetryIn(16),
                AfterFailure::DeadLetter,
            ]
        );
        assert_eq!(after_failure(1, Some(10)), AfterFailure::RetryIn(10));
        assert_eq!(after_failure(5, Some(10)), AfterFailure::RetryIn(16));
        assert_eq!(after_failure(1, Some(u32::MAX)), AfterFailure::RetryIn(12 * 3600));
        assert_eq!(after_failure(MAX_ATTEMPTS + 3, Some(1)), AfterFailure::DeadLetter);
    }

    #[test]
    fn retention_goes_on_while_chunks_are_full() {
        assert!(prune_again(&[PRUNE_CHUNK, 0], false));
        assert!(prune_again(&[0, PRUNE_CHUNK], false));
        assert!(!prune_again(&[PRUNE_CHUNK - 1, 3], false));
        assert!(!prune_again(&[0, 0], false));
        assert!(prune_again(&[0, 0], true));
    }

    #[test]
    fn crons_name_their_work() {
        assert_eq!(Scheduled::of_cron("* * * * *"), Some(Scheduled::Sweep));
        assert_eq!(Scheduled::of_cron("17 3 * * *"), Some(Scheduled::Retention));
        assert_eq!(Scheduled::of_cron("0 0 * * *"), None);
    }

    #[test]
    fn a_dead_letter_replays_once() {
        let mut letter = DeadLetter {
            id: "d1".into(),
            queue: JobQueue::Evaluations,
            kind: "evaluate".into(),
            reason: DeadReason::Failed,
            attempts: 6,
            created_at: "2026-12-04T00:00:00Z".into(),
            replayed_at: None,
        };
        assert_eq!(plan_replay(&letter, 0).unwrap().queue, JobQueue::Evaluations);
        // Past the ledger's memory a telemetry or evaluation job could count twice.
        assert_eq!(plan_replay(&letter, 7).unwrap_err().code(), "conflict");
        let deliver = DeadLetter {
            queue: JobQueue::Deliveries,
            ..letter.clone()
        };
        assert!(plan_replay(&deliver, 29).is_ok());
        letter.replayed_at = Some("2026-12-04T00:01:00Z".into());
        assert_eq!(plan_replay(&letter, 0).unwrap_err().code(), "conflict");
        for r in [DeadReason::Unreadable, DeadReason::Failed, DeadReason::ConsumerCrashed] {
            assert_eq!(DeadReason::parse(r.as_str()), Some(r));
        }
    }
}
