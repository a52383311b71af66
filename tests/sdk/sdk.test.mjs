// The npm package `pvct` as a user installs it (npm pack → npm install),
// against the real worker in workerd with real local D1, KV and Queue:
// the bundle and its ETag, routing identical to the worker's resolve,
// rendering identical to the worker's render, logging reaching the
// metrics, and the outage behaviour.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { Miniflare } from "miniflare";
import path from "node:path";
import { startWorker, newWorkspace, promptWithVersions, metricsWhen, versionIds, root } from "../e2e/harness.mjs";
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

/** A workspace with a chat prompt live in production and an experiment over three versions. */
async function experimentWorkspace() {
  const ws = await newWorkspace(w);
  const { api } = ws;
  await api.post("/v1/prompts", { slug: "support", name: "Support", kind: "chat" });
  let parent = null;
  for (const tone of ["kind", "brief", "formal"]) {
    const res = await api.post("/v1/prompts/support/versions", {
      parent_version: parent,
      message: tone,
      content: {
        messages: [
          { role: "system", content: `You are a ${tone} agent for {{company}}.` },
          { role: "placeholder", name: "history" },
          { role: "user", content: "{{question}}" },
        ],
      },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    parent = res.body.version.number;
  }
  assert.equal((await api.post("/v1/prompts/support/promote", { version: 1, environment: "production" })).status, 201);
  const exp = await api.put("/v1/prompts/support/experiments/production", {
    name: "tone",
    variants: [{ version: 1, weight: 50 }, { version: 2, weight: 30 }, { version: 3, weight: 20 }],
  });
  assert.equal(exp.status, 201, JSON.stringify(exp.body));
  return ws;
}

test("the package installs from its tarball with no runtime dependencies and loads as ESM and CommonJS", async () => {
  assert.deepEqual(pkg.installed.filter((n) => !n.startsWith(".")), ["pvct"], "nothing but pvct is installed");
  const files = pkg.packed.files.map((f) => f.path).sort();
  for (const f of ["dist/pvct_bg.wasm", "dist/pvct_diff_bg.wasm", "dist/node.mjs", "dist/node.cjs", "dist/workerd.mjs", "dist/browser.mjs", "dist/index.d.ts", "package.json"]) {
    assert.ok(files.includes(f), `${f} is packed`);
  }
  assert.ok(!files.some((f) => f.startsWith("src/") || f.endsWith(".rs")), "no Rust sources in the package");
  const cjs = pkg.cjs();
  for (const mod of [pvct, cjs]) {
    assert.equal(typeof mod.PromptClient, "function");
    assert.deepEqual(mod.diffWords("a quick fox", "a slow fox").filter((o) => o.op !== "equal").map((o) => o.text), ["quick", "slow"]);
  }
});

test("the WASM apps load (routing and rendering) stays under 80 KiB gzipped", () => {
  const dist = path.join(root, "sdk-wasm/dist");
  const gz = gzipSync(readFileSync(path.join(dist, "pvct_bg.wasm")), { level: 9 }).length;
  assert.ok(gz < 80 * 1024, `pvct_bg.wasm is ${gz} bytes gzipped`);
});

test("the shared routing vectors hold in the package", () => {
  const { vectors } = JSON.parse(readFileSync(path.join(root, "tests/vectors/routing.json"), "utf8"));
  for (const v of vectors) assert.equal(pvct.bucket(v.seed, v.key), v.n, `${v.seed}/${v.key}`);
});

test("the shared rendering cases render in the package as in the core", async () => {
  const { cases } = JSON.parse(readFileSync(path.join(root, "tests/vectors/rendering.json"), "utf8"));
  for (const c of cases) {
    // Each case as a one-prompt bundle, served from the fallback (no worker at this address).
    const bundle = {
      environment: "production",
      prompts: { p: { slug: "p", name: "P", kind: c.kind, environment: "production", version: 1, version_id: "v1", content: c.content,
        model_params: {}, variables: { uses: c.uses, declares: c.declares }, content_hash: "h", deployment_id: "d", deployed_at: "2026-01-01T00:00:00.000Z" } },
    };
    const client = new pvct.PromptClient({ apiKey: "pvct_x", baseUrl: "http://127.0.0.1:9", timeoutMs: 200, fallback: bundle, onError: () => {} });
    const options = { variables: c.variables, strict: c.strict, ...(c.history === null ? {} : { history: c.history }) };
    let outcome;
    try {
      const p = await client.get("p", options);
      outcome = c.kind === "chat" ? { messages: p.messages } : { text: p.text };
    } catch (e) {
      outcome = { error: e.code };
    }
    assert.deepEqual(outcome, c.expected, c.name);
    await client.close();
  }
});

test("1,000 users are routed to the same version as the worker's resolve, and rendered the same", async () => {
  const { api, key } = await experimentWorkspace();
  const client = new pvct.PromptClient({ apiKey: key, baseUrl: w.url, environment: "production" });
  const variables = { company: "Acme", question: "Where is my order?" };
  const history = [{ role: "user", content: "hi {{not a variable}}" }, { role: "assistant", content: "Hello!" }];
  const seen = new Set();
  for (let i = 0; i < 1000; i++) {
    const userKey = `user-${i}`;
    const local = await client.get("support", { userKey, variables, history });
    const edge = await api.get(`/v1/resolve/support?environment=production&user_key=${userKey}`);
    assert.equal(local.version, edge.body.version, userKey);
    assert.equal(local.versionId, edge.body.version_id);
    assert.equal(local.variant, edge.body.variant);
    assert.equal(local.experimentId, edge.body.experiment_id);
    const routed = client.route("support", { userKey });
    assert.equal(routed.versionId, local.versionId);
    seen.add(local.version);
    if (i % 50 === 0) {
      const rendered = await api.post("/v1/prompts/support/render", { environment: "production", user_key: userKey, variables, history });
      assert.equal(rendered.status, 200);
      assert.deepEqual(local.messages, rendered.body.rendered.messages);
      assert.equal(rendered.body.version, local.version);
    }
  }
  assert.deepEqual([...seen].sort(), [1, 2, 3], "every variant serves someone");
  assert.equal(client.stats().bundleFetches, 1, "one bundle fetch served all 1,000 gets");
  // The same errors, with the same codes, as the worker's render.
  const local = await client.get("support", { userKey: "u" });
  assert.equal(local.messages, null, "not rendered without variables");
  assert.throws(() => local.render({ company: "Acme" }), (e) => e.code === "missing_variables");
  const edge = await api.post("/v1/prompts/support/render", { environment: "production", user_key: "u", variables: { company: "Acme" } });
  assert.equal(edge.body.error.code, "missing_variables");
  assert.throws(() => local.render({ ...variables, extra: 1 }), (e) => e.code === "unknown_variables");
  await assert.rejects(client.get("nope"), (e) => e.code === "not_deployed");
  await client.close();
});

test("the bundle is revalidated with its ETag, and refresh picks up a promotion", async () => {
  const { api, key } = await newWorkspace(w);
  await promptWithVersions(api, "greet", ["Hello {{name}}", "Hi {{name}}!"]);
  await api.post("/v1/prompts/greet/promote", { version: 1, environment: "production" });
  const client = new pvct.PromptClient({ apiKey: key, baseUrl: w.url, cacheTtlMs: 0 });
  const first = await client.get("greet", { variables: { name: "Ada" } });
  assert.equal(first.text, "Hello Ada");
  assert.equal(first.render({ name: "Bo" }), "Hello Bo");
  await client.refresh();
  assert.equal(client.stats().notModified, 1, "an unchanged bundle answers 304");
  await api.post("/v1/prompts/greet/promote", { version: 2, environment: "production" });
  await client.refresh();
  assert.equal((await client.get("greet", { variables: { name: "Ada" } })).text, "Hi Ada!");
  // A prompt deployed after the bundle was fetched is found without waiting for the TTL.
  await promptWithVersions(api, "late", ["Late {{name}}"]);
  const patient = new pvct.PromptClient({ apiKey: key, baseUrl: w.url });
  await patient.get("greet", { variables: { name: "x" } });
  await new Promise((r) => setTimeout(r, 1100));
  await api.post("/v1/prompts/late/promote", { version: 1, environment: "production" });
  assert.equal((await patient.get("late", { variables: { name: "Ada" } })).text, "Late Ada");
  await assert.rejects(patient.get("never-deployed"), (e) => e.code === "not_deployed");
  await patient.close();
  // Concurrent misses share one request.
  const fresh = new pvct.PromptClient({ apiKey: key, baseUrl: w.url });
  await Promise.all(Array.from({ length: 20 }, () => fresh.get("greet", { variables: { name: "x" } })));
  assert.equal(fresh.stats().bundleFetches, 1);
  // Warm, getSync needs no await at all.
  assert.equal(fresh.getSync("greet", { variables: { name: "Cy" } }).text, "Hi Cy!");
  assert.throws(() => new pvct.PromptClient({ apiKey: key, baseUrl: w.url }).getSync("greet"), (e) => e.code === "not_loaded");
  await Promise.all([client.close(), fresh.close()]);
});

test("logs are batched to the executions endpoint and reach the metrics; feedback too", async () => {
  const { api, key } = await newWorkspace(w);
  await promptWithVersions(api, "logged", ["Say {{x}}"]);
  await api.post("/v1/prompts/logged/promote", { version: 1, environment: "production" });
  const errors = [];
  const client = new pvct.PromptClient({ apiKey: key, baseUrl: w.url, maxBatchSize: 40, onError: (e) => errors.push(e) });
  const prompt = await client.get("logged", { variables: { x: "hi" } });
  const ids = [];
  for (let i = 0; i < 100; i++) {
    ids.push(client.log({ prompt, latencyMs: 10 + i, tokensIn: 5, tokensOut: 7, score: 1, output: "ok", ...(i < 10 ? { error: new Error("boom") } : {}) }));
  }
  assert.equal(new Set(ids).size, 100, "log returns a fresh id at once");
  // Executions this client logged: their id is enough (it remembers their version and environment).
  client.feedback(ids[0], 1);
  client.feedback(ids[1], -1, "too long");
  await client.flush();
  assert.deepEqual(errors, []);
  assert.equal(client.stats().sent, 100);
  assert.equal(client.stats().feedbackSent, 2);
  const body = await metricsWhen(api, "logged", (items) => items[0]?.metrics.calls === 100 && items[0].metrics.feedback_up === 1);
  const m = body.items[0].metrics;
  assert.equal(m.errors, 10);
  assert.equal(m.tokens_out, 700);
  assert.equal(m.feedback_down, 1);
  // A record the server refuses is reported, never thrown.
  client.log({ promptVersionId: "no-such-version", latencyMs: 1 });
  client.log({ latencyMs: 1 });
  await client.flush();
  assert.equal(client.stats().rejected, 1);
  assert.ok(errors.length >= 2);
  await client.close();
});

test("feedback from a client that never logged the execution names its version: the prompt get returned, or promptVersionId and environment", async () => {
  const { api, key } = await newWorkspace(w);
  await promptWithVersions(api, "rated", ["One {{x}}", "Two {{x}}"]);
  await api.post("/v1/prompts/rated/promote", { version: 1, environment: "production" });
  const v = await versionIds(api, "rated");
  // One process logs (version 1 as get serves it, version 2 by id)...
  const logger = new pvct.PromptClient({ apiKey: key, baseUrl: w.url });
  const prompt = await logger.get("rated", { variables: { x: "a" } });
  const one = [0, 1, 2].map(() => logger.log({ prompt, latencyMs: 5 }));
  const two = [0, 1].map(() => logger.log({ promptVersionId: v[2], environment: "production", latencyMs: 5 }));
  await logger.close();
  assert.equal(logger.stats().sent, 5);
  // ...another takes the thumbs: it never saw those executions.
  const errors = [];
  const rater = new pvct.PromptClient({ apiKey: key, baseUrl: w.url, onError: (e) => errors.push(e) });
  const served = await rater.get("rated", { variables: { x: "b" } });
  rater.feedback(one[0], 1, { prompt: served });
  rater.feedback(one[1], -1, { prompt: served, comment: "off topic" });
  rater.feedback(two[0], 1, { promptVersionId: v[2], environment: "production" });
  rater.feedback(two[1], 1, { promptVersionId: v[2] }); // the client's environment
  // Named nowhere and not logged here: reported, not sent.
  rater.feedback(one[2], 1);
  rater.feedback(one[2], 1, "a comment alone names no version");
  assert.deepEqual(errors.map((e) => [e.code, e.details?.field]), [["invalid_field", "prompt_version_id"], ["invalid_field", "prompt_version_id"]]);
  assert.match(errors[0].message, /prompt get returned.*promptVersionId and environment.*log the execution through this client/);
  // An environment the workspace does not have: the API's refusal reaches onError with the field it names.
  rater.feedback(one[2], 1, { prompt: served, environment: "nowhere" });
  await rater.flush();
  assert.equal(rater.stats().feedbackSent, 4);
  assert.equal(rater.stats().rejected, 1);
  assert.deepEqual([errors[2]?.code, errors[2]?.details?.field, errors[2]?.details?.status], ["invalid_field", "environment", 400]);
  assert.equal(errors.length, 3);
  const body = await metricsWhen(api, "rated", (items) => {
    const m1 = items.find((i) => i.version === 1)?.metrics;
    const m2 = items.find((i) => i.version === 2)?.metrics;
    return m1?.feedback_up + m1?.feedback_down === 2 && m2?.feedback_up === 2;
  });
  const m1 = body.items.find((i) => i.version === 1).metrics;
  assert.deepEqual([m1.calls, m1.feedback_up, m1.feedback_down], [3, 1, 1]);
  const m2 = body.items.find((i) => i.version === 2).metrics;
  assert.deepEqual([m2.calls, m2.feedback_up, m2.feedback_down], [2, 2, 0]);
  await rater.close();
});

test("feedback without a version is reported and never sent; the client remembers the 10,000 executions it logged last, and named values win", async () => {
  const requests = [];
  const fetch = async (url, init) => {
    const body = JSON.parse(init.body);
    requests.push({ path: new URL(url).pathname, body });
    const answer = body.executions ? { accepted: body.executions.length, rejected: [] } : { accepted: true, execution_id: body.execution_id };
    return new Response(JSON.stringify(answer), { status: 202, headers: { "content-type": "application/json" } });
  };
  const errors = [];
  const client = new pvct.PromptClient({ apiKey: "pvct_x", baseUrl: "http://127.0.0.1:9", fetch, flushIntervalMs: 3_600_000, maxBatchSize: 1000, maxBufferSize: 20_000, onError: (e) => errors.push(e) });
  client.feedback("elsewhere", 1);
  client.feedback("elsewhere", -1, "a comment");
  client.feedback("elsewhere", -1, { comment: "still no version", environment: "production" });
  assert.deepEqual(errors.map((e) => [e instanceof pvct.PvctError, e.code, e.details?.field]), Array(3).fill([true, "invalid_field", "prompt_version_id"]));
  assert.equal(client.stats().buffered, 0);
  await client.flush();
  assert.equal(requests.length, 0, "nothing was sent");

  errors.length = 0;
  const ids = [];
  for (let i = 0; i < 10_001; i++) ids.push(client.log({ promptVersionId: `v${i % 3}`, environment: "staging", latencyMs: 1 }));
  client.feedback(ids[0], 1); // the oldest of 10,001: forgotten
  client.feedback(ids[1], -1, "second");
  client.feedback(ids[10_000], 1);
  client.feedback(ids[2], 1, { promptVersionId: "named", environment: "production", comment: "named wins" });
  client.feedback(ids[0], 1, { promptVersionId: "v0", environment: "staging" });
  client.feedback("elsewhere", -1, { prompt: { versionId: "pv", environment: "development" } });
  client.feedback("elsewhere-2", 1, { promptVersionId: "pv2" });
  await client.flush();
  assert.deepEqual(errors.map((e) => [e.code, e.details?.field, e.details?.executionId]), [["invalid_field", "prompt_version_id", ids[0]]]);
  assert.equal(client.stats().sent, 10_001);
  assert.equal(client.stats().feedbackSent, 6);
  assert.deepEqual(requests.filter((r) => r.path === "/v1/feedback").map((r) => r.body), [
    { execution_id: ids[1], value: -1, comment: "second", prompt_version_id: "v1", environment: "staging" },
    { execution_id: ids[10_000], value: 1, prompt_version_id: "v1", environment: "staging" },
    { execution_id: ids[2], value: 1, comment: "named wins", prompt_version_id: "named", environment: "production" },
    { execution_id: ids[0], value: 1, prompt_version_id: "v0", environment: "staging" },
    { execution_id: "elsewhere", value: -1, prompt_version_id: "pv", environment: "development" },
    { execution_id: "elsewhere-2", value: 1, prompt_version_id: "pv2", environment: "production" },
  ]);
  await client.close();
});

test("with the worker down, warm clients keep serving and telemetry never throws; a fallback covers a cold start", async () => {
  const down = await startWorker();
  const { api, key } = await newWorkspace(down);
  await promptWithVersions(api, "steady", ["Stay {{mood}}"]);
  await api.post("/v1/prompts/steady/promote", { version: 1, environment: "production" });
  const bundle = (await api.get("/v1/bundle?environment=production")).body;
  const errors = [];
  const client = new pvct.PromptClient({ apiKey: key, baseUrl: down.url, cacheTtlMs: 20, timeoutMs: 500, maxRetries: 1, maxBufferSize: 50, onError: (e) => errors.push(e) });
  assert.equal((await client.get("steady", { variables: { mood: "calm" } })).text, "Stay calm");
  await down.stop();
  await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 5; i++) {
    const p = await client.get("steady", { variables: { mood: "calm" } });
    assert.equal(p.text, "Stay calm", "stale-if-error");
    await new Promise((r) => setTimeout(r, 30));
  }
  for (let i = 0; i < 200; i++) client.log({ promptVersionId: "v", latencyMs: 1 });
  assert.ok(client.stats().buffered <= 50, "the buffer is bounded");
  await client.flush();
  const stats = client.stats();
  assert.ok(stats.dropped >= 150, `drops are counted (${stats.dropped})`);
  assert.equal(stats.sent, 0);
  assert.ok(errors.some((e) => e.code === "network"), "the outage is reported to onError");
  await client.close();

  // Cold start while down: the fallback (an object, or a JSON file in Node) serves.
  const file = path.join(pkg.dir, "fallback.json");
  writeFileSync(file, JSON.stringify(bundle));
  for (const fallback of [bundle, file]) {
    const cold = new pvct.PromptClient({ apiKey: key, baseUrl: down.url, timeoutMs: 500, fallback, onError: () => {} });
    // Concurrent cold starts share one bundle fetch and one fallback.
    const all = await Promise.all(Array.from({ length: 10 }, () => cold.get("steady", { variables: { mood: "fine" } })));
    assert.ok(all.every((x) => x.text === "Stay fine" && x.source === "fallback"));
    assert.equal(cold.stats().bundleFetches, 1);
    const p = await cold.get("steady", { variables: { mood: "fine" } });
    assert.equal(p.text, "Stay fine");
    assert.equal(p.source, "fallback");
    await cold.close();
  }
  const none = new pvct.PromptClient({ apiKey: key, baseUrl: down.url, timeoutMs: 500 });
  await assert.rejects(none.get("steady"), (e) => e instanceof pvct.PvctError && e.code === "network");
});

test("a slow server (answers that never come) times out: get keeps serving, logging never throws, memory stays bounded", async () => {
  const { api, key } = await newWorkspace(w);
  await promptWithVersions(api, "patient", ["Wait {{x}}"]);
  await api.post("/v1/prompts/patient/promote", { version: 1, environment: "production" });
  const bundle = (await api.get("/v1/bundle?environment=production")).body;
  // Accepts connections and never answers (outside our system: a stuck network path).
  const sockets = new Set();
  const stuck = http.createServer(() => {});
  stuck.on("connection", (s) => sockets.add(s));
  await new Promise((r) => stuck.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${stuck.address().port}`;
  const errors = [];
  try {
    // Cold start: the fallback serves once the bundle request times out.
    const cold = new pvct.PromptClient({ apiKey: key, baseUrl: url, timeoutMs: 150, cacheTtlMs: 50, maxRetries: 1, maxBufferSize: 100, fallback: bundle, onError: (e) => errors.push(e) });
    const started = Date.now();
    assert.equal((await cold.get("patient", { variables: { x: "a" } })).text, "Wait a");
    assert.ok(Date.now() - started < 5000, "the timeout bounds the cold start");
    // Warm and stale: the background refresh hangs; calls keep serving at once.
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 20; i++) assert.equal(cold.getSync("patient", { variables: { x: "b" } }).text, "Wait b");
    for (let i = 0; i < 1000; i++) cold.log({ promptVersionId: bundle.prompts.patient.version_id, latencyMs: 1 });
    assert.ok(cold.stats().buffered <= 100, "the buffer stays bounded while sends hang");
    await cold.flush();
    const stats = cold.stats();
    assert.equal(stats.sent, 0);
    assert.ok(stats.dropped >= 900, `drops are counted (${stats.dropped})`);
    assert.ok(errors.length > 0 && errors.every((e) => e instanceof pvct.PvctError));
    await cold.close();
  } finally {
    for (const s of sockets) s.destroy();
    stuck.close();
  }
});

test("in Cloudflare Workers: a worker bundled by wrangler from the package routes and renders locally", async () => {
  const { api, key } = await experimentWorkspace();
  const app = path.join(pkg.project, "edge");
  mkdirSync(app, { recursive: true });
  writeFileSync(path.join(app, "worker.mjs"), `import { PromptClient, diffWords } from "pvct";
export default {
  async fetch(req, env) {
    const u = new URL(req.url);
    const client = new PromptClient({ apiKey: env.KEY, baseUrl: env.BASE });
    const user = u.searchParams.get("user");
    const p = await client.get("support", { userKey: user, variables: { company: "Acme", question: "Hi?" } });
    return Response.json({ version: p.version, messages: p.messages, diff: diffWords("a b", "a c") });
  },
};
`);
  writeFileSync(path.join(app, "wrangler.toml"), 'name = "sdk-edge"\nmain = "worker.mjs"\ncompatibility_date = "2026-04-01"\n');
  execFileSync(path.join(root, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", "out"], {
    cwd: app, stdio: "pipe", env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  // The files wrangler would upload, given to workerd as they are.
  const out = path.join(app, "out");
  const modules = readdirSync(out)
    .filter((f) => f.endsWith(".js") || f.endsWith(".wasm"))
    .sort((a, b) => Number(b === "worker.js") - Number(a === "worker.js"))
    .map((f) => ({ type: f.endsWith(".js") ? "ESModule" : "CompiledWasm", path: f, contents: readFileSync(path.join(out, f)) }));
  const edge = new Miniflare({
    modules,
    compatibilityDate: "2026-04-01",
    bindings: { KEY: key, BASE: w.url },
  });
  try {
    for (const user of ["a", "b", "c", "d", "e"]) {
      const body = await (await edge.dispatchFetch(`http://edge/?user=${user}`)).json();
      const expected = (await api.get(`/v1/resolve/support?environment=production&user_key=${user}`)).body;
      assert.equal(body.version, expected.version);
      assert.equal(body.messages[0].content.endsWith("agent for Acme."), true);
      assert.deepEqual(body.diff.map((o) => o.op), ["equal", "delete", "insert"]);
    }
  } finally {
    await edge.dispose();
  }
});

