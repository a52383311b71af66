// The release pipeline keeps its promises, end to end against workerd with
// real D1, KV and Queue: rollback always wins, experiments and approvals are
// no back door past gates, approvals are decided against the present, the
// edge serves what D1 says (with faults injected into KV writes), and
// revocation is bounded.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { startWorker, newWorkspace, promptWithVersions, counts, newKey, shardKey } from "./harness.mjs";

let w;
before(async () => (w = await startWorker({ kvFaults: true })));
after(async () => w?.stop());

const USERS = Array.from({ length: 60 }, (_, i) => `user-${i}`);

/** Which version each of 60 users gets in production (no isolate cache). */
async function served(api, slug, env = "production") {
  const out = {};
  for (const u of USERS) {
    const r = await api.get(`/v1/resolve/${slug}?environment=${env}&user_key=${u}`, { "cache-control": "no-cache" });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    out[r.body.version] = (out[r.body.version] ?? 0) + 1;
  }
  return out;
}

async function keyFor(api, role, name = role) {
  const res = await api.post("/v1/keys", { name, role });
  assert.equal(res.status, 201);
  return w.client(res.body.key);
}

const promote = (api, slug, version, extra = {}) =>
  api.post(`/v1/prompts/${slug}/promote`, { version, environment: "production", ...extra });
const splitOf = (api, slug, variants, extra = {}) =>
  api.put(`/v1/prompts/${slug}/experiments/production`, { variants, salt: "s", ...extra });

async function auditActions(api, slug) {
  return (await api.get(`/v1/audit?prompt=${slug}&limit=200`)).body.items.map((a) => a.action);
}

test("rollback ends a running experiment: everyone is back on the deployed version at once", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "brake", ["one", "two", "three", "four"]);
  assert.equal((await promote(api, "brake", 1)).status, 201);
  assert.equal((await promote(api, "brake", 2)).status, 201);
  assert.equal((await splitOf(api, "brake", [{ version: 2, weight: 50 }, { version: 3, weight: 50 }])).status, 201);
  const split = await served(api, "brake");
  assert.ok(split[3] > 10 && split[2] > 10, JSON.stringify(split));

  const back = await api.post("/v1/prompts/brake/rollback", { environment: "production", reason: "incident" });
  assert.equal(back.status, 200, JSON.stringify(back.body));
  assert.equal(back.body.status, "experiment_ended");
  assert.equal(back.body.version, 2);
  assert.deepEqual(await served(api, "brake"), { 2: USERS.length });
  const bundle = await api.get("/v1/bundle?environment=production", { "cache-control": "no-cache" });
  assert.equal(bundle.body.prompts.brake.version, 2);
  assert.ok(!bundle.body.prompts.brake.experiment, "the bundle the SDKs load has no split either");
  assert.equal((await api.get("/v1/prompts/brake/experiments")).body.items[0].status, "ended");
  assert.ok((await auditActions(api, "brake")).includes("deployment.rollback"));

  // The next rollback walks the deployment history.
  assert.equal((await api.post("/v1/prompts/brake/rollback", { environment: "production" })).body.version, 1);
  assert.deepEqual(await served(api, "brake"), { 1: USERS.length });
});

test("promote during an experiment is refused unless it ends the experiment in the same change", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "busy", ["one", "two", "three", "four"]);
  await promote(api, "busy", 1);
  await splitOf(api, "busy", [{ version: 1, weight: 50 }, { version: 2, weight: 50 }]);
  const before = await counts(w.db);
  const refused = await promote(api, "busy", 4);
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error.code, "experiment_running");
  assert.deepEqual(await counts(w.db), before, "a refusal writes nothing");

  const ends = await promote(api, "busy", 4, { end_experiment: true });
  assert.equal(ends.status, 201, JSON.stringify(ends.body));
  assert.ok(ends.body.ended_experiment);
  assert.deepEqual(await served(api, "busy"), { 4: USERS.length });
});

