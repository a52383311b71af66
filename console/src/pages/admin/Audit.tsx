// The audit trail, newest first: every change, who made it (the person
// signed in through Access, by name and email, or the key's actor) and
// what it touched. Filters (prompt, person, action, a time window) live in
// the URL, so a filtered view can be linked; "Load more" follows the page
// cursor.
import { useEffect, useState, type FormEvent } from "react";
import { AUDIT_ACTIONS, type AuditEntry, type AuditFilter } from "../../api";
import { useSession } from "../../session";
import { linkProps, navigate } from "../../router";
import { when } from "../../format";
import { ErrorNote, asError, type Explain } from "../../components/ErrorNote";

const FILTERS = ["prompt", "person", "action", "since", "until"] as const;

const filterOf = (params: URLSearchParams): AuditFilter =>
  Object.fromEntries(FILTERS.map((f) => [f, params.get(f) ?? undefined]).filter(([, v]) => v)) as AuditFilter;

const pad = (n: number) => String(n).padStart(2, "0");
/** An ISO instant as a datetime-local value, in the browser's time zone. */
const toLocalInput = (iso: string | undefined) => {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
};
/** A datetime-local value (the browser's time zone) as an ISO instant. */
const fromLocalInput = (v: string) => (v ? new Date(v).toISOString() : "");

const BAD_FILTER: Explain = { invalid_field: (e) => `This filter does not work: ${e.message}` };

/** Who made a change: the person (name and email) when a person did, else the actor. */
export function Who({ entry }: { entry: AuditEntry }) {
  const p = entry.person;
  if (!p) return <span data-testid="audit-who">{entry.actor}</span>;
  return (
    <span data-testid="audit-who" title={entry.actor}>
      {p.name && p.name !== p.email ? `${p.name} ` : ""}
      <span className="muted">&lt;{p.email}&gt;</span>
    </span>
  );
}

export function Audit({ params }: { params: URLSearchParams }) {
  const { api } = useSession();
  const [filter] = useState(() => filterOf(params));
  // The page size (?limit=, 1 to 200) is the API's; 50 unless the URL says.
  const [limit] = useState(() => Math.min(200, Math.max(1, Number(params.get("limit")) || 50)));
  const [form, setForm] = useState(() => ({
    prompt: filter.prompt ?? "",
    person: filter.person ?? "",
    action: filter.action ?? "",
    since: toLocalInput(filter.since),
    until: toLocalInput(filter.until),
  }));
  const [page, setPage] = useState<{ items: AuditEntry[]; next: string | null } | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    api.audit(filter, null, limit).then(
      (p) => live && setPage({ items: p.items, next: p.next_cursor ?? null }),
      (e) => live && setError(asError(e)),
    );
    return () => {
      live = false;
    };
  }, [api, filter, limit]);

  async function loadMore() {
    if (!page?.next) return;
    setBusy(true);
    try {
      const p = await api.audit(filter, page.next, limit);
      setPage({ items: [...page.items, ...p.items], next: p.next_cursor ?? null });
    } catch (e) {
      setError(asError(e));
    } finally {
      setBusy(false);
    }
  }

  function apply(e: FormEvent) {
    e.preventDefault();
    const q = new URLSearchParams();
    const values = { ...form, since: fromLocalInput(form.since), until: fromLocalInput(form.until) };
    for (const f of FILTERS) if (values[f].trim()) q.set(f, values[f].trim());
    if (params.has("limit")) q.set("limit", String(limit));
    const s = q.toString();
    navigate(`/admin/audit${s ? `?${s}` : ""}`);
  }

  const set = (f: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [f]: e.target.value });
  // The actions core knows, and any other this trail names (a newer worker's).
  const actions = [...new Set([...AUDIT_ACTIONS, ...(page?.items.map((i) => i.action) ?? []), ...(filter.action ? [filter.action] : [])])];
  const filtered = Object.keys(filter).length > 0;

  return (
    <section>
      <h1>Audit trail</h1>
      <form className="card inline-form" onSubmit={apply} aria-label="Filter the audit trail">
        <label>
          Prompt
          <input value={form.prompt} onChange={set("prompt")} placeholder="slug" />
        </label>
        <label>
          Person
          <input type="email" value={form.person} onChange={set("person")} placeholder="alice@example.com" />
        </label>
        <label>
          Action
          <select value={form.action} onChange={set("action")}>
            <option value="">any</option>
            {actions.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <label>
          Since
          <input type="datetime-local" value={form.since} onChange={set("since")} />
        </label>
        <label>
          Until
          <input type="datetime-local" value={form.until} onChange={set("until")} />
        </label>
        <button type="submit" className="primary">
          Apply filters
        </button>
        {filtered && <a {...linkProps("/admin/audit")}>Clear filters</a>}
      </form>
      {error && <ErrorNote error={error} explain={BAD_FILTER} />}
      {!page && !error && <p className="muted">Loading the audit trail…</p>}
      {page?.items.length === 0 && <p className="muted">{filtered ? "No entries match these filters." : "Nothing has happened yet."}</p>}
      {page && page.items.length > 0 && (
        <table className="grid" aria-label="Audit trail">
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>Action</th>
              <th>Prompt</th>
              <th>Target</th>
              <th>Details</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((a) => (
              <tr key={a.id} data-testid={`audit-${a.id}`}>
                <td>{when(a.created_at)}</td>
                <td>
                  <Who entry={a} />
                </td>
                <td>
                  <code data-testid="audit-action">{a.action}</code>
                </td>
                <td>{a.prompt ? <a {...linkProps(`/prompts/${a.prompt}/history`)}>{a.prompt}</a> : <span className="muted">—</span>}</td>
                <td>{a.target}</td>
                <td>
                  {a.details && typeof a.details === "object" && Object.keys(a.details).length > 0 ? (
                    <details>
                      <summary>details</summary>
                      <pre>{JSON.stringify(a.details, null, 2)}</pre>
                    </details>
                  ) : (
                    <span className="muted">—</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {page?.next && (
        <button type="button" onClick={loadMore} disabled={busy}>
          {busy ? "Loading…" : "Load more"}
        </button>
      )}
    </section>
  );
}
