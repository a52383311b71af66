// Any two versions side by side, diffed in the browser by the WASM core.
import { useEffect, useState } from "react";
import { navigate } from "../../router";
import { diffVersions, type VersionDiff } from "../../diff";
import { DiffView } from "../../components/DiffView";
import { ErrorNote } from "../../components/ErrorNote";
import { VersionSelect } from "../../components/VersionSelect";
import type { PromptData } from "../PromptPage";

export function DiffTab({ data, params }: { data: PromptData; params: URLSearchParams }) {
  const { prompt, versions, version } = data;
  const numbers = versions.map((v) => v.number);
  const newest = numbers[0];
  const to = Number(params.get("to")) || newest;
  const from = Number(params.get("from")) || versions.find((v) => v.number === to)?.parent_version || to;
  // The diff shown, with the pair it is of: a diff of another pair (the one
  // picked before, while this one's versions load) is not shown.
  const [shown, setShown] = useState<{ from: number; to: number; diff: VersionDiff } | null>(null);
  const [error, setError] = useState<Error | null>(null);

  const known = numbers.includes(from) && numbers.includes(to);
  useEffect(() => {
    if (!known) return;
    // The list has no content: the two versions come from the page's cache.
    let current = true;
    setError(null);
    Promise.all([version(from), version(to)])
      .then(([a, b]) => diffVersions(prompt.kind, a, b))
      .then(
        (diff) => current && setShown({ from, to, diff }),
        (e) => current && setError(e instanceof Error ? e : new Error(String(e))),
      );
    return () => {
      current = false;
    };
  }, [prompt.kind, known, version, from, to]);
  const diff = shown && shown.from === from && shown.to === to ? shown.diff : null;

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
