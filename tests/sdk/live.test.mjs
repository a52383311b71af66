// Live updates in the npm package `pvct` (installed from its tarball) and
// `pvct watch`, against the real worker in workerd: a subscribed client
// serves a rollback long before its TTL (over a long poll, and over a
// WebSocket: undici's, passed in, as Node 20 has none of its own), keeps
// its subscription through a worker restart, falls back to TTL
// revalidation when a proxy refuses the live channel, and `live: false`
// sends no live request at all. The proxy is a stub in front of the worker
// (outside our system); nothing of our API is mocked.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { spawn } from "node:child_process";
import path from "node:path";
import { WebSocket } from "undici";
import { startWorker, newWorkspace, promptWithVersions } from "../e2e/harness.mjs";
import { installPackage } from "./package.mjs";

let w;
let pkg;
let pvct;
before(async () => {
  w = await startWorker();
  pkg = installPackage();
  pvct = await pkg.esm();
});
after(async () => {
  pkg?.remove();
  await w?.stop();
});

/** Far longer than any test runs: a change seen before it came over the live channel. */
const TEN_MINUTES = 10 * 60_000;

/** The two transports: long polls (`WebSocket: null`, whatever the runtime has) and undici's WebSocket. */
const TRANSPORTS = [
  { name: "long-poll", WebSocket: null },
  { name: "websocket", WebSocket },
];

