// Background jobs through the real local Queues: one queue per kind of
// work, a message that does not read as a job is dead-lettered alone, a job
// that keeps failing becomes a dead letter admins can see and replay, and
// nothing it carried is lost. Faults come from outside our code: a message
// our code would never send, and a SQLite trigger in the local D1 that
// refuses one workspace's executions.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startWorker, newWorkspace, promptWithVersions, versionIds, metricsWhen } from "./harness.mjs";

let w;
// A judge (outside our system) that takes every request and never answers.
let silentJudge;
const judgeRequests = [];
before(async () => {
  w = await startWorker();
  silentJudge = http.createServer((req) => judgeRequests.push(req.url));
  await new Promise((r) => silentJudge.listen(0, "127.0.0.1", r));
});
after(async () => {
  silentJudge?.closeAllConnections?.();
  silentJudge?.close();
  await w?.stop();
});

const calls = (items, version) => items.find((i) => i.version === version)?.metrics.calls ?? 0;

async function deadLettersWhen(api, done) {
  for (let i = 0; i < 900; i++) {
    const res = await api.get("/v1/dead-letters");
    assert.equal(res.status, 200, JSON.stringify(res.body));
    if (done(res.body.items)) return res.body.items;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("no dead letter in time");
}

async function deployedVersion(api, slug) {
  await promptWithVersions(api, slug, ["hello"]);
  const ids = await versionIds(api, slug);
  const res = await api.post(`/v1/prompts/${slug}/promote`, { version: 1, environment: "production" });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return ids[1];
}

test("an unreadable message is dead-lettered alone; the good job in its batch runs", async () => {
  const { api, id: workspaceId } = await newWorkspace(w);
  const version = await deployedVersion(api, "bot");
  const run = { id: "run-1", prompt_version_id: version, environment: "production", latency_ms: 10 };
  assert.equal((await api.post("/v1/executions", { executions: [run] })).status, 202);
  await metricsWhen(api, "bot", (items) => calls(items, 1) === 1);

  // One batch: a message of a shape no version of ours sends, and a real
  // feedback job for the counted execution.
  const poison = JSON.stringify({ kind: "executions", workspace_id: workspaceId, rows: "not rows" });
  const feedback = JSON.stringify({
    kind: "feedback", workspace_id: workspaceId,
    feedback: { execution_id: "run-1", value: 1, comment: null, version_id: version, environment: "production", at: new Date().toISOString() },
  });
  await (await w.queue("QUEUE_TELEMETRY")).sendBatch([{ body: poison }, { body: feedback }]);

  const letters = await deadLettersWhen(api, (items) => items.length === 1);
  assert.equal(letters[0].queue, "telemetry");
  assert.equal(letters[0].kind, "executions");
  assert.equal(letters[0].error, "unreadable");
  assert.equal(letters[0].attempts, 1);
  assert.ok(letters[0].age_seconds >= 0);
  const stored = await w.db.prepare("SELECT body FROM dead_letters WHERE id = ?").bind(letters[0].id).first();
  assert.equal(stored.body, poison, "the message is kept as it came");
  const body = await metricsWhen(api, "bot", (items) => items.find((i) => i.version === 1)?.metrics.feedback_up === 1);
  assert.equal(body.items.find((i) => i.version === 1).metrics.feedback_up, 1);

  // Another workspace sees none of it; readers may not list.
  const other = await newWorkspace(w);
  assert.deepEqual((await other.api.get("/v1/dead-letters")).body.items, []);
  const reader = w.client((await api.post("/v1/keys", { name: "r", role: "reader" })).body.key);
  assert.equal((await reader.get("/v1/dead-letters")).status, 403);
});

test("a job that keeps failing becomes a dead letter; replayed once, nothing is lost", async () => {
  const { api, id: workspaceId } = await newWorkspace(w);
  const version = await deployedVersion(api, "bot");
  const bystander = await newWorkspace(w);
  const theirs = await deployedVersion(bystander.api, "theirs");
  // D1 refuses to count this workspace's telemetry, and only its.
  await w.db
    .prepare(`CREATE TRIGGER refuse_${workspaceId} BEFORE INSERT ON telemetry_ledger WHEN NEW.workspace_id = '${workspaceId}' BEGIN SELECT RAISE(ABORT, 'injected fault'); END`)
    .run();
  const runs = [1, 2, 3].map((i) => ({ id: `run-${i}`, prompt_version_id: version, environment: "production", latency_ms: 10 * i }));
  assert.equal((await api.post("/v1/executions", { executions: runs })).status, 202);
  // Meanwhile another tenant's telemetry is counted.
  await bystander.api.post("/v1/executions", { executions: [{ id: "x", prompt_version_id: theirs, environment: "production", latency_ms: 5 }] });
  await metricsWhen(bystander.api, "theirs", (items) => calls(items, 1) === 1);

  const [letter] = await deadLettersWhen(api, (items) => items.length === 1);
  assert.equal(letter.queue, "telemetry");
  assert.equal(letter.kind, "executions");
  assert.equal(letter.error, "failed");
  assert.equal(letter.attempts, 6);
  assert.equal(letter.replayed_at, null);
  assert.ok(!JSON.stringify(letter).includes("injected fault"), "internal error text stays in the log");
  assert.equal((await api.get("/v1/prompts/bot/metrics?environment=production")).body.items.find((i) => i.version === 1)?.metrics.calls ?? 0, 0);

  // The cause is fixed; the admin replays it, once.
  await w.db.prepare(`DROP TRIGGER refuse_${workspaceId}`).run();
  const replayed = await api.post(`/v1/dead-letters/${letter.id}/replay`);
  assert.equal(replayed.status, 202, JSON.stringify(replayed.body));
  assert.ok(replayed.body.replayed_at);
  const again = await api.post(`/v1/dead-letters/${letter.id}/replay`);
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, "conflict");
  await metricsWhen(api, "bot", (items) => calls(items, 1) === 3);
  assert.equal((await api.post("/v1/dead-letters/nope/replay")).status, 404);
  const audit = await api.get("/v1/audit?action=dead_letter.replay");
  assert.equal(audit.status, 200);
  assert.equal(audit.body.items.filter((e) => e.action === "dead_letter.replay" && e.target === letter.id).length, 1);
});

