// Telemetry through the real local Queue: executions and feedback are
// accepted with 202, delivered to the consumer, written to the raw log (R2)
// and rolled up once per message (D1), and read back as per-version metrics
// with percentiles from histograms.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, newWorkspace, promptWithVersions, versionIds, metricsWhen, rawRecords } from "./harness.mjs";

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
  // The raw log holds each record once, as sent (the retry rewrote the same object), without raw rows in D1.
  const raw = (await rawRecords(api, "executions")).filter((r) => r.version_id === ids[1]);
  assert.equal(raw.length, 200);
  assert.deepEqual(new Set(raw.map((r) => r.id)), new Set(records.map((r) => r.id)));
  const r7 = raw.find((r) => r.id === "run-7");
  assert.deepEqual([r7.latency_ms, r7.tokens_in, r7.score, r7.environment], [records[7].latency_ms, 100, 1, "production"]);
  // Admins only: the log holds model outputs.
  assert.equal((await reader.get(`/v1/telemetry/log?day=${new Date().toISOString().slice(0, 10)}`)).status, 403);
});

test("the raw log API validates its query and names only its own workspace's objects", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "logq", ["one"]);
  const v = (await versionIds(api, "logq"))[1];
  await api.post("/v1/executions", { executions: [{ id: "only", prompt_version_id: v, environment: "production", latency_ms: 3, output: "hello" }] });
  await metricsWhen(api, "logq", (items) => calls(items, 1) === 1);
  const day = new Date().toISOString().slice(0, 10);
  const page = await api.get(`/v1/telemetry/log?day=${day}`);
  assert.equal(page.status, 200);
  assert.equal(page.body.items.length, 1);
  const [item] = page.body.items;
  assert.equal(item.kind, "executions");
  assert.ok(item.bytes > 0);
  const object = await api.get(`/v1/telemetry/log/${item.id}`);
  assert.match(object.headers.get("content-type"), /application\/x-ndjson/);
  assert.equal(JSON.parse(object.text.trim()).output, "hello");
  const other = await newWorkspace(w);
  assert.equal((await other.api.get(`/v1/telemetry/log/${item.id}`)).status, 404, "another workspace's object is not found");
  assert.deepEqual((await other.api.get(`/v1/telemetry/log?day=${day}`)).body.items, []);
  for (const q of ["", "?day=2026-13-01", "?day=yesterday", `?day=${day}&limit=0`, `?day=${day}&limit=1001`]) {
    assert.equal((await api.get(`/v1/telemetry/log${q}`)).status, 400, q);
  }
  assert.equal((await api.get("/v1/telemetry/log/../../x")).status, 404);
  assert.equal((await api.get("/v1/telemetry/log/2026-12-04T10_executions_00000000000000000000000000000000")).status, 404);
  assert.equal((await api.get("/v1/executions/only")).status, 404, "raw executions are not looked up by id");
});

