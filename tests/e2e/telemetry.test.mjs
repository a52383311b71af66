// Telemetry through the real local Queue: executions and feedback are
// accepted with 202, delivered to the consumer, rolled up idempotently, and
// read back as per-version metrics with percentiles from histograms.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, newWorkspace, promptWithVersions, versionIds, metricsWhen } from "./harness.mjs";

let w;
before(async () => (w = await startWorker()));
after(async () => w?.stop());

const calls = (items, version) => items.find((i) => i.version === version)?.metrics.calls ?? 0;

test("executions are validated by index, queued, and rolled up exactly once", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "bot", ["one", "two"]);
  const ids = await versionIds(api, "bot");
  const other = await newWorkspace(w);
  await promptWithVersions(other.api, "theirs", ["x"]);
  const foreign = (await versionIds(other.api, "theirs"))[1];

  const latencies = [];
  const records = [];
  for (let i = 0; i < 200; i++) {
    const latency = 20 + ((i * 37) % 400);
    latencies.push(latency);
    records.push({
      id: `run-${i}`, prompt_version_id: ids[1], environment: "production", latency_ms: latency,
      tokens_in: 100, tokens_out: 50, cost_usd: 0.001, score: i % 2 ? 1 : 0.5, ...(i % 10 === 0 ? { error: "timeout" } : {}),
    });
  }
  const bad = [
    { id: "bad-1", prompt_version_id: ids[1], environment: "production", latency_ms: -5 },
    { id: "bad-2", prompt_version_id: foreign, environment: "production", latency_ms: 5 },
    { id: "bad-3", prompt_version_id: ids[1], environment: "qa", latency_ms: 5 },
  ];
  const reader = w.client((await api.post("/v1/keys", { name: "app", role: "reader" })).body.key);
  const res = await reader.post("/v1/executions", { executions: [...records, ...bad] });
  assert.equal(res.status, 202);
  assert.equal(res.body.accepted, 200);
  assert.deepEqual(res.body.rejected.map((r) => [r.index, r.code]), [[200, "invalid_field"], [201, "unknown_version"], [202, "unknown_environment"]]);

  const body = await metricsWhen(api, "bot", (items) => calls(items, 1) === 200);
  const m = body.items.find((i) => i.version === 1).metrics;
  assert.equal(m.errors, 20);
  assert.equal(m.error_rate, 0.1);
  assert.equal(m.tokens_in, 20000);
  assert.ok(Math.abs(m.cost_per_call_usd - 0.001) < 1e-12);
  assert.equal(m.score_count, 200);
  assert.equal(m.mean_score, 0.75);
  latencies.sort((a, b) => a - b);
  for (const [q, key] of [[0.5, "p50_ms"], [0.95, "p95_ms"], [0.99, "p99_ms"]]) {
    const exact = latencies[Math.ceil(q * latencies.length) - 1];
    assert.ok(Math.abs(m[key] - exact) / exact <= body.latency_relative_error_bound + 1e-9, `${key}: ${m[key]} vs ${exact}`);
  }

  // The same batch again (a client retry, or a redelivery) changes nothing.
  assert.equal((await reader.post("/v1/executions", { executions: records })).status, 202);
  await reader.post("/v1/executions", { executions: [{ id: "marker", prompt_version_id: ids[2], environment: "production", latency_ms: 1 }] });
  const after = await metricsWhen(api, "bot", (items) => calls(items, 2) === 1);
  assert.equal(calls(after.items, 1), 200);
  const stored = await w.db.prepare("SELECT COUNT(*) AS n FROM executions WHERE version_id = ?").bind(ids[1]).first();
  assert.equal(stored.n, 200);
});

