// Promotion gates measured from real telemetry, and the four-eyes approval
// flow, end to end against the worker with its real Queue.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, newWorkspace, promptWithVersions, versionIds, counts } from "./harness.mjs";

let w;
before(async () => (w = await startWorker()));
after(async () => w?.stop());

async function sendAndWait(api, slug, versionId, n, { env = "staging", errorEvery = 0, latency = 100, score = 0.9 } = {}) {
  const executions = Array.from({ length: n }, (_, i) => ({
    id: `${versionId.slice(0, 8)}-${env}-${i}`, prompt_version_id: versionId, environment: env, latency_ms: latency, score,
    ...(errorEvery && i % errorEvery === 0 ? { error: "boom" } : {}),
  }));
  assert.equal((await api.post("/v1/executions", { executions })).status, 202);
  for (let i = 0; i < 200; i++) {
    const m = (await api.get(`/v1/prompts/${slug}/metrics?environment=${env}`)).body.items.find((x) => x.version_id === versionId);
    if (m && m.metrics.calls >= n) return m.metrics;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("telemetry not delivered");
}

test("gates refuse with every failing gate, and pass once staging measurements meet them", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "gated", ["one", "two"]);
  const ids = await versionIds(api, "gated");
  await api.put("/v1/environments/production", {
    position: 2, policy: { min_samples: 50, min_score: 0.7, max_error_rate: 0.1, max_p95_ms: 500 },
  });
  const before = await counts(w.db);
  const refused = await api.post("/v1/prompts/gated/promote", { version: 1, environment: "production" });
  assert.equal(refused.status, 422);
  assert.equal(refused.body.error.code, "gates_failed");
  assert.equal(refused.body.error.details.measured_in, "staging");
  assert.deepEqual(refused.body.error.details.failures.map((f) => [f.gate, f.measured, f.threshold]), [
    ["min_samples", 0, 50], ["min_score", null, 0.7], ["max_error_rate", null, 0.1], ["max_p95_ms", null, 500],
  ]);
  assert.deepEqual(await counts(w.db), before, "a refusal writes nothing");

  await sendAndWait(api, "gated", ids[1], 60);
  const passed = await api.post("/v1/prompts/gated/promote", { version: 1, environment: "production" });
  assert.equal(passed.status, 201, JSON.stringify(passed.body));

  await sendAndWait(api, "gated", ids[2], 60, { errorEvery: 3, latency: 900, score: 0.5 });
  const bad = await api.post("/v1/prompts/gated/promote", { version: 2, environment: "production" });
  assert.equal(bad.status, 422);
  const byGate = Object.fromEntries(bad.body.error.details.failures.map((f) => [f.gate, f]));
  assert.deepEqual(Object.keys(byGate).sort(), ["max_error_rate", "max_p95_ms", "min_score"]);
  assert.equal(byGate.max_error_rate.measured, 20 / 60);
  assert.equal(byGate.min_score.measured, 0.5);
  assert.ok(Math.abs(byGate.max_p95_ms.measured - 900) / 900 < 0.025);
  // Admin keys get no exemption either.
  assert.equal((await w.client(w.adminKey).get("/v1/prompts")).status, 200);
});

test("approval: 202 pending, the requester cannot decide, an approver deploys after gates pass", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "ap", ["one", "two"]);
  await api.put("/v1/environments/production", { position: 2, policy: { requires_approval: true } });
  const editor = w.client((await api.post("/v1/keys", { name: "dev", role: "editor" })).body.key);
  const approver = w.client((await api.post("/v1/keys", { name: "lead", role: "approver" })).body.key);
  const reader = w.client((await api.post("/v1/keys", { name: "app", role: "reader" })).body.key);

  const pending = await editor.post("/v1/prompts/ap/promote", { version: 1, environment: "production", reason: "launch" });
  assert.equal(pending.status, 202);
  assert.equal(pending.body.status, "pending_approval");
  const id = pending.body.approval_id;
  assert.equal((await api.get("/v1/resolve/ap?environment=production")).body.error.code, "not_deployed");
  const queue = await reader.get("/v1/approvals?status=pending");
  assert.deepEqual(queue.body.items.map((a) => [a.id, a.prompt, a.version, a.status]), [[id, "ap", 1, "pending"]]);
  assert.ok(!("requested_by_key" in queue.body.items[0]));

  assert.equal((await reader.post(`/v1/approvals/${id}/approve`, {})).status, 403);
  assert.equal((await editor.post(`/v1/approvals/${id}/approve`, {})).status, 403, "editors cannot approve");
  const approved = await approver.post(`/v1/approvals/${id}/approve`, { note: "ship it" });
  assert.equal(approved.status, 201);
  assert.equal(approved.body.status, "deployed");
  assert.equal((await api.get("/v1/resolve/ap?environment=production")).body.version, 1);
  assert.equal((await approver.post(`/v1/approvals/${id}/approve`, {})).status, 409, "decided once");

  const self = await w.client((await api.post("/v1/keys", { name: "lead2", role: "approver" })).body.key);
  const own = await self.post("/v1/prompts/ap/promote", { version: 2, environment: "production" });
  assert.equal(own.status, 202);
  const ownRefused = await self.post(`/v1/approvals/${own.body.approval_id}/approve`, { note: "lgtm" });
  assert.equal(ownRefused.status, 403);
  assert.match(ownRefused.body.error.message, /other than its requester/);

  const rejected = await approver.post(`/v1/approvals/${own.body.approval_id}/reject`, { note: "not yet" });
  assert.equal(rejected.status, 200);
  assert.equal(rejected.body.status, "rejected");
  assert.equal((await api.get("/v1/resolve/ap?environment=production")).body.version, 1);
  assert.equal((await approver.post("/v1/approvals/nope/approve", {})).status, 404);

  const actions = (await api.get("/v1/audit?prompt=ap")).body.items.map((e) => e.action);
  for (const a of ["approval.request", "approval.approve", "approval.reject", "deployment.promote"]) assert.ok(actions.includes(a), a);
});

test("promotions to production are counted per week", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "s1", ["a", "b", "c"]);
  for (const version of [1, 2, 3]) await api.post("/v1/prompts/s1/promote", { version, environment: "production" });
  await api.post("/v1/prompts/s1/promote", { version: 1, environment: "staging" });
  await api.post("/v1/prompts/s1/rollback", { environment: "production" });
  const res = await api.get("/v1/stats/promotions?weeks=4");
  assert.equal(res.status, 200);
  assert.equal(res.body.weeks.length, 4);
  assert.deepEqual(res.body.weeks.map((w) => w.promotions), [0, 0, 0, 3], "rollbacks and staging do not count");
  const monday = new Date(`${res.body.weeks[3].week_start}T00:00:00Z`);
  assert.equal(monday.getUTCDay(), 1);
  assert.ok(Date.now() - monday.getTime() < 7 * 86400000);
  assert.equal((await api.get("/v1/stats/promotions?weeks=0")).status, 400);
  assert.equal((await api.get("/v1/stats/promotions?environment=staging&weeks=1")).body.weeks[0].promotions, 1);
});