test("a judge that never answers in one workspace does not delay another workspace's telemetry", async () => {
  const a = await newWorkspace(w);
  const b = await newWorkspace(w);
  const url = `http://127.0.0.1:${silentJudge.address().port}/v1/chat/completions`;
  assert.equal((await a.api.put("/v1/settings", { judge: { url, model: "slow" } })).status, 200);
  const va = await deployedVersion(a.api, "judged");
  assert.equal((await a.api.put("/v1/prompts/judged/evaluators", { evaluators: [{ name: "helpful", type: "judge", criteria: "Helpful?" }] })).status, 200);
  const runs = Array.from({ length: 40 }, (_, i) => ({ id: `a-${i}`, prompt_version_id: va, environment: "production", latency_ms: 5, output: `answer ${i}` }));
  assert.equal((await a.api.post("/v1/executions", { executions: runs })).status, 202);
  await metricsWhen(a.api, "judged", (items) => calls(items, 1) === 40);
  // A's judge calls are hanging now.
  for (let i = 0; i < 100 && judgeRequests.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(judgeRequests.length > 0, "the judge was asked");
  assert.ok(judgeRequests.length <= 8, `judge calls in flight are bounded (${judgeRequests.length})`);

  // B's telemetry is counted while A's evaluations wait on the judge.
  const vb = await deployedVersion(b.api, "fast");
  assert.equal((await b.api.post("/v1/executions", { executions: [{ id: "b-1", prompt_version_id: vb, environment: "production", latency_ms: 5 }] })).status, 202);
  await metricsWhen(b.api, "fast", (items) => calls(items, 1) === 1);
  const scored = (await a.api.get("/v1/prompts/judged/metrics?environment=production")).body.items[0].metrics.score_count;
  assert.equal(scored, 0, "A's judge has still not answered");
});

test("the daily cron drops dead letters after 30 days, each workspace's own", async () => {
  const { api, id: workspaceId } = await newWorkspace(w);
  const other = await newWorkspace(w);
  const insert = w.db.prepare(
    "INSERT INTO dead_letters (id, workspace_id, queue, kind, reason, attempts, body, created_at) VALUES (?, ?, 'telemetry', 'feedback', 'failed', 6, '{}', ?)",
  );
  const daysAgo = (n) => new Date(Date.now() - n * 86_400_000).toISOString();
  await w.db.batch([
    insert.bind(`old-${workspaceId}`, workspaceId, daysAgo(31)),
    insert.bind(`recent-${workspaceId}`, workspaceId, daysAgo(29)),
    insert.bind(`old-${other.id}`, other.id, daysAgo(31)),
  ]);
  const ids = async (client) => (await client.get("/v1/dead-letters")).body.items.map((l) => l.id).sort();
  assert.deepEqual(await ids(api), [`old-${workspaceId}`, `recent-${workspaceId}`]);
  assert.equal((await w.scheduled()).outcome, "ok");
  for (let i = 0; i < 300 && (await ids(api)).length > 1; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(await ids(api), [`recent-${workspaceId}`]);
  for (let i = 0; i < 300 && (await ids(other.api)).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(await ids(other.api), []);
});

test("a message its consumer never settles reaches the dead-letter queue and is stored as consumer_crashed", async () => {
  const { api, id: workspaceId } = await newWorkspace(w);
  // D1 refuses to store this workspace's unreadable messages, so the consumer cannot settle one:
  // it asks the Queue to redeliver it, and after the Queue's own retries (wrangler.toml max_retries)
  // the Queue moves it to pvct-dead-letters, whose consumer stores it.
  await w.db
    .prepare(`CREATE TRIGGER refuse_unreadable_${workspaceId} BEFORE INSERT ON dead_letters
      WHEN NEW.workspace_id = '${workspaceId}' AND NEW.reason = 'unreadable' BEGIN SELECT RAISE(ABORT, 'injected fault'); END`)
    .run();
  try {
    const poison = JSON.stringify({ kind: "executions", workspace_id: workspaceId, rows: "not rows" });
    await (await w.queue("QUEUE_TELEMETRY")).send(poison);
    const [letter] = await deadLettersWhen(api, (items) => items.length === 1);
    assert.equal(letter.error, "consumer_crashed");
    assert.equal(letter.queue, "telemetry");
    assert.equal(letter.kind, "executions");
    const stored = await w.db.prepare("SELECT body FROM dead_letters WHERE id = ?").bind(letter.id).first();
    assert.equal(stored.body, poison, "kept as it came");
  } finally {
    await w.db.prepare(`DROP TRIGGER IF EXISTS refuse_unreadable_${workspaceId}`).run();
  }
});