/** Polls `check` every 25 ms until it holds; fails after `ms` (a hang guard, not a measurement). */
async function eventually(check, what, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A workspace whose `greeter` serves v2 in production (v1 before it: a rollback returns to v1). */
async function greeterWorkspace() {
  const ws = await newWorkspace(w);
  await promptWithVersions(ws.api, "greeter", ["Hello from v1", "Hello from v2", "Hello from v3"]);
  for (const version of [1, 2]) assert.equal((await ws.api.post("/v1/prompts/greeter/promote", { version, environment: "production" })).status, 201);
  return ws;
}

const text = async (client) => (await client.get("greeter")).text;

test("a subscribed client serves a rollback long before its TTL, over a long poll and over a WebSocket", async () => {
  const { api, key } = await greeterWorkspace();
  const errors = [];
  const clients = TRANSPORTS.map((t) => new pvct.PromptClient({ apiKey: key, baseUrl: w.url, cacheTtlMs: TEN_MINUTES, WebSocket: t.WebSocket, onError: (e) => errors.push(e) }));
  for (const [i, client] of clients.entries()) {
    assert.deepEqual(client.stats().live, { state: "off", transport: null, lastSeq: null, changes: 0, reconnects: 0, environments: {} }, "nothing is subscribed before a bundle is loaded");
    assert.equal(await text(client), "Hello from v2");
    await eventually(() => client.stats().live.state === "open", `the ${TRANSPORTS[i].name} channel to open`);
    assert.equal(client.stats().live.transport, TRANSPORTS[i].name);
  }
  assert.equal((await api.post("/v1/prompts/greeter/rollback", { environment: "production" })).status, 201);
  for (const client of clients) {
    // get keeps serving (v2, then v1) while the change is fetched in the background.
    await eventually(async () => (await text(client)) === "Hello from v1", "the rollback to be served");
    const live = client.stats().live;
    assert.equal(live.state, "open");
    assert.equal(live.lastSeq, 3, "promote, promote, rollback: release 3");
    assert.ok(live.changes >= 1);
    assert.equal(live.reconnects, 0);
    assert.deepEqual(live.environments, { production: { state: live.state, transport: live.transport, lastSeq: 3, changes: live.changes, reconnects: 0 } });
  }
  // A second environment gets its own channel; the top level stays the default environment's.
  await api.post("/v1/prompts/greeter/promote", { version: 3, environment: "staging" });
  const [poller] = clients;
  assert.equal((await poller.get("greeter", { environment: "staging" })).text, "Hello from v3");
  await eventually(() => poller.stats().live.environments.staging?.state === "open", "the staging channel");
  assert.equal(poller.stats().live.lastSeq, 3);
  await Promise.all(clients.map((c) => c.close()));
  for (const client of clients) assert.ok(Object.values(client.stats().live.environments).every((e) => e.state === "off"), "close stops the channels");
  assert.deepEqual(errors, []);
});

test("after the worker restarts, the channel reconnects and the next change is served", async () => {
  const { api, key } = await greeterWorkspace();
  const clients = TRANSPORTS.map((t) => new pvct.PromptClient({ apiKey: key, baseUrl: w.url, cacheTtlMs: TEN_MINUTES, WebSocket: t.WebSocket, onError: () => {} }));
  for (const client of clients) {
    assert.equal(await text(client), "Hello from v2");
    await eventually(() => client.stats().live.state === "open", "the channel to open");
  }
  await w.restart();
  for (const client of clients) {
    await eventually(() => client.stats().live.reconnects >= 1 && client.stats().live.state === "open", "the channel to reconnect");
  }
  await api.post("/v1/prompts/greeter/promote", { version: 3, environment: "production" });
  for (const client of clients) {
    await eventually(async () => (await text(client)) === "Hello from v3", "the change after the restart");
    assert.equal(client.stats().live.lastSeq, 3);
  }
  await Promise.all(clients.map((c) => c.close()));
});

/**
 * A proxy in front of the worker (outside our system) that refuses the live
 * channel with 403 when `refuse` is set: WebSocket upgrades, GET /v1/live and
 * long polls (bundle requests with wait=). It forwards everything else and
 * records every request.
 */
async function proxy({ refuse }) {
  const requests = [];
  const target = new URL(w.url);
  const refused = (url) => refuse && (url.pathname === "/v1/live" || (url.pathname === "/v1/bundle" && url.searchParams.has("wait")));
  const forbidden = JSON.stringify({ error: { code: "forbidden", message: "blocked by the proxy" } });
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://proxy");
    requests.push({ method: req.method, path: url.pathname, query: url.searchParams, upgrade: false });
    if (refused(url)) return res.writeHead(403, { "content-type": "application/json" }).end(forbidden);
    const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  server.on("upgrade", (req, socket) => {
    const url = new URL(req.url, "http://proxy");
    requests.push({ method: req.method, path: url.pathname, query: url.searchParams, upgrade: true });
    socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: ${forbidden.length}\r\nconnection: close\r\n\r\n${forbidden}`);
  });
  const sockets = new Set();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    live: () => requests.filter((r) => r.upgrade || r.path === "/v1/live" || r.query.has("wait")),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

test("a live channel refused by a proxy falls back to TTL revalidation: the client converges and says the channel is down", async () => {
  const { api, key } = await greeterWorkspace();
  const blocking = await proxy({ refuse: true });
  try {
    const errors = TRANSPORTS.map(() => []);
    const clients = TRANSPORTS.map((t, i) => new pvct.PromptClient({ apiKey: key, baseUrl: blocking.url, cacheTtlMs: 500, WebSocket: t.WebSocket, onError: (e) => errors[i].push(e) }));
    for (const client of clients) {
      assert.equal(await text(client), "Hello from v2");
      await eventually(() => client.stats().live.state === "down", "the channel to be refused");
    }
    await api.post("/v1/prompts/greeter/rollback", { environment: "production" });
    for (const [i, client] of clients.entries()) {
      await eventually(async () => (await text(client)) === "Hello from v1", "the TTL to pick up the rollback");
      const live = client.stats().live;
      assert.equal(live.state, "down");
      assert.equal(live.transport, TRANSPORTS[i].name, "a refusal (403) is not a reason to change transport");
      assert.equal(live.lastSeq, null);
      // Told once, with the proxy's code; not on every retry.
      assert.deepEqual(errors[i].map((e) => [e.code, e.details?.status]), [["forbidden", 403]]);
    }
    assert.ok(blocking.live().some((r) => r.upgrade), "the WebSocket was tried");
    assert.ok(blocking.live().some((r) => r.query.has("wait")), "the long poll was tried");
    await Promise.all(clients.map((c) => c.close()));
  } finally {
    await blocking.close();
  }
});

test("a client of some prompts fetches, compiles and follows only those", async () => {
  const { api, key } = await greeterWorkspace();
  await promptWithVersions(api, "other", ["Other v1"]);
  await api.post("/v1/prompts/other/promote", { version: 1, environment: "production" });
  const counting = await proxy({ refuse: false });
  try {
    for (const t of TRANSPORTS) {
      const client = new pvct.PromptClient({ apiKey: key, baseUrl: counting.url, cacheTtlMs: TEN_MINUTES, WebSocket: t.WebSocket, prompts: ["greeter"] });
      assert.equal(await text(client), "Hello from v2");
      await assert.rejects(client.get("other"), (e) => e.code === "not_deployed", "a prompt it did not ask for is not in its bundle");
      await eventually(() => client.stats().live.state === "open", "the channel to open");
      await api.post("/v1/prompts/greeter/rollback", { environment: "production" });
      await eventually(async () => (await text(client)) === "Hello from v1", `${t.name}: the rollback`);
      await api.post("/v1/prompts/greeter/promote", { version: 2, environment: "production" });
      await eventually(async () => (await text(client)) === "Hello from v2", `${t.name}: the promote back`);
      await client.close();
    }
    const bundles = counting.requests.filter((r) => r.path === "/v1/bundle");
    assert.ok(bundles.length > 0 && bundles.every((r) => r.query.get("prompts") === "greeter"), "every bundle request names its prompts");
  } finally {
    await counting.close();
  }
});

test("live: false sends no live request; the TTL alone revalidates", async () => {
  const { api, key } = await greeterWorkspace();
  const counting = await proxy({ refuse: false });
  try {
    const clients = TRANSPORTS.map((t) => new pvct.PromptClient({ apiKey: key, baseUrl: counting.url, cacheTtlMs: 300, live: false, WebSocket: t.WebSocket }));
    for (const client of clients) assert.equal(await text(client), "Hello from v2");
    await api.post("/v1/prompts/greeter/rollback", { environment: "production" });
    for (const client of clients) {
      await eventually(async () => (await text(client)) === "Hello from v1", "the TTL to pick up the rollback");
      assert.deepEqual(client.stats().live, { state: "off", transport: null, lastSeq: null, changes: 0, reconnects: 0, environments: {} });
    }
    assert.deepEqual(counting.live(), [], "no WebSocket, no /v1/live, no long poll");
    assert.ok(counting.requests.filter((r) => r.path === "/v1/bundle").length >= 4, "the bundles were fetched, and revalidated, through the proxy");
    await Promise.all(clients.map((c) => c.close()));
  } finally {
    await counting.close();
  }
});

test("a server that answers long polls at once (an older worker, a proxy) is not polled in a loop", async () => {
  // A stub outside our system: every bundle request answered at once, with the same bundle or a "new" one each time.
  const doc = (n) => ({ environment: "production", prompts: { p: { slug: "p", name: "P", kind: "text", environment: "production", version: n, version_id: `v${n}`,
    content: { text: `hi ${n}` }, model_params: {}, variables: { uses: [], declares: [] }, content_hash: `h${n}`, deployment_id: "d", deployed_at: "2026-01-01T00:00:00.000Z" } } });
  for (const fresh of [false, true]) {
    let n = 0;
    const polls = [];
    const server = http.createServer((req, res) => {
      if (req.url.includes("wait=")) polls.push(Date.now());
      n += fresh ? 1 : 0;
      res.writeHead(200, { "content-type": "application/json", etag: `"${n}"` }).end(JSON.stringify(doc(n)));
    });
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    const errors = [];
    const client = new pvct.PromptClient({ apiKey: "pvct_x", baseUrl: `http://127.0.0.1:${server.address().port}`, WebSocket: null, onError: (e) => errors.push(e.code) });
    try {
      await client.get("p");
      await new Promise((r) => setTimeout(r, 2000));
      // Without pacing this would be thousands.
      assert.ok(polls.length <= 8, `${polls.length} polls in 2 s (${fresh ? "a new bundle each time" : "the same bundle"})`);
      if (!fresh) {
        assert.equal(client.stats().live.state, "down");
        assert.deepEqual(errors, ["live_unavailable"]);
      }
    } finally {
      await client.close();
      server.closeAllConnections();
      server.close();
    }
  }
});

test("an idle subscribed client does not keep a Node process alive", async () => {
  const { key } = await greeterWorkspace();
  // A script that loads a bundle (subscribing), waits for the channel, and never closes the client.
  const script = `import { PromptClient } from "pvct";
import { WebSocket } from ${JSON.stringify(import.meta.resolve("undici"))};
const client = new PromptClient({ apiKey: process.env.KEY, baseUrl: process.env.BASE, WebSocket: process.env.TRANSPORT === "websocket" ? WebSocket : null });
await client.get("greeter");
const started = Date.now();
while (client.stats().live.state !== "open" && Date.now() - started < 5000) await new Promise((r) => setTimeout(r, 20));
console.log(client.stats().live.state, client.stats().live.transport);
`;
  const file = path.join(pkg.project, "idle.mjs");
  (await import("node:fs")).writeFileSync(file, script);
  for (const t of TRANSPORTS) {
    const child = spawn(process.execPath, [file], { cwd: pkg.project, env: { ...process.env, KEY: key, BASE: w.url, TRANSPORT: t.name } });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const code = await new Promise((resolve) => {
      const guard = setTimeout(() => child.kill("SIGKILL"), 10_000);
      child.on("close", (c) => {
        clearTimeout(guard);
        resolve(c);
      });
    });
    assert.equal(code, 0, `the process exited by itself (${t.name}): ${out}`);
    assert.equal(out.trim(), `open ${t.name}`);
  }
});

/** Runs `pvct watch` from the installed package until `stop`; its lines as they come. */
function watch(key, args, env = {}) {
  const child = spawn(path.join(pkg.project, "node_modules/.bin/pvct"), ["watch", ...args], {
    cwd: pkg.project,
    env: { ...process.env, PVCT_URL: w.url, PVCT_API_KEY: key, NO_COLOR: "1", ...env },
  });
  const lines = { out: [], err: [] };
  for (const [name, stream] of [["out", child.stdout], ["err", child.stderr]]) {
    let rest = "";
    stream.on("data", (d) => {
      const parts = (rest + d).split("\n");
      rest = parts.pop();
      lines[name].push(...parts);
    });
  }
  const exited = new Promise((resolve) => child.on("close", resolve));
  return { lines, exited, stop: () => (child.kill("SIGINT"), exited) };
}

const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ /;

test("pvct watch prints each change as it happens, and approval activity over a WebSocket; Ctrl-C exits 0", async () => {
  const { api, key } = await greeterWorkspace();
  await api.put("/v1/environments/staging", { policy: { requires_approval: true } });
  // The runtime's own transport (Node 20: long polls) in production; in staging a WebSocket
  // (Node 20 has one behind a flag, which the CLI uses when it is there).
  const hasWebSocket = typeof globalThis.WebSocket === "function";
  const flag = !hasWebSocket && process.allowedNodeEnvironmentFlags.has("--experimental-websocket");
  const runs = [
    { name: hasWebSocket ? "websocket" : "long poll", env: "production", proc: watch(key, ["--env", "production"]) },
    ...(hasWebSocket || flag
      ? [{ name: "websocket", env: "staging", proc: watch(key, ["--env", "staging"], flag ? { NODE_OPTIONS: "--experimental-websocket --no-warnings" } : {}) }]
      : []),
  ];
  try {
    for (const r of runs) await eventually(() => r.proc.lines.err.some((l) => l.startsWith(`pvct: watching ${r.env}`)), `${r.name} watch to start`);
    await api.post("/v1/prompts/greeter/rollback", { environment: "production" });
    const [first, socket] = runs;
    const change = await eventually(() => first.proc.lines.out.find((l) => LINE.test(l)), "the change line");
    assert.match(change, /^\S+ production seq 3 greeter$/);
    if (socket) {
      assert.match(socket.proc.lines.err.find((l) => l.startsWith("pvct: watching")), /websocket/);
      assert.equal((await api.post("/v1/prompts/greeter/promote", { version: 3, environment: "staging" })).status, 202);
      const activity = await eventually(() => socket.proc.lines.out.find((l) => LINE.test(l)), "the activity line");
      assert.match(activity, /^\S+ staging approval\.requested greeter$/);
    }
  } finally {
    for (const r of runs) assert.equal(await r.proc.stop(), 0, `${r.name}: Ctrl-C exits 0 (${r.proc.lines.err.join(" | ")})`);
  }
  // The usual exit codes before watching: an unknown environment, a bad key.
  assert.equal(await watch(key, ["--env", "nowhere"]).exited, 4);
  assert.equal(await watch(`pvct_${"0".repeat(48)}`, []).exited, 3);
});

test("tsc --strict accepts the live options and stats", async () => {
  const { writeFileSync } = await import("node:fs");
  const { execFileSync } = await import("node:child_process");
  const { root } = await import("../e2e/harness.mjs");
  const consumer = `import { PromptClient, type LiveStats } from "pvct";
const client = new PromptClient({ apiKey: "pvct_x", live: true, livePingMs: 10_000, WebSocket: globalThis.WebSocket });
const off = new PromptClient({ apiKey: "pvct_x", live: false, WebSocket: null });
const live: LiveStats = client.stats().live;
const state: "off" | "connecting" | "open" | "down" = live.state;
const seq: number | null = live.environments["production"]?.lastSeq ?? null;
export const summary = [state, live.transport, seq, live.changes, live.reconnects, off.stats().live.state];
`;
  writeFileSync(path.join(pkg.project, "tsconfig.json"), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", lib: ["es2022", "dom"] } }));
  writeFileSync(path.join(pkg.project, "consumer.ts"), consumer);
  execFileSync(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "-p", pkg.project], { stdio: "pipe" });
});
