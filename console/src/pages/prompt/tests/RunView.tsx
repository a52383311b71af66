// One run, case by case (its output, what failed and how it scored), and
// two runs side by side: regressions first, each changed output as a word
// diff. A running run is asked again until it finishes.
import { useEffect, useRef, useState } from "react";
import type { CaseChangeKind, TestResult, TestRun, TestRunComparison } from "../../../api";
import { useLoad } from "../../../useLoad";
import { navigate } from "../../../router";
import { ms, num, pct, when } from "../../../format";
import type { VersionDiff } from "../../../diff";
import { DiffView } from "../../../components/DiffView";
import { ErrorNote } from "../../../components/ErrorNote";
import { POLL_MS, Progress, runName, StatusBadge } from "./Runs";
import type { TestRunCache } from "./runCache";

/**
 * A number that changes POLL_MS after each answer while `running`: a load
 * that depends on it asks again, one request at a time.
 */
function usePoll(running: boolean, answer: unknown): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!running) return;
    const t = setTimeout(() => setTick((n) => n + 1), POLL_MS);
    return () => clearTimeout(t);
  }, [running, answer]);
  return tick;
}

/** Moves the keyboard (and the view) to a section's heading once it first shows `key`. */
function useFocusOn(key: string, ready: boolean) {
  const heading = useRef<HTMLHeadingElement>(null);
  const done = useRef<string | null>(null);
  useEffect(() => {
    if (ready && done.current !== key) {
      done.current = key;
      heading.current?.focus();
    }
  }, [key, ready]);
  return heading;
}

