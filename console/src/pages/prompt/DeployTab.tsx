// Promote, roll back, and the deployment history. What is live is what users
// get: with a split running, the split and its weights; a rollback says what
// it would do before it is clicked; a promotion while a split runs ends the
// split, and says so, only once the user confirms it.
import { useState } from "react";
import { ApiError, type Deployment } from "../../api";
import { useSession } from "../../session";
import { useLoad } from "../../useLoad";
import { when } from "../../format";
import { LiveBadge, experimentsLink, rollbackPreview, splitText } from "../../live";
import { linkProps } from "../../router";
import { OutcomeError } from "../../components/GateFailures";
import type { PromptData } from "../PromptPage";

const policyText = (p: Record<string, unknown>) =>
  Object.entries(p)
    .filter(([, v]) => v !== null && v !== false && v !== undefined)
    .map(([k, v]) => (v === true ? k : `${k} ${v}`))
    .join(", ") || "no gates";

export function DeployTab({ data, reload }: { data: PromptData; reload: () => void }) {
  const { api, can } = useSession();
  const { prompt, envs, versions, running } = data;
  const history = useLoad(() => api.deployments(prompt.slug), [api, prompt.slug, prompt.deployments]);
  // Each environment's own history: what a rollback there returns to.
  const perEnv = useLoad(
    async () =>
      Object.fromEntries(
        await Promise.all(envs.map(async (e) => [e.name, await api.deploymentsIn(prompt.slug, e.name)] as const)),
      ) as Record<string, Deployment[]>,
    [api, prompt.slug, prompt.deployments, envs],
  );
  const [version, setVersion] = useState(versions[0]?.number ?? 0);
  const [env, setEnv] = useState(envs[0]?.name ?? "");
  const [reason, setReason] = useState("");
  const [acceptVars, setAcceptVars] = useState(false);
  const [endSplit, setEndSplit] = useState(false);
  const [outcome, setOutcome] = useState<{ ok?: string; error?: Error } | null>(null);
  const [busy, setBusy] = useState(false);

  async function act(what: () => Promise<string>) {
    setBusy(true);
    setOutcome(null);
    try {
      setOutcome({ ok: await what() });
      setEndSplit(false);
    } catch (e) {
      setOutcome({ error: e instanceof Error ? e : new Error(String(e)) });
    } finally {
      // Refused or not, what is live may have moved (a split ended or began).
      reload();
      history.reload();
      perEnv.reload();
      setBusy(false);
    }
  }

  const splitThere = running[env];
  const promote = () =>
    act(async () => {
      const ending = splitThere !== undefined && endSplit;
      const res = await api.post<{ status: string; approval_id?: string }>(`/v1/prompts/${prompt.slug}/promote`, {
        version,
        environment: env,
        reason,
        ...(acceptVars ? { accept_variable_changes: true } : {}),
        ...(ending ? { end_experiment: true } : {}),
      });
      if (res.status === 202)
        return `v${version} waits for approval in ${env}${ending ? " (approving it ends the split)" : ""} (an approver decides on the Approvals page).`;
      if (res.body.status === "unchanged") return `v${version} is already live in ${env}.`;
      if (res.body.status === "experiment_ended") return `The split in ${env} ended: everyone gets v${version}.`;
      return ending ? `The split in ${env} ended: v${version} is live for everyone.` : `v${version} is live in ${env}.`;
    });
  const rollback = (environment: string) =>
    act(async () => {
      const res = await api.post<{ version: number; status: string }>(`/v1/prompts/${prompt.slug}/rollback`, { environment, reason });
      if (res.body.status === "experiment_ended") return `The split in ${environment} ended: everyone gets v${res.body.version}.`;
      return `${environment} is back on v${res.body.version}.`;
    });

  const refused = outcome?.error instanceof ApiError ? outcome.error.code : null;
  const varsChanged = refused === "variables_changed";
  const mustConfirm = splitThere !== undefined && !endSplit;

  return (
    <>
      <table className="grid" aria-label="Environments">
        <thead>
          <tr>
            <th>Environment</th>
            <th>Live</th>
            <th>Gates</th>
            <th>Rollback</th>
          </tr>
        </thead>
        <tbody>
          {envs.map((e) => {
            const live = prompt.deployments[e.name];
            const split = running[e.name]?.variants;
            const preview = rollbackPreview(split, live?.version, perEnv.data?.[e.name]);
            return (
              <tr key={e.name} data-testid={`env-${e.name}`}>
                <td>{e.name}</td>
                <td data-testid={`deploy-live-${e.name}`}>
                  {live ? (
                    <LiveBadge slug={prompt.slug} env={e.name} version={live.version} split={split} label={false} />
                  ) : (
                    <span className="muted">nothing live</span>
                  )}
                  {split && <span className="muted"> A/B split (v{live?.version} deployed)</span>}
                </td>
                <td className="muted">{policyText(e.policy)}</td>
                <td>
                  {live && (
                    <div className="row tight">
                      {can("write") && (
                        <button
                          disabled={busy || preview?.possible === false}
                          onClick={() => rollback(e.name)}
                          aria-label={`Roll back ${e.name}`}
                          title={preview?.text}
                        >
                          Roll back
                        </button>
                      )}
                      <span className="muted" data-testid={`rollback-preview-${e.name}`}>
                        {preview?.text ?? "…"}
                      </span>
                    </div>
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
            if (!mustConfirm) promote();
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
            <select
              aria-label="environment to promote to"
              value={env}
              onChange={(e) => {
                setEnv(e.target.value);
                setEndSplit(false);
              }}
            >
              {envs.map((e) => (
                <option key={e.name} value={e.name}>
                  {e.name}
                  {running[e.name] ? ` (A/B split running)` : ""}
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
          {splitThere && (
            <div className="split-warning" data-testid="promote-ends-split">
              <p>
                An A/B split runs in {env}:{" "}
                <a {...linkProps(experimentsLink(prompt.slug, env))}>{splitText(splitThere.variants)}</a>. Promoting v{version} ends
                it: everyone in {env} gets v{version}.
              </p>
              <label>
                <input type="checkbox" checked={endSplit} onChange={(e) => setEndSplit(e.target.checked)} /> End the split and send
                everyone to v{version}
              </label>
            </div>
          )}
          <button type="submit" className="primary" disabled={busy || mustConfirm}>
            {splitThere ? "End the split and promote" : "Promote"}
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
