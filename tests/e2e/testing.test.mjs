// Test suites per prompt, end to end on the real worker: suites are
// append-only revisions; runs grade a client's outputs at once or run each
// case on the workspace's provider (a local stub of an OpenAI-compatible
// endpoint, the one thing outside our system, which also plays the judge);
// runs compare case by case; and an environment can refuse promotion
// without a passing run of the current suite against that exact version.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startWorker, newWorkspace, promptWithVersions, until, newKey } from "./harness.mjs";

let w;
let llm;
const calls = [];

// The stub "model": answers from the rendered prompt, so a version's text
// decides whether its cases pass. As the judge (model "judge-1") it grades
// answers that mention a refund 0.9, others 0.1. "fail-once" prompts get a
// 503 the first time.
const failedOnce = new Set();
before(async () => {
  w = await startWorker();
  llm = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const parsed = JSON.parse(body);
      const text = parsed.messages.map((m) => m.content).join("\n");
      calls.push({ auth: req.headers.authorization, model: parsed.model, temperature: parsed.temperature, messages: parsed.messages });
      const reply = (content) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ choices: [{ message: { role: "assistant", content } }], usage: { prompt_tokens: 100, completion_tokens: 20 } }));
      };
      if (parsed.model === "judge-1") return reply(JSON.stringify({ score: /refund/i.test(text) ? 0.9 : 0.1 }));
      if (text.includes("fail-once") && !failedOnce.has(text)) {
        failedOnce.add(text);
        res.writeHead(503).end("busy");
        return;
      }
      // A version that says "be brief" answers briefly and forgets the refund.
      if (text.includes("be brief")) return reply("Sorry, no.");
      const question = /Question: (.*)/.exec(text)?.[1] ?? "";
      reply(JSON.stringify({ answer: `About "${question}": a refund within 30 days.` }));
    });
  });
  await new Promise((r) => llm.listen(0, "127.0.0.1", r));
});
after(async () => {
  llm?.close();
  await w?.stop();
});

const llmUrl = () => `http://127.0.0.1:${llm.address().port}/v1/chat/completions`;

const SUITE = {
  pass_threshold: 1,
  cases: [
    {
      name: "refund",
      variables: { question: "can I get my money back" },
      reference: "a refund within 30 days",
      assert: [
        { type: "contains", value: "refund" },
        { type: "not_contains", value: "sorry" },
        { type: "regex", pattern: "\\d+ days" },
        { type: "json_valid", schema: { type: "object", required: ["answer"] } },
        { type: "similarity", threshold: 0.3 },
        { type: "judge", criteria: "Does it answer the refund question?", threshold: 0.5 },
        { type: "max_latency_ms", value: 30000 },
      ],
    },
    { name: "shipping", variables: { question: "when does it ship" }, assert: [{ type: "contains", value: "ship" }] },
  ],
};

async function setup({ provider = true, judge = true } = {}) {
  const ws = await newWorkspace(w);
  const settings = {};
  if (provider) settings.provider = { url: llmUrl(), model: "house-model", api_key: `sk-${newKey()}` };
  if (judge) settings.judge = { url: llmUrl(), model: "judge-1" };
  if (provider || judge) assert.equal((await ws.api.put("/v1/settings", settings)).status, 200);
  await promptWithVersions(ws.api, "support", ["Answer as JSON. Question: {{question}}", "be brief. Question: {{question}}"]);
  return { ...ws, key: settings.provider?.api_key };
}

const finished = (api, id) =>
  until(async () => {
    const run = (await api.get(`/v1/prompts/support/test-runs/${id}`)).body;
    return run.status !== "running" && run;
  }, `test run ${id} to finish`);

