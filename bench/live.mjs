// Propagation of a change to running apps, on the real worker (workerd,
// local D1/KV, the workspace's live hub as a Durable Object): from a
// promote's 201 to an SDK's `get` returning the new version, over 100
// changes, for the npm SDK (long poll, as Node 20 runs it; and WebSocket)
// and the Python SDK (long poll, in its own process), while 1,000 other
// subscribers hold WebSockets to the same hub. Also what the hub does:
// the time from a promote's 201 until all 1,000 subscribers have the change
// message, and so the messages per second one hub delivers.
//
// Observers poll `get` every 2 ms, so figures carry up to 2 ms of that.
// Usage: node bench/live.mjs [changes]   (default 100). Writes bench/out/live.json.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { WebSocket } from "undici";
import { startWorker, newWorkspace, promptWithVersions, root } from "../tests/e2e/harness.mjs";

const CHANGES = Number(process.argv[2] ?? 100);
const SUBSCRIBERS = 1000;
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const w = await startWorker({ rateLimits: { RATE_LIMIT_EDGE_READS: 1_000_000, RATE_LIMIT_KEY: 1_000_000 } });
const out = { date: new Date().toISOString(), changes: CHANGES, subscribers: SUBSCRIBERS };
const children = [];
try {
  const { api, key } = await newWorkspace(w, "bench-live");
  await promptWithVersions(api, "bot", ["Hello {{name}}", "Hi {{name}}"]);
  await api.post("/v1/prompts/bot/promote", { version: 1, environment: "production" });

  // 1,000 subscribers on the workspace's hub.
  const wsUrl = `${w.url.replace(/^http/, "ws")}/v1/live?environment=production`;
  const crowd = [];
  const heard = new Map(); // seq -> count of subscribers that heard it, and when the last did
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const ws = new WebSocket(wsUrl, ["pvct.v1", key]);
    ws.addEventListener("message", (e) => {
      if (e.data === "pong") return;
      const m = JSON.parse(e.data);
      if (m.type !== "changed") return;
      const h = heard.get(m.seq) ?? { n: 0, first: Date.now(), last: 0 };
      h.n++;
      h.last = Date.now();
      heard.set(m.seq, h);
    });
    crowd.push(new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve);
      ws.addEventListener("error", reject);
    }));
    if (i % 100 === 99) await Promise.all(crowd.slice(i - 99));
  }
  await Promise.all(crowd);

  // The npm SDK, twice: long poll (Node 20's default) and WebSocket.
  const { PromptClient } = await import(path.join(root, "sdk-wasm/dist/node.mjs"));
  const observers = {
    "npm (long poll)": new PromptClient({ apiKey: key, baseUrl: w.url, cacheTtlMs: 600_000 }),
    "npm (WebSocket)": new PromptClient({ apiKey: key, baseUrl: w.url, cacheTtlMs: 600_000, WebSocket }),
  };
  const seen = Object.fromEntries(Object.keys(observers).map((k) => [k, new Map()])); // version flip index -> epoch ms
  for (const c of Object.values(observers)) await c.get("bot", { variables: { name: "x" } });
  let stopping = false;
  const watchers = Object.entries(observers).map(async ([name, c]) => {
    let last = 1;
    let flips = 0;
    while (!stopping) {
      const p = await c.get("bot", { variables: { name: "x" } });
      if (p.version !== last) {
        last = p.version;
        seen[name].set(++flips, Date.now());
      }
      await sleep(2);
    }
  });

  // The Python SDK in its own process: prints {"flip", "t"} per version change.
  const py = spawn(path.join(root, "target/py-venv/bin/python"), [path.join(root, "bench/live_python.py"), w.url, key], { stdio: ["pipe", "pipe", "inherit"] });
  children.push(py);
  seen["Python (long poll)"] = new Map();
  const lines = createInterface({ input: py.stdout });
  const pyReady = new Promise((resolve) => {
    lines.on("line", (line) => {
      const m = JSON.parse(line);
      if (m.ready) resolve();
      else seen["Python (long poll)"].set(m.flip, m.t);
    });
  });
  await pyReady;
  await sleep(500);

  const promoted = [];
  for (let k = 1; k <= CHANGES; k++) {
    const version = k % 2 === 1 ? 2 : 1;
    const r = await api.post("/v1/prompts/bot/promote", { version, environment: "production" });
    if (r.status !== 201) throw new Error(`promote: ${r.status} ${JSON.stringify(r.body)}`);
    promoted.push({ t: Date.now(), seq: r.body.seq });
    // Everyone has it before the next change, so each is measured alone.
    let all = false;
    for (let i = 0; i < 2000 && !all; i++) {
      all = Object.values(seen).every((m) => m.has(k)) && (heard.get(r.body.seq)?.n ?? 0) >= SUBSCRIBERS;
      if (!all) await sleep(2);
    }
    if (!all) {
      const missing = Object.entries(seen).filter(([, m]) => !m.has(k)).map(([n]) => n);
      console.error(`change ${k} (seq ${r.body.seq}): not seen by ${missing.join(", ") || "-"}; ${heard.get(r.body.seq)?.n ?? 0} subscribers heard it`);
    }
  }
  stopping = true;
  await Promise.all(watchers);

  out.sdks = {};
  for (const [name, m] of Object.entries(seen)) {
    // Clamped at 0: a change can reach an app before the 201 reaches the caller.
    const lat = promoted.map((p, i) => (m.has(i + 1) ? Math.max(0, m.get(i + 1) - p.t) : NaN)).filter((x) => !Number.isNaN(x));
    out.sdks[name] = { seen: lat.length, p50_ms: pct(lat, 50), p99_ms: pct(lat, 99), max_ms: Math.max(...lat) };
  }
  const full = promoted.map((p) => [p, heard.get(p.seq)]).filter(([, h]) => h && h.n >= SUBSCRIBERS);
  const fan = full.map(([p, h]) => Math.max(0, h.last - p.t));
  // From the first subscriber's message to the last's: how fast one hub sends.
  const spread = full.map(([, h]) => Math.max(1, h.last - h.first));
  out.hub = {
    subscribers: SUBSCRIBERS,
    changes_heard_by_all: full.length,
    all_heard_p50_ms: pct(fan, 50),
    all_heard_p99_ms: pct(fan, 99),
    spread_p50_ms: pct(spread, 50),
    messages_per_second: Math.round(SUBSCRIBERS / (pct(spread, 50) / 1000)),
  };
  for (const c of Object.values(observers)) c.close?.();
  console.log(JSON.stringify(out, null, 2));
} finally {
  for (const c of children) c.kill();
  await w.stop();
}
mkdirSync(path.join(root, "bench/out"), { recursive: true });
writeFileSync(path.join(root, "bench/out/live.json"), JSON.stringify(out, null, 2));
process.exit(0);
