// Evaluators as queue jobs: deterministic checks and an LLM judge (a local
// stub of an OpenAI-compatible endpoint, the one thing outside our system)
// score stored executions; scores land in the rollups once, per evaluator
// and overall. Workspace settings hold the judge (key write-only) and the
// retention the daily cron applies.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startWorker, newWorkspace, promptWithVersions, versionIds, metricsWhen, rawRecords, newKey } from "./harness.mjs";

let w;
let judge;
const judged = [];
// Outputs whose first judge call fails with a 503 (then succeeds).
const flaky = new Set(["thank you helpful"]);

before(async () => {
  w = await startWorker();
  judge = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const parsed = JSON.parse(body);
      const user = parsed.messages[1].content;
      judged.push({ auth: req.headers.authorization, model: parsed.model, system: parsed.messages[0].content, user });
      const id = [...flaky].find((f) => user.includes(f));
      if (id) {
        flaky.delete(id);
        res.writeHead(503).end("busy");
        return;
      }
      // The stub grades "helpful" outputs 0.9 and the rest 0.2.
      const score = user.includes("helpful") ? 0.9 : 0.2;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ choices: [{ message: { role: "assistant", content: JSON.stringify({ score }) } }] }));
    });
  });
  await new Promise((r) => judge.listen(0, "127.0.0.1", r));
});
after(async () => {
  judge?.close();
  await w?.stop();
});

const judgeUrl = () => `http://127.0.0.1:${judge.address().port}/v1/chat/completions`;

const EVALUATORS = [
  { name: "polite", type: "contains", value: "thank you" },
  { name: "ticket", type: "regex", pattern: "TCK-\\d{4}" },
  { name: "shape", type: "json_valid", schema: { type: "object", required: ["answer"], properties: { answer: { type: "string" } } } },
  { name: "close", type: "similarity", reference: "the order ships today" },
  { name: "helpful", type: "judge", criteria: "Is the answer helpful to the customer?" },
];

test("the judge's key is write-only and settings are admin-only", async () => {
  const { api } = await newWorkspace(w);
  const secret = `sk-${newKey()}`;
  const put = await api.put("/v1/settings", { retention_days: 14, judge: { url: judgeUrl(), model: "judge-1", api_key: secret } });
  assert.equal(put.status, 200);
  assert.deepEqual(put.body.judge, { url: judgeUrl(), model: "judge-1", api_key_set: true });
  const got = await api.get("/v1/settings");
  assert.equal(got.body.retention_days, 14);
  assert.equal(got.body.judge.api_key_set, true);
  const audit = await api.get("/v1/audit?action=settings.put");
  assert.equal(audit.body.items.length, 1);
  for (const body of [put.body, got.body, audit.body]) assert.ok(!JSON.stringify(body).includes(secret), "the key never comes back");
  // Changing the model alone keeps the key; removing the judge clears it.
  assert.equal((await api.put("/v1/settings", { judge: { url: judgeUrl(), model: "judge-2" } })).body.judge.api_key_set, true);
  assert.equal((await api.put("/v1/settings", { judge: null })).body.judge, null);
  // Bad values: 400 naming the field, nothing changed.
  const bad = await api.put("/v1/settings", { retention_days: 0 });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, "invalid_field");
  assert.equal((await api.put("/v1/settings", { judge: { url: "file:///etc/passwd", model: "m" } })).status, 400);
  assert.equal((await api.get("/v1/settings")).body.retention_days, 14);
  const editor = await api.post("/v1/keys", { name: "ed", role: "editor" });
  const ed = w.client(editor.body.key);
  assert.equal((await ed.get("/v1/settings")).status, 403);
  assert.equal((await ed.put("/v1/settings", { retention_days: 3 })).status, 403);
});

