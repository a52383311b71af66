// Promotion, rollback, deployment history and the edge hot path (resolve and
// bundle served from KV, rebuilt from D1 on a miss, with ETags).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, newWorkspace, promptWithVersions, counts, shardKey } from "./harness.mjs";

let w;
before(async () => (w = await startWorker()));
after(async () => w?.stop());

const NO_CACHE = { "cache-control": "no-cache" };
const resolve = (api, slug, env = "production", headers) => api.get(`/v1/resolve/${slug}?environment=${env}`, headers);

test("promote then rollback changes what resolve returns", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "bot", ["v one", "v two", "v three"]);

  const none = await resolve(api, "bot");
  assert.equal(none.status, 404);
  assert.equal(none.body.error.code, "not_deployed");

  for (const version of [1, 2, 3]) {
    const res = await api.post("/v1/prompts/bot/promote", { version, environment: "production", reason: `ship ${version}` });
    assert.equal(res.status, 201);
    assert.equal(res.body.status, "deployed");
    assert.equal(res.body.version, version);
    const live = await resolve(api, "bot");
    assert.equal(live.status, 200);
    assert.equal(live.body.version, version);
    assert.equal(live.body.content.text, ["v one", "v two", "v three"][version - 1]);
  }

  const back = await api.post("/v1/prompts/bot/rollback", { environment: "production", reason: "regression" });
  assert.equal(back.status, 201);
  assert.equal(back.body.action, "rollback");
  assert.equal(back.body.version, 2);
  assert.equal(back.body.previous_version, 3);
  assert.equal((await resolve(api, "bot")).body.version, 2);

  // A second rollback walks further back; a third has nothing left.
  assert.equal((await api.post("/v1/prompts/bot/rollback", { environment: "production" })).body.version, 1);
  assert.equal((await resolve(api, "bot")).body.content.text, "v one");
  const nothing = await api.post("/v1/prompts/bot/rollback", { environment: "production" });
  assert.equal(nothing.status, 409);
  assert.equal(nothing.body.error.code, "nothing_to_roll_back");

  // Other environments are untouched.
  assert.equal((await resolve(api, "bot", "staging")).body.error.code, "not_deployed");
});

test("deployment history lists who, when and why, filterable by environment", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "hist", ["a", "b"]);
  await api.post("/v1/prompts/hist/promote", { version: 1, environment: "staging", reason: "try" });
  await api.post("/v1/prompts/hist/promote", { version: 1, environment: "production", reason: "go" });
  await api.post("/v1/prompts/hist/promote", { version: 2, environment: "production", reason: "better" });
  await api.post("/v1/prompts/hist/rollback", { environment: "production", reason: "worse" });

  const all = await api.get("/v1/prompts/hist/deployments");
  assert.equal(all.status, 200);
  assert.deepEqual(
    all.body.items.map((d) => [d.environment, d.action, d.version, d.reason]),
    [
      ["production", "rollback", 1, "worse"],
      ["production", "promote", 2, "better"],
      ["production", "promote", 1, "go"],
      ["staging", "promote", 1, "try"],
    ],
  );
  for (const d of all.body.items) {
    assert.match(d.actor, /^admin \(pvct_[0-9a-f]{8}\)$/);
    assert.match(d.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }
  const staging = await api.get("/v1/prompts/hist/deployments?environment=staging");
  assert.deepEqual(staging.body.items.map((d) => d.reason), ["try"]);
  const paged = await api.get("/v1/prompts/hist/deployments?limit=3");
  assert.equal(paged.body.items.length, 3);
  const rest = await api.get(`/v1/prompts/hist/deployments?limit=3&cursor=${paged.body.next_cursor}`);
  assert.deepEqual(rest.body.items.map((d) => d.reason), ["try"]);
  assert.equal(rest.body.next_cursor, null);

  const prompt = await api.get("/v1/prompts/hist");
  assert.equal(prompt.body.head.number, 2);
  assert.equal(prompt.body.deployments.production.version, 1);
  assert.equal(prompt.body.deployments.staging.version, 1);
});

test("promote refuses unknown versions and environments and repeats as a no-op", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "p", ["a"]);
  const before = await counts(w.db);
  assert.equal((await api.post("/v1/prompts/p/promote", { version: 4, environment: "production" })).status, 404);
  assert.equal((await api.post("/v1/prompts/p/promote", { version: 1, environment: "qa" })).status, 404);
  assert.equal((await api.post("/v1/prompts/p/promote", { version: 0, environment: "production" })).status, 400);
  assert.equal((await api.post("/v1/prompts/p/promote", { environment: "production" })).status, 400);
  assert.equal((await api.post("/v1/prompts/nope/promote", { version: 1, environment: "production" })).status, 404);
  assert.deepEqual(await counts(w.db), before);

  assert.equal((await api.post("/v1/prompts/p/promote", { version: 1, environment: "production" })).status, 201);
  const again = await api.post("/v1/prompts/p/promote", { version: 1, environment: "production" });
  assert.equal(again.status, 200);
  assert.equal(again.body.status, "unchanged");
  assert.equal((await api.get("/v1/prompts/p/deployments")).body.items.length, 1);
});

