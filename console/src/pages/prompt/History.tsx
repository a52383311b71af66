// Version history, newest first; pick any two to diff.
import { useState } from "react";
import { linkProps, navigate } from "../../router";
import { when } from "../../format";
import type { PromptData } from "../PromptPage";

export function History({ data }: { data: PromptData }) {
  const { prompt, versions } = data;
  const [picked, setPicked] = useState<number[]>([]);
  const liveIn = (n: number) => Object.entries(prompt.deployments).filter(([, d]) => d.version === n).map(([e]) => e);

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
                {liveIn(v.number).map((e) => (
                  <span key={e} className="badge live">
                    {e}
                  </span>
                ))}
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