test("a split is a promotion of each variant: gates, variables, one variant, approval", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "door", ["one", "two", "three"]);
  await api.post("/v1/prompts/door/versions", {
    content: { text: "hi {{name}}" }, parent_version: 3, message: "needs a variable",
  });
  await promote(api, "door", 1);
  await api.put("/v1/environments/production", { position: 2, policy: { min_samples: 5 } });
  const before = await counts(w.db);

  const gates = await splitOf(api, "door", [{ version: 1, weight: 10 }, { version: 2, weight: 45 }, { version: 3, weight: 45 }]);
  assert.equal(gates.status, 422);
  assert.equal(gates.body.error.code, "gates_failed");
  assert.deepEqual(gates.body.error.details.variants.map((v) => v.version), [2, 3], "each failing variant is listed");

  await api.put("/v1/environments/production", { position: 2, policy: {} });
  const vars = await splitOf(api, "door", [{ version: 1, weight: 50 }, { version: 4, weight: 50 }]);
  assert.equal(vars.status, 409);
  assert.equal(vars.body.error.code, "variables_changed");

  const one = await splitOf(api, "door", [{ version: 3, weight: 100 }]);
  assert.equal(one.status, 400);
  assert.match(one.body.error.message, /promote/);
  assert.equal((await counts(w.db)).experiments, before.experiments);
  assert.deepEqual(await served(api, "door"), { 1: USERS.length });

  // In an environment that requires approval a split waits for another approver.
  await api.put("/v1/environments/production", { position: 2, policy: { requires_approval: true } });
  const lead = await keyFor(api, "approver", "lead");
  const second = await keyFor(api, "approver", "second");
  const asked = await splitOf(lead, "door", [{ version: 1, weight: 50 }, { version: 2, weight: 50 }]);
  assert.equal(asked.status, 202, JSON.stringify(asked.body));
  assert.equal(asked.body.kind, "experiment");
  assert.deepEqual(await served(api, "door"), { 1: USERS.length }, "nothing changes before the decision");
  assert.equal((await lead.post(`/v1/approvals/${asked.body.approval_id}/approve`, {})).status, 403, "not by the requester");
  const done = await second.post(`/v1/approvals/${asked.body.approval_id}/approve`, {});
  assert.equal(done.status, 201, JSON.stringify(done.body));
  const after = await served(api, "door");
  assert.ok(after[1] > 10 && after[2] > 10, JSON.stringify(after));
  // Ending is a brake: an editor may do it, with no approval.
  const editor = await keyFor(api, "editor");
  assert.equal((await editor.del("/v1/prompts/door/experiments/production")).status, 200);
  assert.deepEqual(await served(api, "door"), { 1: USERS.length });
});

test("approvals never regress production: a newer request supersedes, a stale one is refused and marked", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "order", ["one", "two", "three"]);
  await promote(api, "order", 1);
  await api.put("/v1/environments/production", { position: 2, policy: { requires_approval: true } });
  const lead = await keyFor(api, "approver", "lead");
  const v2 = await promote(api, "order", 2);
  const v3 = await promote(api, "order", 3);
  assert.equal(v2.status, 202);
  assert.deepEqual(v3.body.supersedes, [v2.body.approval_id]);
  assert.equal((await lead.post(`/v1/approvals/${v3.body.approval_id}/approve`, {})).status, 201);
  const late = await lead.post(`/v1/approvals/${v2.body.approval_id}/approve`, {});
  assert.equal(late.status, 409);
  assert.deepEqual(await served(api, "order"), { 3: USERS.length });
  const byId = Object.fromEntries((await api.get("/v1/approvals")).body.items.map((a) => [a.id, a.status]));
  assert.equal(byId[v2.body.approval_id], "superseded");

  // Asked against v3; a rollback moves production; approving it now is stale.
  const ask = await promote(api, "order", 2, { reason: "retry" });
  await api.post("/v1/prompts/order/rollback", { environment: "production" });
  const stale = await lead.post(`/v1/approvals/${ask.body.approval_id}/approve`, {});
  assert.equal(stale.status, 409);
  assert.equal(stale.body.error.code, "stale_approval");
  assert.deepEqual(await served(api, "order"), { 1: USERS.length });
  const status = (await api.get("/v1/approvals")).body.items.find((a) => a.id === ask.body.approval_id).status;
  assert.equal(status, "superseded");
  assert.ok((await auditActions(api, "order")).includes("approval.supersede"));
});

