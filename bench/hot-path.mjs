// The edge hot path under load on loopback: GET /v1/resolve (without and
// with an experiment) and GET /v1/bundle against GET /healthz of the same
// worker, in the same run, with wrk. Prints requests/s, p50/p99, errors and
// each route's throughput as a ratio of /healthz. Then the same routes
// again with a second client, autocannon (bench/peers), with a 10 s timeout:
// wrk counts every answer slower than 2 s and every connection it drops
// after a parse or read failure as a socket error, so a second client tells
// the worker's errors apart from the client's.
//
// Usage: node bench/hot-path.mjs [seconds per route, default 60]
import { spawnSync } from "node:child_process";
import { writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import os from "node:os";
import { createRequire } from "node:module";
import { startWorker, newWorkspace, promptWithVersions, root } from "../tests/e2e/harness.mjs";

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
  for (const [name, route] of routes) {
    const out = spawnSync("wrk", ["-t2", "-c32", `-d${seconds}s`, "--latency", "-s", lua, w.url + route], { encoding: "utf8" });
    if (out.status !== 0) throw new Error(out.stderr);
    const text = out.stdout;
    const rps = Number(text.match(/Requests\/sec:\s+([\d.]+)/)[1]);
    const pct = (p) => text.match(new RegExp(`\\s${p}%\\s+([\\d.]+\\w+)`))?.[1];
    const total = Number(text.match(/(\d+) requests in/)[1]);
    const non2xx = Number(text.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
    const sockErr = text.match(/Socket errors: (.*)/)?.[1] ?? "none";
    results.push({ name, route, rps, p50: pct(50), p99: pct(99), total, errors: non2xx, socket_errors: sockErr });
  }
  // The second client: one user key per request on the experiment route too.
  let n = 0;
  const second = [];
  for (const [name, route] of routes) {
    const r = await autocannon({
      url: w.url,
      connections: 32,
      duration: seconds,
      timeout: 10,
      requests: [{ method: "GET", setupRequest: (req) => ({ ...req, path: route.replace("USER", `user-${++n}`), headers: { authorization: `Bearer ${key}` } }) }],
    });
    second.push({ name, route, rps: r.requests.average, p50_ms: r.latency.p50, p99_ms: r.latency.p99, max_ms: r.latency.max, total: r.requests.total, non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts, resets: r.resets });
  }
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
  mkdirSync(path.join(root, "bench/out"), { recursive: true });
  writeFileSync(
    path.join(root, "bench/out/hot-path.json"),
    JSON.stringify({ date: new Date().toISOString(), machine: `${os.cpus()[0].model} x${os.cpus().length}`, seconds, results, autocannon: second }, null, 2),
  );
} finally {
  await w.stop();
}