test("feedback is counted once per execution on the version it names, and logged with its comment", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "fb", ["one"]);
  const v = (await versionIds(api, "fb"))[1];
  const other = await newWorkspace(w);
  await promptWithVersions(other.api, "theirs", ["x"]);
  const foreign = (await versionIds(other.api, "theirs"))[1];
  const fb = (execution_id, value, extra = {}) => api.post("/v1/feedback", { execution_id, value, prompt_version_id: v, environment: "production", ...extra });
  // Feedback needs no stored execution: it may arrive before its execution, or for one sent elsewhere.
  assert.equal((await fb("late", -1)).status, 202);
  const records = ["a", "b", "c", "late"].map((id) => ({ id, prompt_version_id: v, environment: "production", latency_ms: 10 }));
  await api.post("/v1/executions", { executions: records });
  for (const [id, value] of [["a", 1], ["b", 1], ["a", -1], ["c", -1]]) {
    assert.equal((await fb(id, value, id === "b" ? { comment: "spot on" } : {})).status, 202);
  }
  const body = await metricsWhen(api, "fb", (items) => {
    const m = items[0]?.metrics;
    return m && m.calls === 4 && m.feedback_up + m.feedback_down === 4;
  });
  const m = body.items[0].metrics;
  assert.deepEqual([m.feedback_up, m.feedback_down, m.feedback_rate], [2, 2, 0.5], "a's second vote is ignored");
  const logged = await rawRecords(api, "feedback");
  assert.equal(logged.find((f) => f.execution_id === "b").comment, "spot on");
  // Bad feedback is refused before it is queued, with the field named.
  assert.equal((await fb("a", 3)).status, 400);
  for (const [extra, field] of [
    [{ prompt_version_id: undefined }, "prompt_version_id"],
    [{ prompt_version_id: foreign }, "prompt_version_id"],
    [{ environment: "qa" }, "environment"],
  ]) {
    const res = await fb("d", 1, extra);
    assert.equal(res.status, 400, JSON.stringify(extra));
    assert.equal(res.body.error.code, "invalid_field");
    if (extra.prompt_version_id !== undefined || extra.environment) assert.equal(res.body.error.details.field, field);
  }
  await new Promise((r) => setTimeout(r, 1500));
  const after = (await api.get("/v1/prompts/fb/metrics?environment=production")).body.items[0].metrics;
  assert.equal(after.feedback_up + after.feedback_down, 4, "refused feedback counted nowhere");
});