test("tsc --strict accepts a consumer of the package's types and refuses misuse", () => {
  const consumer = `import { PromptClient, diffWords, PvctError, type Prompt } from "pvct";
const client = new PromptClient({ apiKey: "pvct_x", baseUrl: "http://127.0.0.1:8787", cacheTtlMs: 1000, onError: (e: PvctError) => console.log(e.code) });
export async function run(): Promise<string | null> {
  const p: Prompt = await client.get("support", { userKey: "u1", variables: { q: "hi" } });
  const id: string = client.log({ prompt: p, latencyMs: 12, tokensIn: 1, tokensOut: 2 });
  client.feedback(id, 1);
  client.feedback(id, -1, "too long");
  client.feedback("logged-elsewhere", 1, { prompt: p, comment: "great" });
  client.feedback("logged-elsewhere", -1, { promptVersionId: p.versionId, environment: "production" });
  await client.flush();
  const ops = diffWords("a", "b");
  return ops[0].op === "insert" ? p.text : p.userTemplate;
}
`;
  const tsconfig = { compilerOptions: { strict: true, noEmit: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", skipLibCheck: false } };
  writeFileSync(path.join(pkg.project, "tsconfig.json"), JSON.stringify(tsconfig));
  writeFileSync(path.join(pkg.project, "consumer.ts"), consumer);
  const tsc = path.join(root, "node_modules/typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", pkg.project], { stdio: "pipe" });
  for (const [misuse, why] of [
    ['client.feedback("id", 2);', "feedback takes only +1 or -1"],
    ['client.feedback("id", 1, { promptVersion: "v" });', "feedback options are named as declared"],
    ['client.feedback("id", 1, 42);', "the third argument is a comment or options"],
  ]) {
    writeFileSync(path.join(pkg.project, "consumer.ts"), `${consumer}\n${misuse}\n`);
    assert.throws(() => execFileSync(process.execPath, [tsc, "-p", pkg.project], { stdio: "pipe" }), why);
  }
});