export function RunView({ id, cache, onFinished }: { id: string; cache: TestRunCache; onFinished: () => void }) {
  const [running, setRunning] = useState(false);
  const [answer, setAnswer] = useState<unknown>(null);
  const tick = usePoll(running, answer);
  const loaded = useLoad(() => cache.run(id), [cache, id, tick]);
  const run = loaded.data?.id === id ? loaded.data : null;
  const wasRunning = useRef(false);
  useEffect(() => {
    const now = run?.status === "running";
    setRunning(now);
    setAnswer(run);
    if (wasRunning.current && run && !now) onFinished();
    wasRunning.current = now;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [run]);
  const heading = useFocusOn(id, run !== null);

  if (loaded.error) return <ErrorNote error={loaded.error} />;
  if (!run) return <p className="muted">Loading run {runName(id)}…</p>;
  // Failed cases first, then those still waiting, then the passed ones.
  const rank = (r: TestResult) => (r.passed === false ? 0 : r.passed === null ? 1 : 2);
  const results = [...(run.results ?? [])].sort((x, y) => rank(x) - rank(y));
  return (
    <section className="card" aria-label={`Run ${runName(run.id)}`} data-testid="test-run">
      <h2 tabIndex={-1} ref={heading}>
        Run {runName(run.id)} of v{run.version} <StatusBadge status={run.status} />
      </h2>
      <p className="muted">
        {run.mode === "provider" ? "on the workspace's provider" : "outputs sent by a client"} · suite revision {run.suite_revision} · started by{" "}
        {run.started_by}, {when(run.started_at)}
      </p>
      <Progress run={run} />
      <table className="grid" aria-label="Results">
        <thead>
          <tr>
            <th>Case</th>
            <th>Result</th>
            <th>Output</th>
            <th>Latency</th>
            <th>Failed assertions</th>
          </tr>
        </thead>
        <tbody>
          {results.map((r) => (
            <tr key={r.case} data-testid={`result-${r.case}`} className={r.passed === false ? "case-failed" : undefined}>
              <td>
                <code>{r.case}</code>
              </td>
              <td>
                <Outcome passed={r.passed} />
              </td>
              <td className="output-cell">
                {r.error && <p className="error">{r.error}</p>}
                {r.output && <pre className="output">{r.output}</pre>}
              </td>
              <td>{ms(r.latency_ms)}</td>
              <td>
                <FailedAssertions result={r} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

const Outcome = ({ passed }: { passed: boolean | null }) =>
  passed == null ? <span className="badge status-running">pending</span> : <span className={`badge status-${passed ? "passed" : "failed"}`}>{passed ? "passed" : "failed"}</span>;

/** The assertions that failed (with their score), and those still waiting for the judge. */
function FailedAssertions({ result }: { result: TestResult }) {
  const failed = result.assertions.filter((a) => a.passed === false);
  const waiting = result.assertions.filter((a) => a.passed === null);
  if (failed.length === 0 && waiting.length === 0)
    return <span className="muted">{result.assertions.length ? `all ${result.assertions.length} passed` : "—"}</span>;
  return (
    <ul className="failed-assertions">
      {failed.map((a, i) => (
        <li key={`f${i}`} data-type={a.type}>
          <code>{a.type}</code>
          {a.score != null && <span className="muted"> score {a.type === "max_latency_ms" ? ms(a.score) : num(a.score)}</span>}
        </li>
      ))}
      {waiting.map((a, i) => (
        <li key={`w${i}`} className="muted">
          <code>{a.type}</code> waiting for the judge
        </li>
      ))}
    </ul>
  );
}

const CHANGE_TEXT: Record<CaseChangeKind, string> = {
  regressed: "regressed",
  improved: "improved",
  output_changed: "output changed",
  added: "only in B",
  removed: "only in A",
  unchanged: "unchanged",
};

/** A comparison's output diff as the version diff view draws it: one field, `output`. */
function outputDiff(ops: NonNullable<TestRunComparison["cases"][number]["diff"]>): VersionDiff {
  const words = (op: string) => ops.filter((o) => o.op === op).reduce((n, o) => n + o.text.split(/\s+/).filter(Boolean).length, 0);
  const [added, removed] = [words("insert"), words("delete")];
  return {
    fields: [{ field: "output", changed: true, words_added: added, words_removed: removed, ops }],
    words_added: added,
    words_removed: removed,
  };
}

export function RunCompare({ slug, a, b, cache }: { slug: string; a: string; b: string; cache: TestRunCache }) {
  const [running, setRunning] = useState(false);
  const [answer, setAnswer] = useState<unknown>(null);
  const tick = usePoll(running, answer);
  const loaded = useLoad(() => cache.compare(a, b), [cache, a, b, tick]);
  const cmp = loaded.data && loaded.data.a.id === a && loaded.data.b.id === b ? loaded.data : null;
  useEffect(() => {
    setRunning(cmp?.a.status === "running" || cmp?.b.status === "running");
    setAnswer(cmp);
  }, [cmp]);
  const heading = useFocusOn(`${a} ${b}`, cmp !== null);

  if (loaded.error) return <ErrorNote error={loaded.error} />;
  if (!cmp) return <p className="muted">Comparing…</p>;
  const label = (r: TestRun, side: string) => `${side} · v${r.version}`;
  const [la, lb] = [label(cmp.a, "A"), label(cmp.b, "B")];
  const shown = cmp.cases.filter((c) => c.change !== "unchanged");
  const unchanged = cmp.cases.filter((c) => c.change === "unchanged");
  const counts = (Object.keys(CHANGE_TEXT) as CaseChangeKind[])
    .map((k) => [k, cmp.cases.filter((c) => c.change === k).length] as const)
    .filter(([, n]) => n > 0);

  return (
    <section className="card" aria-label="Compare runs" data-testid="compare">
      <div className="row">
        <h2 tabIndex={-1} ref={heading}>
          Compare run {runName(cmp.a.id)} with {runName(cmp.b.id)}
        </h2>
        <span className="spacer" />
        <button className="ghost" title="Swap sides" onClick={() => navigate(`/prompts/${slug}/tests?a=${encodeURIComponent(b)}&b=${encodeURIComponent(a)}`)}>
          ⇄ swap
        </button>
      </div>
      <table className="grid" aria-label="Compared runs">
        <thead>
          <tr>
            <th />
            <th>Run</th>
            <th>Version</th>
            <th>Status</th>
            <th>Pass rate</th>
            <th>Suite</th>
          </tr>
        </thead>
        <tbody>
          {[
            ["A", cmp.a],
            ["B", cmp.b],
          ].map(([side, r]) => {
            const run = r as TestRun;
            return (
              <tr key={side as string}>
                <th>{side as string}</th>
                <td>{runName(run.id)}</td>
                <td>v{run.version}</td>
                <td>
                  <StatusBadge status={run.status} />
                </td>
                <td>{run.pass_rate == null ? "—" : `${pct(run.pass_rate)} (${run.passed}/${run.total})`}</td>
                <td>rev {run.suite_revision}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p data-testid="compare-counts">
        {counts.map(([k, n], i) => (
          <span key={k} className={k === "regressed" ? "error" : undefined}>
            {i > 0 && " · "}
            {n} {CHANGE_TEXT[k]}
          </span>
        ))}
      </p>
      {shown.map((c) => (
        <div key={c.case} className={`case-change change-${c.change}`} data-testid={`change-${c.case}`} data-change={c.change}>
          <div className="row">
            <code>{c.case}</code>
            <span className={`badge change-${c.change}`}>{CHANGE_TEXT[c.change]}</span>
            <span className="muted">
              {side(c.a, c.change === "added")} in A → {side(c.b, c.change === "removed")} in B
            </span>
          </div>
          {c.diff && <DiffView diff={outputDiff(c.diff)} left={la} right={lb} />}
        </div>
      ))}
      {unchanged.length > 0 && (
        <details>
          <summary className="muted">
            {unchanged.length} unchanged case{unchanged.length === 1 ? "" : "s"}
          </summary>
          <p>
            {unchanged.map((c) => (
              <code key={c.case} className="code">
                {c.case}
              </code>
            ))}
          </p>
        </details>
      )}
    </section>
  );
}

const side = (passed: boolean | null, absent: boolean) => (absent ? "absent" : passed == null ? "pending" : passed ? "passed" : "failed");
