// Version history, newest first; pick any two to diff.
import { useState } from "react";
import { linkProps, navigate } from "../../router";
import { when } from "../../format";
import { experimentsLink, weightText } from "../../live";
import type { PromptData } from "../PromptPage";

export function History({ data }: { data: PromptData }) {
  const { prompt, versions, running } = data;
  const [picked, setPicked] = useState<number[]>([]);
  // Where each version is live: all of an environment's traffic, or its
  // share of a running split.
  const liveIn = (n: number) =>
    data.envs.flatMap((e): { env: string; weight?: number }[] => {
      const split = running[e.name];
      if (split) return split.variants.filter((v) => v.version === n).map((v) => ({ env: e.name, weight: v.weight }));
      return prompt.deployments[e.name]?.version === n ? [{ env: e.name }] : [];
    });

  if (versions.length === 0)
    return (
      <p className="muted">
        No versions yet. <a {...linkProps(`/prompts/${prompt.slug}/edit`)}>Write the first one</a>.
      </p>
    );
  const toggle = (n: number) => setPicked((p) => (p.includes(n) ? p.filter((x) => x !== n) : [...p, n].slice(-2)));
  const [a, b] = [...picked].sort((x, y) => x - y);

  return (
    <>
      <div className="row">
        <p className="muted">Pick two versions to compare them word by word.</p>
        <span className="spacer" />
        <button disabled={picked.length !== 2} onClick={() => navigate(`/prompts/${prompt.slug}/diff?from=${a}&to=${b}`)}>
          Diff v{a ?? "?"} → v{b ?? "?"}
        </button>
      </div>
      <table className="grid" aria-label="Versions">
        <thead>
          <tr>
            <th aria-label="Pick" />
            <th>Version</th>
            <th>Message</th>
            <th>Author</th>
            <th>When</th>
            <th>Live in</th>
            <th>Changes</th>
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => (
            <tr key={v.number} data-testid={`version-${v.number}`}>
              <td>
                <input
                  type="checkbox"
                  aria-label={`pick v${v.number}`}
                  checked={picked.includes(v.number)}
                  onChange={() => toggle(v.number)}
                />
              </td>
              <td>
                <strong>v{v.number}</strong>
              </td>
              <td>{v.message || <span className="muted">(no message)</span>}</td>
              <td>{v.author}</td>
              <td>{when(v.created_at)}</td>
              <td>
                {liveIn(v.number).map(({ env, weight }) =>
                  weight === undefined ? (
                    <span key={env} className="badge live">
                      {env}
                    </span>
                  ) : (
                    <a key={env} className="badge exp" {...linkProps(experimentsLink(prompt.slug, env))} title={`A/B split in ${env}`}>
                      {env} {weightText(weight)}
                    </a>
                  ),
                )}
              </td>
              <td>
                {v.parent_version != null && (
                  <a {...linkProps(`/prompts/${prompt.slug}/diff?from=${v.parent_version}&to=${v.number}`)}>changes</a>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
