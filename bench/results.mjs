// Collects the figures of `make bench` (bench/out/*.json, written by
// hot-path.mjs, sdk.mjs, python_sdk.py, telemetry.mjs, scale.mjs and live.mjs in the same run) and the sizes of
// the built artifacts into one results file: the machine, the date, and
// each figure with its baseline and ratio. Writes bench/out/results.json and
// bench/RESULTS.md (committed, the source of the README's tables).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const load = (name) => {
  const file = path.join(root, "bench/out", name);
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : null;
};
const gz = (file) => gzipSync(readFileSync(path.join(root, file)), { level: 9 }).length;
const rows = [];
const add = (area, figure, value, baselineName, baseline, target) =>
  rows.push({ area, figure, value, baseline_name: baselineName, baseline, ratio: baseline ? value / baseline : null, target });

const hot = load("hot-path.json");
if (hot) {
  const base = hot.results[0].rps;
  for (const r of hot.results.slice(1)) {
    add("edge hot path", `${r.name} req/s over ${hot.seconds} s (p50 ${r.p50}, p99 ${r.p99}, non-2xx ${r.errors}, socket errors: ${r.socket_errors})`, r.rps, "/healthz req/s", base, "ratio ≥ 0.70");
  }
}
if (hot?.autocannon) {
  const base = hot.autocannon[0].rps;
  for (const r of hot.autocannon.slice(1)) {
    add("edge hot path", `${r.name} req/s with autocannon over ${hot.seconds} s (p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, max ${r.max_ms} ms, non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts})`, r.rps, "/healthz req/s (autocannon)", base, "ratio ≥ 0.70, 0 errors");
  }
}
if (hot?.control) {
  // No ratio: the control says which errors the local runtime causes by itself.
  const { wrk, autocannon } = hot.control;
  add("edge hot path", `control (bench/control-worker.js: JS, one KV read per request, same runtime) req/s with wrk over ${hot.seconds} s (p99 ${wrk.p99}, non-2xx ${wrk.errors}, socket errors: ${wrk.socket_errors})`, wrk.rps, "", null, "");
  add("edge hot path", `control req/s with autocannon over ${hot.seconds} s (p99 ${autocannon.p99_ms} ms, max ${autocannon.max_ms} ms, non-2xx ${autocannon.non2xx}, errors ${autocannon.errors}, timeouts ${autocannon.timeouts})`, autocannon.rps, "", null, "");
}
const sdk = load("sdk.json")?.results;
if (sdk) {
  add("npm SDK", "warm get + route + render, ns", sdk.get_route_render.pvct_ns, "@langfuse/client get + compile, ns", sdk.get_route_render.langfuse_ns, "ratio ≤ 0.25");
  add("npm SDK", "warm getSync + route + render, ns", sdk.get_route_render_sync.pvct_ns, "@langfuse/client get + compile, ns", sdk.get_route_render.langfuse_ns, "ratio ≤ 0.25");
  add("npm SDK", "route a user, ns", sdk.routing.pvct_ns, "@growthbook/growthbook evalFeature, ns", sdk.routing.growthbook_ns, "ratio ≤ 0.10");
  const cold = sdk.cold_start;
  if (cold) {
    // Each client in its own process; the median round's ratio.
    add("npm SDK", "cold start: new client + first get (one prompt, local stub replaying the worker's answers, gzip), ns", cold.stub.pvct_ns, "@langfuse/client new client + cache-miss get + compile, ns", cold.stub.langfuse_ns, "ratio ≤ 1.10");
    add("npm SDK", "cold start, 20 prompts in the environment, ns", cold.stub_20_prompts.pvct_ns, "@langfuse/client cache miss (one prompt), ns", cold.stub_20_prompts.langfuse_ns, "");
    add("npm SDK", "cold start against the worker itself (workerd), ns", cold.worker.pvct_ns, "@langfuse/client against the worker's Langfuse-compatible API, ns", cold.worker.langfuse_ns, "");
    add("npm SDK", "fresh Node process: import + new client + first get, ms", cold.fresh_process.pvct.total_ms, "langfuse import + first prompt.get, ms", cold.fresh_process.langfuse.total_ms, "");
  }
  for (const n of [500, 2000, 20000]) {
    for (const pct of [1, 5]) {
      const r = sdk[`diff_scattered_${n}_words_${pct}pct`];
      if (!r) continue;
      const target = pct === 5 && n === 20000 ? "ratio ≤ 0.10" : pct === 5 && n === 2000 ? "ratio ≤ 0.20" : "";
      add("npm SDK", `diffWords ${n.toLocaleString("en-US")} words, ${pct} % scattered edits (2,000-word vocabulary), ns`, r.pvct_ns, "jsdiff diffWords, ns", r.jsdiff_ns, target);
    }
  }
  add("npm SDK", "diffWords 2,000 words, favourable input (16-word vocabulary, 5 % changed at regular places), ns", sdk.diff_2000_words.pvct_ns, "jsdiff diffWords, ns", sdk.diff_2000_words.jsdiff_ns, "");
  add("npm SDK", "diffWords 20,000 words, favourable input (16-word vocabulary, 5 % changed at regular places), ns", sdk.diff_20000_words.pvct_ns, "jsdiff diffWords, ns", sdk.diff_20000_words.jsdiff_ns, "ratio ≤ 0.10");
}
const py = load("python-sdk.json")?.results;
if (py) {
  // Each SDK in its own process, runs paired and alternated; the median pair's ratio.
  const pyRow = (figure, r, target) => add("Python SDK", figure, r.pvct_ns, "langfuse 5.0.4 get_prompt + compile (own process), ns", r.langfuse_ns, target);
  pyRow("warm get + route + render, 90 % returning users, each variable once, ns", py.get_route_render, "ratio ≤ 0.40");
  pyRow("warm get + route + render, every user new, ns", py.get_route_render_new_users, "");
  pyRow("warm get_cached + route + render, 90 % returning users, ns", py.get_cached_route_render, "");
  if (py.get_route_render_repeated) pyRow("warm get + route + render, 90 % returning, bench/sdk.mjs's repeated template, ns", py.get_route_render_repeated, "");
}
const tel = load("telemetry.json");
if (tel) {
  add("telemetry", "ingest end to end, executions/s", tel.ingest_per_second, "accepted by the API, executions/s", tel.ingest_accept_per_second, "");
  add("telemetry", "metrics query at 200,000 executions, ms", tel.metrics_ms_at_200k, "at 10,000 executions, ms", tel.metrics_ms_at_10k, "ratio ≈ 1 (flat)");
  if (tel.rows_written_per_1000_batch_1000 !== undefined) {
    const before = tel.before_rows_written_per_1000;
    add("telemetry", "D1 rows written per 1,000 executions, batches of 1,000", tel.rows_written_per_1000_batch_1000, "before the raw log moved to R2 (recorded)", before.batch_1000, "lower is better");
    add("telemetry", "D1 rows written per 1,000 executions, batches of 100", tel.rows_written_per_1000_batch_100, "before the raw log moved to R2 (recorded)", before.batch_100, "lower is better");
  }
}
const scale = load("scale.json");
if (scale?.rows?.length) {
  const [base] = scale.rows;
  for (const r of scale.rows.slice(1)) {
    add("bundles at scale", `promote latency at ${r.prompts} prompts, ms (median of 9)`, r.promote_ms, `at ${base.prompts} prompts, ms`, base.promote_ms, "ratio ≤ 2 at 5,000");
    add("bundles at scale", `SDK cold start, whole bundle of ${r.prompts} prompts (${(r.bundle_bytes / 1048576).toFixed(1)} MB), ms`, r.cold_start_ms, `at ${base.prompts} prompts, ms`, base.cold_start_ms, "grows with the bundle");
    add("bundles at scale", `SDK cold start asking for 10 of ${r.prompts} prompts (${(r.filtered_bytes / 1024).toFixed(0)} KB), ms`, r.filtered_cold_start_ms, `10 of ${base.prompts} prompts, ms`, base.filtered_cold_start_ms, "ratio ≈ 1 (flat)");
  }
}
const live = load("live.json");
if (live?.sdks) {
  for (const [name, x] of Object.entries(live.sdks)) {
    add("live updates", `${name}: promote's 201 to get returning the new version, p50 ms (p99 ${x.p99_ms} ms, ${x.seen}/${live.changes} changes seen)`, x.p50_ms, "", null, "");
  }
  add("live updates", `hub: promote's 201 to all ${live.hub.subscribers} WebSocket subscribers holding the change, p50 ms (p99 ${live.hub.all_heard_p99_ms} ms)`, live.hub.all_heard_p50_ms, "", null, "");
  add("live updates", `hub: messages per second to its subscribers (${live.hub.subscribers} in ${live.hub.spread_p50_ms} ms, p50)`, live.hub.messages_per_second, "", null, "");
}
if (existsSync(path.join(root, "worker/build/index_bg.wasm"))) {
  add("size", "worker wasm gzipped, bytes", gz("worker/build/index_bg.wasm"), "budget (1 MB)", 1024 * 1024, "ratio ≤ 1 (Cloudflare's limit: 3 MB free, 10 MB paid)");
}
if (existsSync(path.join(root, "sdk-wasm/dist/pvct_bg.wasm"))) {
  add("size", "SDK wasm (routing, rendering) gzipped, bytes", gz("sdk-wasm/dist/pvct_bg.wasm"), "budget (80 KB)", 80 * 1024, "ratio ≤ 1");
  add("size", "SDK diff wasm gzipped, bytes (loaded by diffWords only)", gz("sdk-wasm/dist/pvct_diff_bg.wasm"), "", null, "");
}
const consoleSize = existsSync(path.join(root, "target/console-size.json")) ? JSON.parse(readFileSync(path.join(root, "target/console-size.json"), "utf8")) : null;
if (consoleSize) {
  add("size", "web console's own JS gzipped, bytes (without Monaco)", consoleSize.own_js_gz_bytes, "budget (200 KB)", 200 * 1024, "ratio ≤ 1");
  add("size", "web console's Monaco chunk gzipped, bytes (editor page only)", consoleSize.monaco_js_gz_bytes, "", null, "");
  add("size", "web console's diff wasm gzipped, bytes (first diff only)", consoleSize.diff_wasm_gz_bytes, "", null, "");
}
const machine = { cpu: os.cpus()[0]?.model, cores: os.cpus().length, memory_gb: Math.round(os.totalmem() / 2 ** 30), node: process.version, os: `${os.type()} ${os.release()}` };
const date = new Date().toISOString();
writeFileSync(path.join(root, "bench/out/results.json"), JSON.stringify({ date, machine, rows }, null, 2));
const fmt = (v) => (v === null ? "" : Number.isInteger(v) ? v.toLocaleString("en-US") : v.toFixed(2));
const md = [
  "# Benchmark results",
  "",
  `Written by \`make bench\` (bench/results.mjs) on ${date.slice(0, 10)}: ${machine.cpu}, ${machine.cores} cores, ${machine.memory_gb} GB, node ${machine.node}, ${machine.os}. Every baseline was measured in the same run.`,
  "",
  "| area | figure | value | baseline | baseline value | ratio | target |",
  "|---|---|---|---|---|---|---|",
  ...rows.map((r) => `| ${r.area} | ${r.figure} | ${fmt(r.value)} | ${r.baseline_name} | ${fmt(r.baseline)} | ${r.ratio === null ? "" : r.ratio.toFixed(3)} | ${r.target} |`),
  "",
];
writeFileSync(path.join(root, "bench/RESULTS.md"), md.join("\n"));
console.log(md.join("\n"));
