// One prompt: what is live where, and tabs for its history, diffs, editor,
// deployments, experiments, metrics and test suites.
import { lazy, Suspense, useMemo } from "react";
import type { Api, Environment, Experiment, PromptDetail, Version, VersionSummary } from "../api";
import { useSession } from "../session";
import { linkProps, type PromptTab } from "../router";
import { useLoad } from "../useLoad";
import { concerns, useLiveRefresh } from "../useLive";
import { ErrorNote } from "../components/ErrorNote";
import { LiveBadge, runningByEnv } from "../live";
import { History } from "./prompt/History";
import { DiffTab } from "./prompt/DiffTab";
import { DeployTab } from "./prompt/DeployTab";
import { ExperimentsTab } from "./prompt/ExperimentsTab";
import { TestRunCache } from "./prompt/tests/runCache";

// Monaco and the charts load only on the pages that use them.
const EditTab = lazy(() => import("./prompt/EditTab"));
const MetricsTab = lazy(() => import("./prompt/MetricsTab"));
const TestsTab = lazy(() => import("./prompt/TestsTab"));

export interface PromptData {
  prompt: PromptDetail;
  envs: Environment[];
  /** Every version, newest first, without content. */
  versions: VersionSummary[];
  /**
   * One version with its content, fetched once per number while the page
   * is open (versions never change), so switching back costs nothing.
   */
  version: (n: number) => Promise<Version>;
  experiments: Experiment[];
  /** The running split of each environment that has one. */
  running: Record<string, Experiment>;
  /** Finished test runs (and comparisons of them), each fetched once. */
  testRuns: TestRunCache;
}

/** Versions with their content, each fetched once: a version never changes. */
class VersionContents {
  private readonly byNumber = new Map<number, Promise<Version>>();
  constructor(
    private readonly api: Api,
    private readonly slug: string,
  ) {}

  /** A version already in hand (a prompt's head comes with its content). */
  remember(v: Version) {
    if (!this.byNumber.has(v.number)) this.byNumber.set(v.number, Promise.resolve(v));
  }

  get = (n: number): Promise<Version> => {
    let v = this.byNumber.get(n);
    if (!v) {
      const asked = this.api.version(this.slug, n);
      // A failure is not kept: asking again asks the API again.
      asked.catch(() => this.byNumber.get(n) === asked && this.byNumber.delete(n));
      this.byNumber.set(n, (v = asked));
    }
    return v;
  };
}

const TAB_NAMES: [PromptTab, string][] = [
  ["history", "History"],
  ["diff", "Diff"],
  ["edit", "Edit"],
  ["deploy", "Deploy"],
  ["experiments", "Experiments"],
  ["metrics", "Metrics"],
  ["tests", "Tests"],
];

export function PromptPage({ slug, tab, params }: { slug: string; tab: PromptTab; params: URLSearchParams }) {
  const { api } = useSession();
  // Versions with their content, by number, for as long as the page shows
  // this prompt to this key (another key may see another workspace's prompt
  // of the same slug).
  const contents = useMemo(() => new VersionContents(api, slug), [api, slug]);
  const testRuns = useMemo(() => new TestRunCache(api, slug), [api, slug]);
  const { data, error, reload, refresh } = useLoad<PromptData>(async () => {
    const [prompt, envs, versions, experiments] = await Promise.all([
      api.prompt(slug),
      api.environments(),
      api.versions(slug),
      api.experiments(slug),
    ]);
    // The prompt's answer carries its head in full.
    if (prompt.head) contents.remember(prompt.head);
    return { prompt, envs, versions, version: contents.get, experiments, running: runningByEnv(experiments), testRuns };
  }, [api, slug, contents, testRuns]);
  // What is live, splits and deployments change as others work: the page
  // follows without a reload. The tabs stay mounted through it, so their
  // own state (the editor's draft, a half-filled form) is kept.
  useLiveRefresh(refresh, concerns(slug));

  if (error) return <ErrorNote error={error} />;
  if (!data) return <p className="muted">Loading {slug}…</p>;
  const { prompt, envs, running } = data;

  return (
    <section>
      <p className="crumbs">
        <a {...linkProps("/")}>Prompts</a> / <code>{prompt.slug}</code>
      </p>
      <div className="row">
        <h1>{prompt.name}</h1>
        <span className="badge kind">{prompt.kind}</span>
        <span className="spacer" />
        {envs.map((e) => (
          <LiveBadge
            key={e.name}
            slug={prompt.slug}
            env={e.name}
            version={prompt.deployments[e.name]?.version}
            split={running[e.name]?.variants}
            testId={`badge-${e.name}`}
          />
        ))}
      </div>
      <nav className="tabs" aria-label="Prompt">
        {TAB_NAMES.map(([t, name]) => (
          <a key={t} {...linkProps(`/prompts/${slug}/${t}`)} aria-current={t === tab ? "page" : undefined}>
            {name}
          </a>
        ))}
      </nav>
      <Suspense fallback={<p className="muted">Loading…</p>}>
        {tab === "history" && <History data={data} />}
        {tab === "diff" && <DiffTab data={data} params={params} />}
        {tab === "edit" && <EditTab data={data} reload={reload} />}
        {tab === "deploy" && <DeployTab data={data} reload={reload} />}
        {tab === "experiments" && <ExperimentsTab data={data} reload={reload} params={params} />}
        {tab === "metrics" && <MetricsTab data={data} params={params} />}
        {tab === "tests" && <TestsTab data={data} params={params} />}
      </Suspense>
    </section>
  );
}