test("50,000 executions in batches of 1,000, with repeated batches, count exactly and keep percentiles within the bound", async () => {
  const { api, id: ws } = await newWorkspace(w);
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
  // D1 holds rollups and one ledger row per queue message, not rows per execution.
  const ledger = (await w.db.prepare("SELECT COUNT(*) AS n FROM telemetry_ledger WHERE workspace_id = ?").bind(ws).first()).n;
  assert.ok(ledger > 0 && ledger <= 500, `ledger rows: ${ledger}`);
  const rollupRows = (await w.db.prepare("SELECT COUNT(*) AS n FROM version_rollups WHERE version_id = ?").bind(v).first()).n;
  assert.ok(rollupRows <= 2, "one row per hour");
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

test("the daily cron prunes the raw log and the ledger past the retention, page by page, and keeps the rollups", async () => {
  const { api, id: ws } = await newWorkspace(w);
  await promptWithVersions(api, "ret", ["one"]);
  const v = (await versionIds(api, "ret"))[1];
  await api.post("/v1/executions", { executions: [1, 2, 3].map((i) => ({ id: `r${i}`, prompt_version_id: v, environment: "production", latency_ms: 10 })) });
  await api.post("/v1/feedback", { execution_id: "r1", value: -1, prompt_version_id: v, environment: "production" });
  await metricsWhen(api, "ret", (items) => items[0]?.metrics.calls === 3 && items[0]?.metrics.feedback_down === 1);
  // More than one R2 listing page (1,000) of objects from days past the 30-day retention, and their
  // ledger rows, as months of traffic would have left them; plus one object of the last kept day.
  const key = (i) => i.toString(16).padStart(32, "0");
  const old = Array.from({ length: 1100 }, (_, i) => `${ws}/2020-01-0${1 + (i % 5)}/2020-01-0${1 + (i % 5)}T10_executions_${key(i)}.ndjson`);
  const keptDay = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
  const kept = `${ws}/${keptDay}/${keptDay}T10_executions_${key(99999)}.ndjson`;
  for (let i = 0; i < old.length; i += 100) await Promise.all(old.slice(i, i + 100).map((k) => w.rawLog.put(k, "{}\n")));
  await w.rawLog.put(kept, "{}\n");
  const ledger = w.db.prepare("INSERT INTO telemetry_ledger (workspace_id, key, nonce, day) VALUES (?, ?, 'n', '2020-01-01')");
  await w.db.batch(Array.from({ length: 2300 }, (_, i) => ledger.bind(ws, `old-${i}`)));
  const objects = async () => {
    let n = 0;
    let cursor;
    do {
      const page = await w.rawLog.list({ prefix: `${ws}/`, cursor });
      n += page.objects.length;
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    return n;
  };
  assert.equal(await objects(), 1100 + 1 + 2);
  const result = await w.scheduled();
  assert.equal(result.outcome, "ok");
  for (let i = 0; i < 300 && (await objects()) > 3; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await objects(), 3, "every page of old objects went; today's two and the last kept day's stayed");
  assert.ok(await w.rawLog.head(kept), "the last day of the retention is kept");
  const oldLedger = async () => (await w.db.prepare("SELECT COUNT(*) AS n FROM telemetry_ledger WHERE workspace_id = ? AND day = '2020-01-01'").bind(ws).first()).n;
  for (let i = 0; i < 100 && (await oldLedger()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await oldLedger(), 0, "old ledger rows went in chunks");
  assert.equal((await w.db.prepare("SELECT COUNT(*) AS n FROM telemetry_ledger WHERE workspace_id = ?").bind(ws).first()).n, 2);
  const m = (await api.get("/v1/prompts/ret/metrics?environment=production")).body.items[0].metrics;
  assert.equal(m.calls, 3, "rollups survive retention");
  assert.equal(m.feedback_down, 1);
  assert.equal((await rawRecords(api, "executions")).length, 3, "today's log is whole");
});

test("a consumer failure mid-batch rolls back that message alone; its redelivery makes the counts exact", async () => {
  const { api, id: ws } = await newWorkspace(w);
  await promptWithVersions(api, "faulty", ["one"]);
  const v = (await versionIds(api, "faulty"))[1];
  // 8 KB outputs: the API splits the 50 records (400 KB) over about five queue messages.
  const records = Array.from({ length: 50 }, (_, i) => ({
    id: `f${i}`, prompt_version_id: v, environment: "production", latency_ms: 10, tokens_in: 1, tokens_out: 1, output: "o".repeat(8000),
  }));
  // Fault injection in the real D1: once two of this workspace's messages are counted, counting
  // another aborts its transaction (its ledger row and its upserts).
  await w.db.prepare(`CREATE TRIGGER IF NOT EXISTS inject_fault BEFORE INSERT ON telemetry_ledger
    WHEN NEW.workspace_id = '${ws}' AND (SELECT COUNT(*) FROM telemetry_ledger WHERE workspace_id = '${ws}') >= 2
    BEGIN SELECT RAISE(ABORT, 'injected fault'); END`).run();
  try {
    assert.equal((await api.post("/v1/executions", { executions: records })).body.accepted, 50);
    const partial = await metricsWhen(api, "faulty", (items) => (items[0]?.metrics.calls ?? 0) > 0);
    await new Promise((r) => setTimeout(r, 1500));
    const counted = (await api.get("/v1/prompts/faulty/metrics?environment=production")).body.items[0].metrics.calls;
    assert.ok(partial && counted > 0 && counted < 50, `only the first two messages were counted (${counted})`);
    const ledger = (await w.db.prepare("SELECT COUNT(*) AS n FROM telemetry_ledger WHERE workspace_id = ?").bind(ws).first()).n;
    assert.equal(ledger, 2, "the failed messages wrote nothing to D1");
  } finally {
    await w.db.prepare("DROP TRIGGER IF EXISTS inject_fault").run();
  }
  // The Queue redelivers the failed messages; now they land, once.
  const body = await metricsWhen(api, "faulty", (items) => items[0]?.metrics.calls === 50);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await api.get("/v1/prompts/faulty/metrics?environment=production")).body.items[0].metrics.calls, 50);
  assert.equal(body.items[0].metrics.tokens_out, 50);
  const raw = await rawRecords(api, "executions");
  assert.equal(raw.length, 50, "each record is in the raw log once, though its message was written more than once");
});
