// Authentication, roles, keys, workspaces and tenant isolation.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, newWorkspace, promptWithVersions, newKey, counts, versionIds, metricsWhen, documentedRoutes, templateOf } from "./harness.mjs";

let w;
before(async () => (w = await startWorker()));
after(async () => w?.stop());

test("every /v1 route needs a valid key", async () => {
  const anon = w.client();
  for (const path of ["/v1/prompts", "/v1/environments", "/v1/audit", "/v1/keys", "/v1/bundle?environment=production"]) {
    const res = await anon.get(path);
    assert.equal(res.status, 401, path);
    assert.equal(res.body.error.code, "unauthenticated");
  }
  assert.equal((await w.client("not-a-key").get("/v1/prompts")).status, 401);
  assert.equal((await w.client(newKey()).get("/v1/prompts")).status, 401, "well-formed but unknown");
  const basic = await w.client().get("/v1/prompts", { authorization: "Basic abc" });
  assert.equal(basic.status, 401);
});

test("only the bootstrap key creates workspaces; names are unique", async () => {
  const ws = await newWorkspace(w);
  const byWorkspaceAdmin = await ws.api.post("/v1/workspaces", { name: "sneaky" });
  assert.equal(byWorkspaceAdmin.status, 403);
  const boot = w.client(w.adminKey);
  const dup = await boot.post("/v1/workspaces", { name: ws.name });
  assert.equal(dup.status, 409);
  assert.equal(dup.body.error.code, "already_exists");
  assert.equal((await boot.post("/v1/workspaces", { name: "Has Space" })).status, 400);
  const created = await boot.post("/v1/workspaces", { name: "fresh-one", display_name: "Fresh" });
  assert.equal(created.status, 201);
  assert.match(created.body.api_key.key, /^pvct_[0-9a-f]{48}$/);
  assert.deepEqual(created.body.environments, ["dev", "staging", "production"]);
  const envs = await w.client(created.body.api_key.key).get("/v1/environments");
  assert.deepEqual(envs.body.items.map((e) => e.name), ["dev", "staging", "production"]);
});

test("keys: admins create, list and revoke; only hashes are stored; revoked keys stop working", async () => {
  const { api } = await newWorkspace(w);
  const made = await api.post("/v1/keys", { name: "ci", role: "editor" });
  assert.equal(made.status, 201);
  const key = made.body.key;
  assert.match(key, /^pvct_[0-9a-f]{48}$/);
  assert.equal(made.body.key_prefix, key.slice(0, 13));
  const stored = await w.db.prepare("SELECT key_hash FROM api_keys WHERE id = ?").bind(made.body.id).first();
  assert.match(stored.key_hash, /^[0-9a-f]{64}$/);
  assert.notEqual(stored.key_hash, key);
  const dump = JSON.stringify(await w.db.prepare("SELECT * FROM api_keys").all());
  assert.ok(!dump.includes(key), "the plain key is nowhere in D1");

  const list = await api.get("/v1/keys");
  assert.deepEqual(list.body.items.map((k) => [k.name, k.role]), [["admin", "admin"], ["ci", "editor"]]);
  assert.ok(list.body.items.every((k) => !("key" in k) && !("key_hash" in k)));

  const ci = w.client(key);
  assert.equal((await ci.get("/v1/prompts")).status, 200);
  const revoked = await api.del(`/v1/keys/${made.body.id}`);
  assert.equal(revoked.status, 200);
  assert.ok(revoked.body.revoked_at);
  assert.equal((await ci.get("/v1/prompts")).status, 401);
  assert.equal((await api.del(`/v1/keys/${made.body.id}`)).status, 200, "revoking twice is harmless");
  assert.equal((await api.del("/v1/keys/nope")).status, 404);
  assert.equal((await api.post("/v1/keys", { name: "x", role: "owner" })).status, 400);
});

