// Any two versions side by side, diffed in the browser by the WASM core.
import { useEffect, useState } from "react";
import { navigate } from "../../router";
import { diffVersions, type VersionDiff } from "../../diff";
import { DiffView } from "../../components/DiffView";
import { ErrorNote } from "../../components/ErrorNote";
import { VersionSelect } from "../../components/VersionSelect";
import type { PromptData } from "../PromptPage";

export function DiffTab({ data, params }: { data: PromptData; params: URLSearchParams }) {
  const { prompt, versions } = data;
  const numbers = versions.map((v) => v.number);
  const newest = numbers[0];
  const to = Number(params.get("to")) || newest;
  const from = Number(params.get("from")) || versions.find((v) => v.number === to)?.parent_version || to;
  const [diff, setDiff] = useState<VersionDiff | null>(null);
  const [error, setError] = useState<Error | null>(null);

  useEffect(() => {
    const a = versions.find((v) => v.number === from);
    const b = versions.find((v) => v.number === to);
    if (!a || !b) return;
    diffVersions(prompt.kind, a, b).then(setDiff, setError);
  }, [prompt.kind, versions, from, to]);

  if (versions.length === 0) return <p className="muted">No versions to compare yet.</p>;
  const pick = (f: number, t: number) => navigate(`/prompts/${prompt.slug}/diff?from=${f}&to=${t}`);

  return (
    <>
      <div className="row">
        <label>
          From <VersionSelect label="from version" value={from} numbers={numbers} onChange={(n) => pick(n, to)} />
        </label>
        <label>
          To <VersionSelect label="to version" value={to} numbers={numbers} onChange={(n) => pick(from, n)} />
        </label>
        <button className="ghost" onClick={() => pick(to, from)} title="Swap sides">
          ⇄ swap
        </button>
      </div>
      {error && <ErrorNote error={error} />}
      {diff && <DiffView diff={diff} left={`v${from}`} right={`v${to}`} />}
    </>
  );
}
