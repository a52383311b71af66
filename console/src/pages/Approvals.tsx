// The approval queue: approvers approve (gates are checked again, then the
// promotion or split goes live) or reject; nobody decides their own request.
// Each request shows what is live now, a running split included, and a
// request that what is live has moved past is refused as stale. Each asked
// version's latest test run (of the prompt's current suite) is shown with
// its status and pass rate, a link to the run in the prompt's Tests tab.
import { useState } from "react";
import type { Approval, ApprovalTestRun, BundlePrompt } from "../api";
import { useSession } from "../session";
import { useLoad } from "../useLoad";
import { anyEvent, useLive, useLiveRefresh } from "../useLive";
import { linkProps } from "../router";
import { pct, when } from "../format";
import { LiveBadge, splitText } from "../live";
import { OutcomeError } from "../components/GateFailures";
import { ErrorNote } from "../components/ErrorNote";

/** What a request asks for, in words: "v2 → production", "split v1 80% / v2 20% → production". */
export const requestText = (a: Approval) =>
  a.kind === "experiment" ? `split ${splitText(a.variants)}` : `v${a.version}${a.end_experiment ? " (ends the running split)" : ""}`;

const doneText = (a: Approval) =>
  a.kind === "experiment"
    ? `The split ${splitText(a.variants)} of ${a.prompt} runs in ${a.environment}.`
    : `v${a.version} of ${a.prompt} is live in ${a.environment}.`;

/** The versions a request asks for: a promotion's one, a split's variants. */
const askedVersions = (a: Approval) => (a.kind === "experiment" ? [...new Set(a.variants.map((v) => v.version))] : [a.version]);

// The Tests tab's status colours (tests.css) load with that tab only: the
// main sheet's approval tones are the same greens, reds and yellows.
const RUN_TONE: Record<ApprovalTestRun["status"], string> = { passed: "status-approved", failed: "status-rejected", running: "pending" };

/** Each asked version's latest test run, linked to it; "no test run" for a version never run. */
function TestRuns({ a }: { a: Approval }) {
  const versions = askedVersions(a);
  return (
    <div className="row" data-testid="approval-tests">
      <span className="muted">latest test run{versions.length > 1 ? "s" : ""}:</span>
      {versions.map((v) => {
        const run = (a.test_runs ?? []).find((r) => r.version === v);
        return run ? (
          <a
            key={v}
            data-testid={`approval-test-v${v}`}
            title="Open the run in the prompt's Tests tab"
            {...linkProps(`/prompts/${a.prompt}/tests?run=${encodeURIComponent(run.run_id)}`)}
          >
            v{v} tests <span className={`badge ${RUN_TONE[run.status]}`}>{run.status}</span>
            {run.pass_rate != null && ` ${pct(run.pass_rate)}`}
          </a>
        ) : (
          <span key={v} data-testid={`approval-test-v${v}`}>
            v{v} <span className="muted">no test run</span>
          </span>
        );
      })}
    </div>
  );
}

