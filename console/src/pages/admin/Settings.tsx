// Workspace settings, one form per setting so a save sends only what it
// changes (PUT /v1/settings keeps every field left out): raw-execution
// retention, the role people get without a membership, the LLM judge and
// the test-run provider endpoints, and where notifications go (Slack, email),
// with the notification delivery log. Secrets are write-only: the page says
// whether one is set and offers a field to replace it, never shows it.
import { useState, type FormEvent, type ReactNode } from "react";
import { ROLES, type EndpointView, type Role, type Settings, type SettingsUpdate } from "../../api";
import { useSession } from "../../session";
import { useLoad } from "../../useLoad";
import { when } from "../../format";
import { ErrorNote, asError, type Explain } from "../../components/ErrorNote";
import { ConfirmButton } from "../../components/Confirm";

const INVALID: Explain = { invalid_field: (e) => `${e.message}${e.details.field ? ` (${String(e.details.field)})` : ""}` };

/** Saves one setting and says how it went, next to its form. */
function useSave(onSaved: (s: Settings) => void) {
  const { api } = useSession();
  const [outcome, setOutcome] = useState<{ ok?: string; error?: Error } | null>(null);
  const [busy, setBusy] = useState(false);
  async function save(update: SettingsUpdate, ok: string) {
    setBusy(true);
    setOutcome(null);
    try {
      onSaved(await api.putSettings(update));
      setOutcome({ ok });
      return true;
    } catch (e) {
      setOutcome({ error: asError(e) });
      return false;
    } finally {
      setBusy(false);
    }
  }
  const note = outcome?.ok ? (
    <p className="notice" role="status">
      {outcome.ok}
    </p>
  ) : outcome?.error ? (
    <ErrorNote error={outcome.error} explain={INVALID} />
  ) : null;
  return { save, busy, note };
}

/** Whether a write-only secret is stored: never the secret. */
const SecretState = ({ set, testId }: { set: boolean; testId: string }) => (
  <span className={`badge ${set ? "live" : "off"}`} data-testid={testId} title="write-only: never shown">
    key {set ? "set" : "not set"}
  </span>
);

export function SettingsPage() {
  const { api } = useSession();
  const loaded = useLoad(() => api.settings(), [api]);
  // What the last save answered, until the page loads again.
  const [latest, setLatest] = useState<Settings | null>(null);
  const settings = latest ?? loaded.data;

  if (loaded.error) return <ErrorNote error={loaded.error} />;
  if (!settings) return <p className="muted">Loading settings…</p>;
  return (
    <section>
      <h1>Settings</h1>
      <p className="muted">Last changed {when(settings.updated_at)}.</p>
      <Retention settings={settings} onSaved={setLatest} />
      <DefaultRole settings={settings} onSaved={setLatest} />
      <Endpoint
        name="judge"
        title="LLM judge"
        what="judge"
        about="The chat-completions endpoint that scores outputs for judge evaluators and test assertions."
        view={settings.judge}
        onSaved={setLatest}
      />
      <Endpoint
        name="provider"
        title="Test-run provider"
        what="provider"
        about="The OpenAI-compatible endpoint server-side test runs call."
        view={settings.provider}
        onSaved={setLatest}
      />
      <h2>Notifications</h2>
      <Slack settings={settings} onSaved={setLatest} />
      <Email settings={settings} onSaved={setLatest} />
      <NotificationLog />
    </section>
  );
}

function Card({ title, about, children }: { title: string; about?: string; children: ReactNode }) {
  return (
    <div className="card">
      <h3>{title}</h3>
      {about && <p className="muted">{about}</p>}
      {children}
    </div>
  );
}

type Props = { settings: Settings; onSaved: (s: Settings) => void };

function Retention({ settings, onSaved }: Props) {
  const [days, setDays] = useState(String(settings.retention_days));
  const { save, busy, note } = useSave(onSaved);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save({ retention_days: Number(days) }, `Raw executions are kept ${Number(days)} days.`);
  };
  return (
    <Card title="Retention" about="How long raw executions are kept (metrics rollups stay).">
      <form className="inline-form" onSubmit={submit} aria-label="Retention">
        <label>
          Retention (days)
          <input type="number" min={1} max={3650} step={1} required value={days} onChange={(e) => setDays(e.target.value)} />
        </label>
        <button type="submit" className="primary" disabled={busy}>
          Save retention
        </button>
      </form>
      {note}
    </Card>
  );
}

