// Webhooks: a URL subscribed to events (or "*" for all), its signing secret
// shown once at creation, a delete that asks first, and each webhook's
// delivery log (status, attempts, the receiver's answer) with Redeliver,
// which sends a delivery's payload again as a new delivery.
import { useState, type FormEvent } from "react";
import { WEBHOOK_EVENTS, type Webhook, type WebhookDelivery } from "../../api";
import { useSession } from "../../session";
import { useLoad } from "../../useLoad";
import { when } from "../../format";
import { ErrorNote, asError } from "../../components/ErrorNote";
import { ConfirmButton } from "../../components/Confirm";
import { SecretOnce } from "../../components/SecretOnce";

const TONE: Record<WebhookDelivery["status"], string> = { delivered: "status-approved", failed: "status-rejected", pending: "pending" };

export function Webhooks() {
  const { api } = useSession();
  const loaded = useLoad(() => api.webhooks(), [api]);
  const [created, setCreated] = useState<{ url: string; secret: string } | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<{ ok?: string; error?: Error } | null>(null);

  async function remove(w: Webhook) {
    setOutcome(null);
    try {
      await api.deleteWebhook(w.id);
      setOutcome({ ok: `The webhook to ${w.url} is deleted.` });
    } catch (e) {
      setOutcome({ error: asError(e) });
    }
    loaded.reload();
  }

  return (
    <section>
      <h1>Webhooks</h1>
      <p className="muted">
        Each delivery is a signed POST (<code>x-pvct-signature</code>, HMAC-SHA256 under the webhook's secret), retried with backoff.
      </p>
      <CreateWebhook
        onCreated={(w) => {
          setCreated(w);
          setOutcome(null);
          loaded.reload();
        }}
      />
      {created && <SecretOnce title={`The signing secret of the webhook to ${created.url}`} secret={created.secret} onDone={() => setCreated(null)} />}
      {outcome?.ok && (
        <p className="notice" role="status">
          {outcome.ok}
        </p>
      )}
      {outcome?.error && <ErrorNote error={outcome.error} explain={{ not_found: "That webhook no longer exists." }} />}
      {loaded.error && <ErrorNote error={loaded.error} />}
      {!loaded.data && !loaded.error && <p className="muted">Loading webhooks…</p>}
      {loaded.data?.length === 0 && <p className="muted">No webhooks yet.</p>}
      {loaded.data?.map((w) => (
        <div className="card" key={w.id} data-testid={`webhook-${w.id}`}>
          <div className="row">
            <code className="grow">{w.url}</code>
            <span>
              {w.events.includes("*") ? (
                <span className="badge">all events</span>
              ) : (
                w.events.map((e) => (
                  <span className="badge" key={e}>
                    {e}
                  </span>
                ))
              )}
            </span>
          </div>
          <div className="row">
            <span className="muted">
              created by {w.created_by}, {when(w.created_at)}
            </span>
            <span className="spacer" />
            <button
              type="button"
              aria-expanded={open === w.id}
              aria-controls={`deliveries-${w.id}`}
              onClick={() => setOpen(open === w.id ? null : w.id)}
            >
              {open === w.id ? "Hide deliveries" : "Deliveries"}
            </button>
            <ConfirmButton
              label="Delete"
              ariaLabel={`Delete the webhook to ${w.url}`}
              question="Delete this webhook? Nothing more is sent to it."
              confirmLabel="Yes, delete"
              onConfirm={() => remove(w)}
            />
          </div>
          {open === w.id && <Deliveries webhook={w} />}
        </div>
      ))}
    </section>
  );
}

function Deliveries({ webhook }: { webhook: Webhook }) {
  const { api } = useSession();
  const log = useLoad(() => api.deliveries(webhook.id), [api, webhook.id]);
  const [outcome, setOutcome] = useState<{ ok?: string; error?: Error } | null>(null);

  async function redeliver(d: WebhookDelivery) {
    setOutcome(null);
    try {
      const again = await api.redeliver(webhook.id, d.id);
      setOutcome({ ok: `The ${d.event} delivery is sent again (new delivery ${again.id}, ${again.status}).` });
    } catch (e) {
      setOutcome({ error: asError(e) });
    }
    log.reload();
  }

  return (
    <div id={`deliveries-${webhook.id}`} data-testid="deliveries">
      <div className="row">
        <h3 className="inline">Deliveries</h3>
        <span className="muted">newest first, up to 200</span>
        <span className="spacer" />
        <button type="button" onClick={log.reload}>
          Refresh
        </button>
      </div>
      {outcome?.ok && (
        <p className="notice" role="status">
          {outcome.ok}
        </p>
      )}
      {outcome?.error && <ErrorNote error={outcome.error} explain={{ not_found: "That delivery is gone (deliveries are kept for a while only)." }} />}
      {log.error && <ErrorNote error={log.error} />}
      {log.data?.length === 0 && <p className="muted">Nothing delivered yet.</p>}
      {log.data && log.data.length > 0 && (
        <table className="grid" aria-label={`Deliveries to ${webhook.url}`}>
          <thead>
            <tr>
              <th>Event</th>
              <th>Status</th>
              <th>Attempts</th>
              <th>Answer</th>
              <th>Created</th>
              <th>Last try</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {log.data.map((d) => (
              <tr key={d.id} data-testid={`delivery-${d.id}`}>
                <td>
                  <code>{d.event}</code>
                </td>
                <td>
                  <span className={`badge ${TONE[d.status] ?? ""}`}>{d.status}</span>
                </td>
                <td>{d.attempts}</td>
                <td>
                  {d.response_status ?? <span className="muted">—</span>}
                  {d.last_error && <div className="error">{d.last_error}</div>}
                </td>
                <td>{when(d.created_at)}</td>
                <td>{when(d.updated_at)}</td>
                <td>
                  <button type="button" aria-label={`Redeliver ${d.event} ${d.id}`} onClick={() => redeliver(d)}>
                    Redeliver
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function CreateWebhook({ onCreated }: { onCreated: (w: { url: string; secret: string }) => void }) {
  const { api } = useSession();
  const [url, setUrl] = useState("");
  const [all, setAll] = useState(true);
  const [events, setEvents] = useState<string[]>([]);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!all && events.length === 0) {
      setError(new Error("Choose at least one event, or all events."));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const made = await api.createWebhook(url.trim(), all ? ["*"] : WEBHOOK_EVENTS.filter((x) => events.includes(x)));
      setUrl("");
      setEvents([]);
      setAll(true);
      onCreated({ url: made.url, secret: made.secret });
    } catch (err) {
      setError(asError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card" onSubmit={submit} aria-label="New webhook">
      <h2>New webhook</h2>
      <div className="inline-form">
        <label className="grow">
          Receiver URL
          <input className="grow" name="url" type="url" required value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/hooks/pvct" />
        </label>
      </div>
      <fieldset className="events">
        <legend>Events</legend>
        <label>
          <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} />
          All events (*)
        </label>
        {WEBHOOK_EVENTS.map((ev) => (
          <label key={ev}>
            <input
              type="checkbox"
              disabled={all}
              checked={all || events.includes(ev)}
              onChange={(e) => setEvents(e.target.checked ? [...events, ev] : events.filter((x) => x !== ev))}
            />
            <code>{ev}</code>
          </label>
        ))}
      </fieldset>
      <button type="submit" className="primary" disabled={busy}>
        {busy ? "Creating…" : "Create webhook"}
      </button>
      {error && (
        <ErrorNote
          error={error}
          explain={{ quota_exceeded: "The workspace has as many webhooks as it may: delete one first." }}
        />
      )}
    </form>
  );
}