test("resolve is served from KV with an ETag and 304; a deleted KV entry is rebuilt from D1", async () => {
  const ws = await newWorkspace(w);
  const { api } = ws;
  await promptWithVersions(api, "edge", ["cached"]);
  await api.post("/v1/prompts/edge/promote", { version: 1, environment: "production" });

  const first = await resolve(api, "edge");
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("x-pvct-source"), "isolate", "promotion primed this isolate's cache");
  const fromKv = await resolve(api, "edge", "production", NO_CACHE);
  assert.equal(fromKv.headers.get("x-pvct-source"), "kv", "promotion wrote the document to KV");
  assert.deepEqual(fromKv.body, first.body);
  const etag = first.headers.get("etag");
  assert.match(etag, /^"[0-9a-f]{32}"$/);

  const notModified = await resolve(api, "edge", "production", { "if-none-match": etag });
  assert.equal(notModified.status, 304);
  assert.equal(notModified.headers.get("etag"), etag);
  assert.equal((await resolve(api, "edge", "production", { "if-none-match": '"other"' })).status, 200);

  const key = `resolved/${ws.id}/production/edge`;
  assert.ok(await w.kv.get(key), "the resolved document is in KV");
  await w.kv.delete(key);
  const rebuilt = await resolve(api, "edge", "production", NO_CACHE);
  assert.equal(rebuilt.status, 200);
  assert.equal(rebuilt.headers.get("x-pvct-source"), "d1");
  assert.equal(rebuilt.headers.get("etag"), etag, "the rebuilt document is the same document");
  assert.deepEqual(rebuilt.body, first.body);
  assert.ok(await w.kv.get(key), "the miss wrote the document back");
  assert.equal((await resolve(api, "edge", "production", NO_CACHE)).headers.get("x-pvct-source"), "kv");
});

test("the hot path does not read D1: isolate and KV hits serve even with the D1 rows gone from view", async () => {
  // Prove it by changing D1 underneath: rename the prompt's slug directly in
  // D1. KV still serves the old slug (D1 not consulted); deleting the KV
  // entry then makes resolve consult D1 and find nothing.
  const ws = await newWorkspace(w);
  await promptWithVersions(ws.api, "hot", ["x"]);
  await ws.api.post("/v1/prompts/hot/promote", { version: 1, environment: "production" });
  await w.db.prepare("UPDATE prompts SET slug = 'hot-renamed' WHERE workspace_id = ? AND slug = 'hot'").bind(ws.id).run();
  const fromIsolate = await resolve(ws.api, "hot");
  assert.equal(fromIsolate.status, 200);
  assert.equal(fromIsolate.headers.get("x-pvct-source"), "isolate");
  const fromKv = await resolve(ws.api, "hot", "production", NO_CACHE);
  assert.equal(fromKv.status, 200);
  assert.equal(fromKv.headers.get("x-pvct-source"), "kv");
  await w.kv.delete(`resolved/${ws.id}/production/hot`);
  assert.equal((await resolve(ws.api, "hot", "production", NO_CACHE)).status, 404);
});

test("bundle holds every prompt of an environment, with ETag, rebuilt on a miss", async () => {
  const ws = await newWorkspace(w);
  const { api } = ws;
  await promptWithVersions(api, "one", ["first prompt"]);
  await promptWithVersions(api, "two", ["second prompt", "second v2"]);
  await promptWithVersions(api, "three", ["not deployed"]);
  await api.post("/v1/prompts/one/promote", { version: 1, environment: "production" });
  await api.post("/v1/prompts/two/promote", { version: 2, environment: "production" });

  const bundle = await api.get("/v1/bundle?environment=production");
  assert.equal(bundle.status, 200);
  assert.equal(bundle.body.environment, "production");
  assert.deepEqual(Object.keys(bundle.body.prompts).sort(), ["one", "two"]);
  assert.equal(bundle.body.prompts.two.version, 2);
  const etag = bundle.headers.get("etag");
  assert.equal((await api.get("/v1/bundle?environment=production", { "if-none-match": etag })).status, 304);

  await api.post("/v1/prompts/two/rollback", { environment: "production" });
  // two had only one promotion here, so rollback is refused and the bundle stays.
  assert.equal((await api.get("/v1/bundle?environment=production")).headers.get("etag"), etag);
  await api.post("/v1/prompts/two/promote", { version: 1, environment: "production" });
  const changed = await api.get("/v1/bundle?environment=production");
  assert.notEqual(changed.headers.get("etag"), etag);
  assert.equal(changed.body.prompts.two.version, 1);

  // The bundle is kept in KV as shards; with one gone, every shard is rebuilt.
  await w.kv.delete(shardKey(ws.id, "production", "two"));
  const rebuilt = await api.get("/v1/bundle?environment=production", NO_CACHE);
  assert.equal(rebuilt.headers.get("x-pvct-source"), "d1");
  assert.equal(rebuilt.headers.get("etag"), changed.headers.get("etag"));

  const empty = await api.get("/v1/bundle?environment=dev");
  assert.equal(empty.status, 200);
  assert.deepEqual(empty.body.prompts, {});
  assert.equal((await api.get("/v1/bundle?environment=qa")).status, 404);
  assert.equal((await api.get("/v1/bundle")).body.error.code, "invalid_query");
});
