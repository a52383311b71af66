// Per-version metrics over time as charts, the totals of the range, and a
// compare view of two versions with the API's significance verdict.
import { useMemo, useState } from "react";
import type { MetricsItem, VersionMetrics } from "../../api";
import { useSession } from "../../session";
import { useLoad } from "../../useLoad";
import { ms, num, pct, usd } from "../../format";
import { Chart } from "../../components/Chart";
import { ErrorNote } from "../../components/ErrorNote";
import { VersionSelect } from "../../components/VersionSelect";
import type { PromptData } from "../PromptPage";

// Rollups are hourly; each range is cut into windows queried in parallel.
const RANGES = {
  "24h": { hours: 24, windowHours: 2 },
  "7d": { hours: 24 * 7, windowHours: 24 },
  "30d": { hours: 24 * 30, windowHours: 48 },
} as const;
type RangeName = keyof typeof RANGES;

const hour = (t: number) => new Date(t).toISOString().slice(0, 13) + ":00:00Z";
const HOUR = 3_600_000;

const CHARTS: { key: keyof VersionMetrics; title: string; format: (v: number | null) => string }[] = [
  { key: "p50_ms", title: "Latency p50", format: ms },
  { key: "p95_ms", title: "Latency p95", format: ms },
  { key: "p99_ms", title: "Latency p99", format: ms },
  { key: "cost_per_call_usd", title: "Cost per call", format: usd },
  { key: "mean_score", title: "Mean score", format: (v) => num(v) },
  { key: "feedback_rate", title: "Feedback rate", format: pct },
  { key: "error_rate", title: "Error rate", format: pct },
];

export default function MetricsTab({ data, params }: { data: PromptData; params: URLSearchParams }) {
  const { api } = useSession();
  const { prompt, envs, versions } = data;
  const [env, setEnv] = useState(params.get("environment") ?? envs[envs.length - 1]?.name ?? "production");
  const [range, setRange] = useState<RangeName>("7d");
  const base = `/v1/prompts/${prompt.slug}/metrics?environment=${encodeURIComponent(env)}`;

  const loaded = useLoad(async () => {
    const { hours, windowHours } = RANGES[range];
    const end = Math.floor(Date.now() / HOUR) * HOUR + HOUR;
    const start = end - hours * HOUR;
    const windows: number[] = [];
    for (let t = start; t < end; t += windowHours * HOUR) windows.push(t);
    const [total, ...perWindow] = await Promise.all([
      api.get<{ items: MetricsItem[] }>(`${base}&from=${hour(start)}&to=${hour(end - HOUR)}`),
      ...windows.map((t) => api.get<{ items: MetricsItem[] }>(`${base}&from=${hour(t)}&to=${hour(t + (windowHours - 1) * HOUR)}`)),
    ]);
    return { total: total.items, windows, perWindow: perWindow.map((w) => w.items) };
  }, [api, base, range]);

  const charts = useMemo(() => {
    const d = loaded.data;
    if (!d) return null;
    const shown = d.total.map((i) => i.version);
    const times = d.windows.map((t) => t / 1000);
    return CHARTS.map((c) => ({
      ...c,
      times,
      series: shown.map((v) => ({
        label: `v${v}`,
        values: d.perWindow.map((items) => (items.find((i) => i.version === v)?.metrics[c.key] as number | null) ?? null),
      })),
    }));
  }, [loaded.data]);

  return (
    <>
      <div className="row">
        <label>
          Environment{" "}
          <select aria-label="metrics environment" value={env} onChange={(e) => setEnv(e.target.value)}>
            {envs.map((e) => (
              <option key={e.name}>{e.name}</option>
            ))}
          </select>
        </label>
        <div role="group" aria-label="Range" className="segmented">
          {(Object.keys(RANGES) as RangeName[]).map((r) => (
            <button key={r} aria-pressed={r === range} onClick={() => setRange(r)}>
              {r}
            </button>
          ))}
        </div>
      </div>
      {loaded.error && <ErrorNote error={loaded.error} />}
      {loaded.data && loaded.data.total.length === 0 && <p className="muted">No executions logged in {env} in this range.</p>}
      {loaded.data && loaded.data.total.length > 0 && (
        <>
          <table className="grid" aria-label="Totals">
            <thead>
              <tr>
                <th>Version</th>
                <th>Calls</th>
                <th>p50</th>
                <th>p95</th>
                <th>p99</th>
                <th>Cost / call</th>
                <th>Score</th>
                <th>Feedback</th>
                <th>Errors</th>
              </tr>
            </thead>
            <tbody>
              {loaded.data.total.map(({ version, metrics: m }) => (
                <tr key={version}>
                  <td>v{version}</td>
                  <td>{m.calls}</td>
                  <td>{ms(m.p50_ms)}</td>
                  <td>{ms(m.p95_ms)}</td>
                  <td>{ms(m.p99_ms)}</td>
                  <td>{usd(m.cost_per_call_usd)}</td>
                  <td>{num(m.mean_score)}</td>
                  <td>{pct(m.feedback_rate)}</td>
                  <td>{pct(m.error_rate)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="charts">{charts?.map((c) => <Chart key={c.key} title={c.title} times={c.times} series={c.series} format={c.format} />)}</div>
        </>
      )}
      <Compare slug={prompt.slug} env={env} numbers={versions.map((v) => v.number)} />
    </>
  );
}

interface Comparison {
  a: { version: number; metrics: VersionMetrics };
  b: { version: number; metrics: VersionMetrics };
  comparison: {
    verdict: string;
    metrics: { metric: string; a: number | null; b: number | null; test: string; higher_is_better: boolean; result: { p_value: number; significant: boolean } | null }[];
  };
}

function Compare({ slug, env, numbers }: { slug: string; env: string; numbers: number[] }) {
  const { api } = useSession();
  const [a, setA] = useState(numbers[1] ?? numbers[0]);
  const [b, setB] = useState(numbers[0]);
  const cmp = useLoad(
    () => (a && b ? api.get<Comparison>(`/v1/prompts/${slug}/compare?a=${a}&b=${b}&environment=${encodeURIComponent(env)}`) : Promise.resolve(null)),
    [api, slug, env, a, b],
  );
  if (numbers.length < 2) return null;
  return (
    <section className="card" aria-label="Compare versions">
      <h2>
        Compare <VersionSelect label="compare a" value={a} numbers={numbers} onChange={setA} /> with{" "}
        <VersionSelect label="compare b" value={b} numbers={numbers} onChange={setB} /> in {env}
      </h2>
      {cmp.error && <ErrorNote error={cmp.error} />}
      {cmp.data && (
        <>
          <p className="verdict" data-testid="verdict">
            {cmp.data.comparison.verdict}
          </p>
          <table className="grid">
            <thead>
              <tr>
                <th>Metric</th>
                <th>v{a}</th>
                <th>v{b}</th>
                <th>Test</th>
                <th>p</th>
              </tr>
            </thead>
            <tbody>
              {cmp.data.comparison.metrics.map((m) => (
                <tr key={m.metric} className={m.result?.significant ? "significant" : undefined}>
                  <td>{m.metric}</td>
                  <td>{num(m.a, 4)}</td>
                  <td>{num(m.b, 4)}</td>
                  <td className="muted">{m.test}</td>
                  <td>{m.result ? `${m.result.p_value.toPrecision(2)}${m.result.significant ? " ✱" : ""}` : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
