// Telemetry end to end on the real worker (workerd, local D1 + Queue):
// the ingest rate (POST /v1/executions in batches of 1,000 until the
// metrics count every call), and the metrics query time with 10,000 and
// with 200,000 executions stored: rollups, not scans, keep it flat.
// Prints the figures and ratios; writes bench/out/telemetry.json.
//
// Usage: node bench/telemetry.mjs
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startWorker, newWorkspace, promptWithVersions, versionIds, root } from "../tests/e2e/harness.mjs";

const w = await startWorker();
const out = {};
try {
  const { api } = await newWorkspace(w, "bench-telemetry");
  await promptWithVersions(api, "bot", ["one", "two"]);
  const ids = await versionIds(api, "bot");
  let sent = 0;
  const batch = (n) =>
    Array.from({ length: n }, (_, i) => {
      const k = sent + i;
      return { id: `e${k}`, prompt_version_id: ids[1 + (k % 2)], environment: "production", latency_ms: 5 + (k % 997), tokens_in: 100, tokens_out: 50, model: "gpt-4o-mini", ...(k % 40 === 0 ? { error: "timeout" } : {}) };
    });
  const calls = async () => {
    const items = (await api.get("/v1/prompts/bot/metrics?environment=production")).body.items;
    return items.reduce((n, i) => n + i.metrics.calls, 0);
  };
  /** Sends `total` more executions, 4 batches in flight; resolves when all are counted. */
  async function ingest(total) {
    const start = performance.now();
    const target = sent + total;
    const pending = [];
    while (sent < target) {
      const b = batch(Math.min(1000, target - sent));
      sent += b.length;
      pending.push(api.post("/v1/executions", { executions: b }).then((r) => {
        if (r.status !== 202 || r.body.accepted !== b.length) throw new Error(`ingest: ${r.status}`);
      }));
      if (pending.length >= 4) await pending.shift();
    }
    await Promise.all(pending);
    const accepted = performance.now();
    while ((await calls()) < target) await new Promise((r) => setTimeout(r, 50));
    return { seconds: (performance.now() - start) / 1000, accept_seconds: (accepted - start) / 1000 };
  }
  /** Median ms of `n` metrics queries. */
  async function metricsMs(n = 60) {
    const times = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      const r = await api.get("/v1/prompts/bot/metrics?environment=production");
      if (r.status !== 200) throw new Error(`metrics: ${r.status}`);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(n / 2)];
  }
  const first = await ingest(10_000);
  out.metrics_ms_at_10k = await metricsMs();
  const rest = await ingest(190_000);
  out.metrics_ms_at_200k = await metricsMs();
  out.ingest_per_second = Math.round(190_000 / rest.seconds);
  out.ingest_accept_per_second = Math.round(190_000 / rest.accept_seconds);
  out.first_10k_seconds = first.seconds;
  out.stored = (await w.db.prepare("SELECT COUNT(*) AS n FROM executions").first()).n;
  out.metrics_ratio_200k_vs_10k = out.metrics_ms_at_200k / out.metrics_ms_at_10k;
} finally {
  await w.stop();
}
console.log(`\ntelemetry, real worker in workerd with local D1 and Queue, ${os.cpus().length} cores\n`);
console.log("| figure | value |\n|---|---|");
console.log(`| ingest, end to end (POST → queue → D1 → counted in metrics) | ${out.ingest_per_second} executions/s |`);
console.log(`| ingest, accepted by the API (202) | ${out.ingest_accept_per_second} executions/s |`);
console.log(`| metrics query, 10,000 executions stored | ${out.metrics_ms_at_10k.toFixed(2)} ms |`);
console.log(`| metrics query, 200,000 executions stored | ${out.metrics_ms_at_200k.toFixed(2)} ms |`);
console.log(`| ratio 200k / 10k (flat is 1.0) | ${out.metrics_ratio_200k_vs_10k.toFixed(2)} |`);
mkdirSync(path.join(root, "bench/out"), { recursive: true });
writeFileSync(path.join(root, "bench/out/telemetry.json"), JSON.stringify({ date: new Date().toISOString(), cores: os.cpus().length, ...out }, null, 2));
