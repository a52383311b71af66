// Per-version metrics over time as charts, the totals of the range, and a
// compare view of two versions with the API's significance verdict.
import { useMemo, useState } from "react";
import type { MetricsItem, VersionMetrics } from "../../api";
import { useSession } from "../../session";
import { useLoad } from "../../useLoad";
import { ms, num, pct, pValue, usd, UNITS, type Unit } from "../../format";
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

// Rates come from the API as fractions (0.02); the pct unit shows them as 2.0 %.
const CHARTS: { key: keyof VersionMetrics; title: string; unit: Unit }[] = [
  { key: "p50_ms", title: "Latency p50", unit: UNITS.ms },
  { key: "p95_ms", title: "Latency p95", unit: UNITS.ms },
  { key: "p99_ms", title: "Latency p99", unit: UNITS.ms },
  { key: "cost_per_call_usd", title: "Cost per call", unit: UNITS.usd },
  { key: "mean_score", title: "Mean score", unit: UNITS.score },
  { key: "feedback_rate", title: "Positive feedback", unit: UNITS.pct },
  { key: "error_rate", title: "Error rate", unit: UNITS.pct },
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
    return { range, total: total.items.sort((x, y) => x.version - y.version), windows, perWindow: perWindow.map((w) => w.items) };
  }, [api, base, range]);

  const charts = useMemo(() => {
    const d = loaded.data;
    if (!d) return null;
    // Oldest version first (as in the totals), so each keeps its colour from chart to chart.
    const shown = d.total.map((i) => i.version);
    return CHARTS.map((c) => ({
      ...c,
      times: d.windows,
      windowMs: RANGES[d.range].windowHours * HOUR,
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
          <div className="charts">
            {charts?.map((c) => (
              <Chart key={c.key} id={c.key} title={c.title} times={c.times} windowMs={c.windowMs} series={c.series} unit={c.unit} />
            ))}
          </div>
        </>
      )}
      <Compare slug={prompt.slug} env={env} numbers={versions.map((v) => v.number)} />
    </>
  );
}

interface MetricResult {
  metric: string;
  a: number | null;
  b: number | null;
  test: string;
  higher_is_better: boolean;
  result: { p_value: number; significant: boolean } | null;
}
interface Comparison {
  a: { version: number; metrics: VersionMetrics };
  b: { version: number; metrics: VersionMetrics };
  comparison: { verdict: string; metrics: MetricResult[] };
}

/** The API's metric names as people say them, with their units. */
const METRICS: Record<string, { label: string; value: (v: number | null) => string }> = {
  error_rate: { label: "error rate", value: pct },
  feedback_rate: { label: "positive feedback", value: pct },
  mean_score: { label: "mean score", value: (v) => num(v, 3) },
  latency_mean_ms: { label: "mean latency", value: ms },
};
const metricOf = (name: string) => METRICS[name] ?? { label: name.replace(/_/g, " "), value: (v: number | null) => num(v, 3) };

/**
 * The verdict in words, from the API's per-metric tests: "v2 is better on
 * mean latency: 530 ms vs 723 ms for v1 (p < 0.0001)".
 */
export function verdictText(c: Comparison): string {
  const [la, lb] = [`v${c.a.version}`, `v${c.b.version}`];
  const findings = c.comparison.metrics.flatMap((m) => {
    if (!m.result?.significant || m.a == null || m.b == null) return [];
    const bBetter = m.b > m.a === m.higher_is_better;
    const { label, value } = metricOf(m.metric);
    const [win, lose, wv, lv] = bBetter ? [lb, la, m.b, m.a] : [la, lb, m.a, m.b];
    return [`${win} is better on ${label}: ${value(wv)} vs ${value(lv)} for ${lose} (${pValue(m.result.p_value)})`];
  });
  if (findings.length === 0)
    return `No significant difference yet (${c.a.metrics.calls.toLocaleString("en-US")} vs ${c.b.metrics.calls.toLocaleString("en-US")} calls)`;
  return findings.join("; ");
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
            {verdictText(cmp.data)}
          </p>
          <table className="grid" aria-label="Comparison">
            <thead>
              <tr>
                <th>Metric</th>
                <th>v{cmp.data.a.version}</th>
                <th>v{cmp.data.b.version}</th>
                <th>Test</th>
                <th>Significance</th>
              </tr>
            </thead>
            <tbody>
              {cmp.data.comparison.metrics.map((m) => {
                const { label, value } = metricOf(m.metric);
                return (
                  <tr key={m.metric} className={m.result?.significant ? "significant" : undefined} data-metric={m.metric}>
                    <td>{label}</td>
                    <td>{value(m.a)}</td>
                    <td>{value(m.b)}</td>
                    <td className="muted">{m.test}</td>
                    <td>{m.result ? `${pValue(m.result.p_value)}${m.result.significant ? " ✱" : ""}` : "—"}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