test("two approvers deciding at once: one deploys, the other writes nothing", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "race", ["one", "two"]);
  await promote(api, "race", 1);
  await api.put("/v1/environments/production", { position: 2, policy: { requires_approval: true } });
  const a = await keyFor(api, "approver", "a");
  const b = await keyFor(api, "approver", "b");
  const asked = await promote(api, "race", 2);
  const before = await counts(w.db);
  const [x, y] = await Promise.all([
    a.post(`/v1/approvals/${asked.body.approval_id}/approve`, {}),
    b.post(`/v1/approvals/${asked.body.approval_id}/reject`, {}),
  ]);
  const statuses = [x.status, y.status].sort();
  assert.equal(statuses.filter((s) => s === 409).length, 1, `${x.status} ${JSON.stringify(x.body)} / ${y.status}`);
  const after = await counts(w.db);
  assert.equal(after.audit_log - before.audit_log, x.status === 201 ? 2 : 1, "one decision, one audit row (plus its deploy)");
  const decided = await w.db
    .prepare("SELECT COUNT(*) AS n FROM audit_log WHERE action IN ('approval.approve', 'approval.reject') AND details LIKE ?")
    .bind(`%${asked.body.approval_id}%`)
    .first();
  assert.equal(decided.n, 1);
});

test("an approval whose deployment fails stays pending and can be approved again", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "atomic", ["one", "two"]);
  await promote(api, "atomic", 1);
  await api.put("/v1/environments/production", { position: 2, policy: { requires_approval: true } });
  const lead = await keyFor(api, "approver", "lead");
  const asked = await promote(api, "atomic", 2, { reason: "ship" });
  // Fault injection in the real D1: the deployment row of this change aborts.
  await w.db.prepare(`CREATE TRIGGER IF NOT EXISTS inject_deploy_fault BEFORE INSERT ON deployments
    WHEN NEW.reason LIKE '%ship%' BEGIN SELECT RAISE(ABORT, 'injected fault'); END`).run();
  const before = await counts(w.db);
  try {
    const failed = await lead.post(`/v1/approvals/${asked.body.approval_id}/approve`, {});
    assert.ok(failed.status >= 400, `${failed.status}`);
    assert.ok(!JSON.stringify(failed.body).includes("injected"), "no internal text reaches the client");
  } finally {
    await w.db.prepare("DROP TRIGGER IF EXISTS inject_deploy_fault").run();
  }
  assert.deepEqual(await counts(w.db), before, "decision, deployment and audit row land together or not at all");
  const status = (await api.get("/v1/approvals")).body.items.find((a) => a.id === asked.body.approval_id).status;
  assert.equal(status, "pending");
  assert.equal((await lead.post(`/v1/approvals/${asked.body.approval_id}/approve`, {})).status, 201);
  assert.deepEqual(await served(api, "atomic"), { 2: USERS.length });
});

