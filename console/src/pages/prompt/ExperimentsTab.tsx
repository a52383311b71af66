// A/B splits per environment: set variants and weights, see the split, end
// it. A split needs two versions or more; in an environment that requires
// approval, setting one files a request an approver decides.
import { useState } from "react";
import type { Experiment, Variant } from "../../api";
import { useSession } from "../../session";
import { when } from "../../format";
import { splitText, weightText } from "../../live";
import { ErrorNote } from "../../components/ErrorNote";
import type { PromptData } from "../PromptPage";

const COLORS = ["#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e"];

export function SplitBar({ variants }: { variants: Variant[] }) {
  return (
    <div className="split" aria-label="Traffic split">
      {variants.map((v, i) => (
        <span key={i} style={{ width: `${v.weight}%`, background: COLORS[i % COLORS.length] }} title={`v${v.version}: ${weightText(v.weight)}`}>
          {v.weight >= 8 ? `v${v.version} ${weightText(v.weight)}` : ""}
        </span>
      ))}
    </div>
  );
}

/** The form's starting split: the running one, else the two newest versions, the older one live for most. */
function initialSplit(data: PromptData, env: string): Variant[] {
  const running = data.running[env];
  if (running) return running.variants.map((v) => ({ ...v }));
  const [newest, older] = data.versions;
  if (!newest || !older) return [];
  const deployed = data.prompt.deployments[env]?.version;
  const base = deployed && deployed !== newest.number ? deployed : older.number;
  return [
    { version: base, weight: 90 },
    { version: newest.number, weight: 10 },
  ];
}

