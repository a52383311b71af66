// What users actually get in an environment: the deployed version, or the
// running A/B split with its weights. Every place that shows what is live
// (the prompt list, the prompt's badges, the deploy tab, approvals, history)
// renders it through here, so a split is never shown as its deployed version.
import type { Deployment, Experiment, Variant } from "./api";
import { linkProps } from "./router";

/** A weight as people write it: 80, 33.33. */
export const weightText = (w: number) => `${Number(w.toFixed(2))}%`;

/** "v1 80% / v2 20%" */
export const splitText = (variants: Variant[]) => variants.map((v) => `v${v.version} ${weightText(v.weight)}`).join(" / ");

export const experimentsLink = (slug: string, env: string) =>
  `/prompts/${encodeURIComponent(slug)}/experiments?environment=${encodeURIComponent(env)}`;

/** The running experiment of each environment. */
export const runningByEnv = (experiments: Experiment[]): Record<string, Experiment> =>
  Object.fromEntries(experiments.filter((x) => x.status === "running").map((x) => [x.environment, x]));

/**
 * What is live in one environment, as a badge: `production: v1`, or for a
 * running split `production: v1 80% / v2 20%`, linking to the experiment.
 */
export function LiveBadge({
  slug,
  env,
  version,
  split,
  label = true,
  testId,
}: {
  slug: string;
  env: string;
  version: number | null | undefined;
  split: Variant[] | null | undefined;
  /** Prefix the environment's name ("production: …"). */
  label?: boolean;
  testId?: string;
}) {
  const prefix = label ? `${env}: ` : "";
  if (split && split.length > 0)
    return (
      <a
        className="badge exp"
        data-testid={testId}
        data-split={splitText(split)}
        {...linkProps(experimentsLink(slug, env))}
        title={`An A/B split runs in ${env}${version ? ` (v${version} is deployed)` : ""}: open the experiment`}
      >
        {prefix}
        {splitText(split)}
      </a>
    );
  return (
    <span className={version ? "badge live" : "badge off"} data-testid={testId}>
      {prefix}
      {version ? `v${version}` : "—"}
    </span>
  );
}

/**
 * The versions still deployed after replaying an environment's history
 * (oldest first): a promotion pushes, a rollback pops. The same rule as the
 * API's rollback (core/src/deployment.rs `live_stack`).
 */
export function liveStack(oldestFirst: Deployment[]): number[] {
  const stack: number[] = [];
  for (const d of oldestFirst) {
    if (d.action === "promote") stack.push(d.version);
    else {
      stack.pop();
      if (stack[stack.length - 1] !== d.version) stack.push(d.version);
    }
  }
  return stack;
}

/** What "Roll back" would do in an environment, said before it is clicked. */
export function rollbackPreview(
  split: Variant[] | null | undefined,
  deployed: number | null | undefined,
  newestFirst: Deployment[] | undefined,
): { text: string; possible: boolean } | null {
  if (!deployed) return null;
  if (split && split.length > 0) return { text: `Rollback ends the split: everyone gets v${deployed}`, possible: true };
  if (!newestFirst) return null;
  const stack = liveStack([...newestFirst].reverse());
  if (stack.length < 2) return { text: `Nothing earlier to roll back to: v${deployed} is the first deployment`, possible: false };
  return { text: `Rollback returns to v${stack[stack.length - 2]}`, possible: true };
}
