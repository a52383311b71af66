// The approval queue: approvers approve (gates are checked again, then the
// version deploys) or reject; nobody decides their own request.
import { useState } from "react";
import type { Approval } from "../api";
import { useSession } from "../session";
import { useLoad } from "../useLoad";
import { linkProps } from "../router";
import { when } from "../format";
import { OutcomeError } from "../components/GateFailures";
import { ErrorNote } from "../components/ErrorNote";

export function Approvals() {
  const { api, can, me } = useSession();
  const pending = useLoad(() => api.pendingApprovals(), [api]);
  const [notes, setNotes] = useState<Record<string, string>>({});
  const [outcome, setOutcome] = useState<{ id: string; ok?: string; error?: Error } | null>(null);

  async function decide(a: Approval, approve: boolean) {
    setOutcome(null);
    try {
      await api.post(`/v1/approvals/${a.id}/${approve ? "approve" : "reject"}`, { note: notes[a.id] ?? "" });
      setOutcome({ id: a.id, ok: approve ? `v${a.version} of ${a.prompt} is live in ${a.environment}.` : "Rejected." });
      pending.reload();
    } catch (e) {
      setOutcome({ id: a.id, error: e instanceof Error ? e : new Error(String(e)) });
    }
  }

  if (pending.error) return <ErrorNote error={pending.error} />;
  if (!pending.data) return <p className="muted">Loading approvals…</p>;
  return (
    <section>
      <h1>Approvals</h1>
      {outcome?.ok && (
        <p className="notice" role="status">
          {outcome.ok}
        </p>
      )}
      {pending.data.length === 0 && <p className="muted">Nothing waits for approval.</p>}
      {pending.data.map((a) => (
        <div className="card" key={a.id} data-testid={`approval-${a.id}`}>
          <div className="row">
            <a {...linkProps(`/prompts/${a.prompt}/history`)}>
              <strong>{a.prompt}</strong>
            </a>
            <span>
              v{a.version} → <span className="badge">{a.environment}</span>
            </span>
            <span className="muted">
              asked by {a.requested_by}, {when(a.created_at)}
            </span>
          </div>
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
      ))}
    </section>
  );
}