export function Approvals() {
  const { api, can, me } = useSession();
  const channel = useLive();
  const loaded = useLoad(async () => {
    // Every pending request, and the newest of all (for the decided ones).
    const [pending, recent] = await Promise.all([api.pendingApprovals(), api.approvals()]);
    // What is live where the requests would land: one bundle per environment.
    const envs = [...new Set(pending.map((a) => a.environment))];
    const bundles = await Promise.all(envs.map((e) => api.bundle(e, channel?.seq(e)).then((b) => [e, b.prompts] as const)));
    return {
      pending,
      decided: recent.filter((a) => a.status !== "pending").slice(0, 20),
      live: Object.fromEntries(bundles) as Record<string, Record<string, BundlePrompt>>,
    };
  }, [api, channel]);
  // Requests come and go, and what is live moves, as others work: shown without a reload.
  useLiveRefresh(loaded.refresh, anyEvent);
  const [notes, setNotes] = useState<Record<string, string>>({});
  const [outcome, setOutcome] = useState<{ id: string; ok?: string; error?: Error } | null>(null);

  async function decide(a: Approval, approve: boolean) {
    setOutcome(null);
    try {
      await api.post(`/v1/approvals/${a.id}/${approve ? "approve" : "reject"}`, { note: notes[a.id] ?? "" });
      setOutcome({ id: a.id, ok: approve ? doneText(a) : "Rejected." });
    } catch (e) {
      setOutcome({ id: a.id, error: e instanceof Error ? e : new Error(String(e)) });
    }
    // Decided, superseded or stale: the queue has moved either way.
    loaded.reload();
  }

  if (loaded.error) return <ErrorNote error={loaded.error} />;
  if (!loaded.data) return <p className="muted">Loading approvals…</p>;
  const { pending, decided } = loaded.data;
  // A refused decision whose request left the queue (stale, superseded) is shown at the top.
  const orphanError = outcome?.error && !pending.some((a) => a.id === outcome.id) ? outcome.error : null;
  return (
    <section>
      <h1>Approvals</h1>
      {outcome?.ok && (
        <p className="notice" role="status">
          {outcome.ok}
        </p>
      )}
      {orphanError && <OutcomeError error={orphanError} />}
      {pending.length === 0 && <p className="muted">Nothing waits for approval.</p>}
      {pending.map((a) => {
        const live = loaded.data!.live[a.environment]?.[a.prompt];
        return (
          <div className="card" key={a.id} data-testid={`approval-${a.id}`}>
            <div className="row">
              <a {...linkProps(`/prompts/${a.prompt}/history`)}>
                <strong>{a.prompt}</strong>
              </a>
              <span data-testid="approval-request">
                {a.kind === "experiment" ? "A/B " : "promote "}
                {requestText(a)} → <span className="badge">{a.environment}</span>
              </span>
              <span className="muted">
                asked by {a.requested_by}, {when(a.created_at)}
              </span>
            </div>
            <div className="row" data-testid="approval-live-now">
              <span className="muted">live in {a.environment} now:</span>
              <LiveBadge slug={a.prompt} env={a.environment} version={live?.version} split={live?.experiment?.variants} label={false} />
            </div>
            <TestRuns a={a} />
            {a.reason && <p>“{a.reason}”</p>}
            {can("approve") && a.requested_by !== me.actor ? (
              <div className="row">
                <input
                  className="grow"
                  aria-label="Decision note"
                  placeholder="Note (optional)"
                  value={notes[a.id] ?? ""}
                  onChange={(e) => setNotes({ ...notes, [a.id]: e.target.value })}
                />
                <button className="primary" onClick={() => decide(a, true)}>
                  Approve
                </button>
                <button onClick={() => decide(a, false)}>Reject</button>
              </div>
            ) : (
              <p className="muted">{can("approve") ? "Your own request: another approver decides." : "An approver decides."}</p>
            )}
            {outcome?.id === a.id && outcome.error && <OutcomeError error={outcome.error} />}
          </div>
        );
      })}
      {decided.length > 0 && (
        <>
          <h2>Decided</h2>
          <table className="grid" aria-label="Decided requests">
            <thead>
              <tr>
                <th>Prompt</th>
                <th>Request</th>
                <th>Environment</th>
                <th>Status</th>
                <th>By</th>
                <th>When</th>
              </tr>
            </thead>
            <tbody>
              {decided.map((a) => (
                <tr key={a.id} data-testid={`decided-${a.id}`}>
                  <td>
                    <a {...linkProps(`/prompts/${a.prompt}/history`)}>{a.prompt}</a>
                  </td>
                  <td>{requestText(a)}</td>
                  <td>{a.environment}</td>
                  <td>
                    <span className={`badge status-${a.status}`} title={a.decision_note ?? undefined}>
                      {a.status}
                    </span>
                  </td>
                  <td>{a.decided_by ?? "—"}</td>
                  <td>{when(a.decided_at ?? a.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