test("the edge serves what D1 says: documents carry the release sequence, a failed publish is repaired", async () => {
  const { api, id: ws } = await newWorkspace(w);
  await promptWithVersions(api, "edge", ["one", "two", "three"]);
  await promote(api, "edge", 1);
  const seqInD1 = async () => {
    const env = await w.db.prepare("SELECT id FROM environments WHERE workspace_id = ? AND name = 'production'").bind(ws).first();
    return (await w.db.prepare("SELECT COALESCE(MAX(seq), 0) AS s FROM releases WHERE environment_id = ?").bind(env.id).first()).s;
  };
  const kvSeq = async (key) => (await w.kv.getWithMetadata(key)).metadata?.seq;
  // The bundle shard that holds "edge" (the bundle is kept in KV as shards).
  const bundleKey = shardKey(ws, "production", "edge");
  const resolvedKey = `resolved/${ws}/production/edge`;
  assert.equal(await kvSeq(bundleKey), await seqInD1());
  assert.equal(await kvSeq(resolvedKey), await seqInD1());

  // KV refuses document writes: the promotion commits, says the edge is
  // behind, and a queued publish job brings KV up to date once KV recovers.
  await w.fault("put", "bundle");
  await w.fault("put", "resolved");
  const promoted = await promote(api, "edge", 2);
  assert.equal(promoted.status, 201, JSON.stringify(promoted.body));
  assert.equal(promoted.body.edge, "pending");
  assert.ok((await kvSeq(bundleKey)) < (await seqInD1()), "KV is behind while it fails");
  await w.fault("put", "bundle", false);
  await w.fault("put", "resolved", false);
  for (let i = 0; i < 150 && (await kvSeq(bundleKey)) !== (await seqInD1()); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await kvSeq(bundleKey), await seqInD1(), "the publish job repaired the bundle");
  assert.equal(await kvSeq(resolvedKey), await seqInD1());
  assert.deepEqual(await served(api, "edge"), { 2: USERS.length });

  // A promote of the live version republishes what an old copy replaced.
  const stale = await w.kv.getWithMetadata(resolvedKey);
  await w.kv.put(resolvedKey, stale.value.replace(/"version":2/g, '"version":1'), { metadata: { ...stale.metadata, seq: 0 } });
  const again = await promote(api, "edge", 2);
  assert.equal(again.status, 200);
  assert.equal(again.body.status, "unchanged");
  assert.equal(await kvSeq(resolvedKey), await seqInD1());
  assert.equal(JSON.parse((await w.kv.get(resolvedKey))).version, 2);

  // A publish never replaces a newer document with an older one.
  const newer = await w.kv.getWithMetadata(bundleKey);
  await w.kv.put(bundleKey, newer.value, { metadata: { ...newer.metadata, seq: 1_000_000 } });
  await promote(api, "edge", 3);
  assert.equal(await kvSeq(bundleKey), 1_000_000);
});

test("revocation is bounded: key entries expire within 60 s, revoke always deletes, unknown keys are cached briefly", async () => {
  const { api } = await newWorkspace(w);
  const made = await api.post("/v1/keys", { name: "ci", role: "reader" });
  const ci = w.client(made.body.key);
  assert.equal((await ci.get("/v1/prompts")).status, 200);
  const { keys } = await w.kv.list({ prefix: "apikey/" });
  assert.ok(keys.length > 0);
  const now = Date.now() / 1000;
  for (const k of keys) assert.ok(k.expiration && k.expiration <= now + 61, `${k.name} expires at ${k.expiration}`);

  // KV deletes fail: the revocation still holds in D1 and in this isolate,
  // and a repeated revoke deletes the entry once KV works again.
  const entries = async () => (await w.kv.list({ prefix: "apikey/" })).keys.length;
  const cached = await entries();
  await w.fault("delete", "apikey");
  assert.equal((await api.del(`/v1/keys/${made.body.id}`)).status, 200);
  assert.equal((await ci.get("/v1/prompts")).status, 401, "revoked at once where it was revoked");
  assert.equal(await entries(), cached, "the KV delete failed");
  await w.fault("delete", "apikey", false);
  assert.equal((await api.del(`/v1/keys/${made.body.id}`)).status, 200);
  assert.equal(await entries(), cached - 1, "the repeated revoke deleted it");

  // An unknown key is refused and remembered as unknown for a few seconds:
  // a row that appears behind the worker's back is not seen at once, then is.
  const stranger = newKey();
  assert.equal((await w.client(stranger).get("/v1/prompts")).status, 401);
  const wsId = (await w.db.prepare("SELECT workspace_id FROM api_keys WHERE id = ?").bind(made.body.id).first()).workspace_id;
  await w.db
    .prepare("INSERT INTO api_keys (id, workspace_id, name, role, key_hash, key_prefix, created_at) VALUES (?, ?, 'late', 'reader', ?, ?, ?)")
    .bind(`late-${Date.now()}`, wsId, createHash("sha256").update(stranger).digest("hex"), stranger.slice(0, 13), new Date().toISOString())
    .run();
  assert.equal((await w.client(stranger).get("/v1/prompts")).status, 401, "negatively cached");
  let status = 401;
  for (let i = 0; i < 100 && status === 401; i++) {
    await new Promise((r) => setTimeout(r, 200));
    status = (await w.client(stranger).get("/v1/prompts")).status;
  }
  assert.equal(status, 200, "the negative entry expires");
});