test("GET /v1/me tells each key its workspace, role and permissions", async () => {
  const ws = await newWorkspace(w);
  const expected = { reader: ["read"], editor: ["read", "write"], approver: ["read", "write", "approve"], admin: ["read", "write", "approve", "administer"] };
  for (const [role, permissions] of Object.entries(expected)) {
    const made = await ws.api.post("/v1/keys", { name: `me-${role}`, role });
    assert.equal(made.status, 201);
    const me = await w.client(made.body.key).get("/v1/me");
    assert.equal(me.status, 200);
    assert.equal(me.body.role, role);
    assert.deepEqual(me.body.permissions, permissions);
    assert.equal(me.body.workspace_id, ws.id);
    assert.equal(me.body.key_id, made.body.id);
    assert.equal(me.body.actor, `me-${role} (${made.body.key_prefix})`);
  }
  assert.equal((await w.client().get("/v1/me")).status, 401);
});

test("roles: readers read, editors write, only admins administer", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "r", ["x"]);
  const as = async (role) => w.client((await api.post("/v1/keys", { name: role, role })).body.key);
  const reader = await as("reader");
  const editor = await as("editor");
  const approver = await as("approver");

  assert.equal((await reader.get("/v1/prompts/r")).status, 200);
  assert.equal((await reader.get("/v1/prompts/r/versions")).status, 200);
  const denied = await reader.post("/v1/prompts", { slug: "n", name: "n", kind: "text" });
  assert.equal(denied.status, 403);
  assert.equal(denied.body.error.code, "forbidden");
  assert.equal(denied.body.error.details.required_role, "editor");
  assert.equal((await reader.post("/v1/prompts/r/versions", { content: { text: "y" }, parent_version: 1 })).status, 403);
  assert.equal((await reader.post("/v1/prompts/r/promote", { version: 1, environment: "dev" })).status, 403);

  assert.equal((await editor.post("/v1/prompts/r/versions", { content: { text: "y" }, parent_version: 1 })).status, 201);
  assert.equal((await editor.post("/v1/prompts/r/promote", { version: 2, environment: "dev" })).status, 201);
  for (const client of [reader, editor, approver]) {
    assert.equal((await client.get("/v1/keys")).status, 403);
    assert.equal((await client.post("/v1/keys", { name: "x", role: "admin" })).status, 403);
    assert.equal((await client.get("/v1/audit")).status, 403);
    assert.equal((await client.put("/v1/environments/qa", { position: 5 })).status, 403);
  }
});

