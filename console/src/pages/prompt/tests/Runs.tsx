// Starting a run on the workspace's provider, and the prompt's runs: each
// with its version, status and pass rate; pick two to compare them.
import { useEffect, useState } from "react";
import { ApiError, type TestRun, type TestSuite, type VersionSummary } from "../../../api";
import { useSession } from "../../../session";
import { useLoad } from "../../../useLoad";
import { linkProps, navigate } from "../../../router";
import { pct, when } from "../../../format";
import { ErrorNote } from "../../../components/ErrorNote";
import { VersionSelect } from "../../../components/VersionSelect";

/** How often a running run (or a list with one) is asked again. */
export const POLL_MS = 1500;

export const StatusBadge = ({ status }: { status: TestRun["status"] }) => <span className={`badge status-${status}`}>{status}</span>;

/** A run's short name: the end of its id. */
export const runName = (id: string) => `#${id.slice(-6)}`;

/** Passed, failed and pending cases, as a bar and in words (announced as they change). */
export function Progress({ run }: { run: TestRun }) {
  const share = (n: number) => `${run.total ? (n / run.total) * 100 : 0}%`;
  return (
    <div className="run-progress" data-testid="progress">
      <div className="progress" aria-hidden="true">
        <span className="p" style={{ width: share(run.passed) }} />
        <span className="f" style={{ width: share(run.failed) }} />
      </div>
      <span role="status" aria-live="polite">
        {run.passed} passed · {run.failed} failed · {run.pending} pending
        {run.pass_rate != null && ` · pass rate ${pct(run.pass_rate)} (needs ${pct(run.pass_threshold)})`}
      </span>
    </div>
  );
}

export function RunPanel({
  slug,
  versions,
  suite,
  dirty,
  onStarted,
}: {
  slug: string;
  versions: VersionSummary[];
  suite: TestSuite | null;
  dirty: boolean;
  onStarted: (run: TestRun) => void;
}) {
  const { api, can } = useSession();
  const [version, setVersion] = useState(versions[0]?.number ?? 0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);

  async function start() {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      const res = await api.post<TestRun>(`/v1/prompts/${slug}/versions/${version}/test-runs`, {});
      onStarted(res.body);
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      setBusy(false);
    }
  }

  if (versions.length === 0) return <p className="muted">No versions to test yet.</p>;
  return (
    <>
      <form
        className="card inline-form"
        aria-label="Run the suite"
        onSubmit={(e) => {
          e.preventDefault();
          start();
        }}
      >
        <label>
          Version <VersionSelect label="version to test" value={version} numbers={versions.map((v) => v.number)} onChange={setVersion} />
        </label>
        {can("write") && (
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Starting…" : "Run on provider"}
          </button>
        )}
        <span className="muted">
          {suite && suite.revision > 0
            ? `suite revision ${suite.revision}, ${suite.cases.length} case${suite.cases.length === 1 ? "" : "s"}, passes at ${pct(suite.pass_threshold)}`
            : "no suite saved yet"}
        </span>
        {dirty && <span className="error">The suite has unsaved changes: a run tests the saved revision.</span>}
      </form>
      {error && <StartError error={error} />}
    </>
  );
}

/** Why a run did not start: a missing provider or suite said plainly, else the API's error. */
function StartError({ error }: { error: Error }) {
  const code = error instanceof ApiError ? error.code : null;
  if (code === "provider_not_configured")
    return (
      <div className="error-box" role="alert" data-testid="provider-not-configured">
        <strong>No provider is configured for this workspace: set a provider in settings.</strong>
        <p>
          An admin sets one with <code>PUT /v1/settings</code> <code>{'{"provider": {"url": …, "model": …, "api_key": …}}'}</code> (an
          OpenAI-compatible chat-completions URL). Without one, run the cases with your own calls and send their outputs (
          <code>pvct test --exec</code>, or <code>POST …/test-runs</code> with <code>outputs</code>).
        </p>
        <code className="code">provider_not_configured</code>
      </div>
    );
  if (code === "no_test_suite")
    return (
      <div>
        <ErrorNote error={error} />
        <p className="muted">Add cases on the Cases view and save them first.</p>
      </div>
    );
  return <ErrorNote error={error} />;
}

export function RunsList({
  slug,
  versions,
  refresh,
  openRun,
  compared,
}: {
  slug: string;
  versions: VersionSummary[];
  /** Bumped when a run starts or finishes elsewhere on the page. */
  refresh: number;
  openRun: string | null;
  compared: [string, string] | null;
}) {
  const { api } = useSession();
  const [only, setOnly] = useState(0);
  const [picked, setPicked] = useState<string[]>(compared ?? []);
  const runs = useLoad(() => api.testRuns(slug, only || undefined), [api, slug, only, refresh]);
  // While a listed run is running, the list is asked again.
  const running = runs.data?.some((r) => r.status === "running") ?? false;
  const { reload } = runs;
  useEffect(() => {
    if (!running) return;
    const t = setTimeout(reload, POLL_MS);
    return () => clearTimeout(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [running, runs.data]);

  const base = `/prompts/${slug}/tests`;
  const items = runs.data ?? [];
  const toggle = (id: string) => setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p, id].slice(-2)));
  // The older run (lower in the newest-first list) is A.
  const pair = picked.length === 2 ? [...picked].sort((x, y) => items.findIndex((r) => r.id === y) - items.findIndex((r) => r.id === x)) : null;

  return (
    <section aria-label="Runs">
      <div className="row">
        <h2>Runs</h2>
        <label>
          of{" "}
          <select aria-label="runs of version" value={only} onChange={(e) => setOnly(Number(e.target.value))}>
            <option value={0}>every version</option>
            {versions.map((v) => (
              <option key={v.number} value={v.number}>
                v{v.number}
              </option>
            ))}
          </select>
        </label>
        <span className="spacer" />
        <button disabled={!pair} onClick={() => pair && navigate(`${base}?a=${encodeURIComponent(pair[0])}&b=${encodeURIComponent(pair[1])}`)}>
          Compare the two picked runs
        </button>
      </div>
      {runs.error && <ErrorNote error={runs.error} />}
      {runs.data && items.length === 0 && <p className="muted">No runs{only ? ` of v${only}` : ""} yet.</p>}
      {items.length > 0 && (
        <table className="grid" aria-label="Test runs">
          <thead>
            <tr>
              <th aria-label="Pick" />
              <th>Run</th>
              <th>Version</th>
              <th>Status</th>
              <th>Pass rate</th>
              <th>Suite</th>
              <th>Mode</th>
              <th>Started</th>
            </tr>
          </thead>
          <tbody>
            {items.map((r) => (
              <tr key={r.id} data-testid={`run-${r.id}`} aria-current={r.id === openRun ? "true" : undefined}>
                <td>
                  <input type="checkbox" aria-label={`pick run ${runName(r.id)}`} checked={picked.includes(r.id)} onChange={() => toggle(r.id)} />
                </td>
                <td>
                  <a {...linkProps(`${base}?run=${encodeURIComponent(r.id)}`)} aria-label={`Open run ${runName(r.id)}`}>
                    {runName(r.id)}
                  </a>
                </td>
                <td>v{r.version}</td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td>
                  {r.pass_rate == null ? (
                    <span className="muted">
                      {r.passed + r.failed} of {r.total} done
                    </span>
                  ) : (
                    `${pct(r.pass_rate)} (${r.passed}/${r.total})`
                  )}
                </td>
                <td>rev {r.suite_revision}</td>
                <td>{r.mode}</td>
                <td>
                  {when(r.started_at)} · {r.started_by}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
