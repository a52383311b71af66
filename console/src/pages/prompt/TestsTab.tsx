// The prompt's test suite: its cases (Cases), and runs of it against a
// version (Runs): start one on the workspace's provider, follow it, open
// one case by case, compare two. ?run=<id> opens a run, ?a=&b= compares.
import { useState } from "react";
import type { TestSuite } from "../../api";
import { useSession } from "../../session";
import { useLoad } from "../../useLoad";
import { navigate } from "../../router";
import { ErrorNote } from "../../components/ErrorNote";
import { SuiteEditor } from "./tests/SuiteEditor";
import { RunPanel, RunsList } from "./tests/Runs";
import { RunCompare, RunView } from "./tests/RunView";
import type { PromptData } from "../PromptPage";
import "./tests/tests.css";

export default function TestsTab({ data, params }: { data: PromptData; params: URLSearchParams }) {
  const { api } = useSession();
  const { prompt, versions, testRuns } = data;
  const loaded = useLoad(() => api.testSuite(prompt.slug), [api, prompt.slug]);
  const [saved, setSaved] = useState<TestSuite | null>(null);
  const suite = saved ?? loaded.data;
  const [dirty, setDirty] = useState(false);
  const [refresh, setRefresh] = useState(0);

  const runId = params.get("run");
  const [a, b] = [params.get("a"), params.get("b")];
  const compared: [string, string] | null = a && b ? [a, b] : null;
  const view = params.get("view") === "runs" || runId || compared ? "runs" : "cases";
  const base = `/prompts/${prompt.slug}/tests`;

  return (
    <>
      <div className="row">
        <div role="group" aria-label="Tests" className="segmented">
          <button aria-pressed={view === "cases"} onClick={() => navigate(base)}>
            Cases{suite ? ` (${suite.cases.length})` : ""}
          </button>
          <button aria-pressed={view === "runs"} onClick={() => navigate(`${base}?view=runs`)}>
            Runs
          </button>
        </div>
        {dirty && view === "runs" && <span className="muted">unsaved case changes</span>}
      </div>
      {loaded.error && <ErrorNote error={loaded.error} />}
      {/* Kept mounted while Runs shows, so unsaved edits survive a look at the runs. */}
      <div hidden={view !== "cases"}>
        {suite && (
          <SuiteEditor
            slug={prompt.slug}
            chat={prompt.kind === "chat"}
            versions={versions}
            suite={suite}
            onSaved={setSaved}
            onDirty={setDirty}
          />
        )}
      </div>
      {view === "runs" && (
        <>
          <RunPanel
            slug={prompt.slug}
            versions={versions}
            suite={suite}
            dirty={dirty}
            onStarted={(run) => {
              setRefresh((n) => n + 1);
              navigate(`${base}?run=${encodeURIComponent(run.id)}`);
            }}
          />
          <RunsList
            slug={prompt.slug}
            versions={versions}
            refresh={refresh}
            openRun={runId}
            compared={compared}
          />
          {runId && <RunView id={runId} cache={testRuns} onFinished={() => setRefresh((n) => n + 1)} />}
          {compared && <RunCompare slug={prompt.slug} a={compared[0]} b={compared[1]} cache={testRuns} />}
        </>
      )}
    </>
  );
}