test("evaluators are validated, replace each other, and warn when no judge is set", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "cfg", ["one"]);
  assert.deepEqual((await api.get("/v1/prompts/cfg/evaluators")).body.evaluators, []);
  const put = await api.put("/v1/prompts/cfg/evaluators", { evaluators: EVALUATORS });
  assert.equal(put.status, 200);
  assert.deepEqual(put.body.evaluators.map((e) => e.name), EVALUATORS.map((e) => e.name));
  assert.equal(put.body.warnings.length, 1, "a judge evaluator without a judge is flagged");
  for (const bad of [
    { evaluators: [{ name: "r", type: "regex", pattern: "(" }] },
    { evaluators: [{ name: "s", type: "json_valid", schema: { oneOf: [] } }] },
    { evaluators: [{ name: "x", type: "sentiment" }] },
    { evaluators: [{ name: "a", type: "contains", value: "x" }, { name: "a", type: "contains", value: "y" }] },
  ]) {
    const res = await api.put("/v1/prompts/cfg/evaluators", bad);
    assert.equal(res.status, 400, JSON.stringify(bad));
    assert.equal(res.body.error.code, "invalid_field");
  }
  assert.equal((await api.get("/v1/prompts/cfg/evaluators")).body.evaluators.length, 5, "refusals change nothing");
  const reader = w.client((await api.post("/v1/keys", { name: "r", role: "reader" })).body.key);
  assert.equal((await reader.get("/v1/prompts/cfg/evaluators")).status, 200);
  assert.equal((await reader.put("/v1/prompts/cfg/evaluators", { evaluators: [] })).status, 403);
  assert.equal((await api.put("/v1/prompts/nope/evaluators", { evaluators: [] })).status, 404);
  assert.deepEqual((await api.put("/v1/prompts/cfg/evaluators", { evaluators: [] })).body.evaluators, []);
});

test("executions are scored by every evaluator once, into the rollups and per evaluator", async () => {
  const { api } = await newWorkspace(w);
  const secret = `sk-${newKey()}`;
  await api.put("/v1/settings", { judge: { url: judgeUrl(), model: "judge-1", api_key: secret } });
  await promptWithVersions(api, "support", ["one"]);
  const v = (await versionIds(api, "support"))[1];
  assert.equal((await api.put("/v1/prompts/support/evaluators", { evaluators: EVALUATORS })).body.warnings.length, 0);
  const run = (id, output, extra = {}) => ({ id, prompt_version_id: v, environment: "production", latency_ms: 10, output, ...extra });
  const batch = [
    // Passes contains, regex and schema; identical words to the reference; "helpful" → 0.9.
    run("good-1", JSON.stringify({ answer: "thank you, the order ships today TCK-1234, helpful" })),
    // Fails all three checks; shares no words with the reference; judged 0.2.
    run("bad-1", "nope"),
    // Its own reference wins over the configured one; the first judge call fails.
    run("flaky-1", "thank you helpful", { reference: "thank you helpful" }),
    // No output: nothing to evaluate, still counted as a call.
    run("silent-1", undefined),
  ];
  assert.equal((await api.post("/v1/executions", { executions: batch })).body.accepted, 4);
  // 3 outputs × 5 evaluators = 15 scores.
  const body = await metricsWhen(api, "support", (items) => items[0]?.metrics.score_count === 15);
  const ev = body.items[0].evaluators;
  assert.equal(body.items[0].metrics.calls, 4);
  assert.deepEqual(Object.keys(ev).sort(), ["close", "helpful", "polite", "shape", "ticket"]);
  assert.equal(ev.polite.score_count, 3);
  assert.ok(Math.abs(ev.polite.mean_score - 2 / 3) < 1e-9);
  assert.ok(Math.abs(ev.ticket.mean_score - 1 / 3) < 1e-9);
  assert.ok(Math.abs(ev.shape.mean_score - 1 / 3) < 1e-9);
  assert.ok(Math.abs(ev.helpful.mean_score - (0.9 + 0.2 + 0.9) / 3) < 1e-9);
  // Similarity: flaky-1 is identical to its own reference (1); bad-1 shares nothing (0);
  // good-1 holds all 4 reference words among its 10 (the JSON key "answer" counts):
  // precision 0.4, recall 1, F1 = 0.8 / 1.4 = 4/7.
  assert.ok(Math.abs(ev.close.mean_score - (1 + 0 + 4 / 7) / 3) < 1e-9, JSON.stringify(ev.close));
  // The judge got the key as a bearer token, the model, the criteria and the output.
  const calls = judged.filter((j) => j.auth === `Bearer ${secret}`);
  assert.equal(calls.length, 4, "three outputs, one of them asked twice after a 503");
  assert.ok(calls.every((c) => c.model === "judge-1" && c.system.includes("helpful to the customer")));
  // Each score is in the raw log with the execution and the version it counts on.
  const scores = await rawRecords(api, "scores");
  assert.equal(scores.length, 15);
  const good = Object.fromEntries(scores.filter((s) => s.execution_id === "good-1").map((s) => [s.evaluator, s.score]));
  const { close, ...exact } = good;
  assert.deepEqual(exact, { helpful: 0.9, polite: 1, shape: 1, ticket: 1 });
  assert.ok(Math.abs(close - 4 / 7) < 1e-9);
  assert.ok(scores.every((s) => s.version_id === v && s.environment === "production"));
  // The expected answer is handed to evaluators, never stored.
  assert.ok((await rawRecords(api, "executions")).every((e) => !("reference" in e)));

  // A repeated batch and a repeated evaluation change nothing.
  await api.post("/v1/executions", { executions: batch });
  await new Promise((r) => setTimeout(r, 1500));
  const again = (await api.get("/v1/prompts/support/metrics?environment=production")).body.items[0];
  assert.equal(again.metrics.calls, 4);
  assert.equal(again.metrics.score_count, 15);
  assert.equal(judged.filter((j) => j.auth === `Bearer ${secret}`).length, 4, "nothing judged twice");
});