test("feedback is counted once per execution, even when it arrives first", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "fb", ["one"]);
  const v = (await versionIds(api, "fb"))[1];
  // Feedback for an execution the worker has not seen yet.
  assert.equal((await api.post("/v1/feedback", { execution_id: "late", value: -1 })).status, 202);
  const records = ["a", "b", "c", "late"].map((id) => ({ id, prompt_version_id: v, environment: "production", latency_ms: 10 }));
  await api.post("/v1/executions", { executions: records });
  for (const [id, value] of [["a", 1], ["b", 1], ["a", -1], ["c", -1]]) {
    assert.equal((await api.post("/v1/feedback", { execution_id: id, value })).status, 202);
  }
  const body = await metricsWhen(api, "fb", (items) => {
    const m = items[0]?.metrics;
    return m && m.feedback_up + m.feedback_down === 4;
  });
  const m = body.items[0].metrics;
  assert.deepEqual([m.feedback_up, m.feedback_down, m.feedback_rate], [2, 2, 0.5], "a's second vote is ignored");
  assert.equal((await api.post("/v1/feedback", { execution_id: "a", value: 3 })).status, 400);
});

test("50,000 executions in batches of 1,000, with repeated batches, count exactly and keep percentiles within the bound", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "load", ["one"]);
  const v = (await versionIds(api, "load"))[1];
  const batches = [];
  const latencies = [];
  for (let b = 0; b < 50; b++) {
    batches.push(Array.from({ length: 1000 }, (_, i) => {
      // A long-tailed spread: most calls fast, some slow.
      const latency = 5 + ((b * 1000 + i) * 7919 % 997) * ((i % 50 === 0) ? 9 : 1);
      latencies.push(latency);
      return { id: `b${b}-${i}`, prompt_version_id: v, environment: "production", latency_ms: latency, tokens_in: 1, tokens_out: 2, ...(i % 25 === 0 ? { error: "x" } : {}) };
    }));
  }
  // Every tenth batch is sent twice, as a client retry would.
  for (const [n, batch] of batches.entries()) {
    for (const _ of n % 10 === 3 ? [1, 2] : [1]) {
      const res = await api.post("/v1/executions", { executions: batch });
      assert.equal(res.status, 202);
      assert.equal(res.body.accepted, 1000);
    }
  }
  const body = await metricsWhen(api, "load", (items) => calls(items, 1) >= 50000);
  await new Promise((r) => setTimeout(r, 1500));
  const again = (await api.get("/v1/prompts/load/metrics?environment=production")).body;
  const m = again.items[0].metrics;
  assert.equal(m.calls, 50000);
  assert.equal(m.errors, 2000);
  assert.equal(m.tokens_out, 100000);
  assert.equal(body.items.length, 1);
  latencies.sort((a, b) => a - b);
  for (const [q, key] of [[0.5, "p50_ms"], [0.95, "p95_ms"], [0.99, "p99_ms"]]) {
    const exact = latencies[Math.ceil(q * latencies.length) - 1];
    assert.ok(Math.abs(m[key] - exact) / exact <= again.latency_relative_error_bound + 1e-9, `${key}: ${m[key]} vs ${exact}`);
  }
  const stored = await w.db.prepare("SELECT COUNT(*) AS n FROM executions WHERE version_id = ?").bind(v).first();
  assert.equal(stored.n, 50000, "one row per execution id");
});

test("metrics validate their query", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "q", ["one"]);
  assert.equal((await api.get("/v1/prompts/q/metrics")).status, 400);
  assert.equal((await api.get("/v1/prompts/q/metrics?environment=production&from=2026")).status, 400);
  assert.deepEqual((await api.get("/v1/prompts/q/metrics?environment=production")).body.items, []);
  assert.equal((await api.get("/v1/prompts/nope/metrics?environment=production")).status, 404);
  assert.equal((await api.post("/v1/executions", { executions: [] })).status, 400);
});