test("suites are append-only revisions, validated, editor-written and reader-read", async () => {
  const { api } = await setup({ provider: false, judge: false });
  assert.deepEqual((await api.get("/v1/prompts/support/tests")).body.cases, []);
  const put = await api.put("/v1/prompts/support/tests", SUITE);
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.equal(put.body.revision, 1);
  assert.equal(put.body.cases[0].assert.length, 7);
  assert.equal((await api.put("/v1/prompts/support/tests", SUITE)).body.revision, 1, "the same suite writes nothing");
  const changed = await api.put("/v1/prompts/support/tests", { ...SUITE, pass_threshold: 0.5 });
  assert.equal(changed.body.revision, 2);
  assert.equal((await api.get("/v1/prompts/support/tests")).body.pass_threshold, 0.5);
  const bad = await api.put("/v1/prompts/support/tests", { cases: [{ name: "Bad Name", assert: [{ type: "contains", value: "x" }] }] });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.details.field, "name");
  const badAssert = await api.put("/v1/prompts/support/tests", { cases: [{ name: "a", assert: [{ type: "contains", value: "x", threshold: 2 }] }] });
  assert.equal(badAssert.body.error.details.field, "assert");
  assert.equal((await api.get("/v1/prompts/support/tests")).body.revision, 2, "refusals write nothing");
  const reader = w.client((await api.post("/v1/keys", { name: "r", role: "reader" })).body.key);
  assert.equal((await reader.get("/v1/prompts/support/tests")).status, 200);
  assert.equal((await reader.put("/v1/prompts/support/tests", SUITE)).status, 403);
  const audit = await api.get("/v1/audit?action=tests.put");
  assert.equal(audit.body.items.length, 2);
});