test("another workspace sees none of these executions", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "mine", ["one"]);
  const v = (await versionIds(api, "mine"))[1];
  await api.post("/v1/executions", { executions: [{ id: "private-1", prompt_version_id: v, environment: "production", latency_ms: 1 }] });
  await metricsWhen(api, "mine", (items) => items[0]?.metrics.calls === 1);
  assert.deepEqual((await rawRecords(api, "executions")).map((e) => e.id), ["private-1"]);
  const other = await newWorkspace(w);
  assert.deepEqual(await rawRecords(other.api, "executions"), []);
});

test("the daily cron applies each workspace's retention", async () => {
  const short = await newWorkspace(w);
  const long = await newWorkspace(w);
  await short.api.put("/v1/settings", { retention_days: 7 });
  // Ten days old: past 7, within the default 30.
  const tenDaysAgo = new Date(Date.now() - 10 * 86400000).toISOString().slice(0, 10);
  const objectOf = (ws) => `${ws.id}/${tenDaysAgo}/${tenDaysAgo}T08_executions_${"0".repeat(32)}.ndjson`;
  for (const ws of [short, long]) {
    await promptWithVersions(ws.api, "ret", ["one"]);
    const v = (await versionIds(ws.api, "ret"))[1];
    await ws.api.post("/v1/executions", { executions: [{ id: "new", prompt_version_id: v, environment: "production", latency_ms: 5 }] });
    await metricsWhen(ws.api, "ret", (items) => items[0]?.metrics.calls === 1);
    await w.rawLog.put(objectOf(ws), JSON.stringify({ id: "old" }) + "\n");
  }
  assert.equal((await w.scheduled()).outcome, "ok");
  // The cron queues one retention job per workspace; wait for the short one's.
  for (let i = 0; i < 300 && (await w.rawLog.head(objectOf(short))); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await w.rawLog.head(objectOf(short)), null);
  assert.deepEqual((await rawRecords(short.api, "executions")).map((e) => e.id), ["new"]);
  // The long workspace's job has run too (jobs are queued together), and kept both.
  await new Promise((r) => setTimeout(r, 1500));
  assert.ok(await w.rawLog.head(objectOf(long)));
  assert.deepEqual((await rawRecords(long.api, "executions", tenDaysAgo)).map((e) => e.id), ["old"]);
  assert.equal((await short.api.get("/v1/prompts/ret/metrics?environment=production")).body.items[0].metrics.calls, 1);
});
