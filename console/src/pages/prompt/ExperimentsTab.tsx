// A/B splits per environment: set variants and weights, see the split, end it.
import { useState } from "react";
import type { Experiment } from "../../api";
import { useSession } from "../../session";
import { useLoad } from "../../useLoad";
import { when } from "../../format";
import { ErrorNote } from "../../components/ErrorNote";
import type { PromptData } from "../PromptPage";

const COLORS = ["#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e"];

export function SplitBar({ variants }: { variants: { version: number; weight: number }[] }) {
  return (
    <div className="split" aria-label="Traffic split">
      {variants.map((v, i) => (
        <span key={i} style={{ width: `${v.weight}%`, background: COLORS[i % COLORS.length] }} title={`v${v.version}: ${v.weight}%`}>
          {v.weight >= 8 ? `v${v.version} ${v.weight}%` : ""}
        </span>
      ))}
    </div>
  );
}

export function ExperimentsTab({ data, reload }: { data: PromptData; reload: () => void }) {
  const { api, can } = useSession();
  const { prompt, envs, versions } = data;
  const list = useLoad(() => api.experiments(prompt.slug), [api, prompt.slug]);
  const [env, setEnv] = useState(envs[envs.length - 1]?.name ?? "");
  const [variants, setVariants] = useState<{ version: number; weight: number }[]>(() => {
    const [a, b] = versions;
    return a && b ? [{ version: b.number, weight: 90 }, { version: a.number, weight: 10 }] : a ? [{ version: a.number, weight: 100 }] : [];
  });
  const [name, setName] = useState("");
  const [error, setError] = useState<Error | null>(null);

  const running = (list.data ?? []).filter((x: Experiment) => x.status === "running");
  const ended = (list.data ?? []).filter((x: Experiment) => x.status === "ended");
  const total = variants.reduce((s, v) => s + v.weight, 0);
  const policyOf = (name: string) => envs.find((e) => e.name === name)?.policy ?? {};
  const mayChange = (name: string) => (policyOf(name).requires_approval ? can("approve") : can("write"));

  async function run(what: () => Promise<unknown>) {
    setError(null);
    try {
      await what();
      list.reload();
      reload();
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    }
  }
  const start = () =>
    run(() => api.put(`/v1/prompts/${prompt.slug}/experiments/${env}`, { variants, ...(name ? { name } : {}) }));
  const end = (environment: string) => run(() => api.del(`/v1/prompts/${prompt.slug}/experiments/${environment}`));

  return (
    <>
      <h2>Running</h2>
      {running.length === 0 && <p className="muted">No experiment is running.</p>}
      {running.map((x) => (
        <div key={x.id} className="card" data-testid={`experiment-${x.environment}`}>
          <div className="row">
            <strong>{x.name}</strong>
            <span className="badge">{x.environment}</span>
            <span className="muted">
              since {when(x.started_at)} by {x.started_by} · salt <code>{x.salt}</code>
            </span>
            <span className="spacer" />
            {mayChange(x.environment) && (
              <button onClick={() => end(x.environment)} aria-label={`End the experiment in ${x.environment}`}>
                End
              </button>
            )}
          </div>
          <SplitBar variants={x.variants} />
        </div>
      ))}

      {can("write") && versions.length > 0 && (
        <div className="card" aria-label="Set a split">
          <h2>Set a split</h2>
          <p className="muted">
            Users keep their variant while you raise the weight of the last one (ramping rule); a new salt reshuffles everyone.
          </p>
          <div className="row">
            <label>
              Environment{" "}
              <select aria-label="experiment environment" value={env} onChange={(e) => setEnv(e.target.value)}>
                {envs.map((e) => (
                  <option key={e.name} value={e.name}>
                    {e.name}
                    {e.policy.requires_approval ? " (approvers only)" : ""}
                  </option>
                ))}
              </select>
            </label>
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
              <button className="ghost" onClick={() => setVariants(variants.filter((_, j) => j !== i))} aria-label={`remove variant ${i + 1}`}>
                ✕
              </button>
            </div>
          ))}
          <SplitBar variants={variants} />
          <div className="row">
            <button className="ghost" onClick={() => setVariants([...variants, { version: versions[0].number, weight: 0 }])}>
              Add variant
            </button>
            <span className={total === 100 ? "muted" : "error"}>weights add up to {total}%</span>
            <span className="spacer" />
            <button className="primary" disabled={total !== 100 || !mayChange(env)} onClick={start}>
              Start or update in {env}
            </button>
          </div>
        </div>
      )}
      {error && <ErrorNote error={error} />}

      {ended.length > 0 && (
        <>
          <h2>Ended</h2>
          <ul>
            {ended.map((x) => (
              <li key={x.id}>
                {x.name} in {x.environment}: {x.variants.map((v) => `v${v.version} ${v.weight}%`).join(", ")} · ended{" "}
                {x.ended_at ? when(x.ended_at) : ""}
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}
