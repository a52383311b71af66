// Promote, roll back, and the deployment history.
import { useState } from "react";
import { ApiError, type Deployment } from "../../api";
import { useSession } from "../../session";
import { useLoad } from "../../useLoad";
import { when } from "../../format";
import { OutcomeError } from "../../components/GateFailures";
import type { PromptData } from "../PromptPage";

const policyText = (p: Record<string, unknown>) =>
  Object.entries(p)
    .filter(([, v]) => v !== null && v !== false && v !== undefined)
    .map(([k, v]) => (v === true ? k : `${k} ${v}`))
    .join(", ") || "no gates";

export function DeployTab({ data, reload }: { data: PromptData; reload: () => void }) {
  const { api, can } = useSession();
  const { prompt, envs, versions } = data;
  const history = useLoad(() => api.deployments(prompt.slug), [api, prompt.slug, prompt.deployments]);
  const [version, setVersion] = useState(versions[0]?.number ?? 0);
  const [env, setEnv] = useState(envs[0]?.name ?? "");
  const [reason, setReason] = useState("");
  const [acceptVars, setAcceptVars] = useState(false);
  const [outcome, setOutcome] = useState<{ ok?: string; error?: Error } | null>(null);
  const [busy, setBusy] = useState(false);

  async function act(what: () => Promise<string>) {
    setBusy(true);
    setOutcome(null);
    try {
      setOutcome({ ok: await what() });
      reload();
      history.reload();
    } catch (e) {
      setOutcome({ error: e instanceof Error ? e : new Error(String(e)) });
    } finally {
      setBusy(false);
    }
  }

  const promote = () =>
    act(async () => {
      const res = await api.post<{ status: string; approval_id?: string }>(`/v1/prompts/${prompt.slug}/promote`, {
        version,
        environment: env,
        reason,
        ...(acceptVars ? { accept_variable_changes: true } : {}),
      });
      if (res.status === 202) return `v${version} waits for approval in ${env} (an approver decides on the Approvals page).`;
      if (res.body.status === "unchanged") return `v${version} is already live in ${env}.`;
      return `v${version} is live in ${env}.`;
    });
  const rollback = (environment: string) =>
    act(async () => {
      const res = await api.post<{ version: number }>(`/v1/prompts/${prompt.slug}/rollback`, { environment, reason });
      return `${environment} is back on v${res.body.version}.`;
    });

  const varsChanged = outcome?.error instanceof ApiError && outcome.error.code === "variables_changed";

  return (
    <>
      <table className="grid" aria-label="Environments">
        <thead>
          <tr>
            <th>Environment</th>
            <th>Live</th>
            <th>Gates</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {envs.map((e) => {
            const live = prompt.deployments[e.name];
            return (
              <tr key={e.name}>
                <td>{e.name}</td>
                <td>{live ? <span className="badge live">v{live.version}</span> : <span className="muted">nothing live</span>}</td>
                <td className="muted">{policyText(e.policy)}</td>
                <td>
                  {can("write") && live && (
                    <button disabled={busy} onClick={() => rollback(e.name)} aria-label={`Roll back ${e.name}`}>
                      Roll back
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>

      {can("write") && versions.length > 0 && (
        <form
          className="card inline-form"
          aria-label="Promote"
          onSubmit={(ev) => {
            ev.preventDefault();
            promote();
          }}
        >
          <label>
            Version
            <select aria-label="version to promote" value={version} onChange={(e) => setVersion(Number(e.target.value))}>
              {versions.map((v) => (
                <option key={v.number} value={v.number}>
                  v{v.number} {v.message ? `— ${v.message.slice(0, 40)}` : ""}
                </option>
              ))}
            </select>
          </label>
          <label>
            To
            <select aria-label="environment to promote to" value={env} onChange={(e) => setEnv(e.target.value)}>
              {envs.map((e) => (
                <option key={e.name} value={e.name}>
                  {e.name}
                </option>
              ))}
            </select>
          </label>
          <label className="grow">
            Reason
            <input value={reason} onChange={(e) => setReason(e.target.value)} placeholder="eval passed, launch…" />
          </label>
          {varsChanged && (
            <label>
              <input type="checkbox" checked={acceptVars} onChange={(e) => setAcceptVars(e.target.checked)} /> accept the variable
              change
            </label>
          )}
          <button type="submit" className="primary" disabled={busy}>
            Promote
          </button>
        </form>
      )}
      {outcome?.ok && (
        <p className="notice" role="status">
          {outcome.ok}
        </p>
      )}
      {outcome?.error && <OutcomeError error={outcome.error} />}

      <h2>History</h2>
      {history.data && (
        <table className="grid" aria-label="Deployments">
          <thead>
            <tr>
              <th>When</th>
              <th>Environment</th>
              <th>Action</th>
              <th>Version</th>
              <th>Who</th>
              <th>Why</th>
            </tr>
          </thead>
          <tbody>
            {history.data.map((d: Deployment) => (
              <tr key={d.id}>
                <td>{when(d.created_at)}</td>
                <td>{d.environment}</td>
                <td>{d.action}</td>
                <td>v{d.version}</td>
                <td>{d.actor}</td>
                <td>{d.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
