// Telemetry end to end on the real worker (workerd, local D1, R2 + Queue):
// the ingest rate (POST /v1/executions in batches of 1,000 until the
// metrics count every call), D1 rows written per 1,000 executions (D1's
// meta.rows_written, which the consumer logs per message) in batches of
// 1,000 and of 100 (the SDKs' batch), and the metrics query time with
// 10,000 and with 200,000 executions counted: rollups, not scans, keep it
// flat.
// Prints the figures and ratios; writes bench/out/telemetry.json.
//
// Usage: node bench/telemetry.mjs
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startWorker, newWorkspace, promptWithVersions, versionIds, root } from "../tests/e2e/harness.mjs";

// The consumer logs `telemetry_ingest executions=N rows_written=M` per message.
const ingestLog = { executions: 0, rowsWritten: 0 };
const onLog = (line) => {
  const m = /telemetry_ingest executions=(\d+) rows_written=(\d+)/.exec(line);
  if (m) {
    ingestLog.executions += Number(m[1]);
    ingestLog.rowsWritten += Number(m[2]);
  }
};
/** D1 rows written per 1,000 executions while `run` ingests. */
async function rowsPer1000(run) {
  const [e0, r0] = [ingestLog.executions, ingestLog.rowsWritten];
  await run();
  return ((ingestLog.rowsWritten - r0) / (ingestLog.executions - e0)) * 1000;
}
// Before the raw log moved to R2 (commit f5e0a6b, the same workload and
// measurement): every execution was a D1 row, plus its index entries, its
// rolled_up mark and its latency bucket upsert.
const BEFORE_ROWS_PER_1000 = { batch_1000: 6188, batch_100: 6226 };
const w = await startWorker({ onLog });
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
  async function ingest(total, size = 1000) {
    const start = performance.now();
    const target = sent + total;
    const pending = [];
    while (sent < target) {
      const b = batch(Math.min(size, target - sent));
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
  let first;
  out.rows_written_per_1000_batch_1000 = await rowsPer1000(async () => (first = await ingest(10_000)));
  out.metrics_ms_at_10k = await metricsMs();
  out.rows_written_per_1000_batch_100 = await rowsPer1000(() => ingest(10_000, 100));
  let rest;
  out.rows_written_per_1000_large = await rowsPer1000(async () => (rest = await ingest(180_000)));
  out.metrics_ms_at_200k = await metricsMs();
  out.ingest_per_second = Math.round(180_000 / rest.seconds);
  out.ingest_accept_per_second = Math.round(180_000 / rest.accept_seconds);
  out.first_10k_seconds = first.seconds;
  out.before_rows_written_per_1000 = BEFORE_ROWS_PER_1000;
  out.ledger_rows = (await w.db.prepare("SELECT COUNT(*) AS n FROM telemetry_ledger").first()).n;
  out.rollup_rows = (await w.db.prepare("SELECT COUNT(*) AS n FROM version_rollups").first()).n;
  out.ledger_bytes_per_row = (await w.db.prepare("SELECT AVG(length(workspace_id) + length(key) + length(nonce) + length(day)) AS n FROM telemetry_ledger").first()).n;
  out.metrics_ratio_200k_vs_10k = out.metrics_ms_at_200k / out.metrics_ms_at_10k;
} finally {
  await w.stop();
}
console.log(`\ntelemetry, real worker in workerd with local D1 and Queue, ${os.cpus().length} cores\n`);
console.log("| figure | value |\n|---|---|");
console.log(`| ingest, end to end (POST → queue → D1 → counted in metrics) | ${out.ingest_per_second} executions/s |`);
console.log(`| ingest, accepted by the API (202) | ${out.ingest_accept_per_second} executions/s |`);
console.log(`| D1 rows written per 1,000 executions, batches of 1,000 | ${out.rows_written_per_1000_batch_1000.toFixed(1)} (before: ${BEFORE_ROWS_PER_1000.batch_1000}) |`);
console.log(`| D1 rows written per 1,000 executions, batches of 100 (SDK default) | ${out.rows_written_per_1000_batch_100.toFixed(1)} (before: ${BEFORE_ROWS_PER_1000.batch_100}) |`);
console.log(`| D1 rows after 200,000 executions: ledger, rollups | ${out.ledger_rows}, ${out.rollup_rows} |`);
console.log(`| metrics query, 10,000 executions stored | ${out.metrics_ms_at_10k.toFixed(2)} ms |`);
console.log(`| metrics query, 200,000 executions stored | ${out.metrics_ms_at_200k.toFixed(2)} ms |`);
console.log(`| ratio 200k / 10k (flat is 1.0) | ${out.metrics_ratio_200k_vs_10k.toFixed(2)} |`);
mkdirSync(path.join(root, "bench/out"), { recursive: true });
writeFileSync(path.join(root, "bench/out/telemetry.json"), JSON.stringify({ date: new Date().toISOString(), cores: os.cpus().length, ...out }, null, 2));