test("another workspace's objects are indistinguishable from missing ones", async () => {
  const a = await newWorkspace(w);
  const b = await newWorkspace(w);
  await promptWithVersions(a.api, "secret", ["a's prompt", "v2"]);
  await a.api.post("/v1/prompts/secret/promote", { version: 1, environment: "production" });
  const aKey = await a.api.post("/v1/keys", { name: "k", role: "reader" });
  // One of each object A has that B might reach by id: an execution, a pending approval, an experiment, evaluators.
  const v1 = (await versionIds(a.api, "secret"))[1];
  await a.api.post("/v1/executions", { executions: [{ id: "a-run", prompt_version_id: v1, environment: "production", latency_ms: 3 }] });
  await metricsWhen(a.api, "secret", (items) => items[0]?.metrics.calls === 1);
  await a.api.put("/v1/environments/gated", { policy: { requires_approval: true } });
  const pending = await a.api.post("/v1/prompts/secret/promote", { version: 2, environment: "gated" });
  assert.equal(pending.status, 202);
  await a.api.put("/v1/prompts/secret/experiments/staging", { variants: [{ version: 1, weight: 50 }, { version: 2, weight: 50 }] }).catch(() => null);
  await a.api.put("/v1/prompts/secret/evaluators", { evaluators: [{ name: "c", type: "contains", value: "x" }] });
  const hook = (await a.api.post("/v1/webhooks", { url: "http://127.0.0.1:9/hook", events: ["experiment.ended"] })).body;
  // A dead letter of A's: a message that does not read as a job.
  await (await w.queue("QUEUE_TELEMETRY")).send(JSON.stringify({ kind: "feedback", workspace_id: a.id, value: "up" }));
  let letter;
  for (let i = 0; i < 300 && !letter; i++) {
    letter = (await a.api.get("/v1/dead-letters")).body.items[0];
    if (!letter) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(letter, "A has a dead letter");
  const today = new Date().toISOString().slice(0, 10);
  const logObject = (await a.api.get(`/v1/telemetry/log?day=${today}`)).body.items[0];
  assert.ok(logObject, "A has a raw log object");
  await a.api.put("/v1/prompts/secret/tests", { cases: [{ name: "c", assert: [{ type: "contains", value: "x" }] }] });
  const testRun = (await a.api.post("/v1/prompts/secret/versions/1/test-runs", { outputs: [{ case: "c", output: "x" }] })).body;
  assert.ok(testRun.id, "A has a test run");

  const aMember = (await a.api.post("/v1/members", { email: "iso@example.com", role: "reader" })).body;
  assert.ok(aMember.id, "A has a member");
  const aDelivery = (await a.api.get(`/v1/webhooks/${hook.id}/deliveries`)).body.items[0]?.id ?? "none";
  const missing = await b.api.get("/v1/prompts/never-existed");
  const probes = [
    ["GET", "/v1/prompts/secret"],
    ["GET", "/v1/prompts/secret/versions"],
    ["GET", "/v1/prompts/secret/versions/1"],
    ["GET", "/v1/prompts/secret/diff?from=1&to=2"],
    ["GET", "/v1/prompts/secret/deployments"],
    ["GET", "/v1/resolve/secret?environment=production"],
    ["POST", "/v1/prompts/secret/versions", { content: { text: "x" }, parent_version: 2 }],
    ["POST", "/v1/prompts/secret/promote", { version: 1, environment: "staging" }],
    ["POST", "/v1/prompts/secret/rollback", { environment: "production" }],
    ["DELETE", `/v1/keys/${aKey.body.id}`],
    ["POST", "/v1/prompts/secret/render", { version: 1 }],
    ["GET", "/v1/prompts/secret/dependents"],
    ["GET", "/v1/prompts/secret/experiments"],
    ["PUT", "/v1/prompts/secret/experiments/production", { variants: [{ version: 1, weight: 50 }, { version: 2, weight: 50 }] }],
    ["DELETE", "/v1/prompts/secret/experiments/production"],
    ["GET", "/v1/prompts/secret/evaluators"],
    ["PUT", "/v1/prompts/secret/evaluators", { evaluators: [] }],
    ["GET", "/v1/prompts/secret/tests"],
    ["PUT", "/v1/prompts/secret/tests", { cases: [] }],
    ["POST", "/v1/prompts/secret/versions/1/test-runs", {}],
    ["GET", "/v1/prompts/secret/test-runs"],
    ["GET", `/v1/prompts/secret/test-runs/compare?a=${testRun.id}&b=${testRun.id}`],
    ["GET", `/v1/prompts/secret/test-runs/${testRun.id}`],
    ["GET", "/v1/prompts/secret/metrics?environment=production"],
    ["GET", "/v1/prompts/secret/compare?environment=production&a=1&b=2"],
    ["GET", `/v1/telemetry/log/${logObject.id}`],
    ["POST", `/v1/approvals/${pending.body.approval_id}/approve`, {}],
    ["POST", `/v1/approvals/${pending.body.approval_id}/reject`, {}],
    ["DELETE", `/v1/webhooks/${hook.id}`],
    ["GET", `/v1/webhooks/${hook.id}/deliveries`],
    ["POST", `/v1/webhooks/${hook.id}/deliveries/${aDelivery}/redeliver`],
    ["PATCH", `/v1/members/${aMember.id}`, { role: "admin" }],
    ["DELETE", `/v1/members/${aMember.id}`],
    ["POST", `/v1/dead-letters/${letter.id}/replay`],
  ];
  // Every route that names an object (a slug or an id) is probed.
  const templates = documentedRoutes().map((r) => r.key);
  const probed = new Set(probes.map(([m, p]) => templateOf(m, p, templates)));
  const byName = templates.filter((t) => /\{(slug|id|number)\}/.test(t) && !t.includes("/prices/"));
  assert.deepEqual(byName.filter((t) => !probed.has(t)), [], "routes naming an object that the isolation sweep misses");
  const before = await counts(w.db);
  for (const [method, path, body] of probes) {
    const res = await b.api.call(method, path, body);
    assert.equal(res.status, 404, `${method} ${path}`);
    assert.equal(res.body.error.code, "not_found", `${method} ${path}`);
  }
  assert.equal(missing.body.error.message, (await b.api.get("/v1/prompts/secret")).body.error.message);
  assert.deepEqual(await counts(w.db), before, "nothing was written by the probes");

  assert.deepEqual((await b.api.get("/v1/prompts")).body.items, []);
  assert.deepEqual((await b.api.get("/v1/approvals")).body.items, []);
  assert.deepEqual((await b.api.get("/v1/webhooks")).body.items, []);
  // B's telemetry cannot land on A's versions or executions.
  const foreign = await b.api.post("/v1/executions", { executions: [{ id: "b-run", prompt_version_id: v1, environment: "production", latency_ms: 1 }] });
  assert.deepEqual(foreign.body.rejected.map((r) => r.code), ["unknown_version"]);
  const foreignFeedback = await b.api.post("/v1/feedback", { execution_id: "a-run", value: -1, prompt_version_id: v1, environment: "production" });
  assert.equal(foreignFeedback.status, 400);
  assert.equal(foreignFeedback.body.error.details.field, "prompt_version_id");
  assert.deepEqual((await b.api.get(`/v1/telemetry/log?day=${today}`)).body.items, [], "B lists none of A's raw log");
  await new Promise((r) => setTimeout(r, 1500));
  const aMetrics = (await a.api.get("/v1/prompts/secret/metrics?environment=production")).body.items[0].metrics;
  assert.equal(aMetrics.feedback_down, 0, "B's feedback never counts on A's execution");
  assert.deepEqual((await b.api.get("/v1/bundle?environment=production")).body.prompts, {});
  assert.ok(!(await b.api.get("/v1/keys")).body.items.some((k) => k.id === aKey.body.id));
  assert.ok(!JSON.stringify((await b.api.get("/v1/audit")).body).includes("secret"));
  // B can use the same slug independently.
  assert.equal((await b.api.post("/v1/prompts", { slug: "secret", name: "mine", kind: "text" })).status, 201);
  assert.equal((await a.api.get("/v1/prompts/secret")).body.name, "secret");
});

test("environments: admins add one and set its gate policy", async () => {
  const { api } = await newWorkspace(w);
  const created = await api.put("/v1/environments/qa", { policy: { min_samples: 100, requires_approval: true } });
  assert.equal(created.status, 201);
  assert.equal(created.body.position, 3, "appended after production");
  assert.deepEqual(created.body.policy, { min_samples: 100, requires_approval: true });
  const updated = await api.put("/v1/environments/qa", { position: 1, policy: { max_error_rate: 0.05 } });
  assert.equal(updated.status, 200);
  assert.equal(updated.body.position, 1);
  assert.deepEqual(updated.body.policy, { max_error_rate: 0.05, requires_approval: false });
  assert.equal((await api.put("/v1/environments/qa", { policy: { max_error_rate: 3 } })).status, 400);
  assert.equal((await api.put("/v1/environments/qa", { policy: { unknown_gate: 1 } })).status, 400);
  assert.equal((await api.put("/v1/environments/Bad_Name", {})).status, 400);
});

test("the audit trail records every change with actor and filters", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "aud", ["one", "two"]);
  await api.post("/v1/prompts/aud/promote", { version: 2, environment: "production", reason: "ship" });
  await api.post("/v1/keys", { name: "bot", role: "reader" });
  const all = await api.get("/v1/audit");
  assert.equal(all.status, 200);
  assert.deepEqual(
    all.body.items.map((e) => e.action),
    ["key.create", "deployment.promote", "version.create", "version.create", "prompt.create", "workspace.create"],
  );
  const promo = all.body.items[1];
  assert.equal(promo.prompt, "aud");
  assert.equal(promo.details.reason, "ship");
  assert.match(promo.actor, /^admin \(pvct_/);
  const versions = await api.get("/v1/audit?action=version.create");
  assert.equal(versions.body.items.length, 2);
  const forPrompt = await api.get("/v1/audit?prompt=aud");
  assert.equal(forPrompt.body.items.length, 4);
  const byActor = await api.get(`/v1/audit?actor=${encodeURIComponent(promo.actor)}&limit=2`);
  assert.equal(byActor.body.items.length, 2);
  assert.ok(byActor.body.next_cursor);
  assert.equal((await api.get("/v1/audit?action=nonsense")).status, 400);
});