export function ExperimentsTab({ data, reload, params }: { data: PromptData; reload: () => void; params: URLSearchParams }) {
  const { api, can } = useSession();
  const { prompt, envs, versions, experiments, running: runningIn } = data;
  const [env, setEnv] = useState(() => {
    const asked = params.get("environment");
    return asked && envs.some((e) => e.name === asked) ? asked : (envs[envs.length - 1]?.name ?? "");
  });
  const [variants, setVariants] = useState<Variant[]>(() => initialSplit(data, env));
  const [name, setName] = useState("");
  const [error, setError] = useState<Error | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const running = experiments.filter((x: Experiment) => x.status === "running");
  const ended = experiments.filter((x: Experiment) => x.status === "ended");
  const total = Math.round(variants.reduce((s, v) => s + v.weight, 0) * 100) / 100;
  const distinct = new Set(variants.map((v) => v.version)).size === variants.length;
  const deployed = prompt.deployments[env]?.version;
  const problem =
    variants.length < 2
      ? "a split needs at least two variants"
      : !distinct
        ? "each variant must be a different version"
        : total !== 100
          ? `weights add up to ${total}%, not 100%`
          : !deployed
            ? `promote a version to ${env} before splitting its traffic`
            : null;
  const needsApproval = envs.find((e) => e.name === env)?.policy.requires_approval === true;

  async function run(what: () => Promise<string | null>) {
    setError(null);
    setNotice(null);
    setBusy(true);
    try {
      setNotice(await what());
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      reload();
      setBusy(false);
    }
  }
  const start = () =>
    run(async () => {
      const res = await api.put<{ status?: string }>(`/v1/prompts/${prompt.slug}/experiments/${env}`, {
        variants,
        ...(name ? { name } : {}),
      });
      if (res.status === 202 || res.body.status === "pending_approval")
        return `The split ${splitText(variants)} in ${env} waits for approval (an approver decides on the Approvals page).`;
      return `The split ${splitText(variants)} runs in ${env}.`;
    });
  const end = (environment: string) =>
    run(async () => {
      await api.del(`/v1/prompts/${prompt.slug}/experiments/${environment}`);
      const back = prompt.deployments[environment]?.version;
      return `The split in ${environment} ended${back ? `: everyone gets v${back}` : ""}.`;
    });
  const changeEnv = (next: string) => {
    setEnv(next);
    setVariants(initialSplit(data, next));
  };

  return (
    <>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {error && <ErrorNote error={error} />}
      <h2>Running</h2>
      {running.length === 0 && <p className="muted">No experiment is running.</p>}
      {running.map((x) => (
        <div key={x.id} className="card" data-testid={`experiment-${x.environment}`}>
          <div className="row">
            <strong>{x.name || "(unnamed)"}</strong>
            <span className="badge">{x.environment}</span>
            <span className="muted">
              since {when(x.started_at)} by {x.started_by} · salt <code>{x.salt}</code>
            </span>
            <span className="spacer" />
            {can("write") && (
              <button disabled={busy} onClick={() => end(x.environment)} aria-label={`End the experiment in ${x.environment}`}>
                End
              </button>
            )}
          </div>
          <SplitBar variants={x.variants} />
          <p className="muted">
            {splitText(x.variants)} of {x.environment}; v{prompt.deployments[x.environment]?.version ?? "?"} is deployed. Ending the split
            (or rolling back) sends everyone to v{prompt.deployments[x.environment]?.version ?? "?"}.
          </p>
        </div>
      ))}

      {can("write") && versions.length < 2 && (
        <p className="muted" data-testid="split-needs-two">
          A split needs two versions: commit another version of {prompt.slug} to split traffic between them.
        </p>
      )}
      {can("write") && versions.length >= 2 && (
        <div className="card" aria-label="Set a split">
          <h2>Set a split</h2>
          <p className="muted">
            Users keep their variant while you raise the weight of the last one (ramping rule); a new salt reshuffles everyone.
          </p>
          <div className="row">
            <label>
              Environment{" "}
              <select aria-label="experiment environment" value={env} onChange={(e) => changeEnv(e.target.value)}>
                {envs.map((e) => (
                  <option key={e.name} value={e.name}>
                    {e.name}
                    {e.policy.requires_approval ? " (needs approval)" : ""}
                  </option>
                ))}
              </select>
            </label>
            <span className="muted">
              live now: {runningIn[env] ? splitText(runningIn[env].variants) : deployed ? `v${deployed}` : "nothing"}
            </span>
            <label className="grow">
              Name <input value={name} onChange={(e) => setName(e.target.value)} placeholder="concise tone" />
            </label>
          </div>
          {variants.map((v, i) => (
            <div className="row" key={i}>
              <select
                aria-label={`variant ${i + 1} version`}
                value={v.version}
                onChange={(e) => setVariants(variants.map((x, j) => (j === i ? { ...x, version: Number(e.target.value) } : x)))}
              >
                {versions.map((ver) => (
                  <option key={ver.number} value={ver.number}>
                    v{ver.number}
                  </option>
                ))}
              </select>
              <input
                type="number"
                min={0}
                max={100}
                step={0.01}
                aria-label={`variant ${i + 1} weight`}
                value={v.weight}
                onChange={(e) => setVariants(variants.map((x, j) => (j === i ? { ...x, weight: Number(e.target.value) } : x)))}
              />
              %
              <button
                className="ghost"
                disabled={variants.length <= 2}
                onClick={() => setVariants(variants.filter((_, j) => j !== i))}
                aria-label={`remove variant ${i + 1}`}
              >
                ✕
              </button>
            </div>
          ))}
          <SplitBar variants={variants} />
          <div className="row">
            <button
              className="ghost"
              onClick={() => {
                const unused = versions.find((ver) => !variants.some((x) => x.version === ver.number));
                setVariants([...variants, { version: (unused ?? versions[0]).number, weight: 0 }]);
              }}
            >
              Add variant
            </button>
            <span className={problem ? "error" : "muted"} data-testid="split-check">
              {problem ?? `weights add up to 100%`}
            </span>
            <span className="spacer" />
            <button className="primary" disabled={problem !== null || busy} onClick={start}>
              {needsApproval ? `Ask to start or update in ${env}` : `Start or update in ${env}`}
            </button>
          </div>
        </div>
      )}

      {ended.length > 0 && (
        <>
          <h2>Ended</h2>
          <ul>
            {ended.map((x) => (
              <li key={x.id}>
                {x.name || "(unnamed)"} in {x.environment}: {splitText(x.variants)} · ended {x.ended_at ? when(x.ended_at) : ""}
                {x.ended_by ? ` by ${x.ended_by}` : ""}
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}