function DefaultRole({ settings, onSaved }: Props) {
  const [role, setRole] = useState<Role | "">(settings.default_role ?? "");
  const { save, busy, note } = useSave(onSaved);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save(
      { default_role: role || null },
      role ? `People signed in through Access without a membership get the ${role} role.` : "Only members sign in through Access.",
    );
  };
  return (
    <Card title="Default role" about="The role of a person signed in through Cloudflare Access who is not a member.">
      <form className="inline-form" onSubmit={submit} aria-label="Default role">
        <label>
          Default role
          <select value={role} onChange={(e) => setRole(e.target.value as Role | "")}>
            <option value="">none: only members sign in</option>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="primary" disabled={busy}>
          Save default role
        </button>
      </form>
      {note}
    </Card>
  );
}

function Endpoint({
  name,
  title,
  what,
  about,
  view,
  onSaved,
}: {
  name: "judge" | "provider";
  title: string;
  /** How sentences name it: "judge". */
  what: string;
  about: string;
  view: EndpointView | null;
  onSaved: (s: Settings) => void;
}) {
  const [url, setUrl] = useState(view?.url ?? "");
  const [model, setModel] = useState(view?.model ?? "");
  const [apiKey, setApiKey] = useState("");
  const { save, busy, note } = useSave(onSaved);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    // No key typed: the API keeps the stored one while the URL stays the same.
    const endpoint = { url: url.trim(), model: model.trim(), ...(apiKey ? { api_key: apiKey } : {}) };
    if (await save({ [name]: endpoint }, `The ${what} is saved.`)) setApiKey("");
  };
  const id = (f: string) => `${name}-${f}`;
  return (
    <Card title={title} about={about}>
      <form onSubmit={submit} aria-label={title}>
        <div className="fields">
          <label htmlFor={id("url")}>{title} URL</label>
          <input
            id={id("url")}
            type="url"
            required
            value={url}
            onChange={(e) => setUrl(e.target.value)}
            placeholder="https://api.openai.com/v1/chat/completions"
          />
          <label htmlFor={id("model")}>{title} model</label>
          <input id={id("model")} required value={model} onChange={(e) => setModel(e.target.value)} placeholder="gpt-4o-mini" />
          <label htmlFor={id("key")}>{title} API key</label>
          <span className="row tight">
            <input
              id={id("key")}
              className="grow"
              type="password"
              autoComplete="off"
              value={apiKey}
              onChange={(e) => setApiKey(e.target.value)}
              placeholder={view?.api_key_set ? "leave empty to keep it" : "none"}
            />
            <SecretState set={!!view?.api_key_set} testId={`${name}-key-state`} />
          </span>
        </div>
        {view?.api_key_set && <p className="muted">A new URL needs its API key again: the stored one stays with the old URL only.</p>}
        <div className="row">
          <button type="submit" className="primary" disabled={busy}>
            Save {what}
          </button>
          {view && (
            <ConfirmButton
              label="Remove"
              ariaLabel={`Remove the ${what}`}
              question={`Remove the ${what} and its API key?`}
              confirmLabel="Yes, remove"
              onConfirm={async () => {
                if (await save({ [name]: null }, `The ${what} is removed.`)) {
                  setUrl("");
                  setModel("");
                }
              }}
            />
          )}
        </div>
      </form>
      {note}
    </Card>
  );
}

function Slack({ settings, onSaved }: Props) {
  const slack = settings.notifications?.slack ?? null;
  const [url, setUrl] = useState("");
  const { save, busy, note } = useSave(onSaved);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (await save({ notifications: { slack: { url: url.trim() } } }, "Notifications go to Slack.")) setUrl("");
  };
  return (
    <Card title="Slack">
      <p data-testid="slack-state">
        {slack ? (
          <>
            Posting to <code>{slack.url}</code> <span className="muted">(the URL is a secret: shown redacted)</span>
          </>
        ) : (
          <span className="muted">Not configured.</span>
        )}
      </p>
      <form onSubmit={submit} aria-label="Slack notifications">
        <div className="fields">
          <label htmlFor="slack-url">{slack ? "New Slack webhook URL" : "Slack webhook URL"}</label>
          <input
            id="slack-url"
            type="url"
            autoComplete="off"
            required
            value={url}
            onChange={(e) => setUrl(e.target.value)}
            placeholder="https://hooks.slack.com/services/…"
          />
        </div>
        <div className="row">
          <button type="submit" className="primary" disabled={busy}>
            Save Slack
          </button>
          {slack && (
            <ConfirmButton
              label="Remove"
              ariaLabel="Remove Slack notifications"
              question="Stop notifying Slack?"
              confirmLabel="Yes, remove"
              onConfirm={async () => void (await save({ notifications: { slack: null } }, "Slack is no longer notified."))}
            />
          )}
        </div>
      </form>
      {note}
    </Card>
  );
}