test("a client's outputs are graded at once; the judge's assertion is answered through the queue", async () => {
  const { api } = await setup({ provider: false });
  await api.put("/v1/prompts/support/tests", SUITE);
  assert.equal((await api.post("/v1/prompts/support/versions/1/test-runs", { outputs: [{ case: "nope", output: "x" }] })).status, 400);
  const res = await api.post("/v1/prompts/support/versions/1/test-runs", {
    outputs: [{ case: "refund", output: '{"answer": "a refund within 30 days"}', latency_ms: 800, cost_usd: 0.002 }],
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.body.mode, "client");
  assert.equal(res.body.total, 2);
  // shipping had no output: it fails at once; refund waits for the judge.
  assert.equal(res.body.failed, 1);
  const run = await finished(api, res.body.id);
  assert.equal(run.status, "failed");
  assert.deepEqual([run.passed, run.failed, run.pass_rate], [1, 1, 0.5]);
  const refund = run.results.find((r) => r.case === "refund");
  assert.equal(refund.passed, true);
  assert.equal(refund.assertions.find((a) => a.type === "judge").score, 0.9);
  assert.deepEqual([refund.latency_ms, refund.cost_usd], [800, 0.002]);
  const shipping = run.results.find((r) => r.case === "shipping");
  assert.deepEqual([shipping.passed, shipping.error], [false, "no output for this case"]);
  const list = await api.get("/v1/prompts/support/test-runs?version=1");
  assert.deepEqual(list.body.items.map((r) => r.id), [res.body.id]);
  assert.deepEqual((await api.get("/v1/prompts/support/test-runs?version=2")).body.items, []);
  assert.equal((await api.get("/v1/prompts/support/test-runs/nope")).status, 404);
});

test("a provider run renders each case, calls the workspace's provider with the version's parameters, and retries what failed", async () => {
  const { api, key } = await setup();
  await api.put("/v1/prompts/support/tests", {
    cases: [...SUITE.cases, { name: "flaky", variables: { question: "fail-once please" }, assert: [{ type: "contains", value: "refund" }] }],
  });
  const started = await api.post("/v1/prompts/support/versions/1/test-runs", {});
  assert.equal(started.status, 202, JSON.stringify(started.body));
  assert.equal(started.body.mode, "provider");
  const run = await finished(api, started.body.id);
  assert.equal(run.status, "passed", JSON.stringify(run.results, null, 1));
  assert.equal(run.pass_rate, 1);
  const refund = run.results.find((r) => r.case === "refund");
  assert.match(refund.output, /can I get my money back/);
  assert.ok(refund.latency_ms >= 0);
  const sent = calls.filter((c) => c.auth === `Bearer ${key}`);
  assert.ok(sent.length >= 4, "three cases, one of them asked twice after a 503");
  assert.ok(sent.every((c) => c.model === "house-model" && c.messages[0].role === "user"));
  assert.ok(sent.some((c) => c.messages[0].content === "Answer as JSON. Question: when does it ship"));
});

test("the test_run gate refuses a version without a passing run of the current suite, and compare shows the regression", async () => {
  const { api } = await setup();
  await api.put("/v1/prompts/support/tests", SUITE);
  assert.equal((await api.put("/v1/environments/staging", { policy: { requires_test_run: true } })).status, 200);
  const missing = await api.post("/v1/prompts/support/promote", { version: 1, environment: "staging" });
  assert.equal(missing.status, 422);
  assert.equal(missing.body.error.code, "gates_failed");
  assert.deepEqual(missing.body.error.details.failures.map((f) => [f.gate, f.measured]), [["test_run", null]]);

  const good = await finished(api, (await api.post("/v1/prompts/support/versions/1/test-runs", {})).body.id);
  const bad = await finished(api, (await api.post("/v1/prompts/support/versions/2/test-runs", {})).body.id);
  assert.deepEqual([good.status, bad.status], ["passed", "failed"]);

  assert.equal((await api.post("/v1/prompts/support/promote", { version: 1, environment: "staging" })).status, 201);
  const refused = await api.post("/v1/prompts/support/promote", { version: 2, environment: "staging" });
  assert.equal(refused.status, 422);
  const failure = refused.body.error.details.failures[0];
  assert.deepEqual([failure.gate, failure.measured, failure.threshold], ["test_run", bad.pass_rate, 1]);

  const cmp = await api.get(`/v1/prompts/support/test-runs/compare?a=${good.id}&b=${bad.id}`);
  assert.equal(cmp.status, 200);
  assert.deepEqual(cmp.body.cases.map((c) => [c.case, c.change]), [["refund", "regressed"], ["shipping", "regressed"]]);
  assert.ok(cmp.body.cases[0].diff.some((op) => op.op !== "equal"), JSON.stringify(cmp.body.cases[0].diff));
  assert.equal((await api.get(`/v1/prompts/support/test-runs/compare?a=${good.id}`)).status, 400);

  // A new suite revision needs a new run: the old pass no longer counts.
  await api.put("/v1/prompts/support/tests", { ...SUITE, pass_threshold: 0.5 });
  assert.equal((await api.put("/v1/environments/dev", { policy: { requires_test_run: true } })).status, 200);
  const stale = await api.post("/v1/prompts/support/promote", { version: 1, environment: "dev" });
  assert.equal(stale.status, 422);
  assert.equal(stale.body.error.details.failures[0].measured, null);
});

test("runs need a suite, and provider runs need a provider; nothing is written when refused", async () => {
  const { api } = await setup({ provider: false });
  const none = await api.post("/v1/prompts/support/versions/1/test-runs", {});
  assert.equal(none.status, 409);
  assert.equal(none.body.error.code, "no_test_suite");
  await api.put("/v1/prompts/support/tests", SUITE);
  const noProvider = await api.post("/v1/prompts/support/versions/1/test-runs", {});
  assert.equal(noProvider.status, 409);
  assert.equal(noProvider.body.error.code, "provider_not_configured");
  assert.equal((await api.post("/v1/prompts/support/versions/9/test-runs", {})).status, 404);
  assert.deepEqual((await api.get("/v1/prompts/support/test-runs")).body.items, []);
});

test("a suite with auto_run starts a provider run on every commit", async () => {
  const { api } = await setup();
  await api.put("/v1/prompts/support/tests", { ...SUITE, auto_run: true });
  const commit = await api.post("/v1/prompts/support/versions", { content: { text: "Answer as JSON, kindly. Question: {{question}}" }, parent_version: 2 });
  assert.equal(commit.status, 201);
  const runs = await until(async () => {
    const items = (await api.get("/v1/prompts/support/test-runs?version=3")).body.items;
    return items.length === 1 && items[0].status !== "running" && items;
  }, "the commit's test run");
  assert.equal(runs[0].mode, "provider");
  assert.equal(runs[0].status, "passed");
});

test("a client's outputs for a whole suite fit one request: 500 cases of 8,192 characters", async () => {
  const { api } = await setup({ provider: false, judge: false });
  const cases = Array.from({ length: 500 }, (_, i) => ({ name: `c${i}`, variables: { question: `q${i}` }, assert: [{ type: "contains", value: "ok" }] }));
  assert.equal((await api.put("/v1/prompts/support/tests", { cases })).status, 200);
  const outputs = cases.map((c, i) => ({ case: c.name, output: (i % 10 ? "ok " : "no ") + "é".repeat(8000), latency_ms: 10 }));
  const res = await api.post("/v1/prompts/support/versions/1/test-runs", { outputs });
  assert.equal(res.status, 201, JSON.stringify(res.body).slice(0, 300));
  assert.deepEqual([res.body.total, res.body.passed, res.body.failed, res.body.status], [500, 450, 50, "failed"]);
  const run = (await api.get(`/v1/prompts/support/test-runs/${res.body.id}`)).body;
  assert.equal(run.results.find((r) => r.case === "c1").output.length, 8003);
});

test("an approval shows the latest test run of the version it asks for", async () => {
  const { api } = await setup({ provider: false, judge: false });
  await api.put("/v1/prompts/support/tests", { cases: [{ name: "a", assert: [{ type: "contains", value: "ok" }] }] });
  const first = (await api.post("/v1/prompts/support/versions/1/test-runs", { outputs: [{ case: "a", output: "no" }] })).body;
  const second = (await api.post("/v1/prompts/support/versions/1/test-runs", { outputs: [{ case: "a", output: "ok" }] })).body;
  assert.deepEqual([first.status, second.status], ["failed", "passed"]);
  assert.equal((await api.put("/v1/environments/production", { policy: { requires_approval: true } })).status, 200);
  const pending = await api.post("/v1/prompts/support/promote", { version: 1, environment: "production" });
  assert.equal(pending.status, 202);
  const approval = (await api.get("/v1/approvals?status=pending")).body.items.find((a) => a.id === pending.body.approval_id);
  assert.deepEqual(approval.test_runs, [{ version: 1, run_id: second.id, status: "passed", pass_rate: 1 }]);
  // A version never run shows nothing.
  const other = await api.post("/v1/prompts/support/promote", { version: 2, environment: "production" });
  const asked = (await api.get("/v1/approvals?status=pending")).body.items.find((a) => a.id === other.body.approval_id);
  assert.deepEqual(asked.test_runs, []);
});

test("the test_run gate holds for splits and for Langfuse label moves too", async () => {
  const { api } = await setup({ provider: false, judge: false });
  await api.put("/v1/prompts/support/tests", { cases: [{ name: "a", assert: [{ type: "contains", value: "ok" }] }] });
  assert.equal((await api.post("/v1/prompts/support/versions/1/test-runs", { outputs: [{ case: "a", output: "ok" }] })).body.status, "passed");
  assert.equal((await api.put("/v1/environments/staging", { policy: { requires_test_run: true } })).status, 200);
  assert.equal((await api.post("/v1/prompts/support/promote", { version: 1, environment: "staging" })).status, 201);
  // A split with the untested v2 is refused, naming v2.
  const split = await api.put("/v1/prompts/support/experiments/staging", { variants: [{ version: 1, weight: 50 }, { version: 2, weight: 50 }] });
  assert.equal(split.status, 422);
  assert.equal(split.body.error.code, "gates_failed");
  assert.ok(JSON.stringify(split.body.error.details).includes("test_run"));
  // Langfuse's clients move labels through the same release pipeline.
  const key = (await api.post("/v1/keys", { name: "lf", role: "editor" })).body;
  const basic = `Basic ${Buffer.from(`${key.public_key}:${key.key}`).toString("base64")}`;
  const moved = await w.client().call("PATCH", "/api/public/v2/prompts/support/versions/2", { newLabels: ["staging"] }, { authorization: basic });
  assert.equal(moved.status, 422, JSON.stringify(moved.body));
  assert.equal(moved.body.code, "gates_failed");
  const live = (await api.get("/v1/prompts/support")).body;
  assert.equal(JSON.stringify(live).includes('"staging"'), true);
  assert.equal((await api.get("/v1/resolve/support?environment=staging")).body.version, 1, "staging still serves v1");
});

test("a provider run whose provider never answers ends failed after its retries instead of waiting for ever", async () => {
  const { api } = await setup({ judge: false });
  await api.put("/v1/prompts/support/tests", { cases: [{ name: "down", variables: { question: "fail-always" }, assert: [{ type: "contains", value: "x" }] }] });
  // Point the provider at a port that refuses connections: every call fails, as a long outage would.
  assert.equal((await api.put("/v1/settings", { provider: { url: "http://127.0.0.1:9/v1/chat/completions", model: "m" } })).status, 200);
  const started = await api.post("/v1/prompts/support/versions/1/test-runs", {});
  assert.equal(started.status, 202);
  const run = await until(async () => {
    const r = (await api.get(`/v1/prompts/support/test-runs/${started.body.id}`)).body;
    return r.status !== "running" && r;
  }, "the run to give up", 1200);
  assert.equal(run.status, "failed");
  assert.match(run.results[0].error, /gave up after 6 attempts/);
  const letters = (await api.get("/v1/dead-letters")).body.items;
  assert.deepEqual(letters.map((l) => l.kind), ["test_cases"]);
});
