// One prompt: what is live where, and tabs for its history, diffs, editor,
// deployments, experiments and metrics.
import { lazy, Suspense } from "react";
import type { Environment, Experiment, PromptDetail, Version } from "../api";
import { useSession } from "../session";
import { linkProps, type PromptTab } from "../router";
import { useLoad } from "../useLoad";
import { ErrorNote } from "../components/ErrorNote";
import { LiveBadge, runningByEnv } from "../live";
import { History } from "./prompt/History";
import { DiffTab } from "./prompt/DiffTab";
import { DeployTab } from "./prompt/DeployTab";
import { ExperimentsTab } from "./prompt/ExperimentsTab";

// Monaco and the charts load only on the pages that use them.
const EditTab = lazy(() => import("./prompt/EditTab"));
const MetricsTab = lazy(() => import("./prompt/MetricsTab"));

export interface PromptData {
  prompt: PromptDetail;
  envs: Environment[];
  versions: Version[];
  experiments: Experiment[];
  /** The running split of each environment that has one. */
  running: Record<string, Experiment>;
}

const TAB_NAMES: [PromptTab, string][] = [
  ["history", "History"],
  ["diff", "Diff"],
  ["edit", "Edit"],
  ["deploy", "Deploy"],
  ["experiments", "Experiments"],
  ["metrics", "Metrics"],
];

export function PromptPage({ slug, tab, params }: { slug: string; tab: PromptTab; params: URLSearchParams }) {
  const { api } = useSession();
  const { data, error, reload } = useLoad<PromptData>(async () => {
    const [prompt, envs, versions, experiments] = await Promise.all([
      api.prompt(slug),
      api.environments(),
      api.all<Version>(`/v1/prompts/${slug}/versions?limit=100`),
      api.experiments(slug),
    ]);
    return { prompt, envs, versions, experiments, running: runningByEnv(experiments) };
  }, [api, slug]);

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
      </Suspense>
    </section>
  );
}