test("compare puts two versions side by side with a significance test per metric and a verdict", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "cmp", ["one", "two"]);
  const ids = await versionIds(api, "cmp");
  const batch = (v, n, errorEvery, score) =>
    Array.from({ length: n }, (_, i) => ({
      id: `${v}-${i}`, prompt_version_id: ids[v], environment: "production", latency_ms: 50 + (i % 20), score,
      ...(i % errorEvery === 0 ? { error: "x" } : {}),
    }));
  await api.post("/v1/executions", { executions: batch(1, 600, 5, 0.6) });
  await api.post("/v1/executions", { executions: batch(2, 600, 50, 0.8) });
  await metricsWhen(api, "cmp", (items) => calls(items, 1) === 600 && calls(items, 2) === 600);
  const res = await api.get("/v1/prompts/cmp/compare?a=1&b=2&environment=production");
  assert.equal(res.status, 200);
  assert.equal(res.body.a.metrics.error_rate, 0.2);
  const byMetric = Object.fromEntries(res.body.comparison.metrics.map((m) => [m.metric, m]));
  assert.equal(byMetric.error_rate.test, "two-proportion z-test");
  assert.ok(byMetric.error_rate.result.significant);
  assert.ok(byMetric.error_rate.result.p_value < 0.001);
  assert.equal(byMetric.mean_score.test, "Welch's t-test");
  assert.match(res.body.comparison.verdict, /v2 is better on error_rate/);
  const same = await api.get("/v1/prompts/cmp/compare?a=1&b=1&environment=production");
  assert.match(same.body.comparison.verdict, /no significant difference/);
  assert.equal((await api.get("/v1/prompts/cmp/compare?a=1&b=9&environment=production")).status, 404);
  assert.equal((await api.get("/v1/prompts/cmp/compare?a=1&environment=production")).status, 400);
});

test("cost comes from the price table when the client sends none; workspace prices override it", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "cost", ["one"]);
  const v = (await versionIds(api, "cost"))[1];
  const prices = await api.get("/v1/prices");
  assert.equal(prices.body.seeded["gpt-4o-mini"].input_per_million, 0.15);
  const editor = w.client((await api.post("/v1/keys", { name: "e", role: "editor" })).body.key);
  assert.equal((await editor.put("/v1/prices/house-model", { input_per_million: 1, output_per_million: 2 })).status, 403);
  assert.equal((await api.put("/v1/prices/house-model", { input_per_million: -1, output_per_million: 2 })).status, 400);
  assert.equal((await api.put("/v1/prices/house-model", { input_per_million: 1, output_per_million: 2 })).status, 200);
  const rec = (id, model, extra = {}) => ({ id, prompt_version_id: v, environment: "production", latency_ms: 10, tokens_in: 1000, tokens_out: 1000, model, ...extra });
  await api.post("/v1/executions", { executions: [
    rec("seeded", "gpt-4o-mini-2024-07-18"),      // 1000 * 0.15 + 1000 * 0.60 per million = 0.00075
    rec("override", "house-model"),                // 1000 * 1 + 1000 * 2 per million = 0.003
    rec("client", "house-model", { cost_usd: 1 }), // the client's figure wins
    rec("unknown", "mystery-model"),               // no price: no cost
  ] });
  const body = await metricsWhen(api, "cost", (items) => calls(items, 1) === 4);
  assert.ok(Math.abs(body.items[0].metrics.cost_total_usd - (0.00075 + 0.003 + 1)) < 1e-9, JSON.stringify(body.items[0].metrics));
  assert.equal((await api.get("/v1/prices")).body.overrides[0].model, "house-model");
});

