// API keys: each with its role, the prefix it starts with, who created it
// (and, for a key a person created through Access, that person) and whether
// it is revoked. A new key is shown once, with a Copy button; revoking asks
// first and stops the key within a minute (its edge cache expires).
import { useState, type FormEvent } from "react";
import { ROLES, type ApiKey, type Role } from "../../api";
import { useSession } from "../../session";
import { useLoad } from "../../useLoad";
import { when } from "../../format";
import { ErrorNote, asError } from "../../components/ErrorNote";
import { ConfirmButton } from "../../components/Confirm";
import { SecretOnce } from "../../components/SecretOnce";

export function Keys() {
  const { api, me } = useSession();
  const loaded = useLoad(() => api.keys(), [api]);
  const [created, setCreated] = useState<{ apiKey: ApiKey; key: string } | null>(null);
  const [outcome, setOutcome] = useState<{ ok?: string; error?: Error } | null>(null);

  async function revoke(k: ApiKey) {
    setOutcome(null);
    try {
      await api.revokeKey(k.id);
      setOutcome({ ok: `The key ${k.name} (${k.key_prefix}…) is revoked.` });
    } catch (e) {
      setOutcome({ error: asError(e) });
    }
    loaded.reload();
  }

  return (
    <section>
      <h1>API keys</h1>
      <p className="muted">Keys for CI, SDKs and scripts. A key is shown only when it is created; the API keeps only its hash.</p>
      <CreateKey
        onCreated={(c) => {
          setCreated(c);
          setOutcome(null);
          loaded.reload();
        }}
      />
      {created && (
        <SecretOnce title={`The new key ${created.apiKey.name} (${created.apiKey.role})`} secret={created.key} onDone={() => setCreated(null)}>
          <p className="muted">
            Langfuse clients use it as the secret key with the public key <code>{created.apiKey.public_key}</code>.
          </p>
        </SecretOnce>
      )}
      {outcome?.ok && (
        <p className="notice" role="status">
          {outcome.ok}
        </p>
      )}
      {outcome?.error && <ErrorNote error={outcome.error} explain={{ not_found: "That key no longer exists." }} />}
      {loaded.error && <ErrorNote error={loaded.error} />}
      {!loaded.data && !loaded.error && <p className="muted">Loading keys…</p>}
      {loaded.data && (
        <table className="grid" aria-label="API keys">
          <thead>
            <tr>
              <th>Name</th>
              <th>Role</th>
              <th>Prefix</th>
              <th>Created by</th>
              <th>Created</th>
              <th>Status</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {loaded.data.map((k) => (
              <tr key={k.id} data-testid={`key-${k.id}`}>
                <td>
                  <strong>{k.name}</strong>
                  {k.id === me.key_id && <span className="muted"> (this session)</span>}
                </td>
                <td>{k.role}</td>
                <td>
                  <code>{k.key_prefix}…</code>
                </td>
                <td>
                  {k.created_by ?? <span className="muted">—</span>}
                  {k.created_by_person && <div className="muted">{k.created_by_person}</div>}
                </td>
                <td>{when(k.created_at)}</td>
                <td>
                  {k.revoked_at ? (
                    <span className="badge status-rejected" title={when(k.revoked_at)}>
                      revoked {when(k.revoked_at)}
                    </span>
                  ) : (
                    <span className="badge live">active</span>
                  )}
                </td>
                <td>
                  {!k.revoked_at && (
                    <ConfirmButton
                      label="Revoke"
                      ariaLabel={`Revoke ${k.name}`}
                      question={`Revoke ${k.name}? Whatever uses it stops working.`}
                      confirmLabel="Yes, revoke"
                      onConfirm={() => revoke(k)}
                    />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function CreateKey({ onCreated }: { onCreated: (c: { apiKey: ApiKey; key: string }) => void }) {
  const { api } = useSession();
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("reader");
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onCreated(await api.createKey(name.trim(), role));
      setName("");
    } catch (err) {
      setError(asError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card inline-form" onSubmit={submit} aria-label="New API key">
      <label>
        Key name
        <input name="name" required value={name} onChange={(e) => setName(e.target.value)} placeholder="ci-deploy" />
      </label>
      <label>
        Role
        <select name="role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" className="primary" disabled={busy}>
        {busy ? "Creating…" : "Create key"}
      </button>
      {error && <ErrorNote error={error} explain={{ quota_exceeded: "The workspace has as many active keys as it may: revoke one first." }} />}
    </form>
  );
}
