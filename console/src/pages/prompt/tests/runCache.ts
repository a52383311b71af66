// Test runs with their results, kept while the prompt's page is open once
// they are finished (a finished run never changes): opening a run again, or
// comparing it again, asks the API nothing. A running run is always asked.
import type { Api, TestRun, TestRunComparison } from "../../../api";

export class TestRunCache {
  private readonly runs = new Map<string, TestRun>();
  private readonly comparisons = new Map<string, TestRunComparison>();
  constructor(
    private readonly api: Api,
    private readonly slug: string,
  ) {}

  run = async (id: string): Promise<TestRun> => {
    const kept = this.runs.get(id);
    if (kept) return kept;
    const run = await this.api.testRun(this.slug, id);
    if (run.status !== "running") this.runs.set(id, run);
    return run;
  };

  compare = async (a: string, b: string): Promise<TestRunComparison> => {
    const key = `${a} ${b}`;
    const kept = this.comparisons.get(key);
    if (kept) return kept;
    const c = await this.api.compareTestRuns(this.slug, a, b);
    if (c.a.status !== "running" && c.b.status !== "running") this.comparisons.set(key, c);
    return c;
  };
}