function Email({ settings, onSaved }: Props) {
  const email = settings.notifications?.email ?? null;
  const [from, setFrom] = useState(email?.from ?? "");
  const [apiUrl, setApiUrl] = useState(email?.api_url ?? "https://api.resend.com");
  const [apiKey, setApiKey] = useState("");
  const { save, busy, note } = useSave(onSaved);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const update = { from: from.trim(), api_url: apiUrl.trim(), ...(apiKey ? { api_key: apiKey } : {}) };
    if (await save({ notifications: { email: update } }, "Notifications go to subscribed members by email.")) setApiKey("");
  };
  return (
    <Card title="Email" about="Sent to subscribed members through a Resend-compatible API.">
      <form onSubmit={submit} aria-label="Email notifications">
        <div className="fields">
          <label htmlFor="email-from">From</label>
          <input id="email-from" required value={from} onChange={(e) => setFrom(e.target.value)} placeholder="PromptVault <pv@example.com>" />
          <label htmlFor="email-api-url">Email API URL</label>
          <input id="email-api-url" type="url" required value={apiUrl} onChange={(e) => setApiUrl(e.target.value)} />
          <label htmlFor="email-api-key">Email API key</label>
          <span className="row tight">
            <input
              id="email-api-key"
              className="grow"
              type="password"
              autoComplete="off"
              value={apiKey}
              onChange={(e) => setApiKey(e.target.value)}
              placeholder={email?.api_key_set ? "leave empty to keep it" : "re_…"}
            />
            <SecretState set={!!email?.api_key_set} testId="email-key-state" />
          </span>
        </div>
        <div className="row">
          <button type="submit" className="primary" disabled={busy}>
            Save email
          </button>
          {email && (
            <ConfirmButton
              label="Remove"
              ariaLabel="Remove email notifications"
              question="Stop sending notification emails?"
              confirmLabel="Yes, remove"
              onConfirm={async () => void (await save({ notifications: { email: null } }, "No more notification emails."))}
            />
          )}
        </div>
      </form>
      {note}
    </Card>
  );
}

const TONE = { delivered: "status-approved", failed: "status-rejected", pending: "pending" } as const;

function NotificationLog() {
  const { api } = useSession();
  const log = useLoad(() => api.notificationDeliveries(), [api]);
  return (
    <div className="card">
      <div className="row">
        <h3 className="inline">Notification deliveries</h3>
        <span className="spacer" />
        <button type="button" onClick={log.reload}>
          Refresh
        </button>
      </div>
      {log.error && <ErrorNote error={log.error} />}
      {log.data?.length === 0 && <p className="muted">No notifications sent yet.</p>}
      {log.data && log.data.length > 0 && (
        <table className="grid" aria-label="Notification deliveries">
          <thead>
            <tr>
              <th>Channel</th>
              <th>Event</th>
              <th>Recipients</th>
              <th>Status</th>
              <th>Attempts</th>
              <th>Answer</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {log.data.map((d) => (
              <tr key={d.id}>
                <td>{d.channel}</td>
                <td>
                  <code>{d.event}</code>
                </td>
                <td>{d.recipients.length ? d.recipients.join(", ") : <span className="muted">—</span>}</td>
                <td>
                  <span className={`badge ${TONE[d.status] ?? ""}`}>{d.status}</span>
                </td>
                <td>{d.attempts}</td>
                <td>
                  {d.response_status ?? <span className="muted">—</span>}
                  {d.last_error && <div className="error">{d.last_error}</div>}
                </td>
                <td>{when(d.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
