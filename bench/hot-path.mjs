// The edge hot path under load on loopback: GET /v1/resolve (without and
// with an experiment) and GET /v1/bundle against GET /healthz of the same
// worker, in the same run, with wrk. Prints requests/s, p50/p99, errors and
// each route's throughput as a ratio of /healthz. Then the same routes
// again with a second client, autocannon (bench/peers), with a 10 s timeout:
// wrk counts every answer slower than 2 s and every connection it drops
// after a parse or read failure as a socket error, so a second client tells
// the worker's errors apart from the client's. Last, both clients load a
// control (bench/control-worker.js: a few lines of JS doing one KV read per
// request) on the same local runtime, so an error both workers show is the
// runtime's; its req/s are not compared with ours.
//
// Usage: node bench/hot-path.mjs [seconds per route, default 60]
import { spawnSync } from "node:child_process";
import { writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import os from "node:os";
import { createRequire } from "node:module";
import { Miniflare } from "miniflare";
import { COMPAT, startWorker, newWorkspace, promptWithVersions, root } from "../tests/e2e/harness.mjs";

const autocannon = createRequire(path.join(root, "bench/peers/package.json"))("autocannon");

const seconds = Number(process.argv[2] ?? 60);
const w = await startWorker();
try {
  const { api, key } = await newWorkspace(w, "bench");
  for (let i = 0; i < 20; i++) {
    await promptWithVersions(api, `p${i}`, [`Prompt ${i}, version one. `.repeat(40), `Prompt ${i}, version two. `.repeat(40)]);
    await api.post(`/v1/prompts/p${i}/promote`, { version: 1, environment: "production" });
  }
  await api.put("/v1/prompts/p1/experiments/production", {
    variants: [{ version: 1, weight: 80 }, { version: 2, weight: 20 }],
  });
  // A wrk script that sends the key and a different user key per request.
  const lua = path.join(os.tmpdir(), "pvct-bench.lua");
  writeFileSync(
    lua,
    `local n = 0
request = function()
  n = n + 1
  local p = wrk.path:gsub("USER", "user-" .. n)
  return wrk.format("GET", p, { ["authorization"] = "Bearer ${key}" })
end`,
  );
  const routes = [
    ["healthz (baseline)", "/healthz"],
    ["resolve", "/v1/resolve/p0?environment=production"],
    ["resolve + experiment", "/v1/resolve/p1?environment=production&user_key=USER"],
    ["bundle (20 prompts)", "/v1/bundle?environment=production"],
  ];
  const results = [];
  for (const [name, route] of routes) results.push(runWrk(name, w.url, route, lua));
  // The second client: one user key per request on the experiment route too.
  const second = [];
  for (const [name, route] of routes) second.push(await runAutocannon(name, w.url, route, { authorization: `Bearer ${key}` }));
  const control = await loadControl();
  const base = results[0].rps;
  console.log(`\nhot path, ${seconds}s per route, wrk -t2 -c32, ${os.cpus().length} cores\n`);
  console.log("| route | req/s | p50 | p99 | errors | vs /healthz |\n|---|---|---|---|---|---|");
  for (const r of results) {
    console.log(`| ${r.name} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.errors} (socket: ${r.socket_errors}) | ${(r.rps / base).toFixed(2)} |`);
  }
  console.log(`\nthe same routes with autocannon, ${seconds}s each, 32 connections, 10 s timeout\n`);
  console.log("| route | req/s | p50 | p99 | max | non-2xx | errors | timeouts | vs /healthz |\n|---|---|---|---|---|---|---|---|---|");
  for (const r of second) {
    console.log(`| ${r.name} | ${r.rps.toFixed(0)} | ${r.p50_ms} ms | ${r.p99_ms} ms | ${r.max_ms} ms | ${r.non2xx} | ${r.errors} | ${r.timeouts} | ${(r.rps / second[0].rps).toFixed(2)} |`);
  }
  console.log(`\ncontrol: bench/control-worker.js (one KV read per request) on the same runtime, ${seconds}s each\n`);
  console.log("| client | req/s | p99 | errors |\n|---|---|---|---|");
  console.log(`| wrk | ${control.wrk.rps.toFixed(0)} | ${control.wrk.p99} | ${control.wrk.errors} (socket: ${control.wrk.socket_errors}) |`);
  const ac = control.autocannon;
  console.log(`| autocannon | ${ac.rps.toFixed(0)} | ${ac.p99_ms} ms | non-2xx ${ac.non2xx}, errors ${ac.errors}, timeouts ${ac.timeouts} |`);
  mkdirSync(path.join(root, "bench/out"), { recursive: true });
  writeFileSync(
    path.join(root, "bench/out/hot-path.json"),
    JSON.stringify({ date: new Date().toISOString(), machine: `${os.cpus()[0].model} x${os.cpus().length}`, seconds, results, autocannon: second, control }, null, 2),
  );
} finally {
  await w.stop();
}

function runWrk(name, url, route, script) {
  const args = ["-t2", "-c32", `-d${seconds}s`, "--latency", ...(script ? ["-s", script] : []), url + route];
  const out = spawnSync("wrk", args, { encoding: "utf8" });
  if (out.status !== 0) throw new Error(out.stderr);
  const text = out.stdout;
  const rps = Number(text.match(/Requests\/sec:\s+([\d.]+)/)[1]);
  const pct = (p) => text.match(new RegExp(`\\s${p}%\\s+([\\d.]+\\w+)`))?.[1];
  const total = Number(text.match(/(\d+) requests in/)[1]);
  const non2xx = Number(text.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  const sockErr = text.match(/Socket errors: (.*)/)?.[1] ?? "none";
  return { name, route, rps, p50: pct(50), p99: pct(99), total, errors: non2xx, socket_errors: sockErr };
}

async function runAutocannon(name, url, route, headers) {
  let n = 0;
  const r = await autocannon({
    url,
    connections: 32,
    duration: seconds,
    timeout: 10,
    requests: [{ method: "GET", setupRequest: (req) => ({ ...req, path: route.replace("USER", `user-${++n}`), headers }) }],
  });
  return { name, route, rps: r.requests.average, p50_ms: r.latency.p50, p99_ms: r.latency.p99, max_ms: r.latency.max, total: r.requests.total, non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts, resets: r.resets };
}

/** Both clients against the control worker, started the way the harness starts ours. */
async function loadControl() {
  const mf = new Miniflare({
    rootPath: root,
    scriptPath: "bench/control-worker.js",
    modules: true,
    compatibilityDate: COMPAT,
    kvNamespaces: ["KV"],
    host: "127.0.0.1",
    port: 0,
  });
  try {
    const url = (await mf.ready).toString().replace(/\/$/, "");
    await (await mf.getKVNamespace("KV")).put("control", "x".repeat(2000));
    return { wrk: runWrk("control /kv", url, "/kv"), autocannon: await runAutocannon("control /kv", url, "/kv", {}) };
  } finally {
    await mf.dispose();
  }
}