test("the daily cron prunes raw telemetry past the retention in chunks, with its feedback, and keeps the rollups", async () => {
  const { api, id: ws } = await newWorkspace(w);
  await promptWithVersions(api, "ret", ["one"]);
  const v = (await versionIds(api, "ret"))[1];
  // More than one retention chunk (2,000) of old executions, and three recent ones.
  const old = Array.from({ length: 2300 }, (_, i) => ({ id: `old-${i}`, prompt_version_id: v, environment: "production", latency_ms: 10 }));
  for (let i = 0; i < old.length; i += 1000) {
    assert.equal((await api.post("/v1/executions", { executions: old.slice(i, i + 1000) })).status, 202);
  }
  await api.post("/v1/executions", { executions: [1, 2, 3].map((i) => ({ id: `r${i}`, prompt_version_id: v, environment: "production", latency_ms: 10 })) });
  await metricsWhen(api, "ret", (items) => calls(items, 1) === 2303);
  await api.post("/v1/feedback", { execution_id: "old-0", value: 1 });
  await api.post("/v1/feedback", { execution_id: "r1", value: -1 });
  // Feedback for an execution that never arrived.
  await api.post("/v1/feedback", { execution_id: "never-arrived", value: 1 });
  await metricsWhen(api, "ret", (items) => items[0]?.metrics.feedback_down === 1 && items[0]?.metrics.feedback_up === 1);
  const feedbackRows = async () => (await w.db.prepare("SELECT execution_id FROM feedback WHERE workspace_id = ? ORDER BY execution_id").bind(ws).all()).results.map((r) => r.execution_id);
  for (let i = 0; i < 50 && (await feedbackRows()).length < 3; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(await feedbackRows(), ["never-arrived", "old-0", "r1"]);
  // Age the old ones (and the orphan feedback) past the 30-day retention.
  await w.db.prepare("UPDATE executions SET day = '2020-01-01' WHERE workspace_id = ? AND id LIKE 'old-%'").bind(ws).run();
  await w.db.prepare("UPDATE feedback SET created_at = '2020-01-01T00:00:00Z' WHERE workspace_id = ? AND execution_id = 'never-arrived'").bind(ws).run();
  const result = await w.scheduled();
  assert.equal(result.outcome, "ok");
  const left = async () => (await w.db.prepare("SELECT COUNT(*) AS n FROM executions WHERE workspace_id = ?").bind(ws).first()).n;
  for (let i = 0; i < 300 && (await left()) > 3; i++) await new Promise((r) => setTimeout(r, 100));
  const ids = await w.db.prepare("SELECT id FROM executions WHERE workspace_id = ? ORDER BY id").bind(ws).all();
  assert.deepEqual(ids.results.map((r) => r.id), ["r1", "r2", "r3"], "every chunk went, the recent rows stayed");
  assert.deepEqual(await feedbackRows(), ["r1"], "feedback went with its execution; orphans past the retention too");
  const m = (await api.get("/v1/prompts/ret/metrics?environment=production")).body.items[0].metrics;
  assert.equal(m.calls, 2303, "rollups survive retention");
  assert.equal(m.feedback_up, 1);
  assert.equal(m.feedback_down, 1);
});

test("a consumer failure mid-batch rolls back that message alone; its redelivery makes the counts exact", async () => {
  const { api, id: ws } = await newWorkspace(w);
  await promptWithVersions(api, "faulty", ["one"]);
  const v = (await versionIds(api, "faulty"))[1];
  // 8 KB outputs: the API splits the 50 records (400 KB) over about five queue messages.
  const records = Array.from({ length: 50 }, (_, i) => ({
    id: `f${i}`, prompt_version_id: v, environment: "production", latency_ms: 10, tokens_in: 1, tokens_out: 1, output: "o".repeat(8000),
  }));
  // Fault injection in the real D1: inserting one record's row aborts its message's transaction.
  await w.db.prepare(`CREATE TRIGGER IF NOT EXISTS inject_fault BEFORE INSERT ON executions WHEN NEW.id = 'f27'
    BEGIN SELECT RAISE(ABORT, 'injected fault'); END`).run();
  try {
    assert.equal((await api.post("/v1/executions", { executions: records })).body.accepted, 50);
    // Every other message lands; the failing one leaves no trace (no row, no count).
    const partial = await metricsWhen(api, "faulty", (items) => (items[0]?.metrics.calls ?? 0) >= 35);
    const counted = partial.items[0].metrics.calls;
    assert.ok(counted < 50, `the failing message was not counted (${counted})`);
    const rows = (await w.db.prepare("SELECT COUNT(*) AS n FROM executions WHERE workspace_id = ?").bind(ws).first()).n;
    assert.equal(rows, counted, "rows and rollups agree: the failed message wrote nothing");
    assert.equal((await w.db.prepare("SELECT COUNT(*) AS n FROM executions WHERE id = 'f26' AND workspace_id = ?").bind(ws).first()).n, 0);
  } finally {
    await w.db.prepare("DROP TRIGGER IF EXISTS inject_fault").run();
  }
  // The Queue redelivers the failed message; now it lands, once.
  const body = await metricsWhen(api, "faulty", (items) => items[0]?.metrics.calls === 50);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await api.get("/v1/prompts/faulty/metrics?environment=production")).body.items[0].metrics.calls, 50);
  assert.equal(body.items[0].metrics.tokens_out, 50);
});
