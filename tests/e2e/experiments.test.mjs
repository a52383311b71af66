// A/B experiments end to end: the worker's routing matches the shared golden
// vectors (generated with GrowthBook's own SDK), stays sticky per user, keeps
// ramped users, and validates splits.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { startWorker, newWorkspace, promptWithVersions, root, counts } from "./harness.mjs";

const { vectors } = JSON.parse(readFileSync(path.join(root, "tests/vectors/routing.json"), "utf8"));

let w;
before(async () => (w = await startWorker()));
after(async () => w?.stop());

async function setup(versions = 3) {
  const ws = await newWorkspace(w);
  await promptWithVersions(ws.api, "ab", Array.from({ length: versions }, (_, i) => `version ${i + 1}`));
  await ws.api.post("/v1/prompts/ab/promote", { version: 1, environment: "production" });
  return ws;
}

const split = (api, variants, extra = {}) => api.put("/v1/prompts/ab/experiments/production", { variants, ...extra });
const resolveFor = (api, user) =>
  api.get(`/v1/resolve/ab?environment=production${user === undefined ? "" : `&user_key=${encodeURIComponent(user)}`}`);

test("the worker routes every golden vector exactly as GrowthBook does", async () => {
  const { api } = await setup(10);
  const groups = new Map();
  for (const v of vectors.filter((v) => v.seed !== "" && v.weights.length > 1)) {
    const k = JSON.stringify([v.seed, v.weights]);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(v);
  }
  let checked = 0;
  for (const [k, group] of groups) {
    const [salt, weights] = JSON.parse(k);
    const res = await split(api, weights.map((weight, i) => ({ version: i + 1, weight })), { salt });
    assert.ok([200, 201].includes(res.status), JSON.stringify(res.body));
    for (const v of group) {
      const r = await resolveFor(api, v.key);
      assert.equal(r.status, 200);
      assert.equal(r.body.assignment, "hashed");
      assert.equal(r.body.variant, v.variant, `${salt} + ${v.key} with ${weights}`);
      assert.equal(r.body.version, v.variant + 1);
      assert.equal(r.body.content.text, `version ${v.variant + 1}`);
      checked++;
    }
  }
  assert.ok(checked >= 60, `checked ${checked}`);
});

test("one user resolved 1,000 times always gets one version; users split by weight", async () => {
  const { api } = await setup();
  const started = await split(api, [{ version: 2, weight: 50 }, { version: 3, weight: 50 }], { name: "tone" });
  assert.equal(started.status, 201);
  assert.equal(started.body.salt, started.body.id, "the salt defaults to the experiment id");
  const seen = new Set();
  for (let i = 0; i < 1000; i++) seen.add((await resolveFor(api, "sticky-user")).body.version);
  assert.equal(seen.size, 1);

  const tally = { 2: 0, 3: 0 };
  const users = 2000;
  for (let i = 0; i < users; i++) tally[(await resolveFor(api, `user-${i}`)).body.version]++;
  for (const v of [2, 3]) assert.ok(Math.abs(tally[v] / users - 0.5) < 0.04, JSON.stringify(tally));

  const anon = await resolveFor(api, undefined);
  assert.equal(anon.body.assignment, "random");
  assert.equal(anon.body.experiment_id, started.body.id);
  assert.ok([2, 3].includes(anon.body.version));
});

test("ramping the last variant 10% → 20% → 100% never moves users who had it", async () => {
  const { api } = await setup();
  const users = Array.from({ length: 1500 }, (_, i) => `ramp-${i}`);
  let had = [];
  for (const last of [10, 20, 100]) {
    const res = await split(api, [{ version: 1, weight: 100 - last }, { version: 2, weight: last }]);
    assert.ok([200, 201].includes(res.status));
    for (const u of had) assert.equal((await resolveFor(api, u)).body.version, 2, `${u} moved at ${last}%`);
    had = [];
    for (const u of users) if ((await resolveFor(api, u)).body.version === 2) had.push(u);
    assert.ok(Math.abs(had.length / users.length - last / 100) < 0.04, `${had.length} at ${last}%`);
  }
  assert.equal(had.length, users.length);
});

test("bad splits get 400 with a clear message and write nothing", async () => {
  const { api } = await setup();
  const before = await counts(w.db);
  const cases = [
    [[{ version: 1, weight: 50 }, { version: 2, weight: 40 }], /sum to 100/],
    [[{ version: 1, weight: -10 }, { version: 2, weight: 110 }], /between 0 and 100/],
    [[{ version: 1, weight: 50 }, { version: 9, weight: 50 }], /no such version/],
    [Array.from({ length: 11 }, (_, i) => ({ version: (i % 3) + 1, weight: i === 0 ? 0 : 10 })), /2 to 10/],
    [[{ version: 1, weight: 33.333 }, { version: 2, weight: 66.667 }], /two decimals/],
    [[], /2 to 10/],
  ];
  for (const [variants, message] of cases) {
    const res = await split(api, variants);
    assert.equal(res.status, 400, JSON.stringify(variants));
    assert.equal(res.body.error.code, "invalid_field");
    assert.match(res.body.error.message, message);
  }
  assert.equal((await api.put("/v1/prompts/ab/experiments/production", { weights: [50, 50] })).status, 400);
  assert.deepEqual(await counts(w.db), before);
  assert.equal((await resolveFor(api, "u")).body.assignment, "deployed");
});

test("ending an experiment restores the deployed version and keeps its history; all audited", async () => {
  const { api } = await setup();
  const started = await split(api, [{ version: 1, weight: 50 }, { version: 2, weight: 50 }]);
  assert.equal(started.status, 201);
  const changed = await split(api, [{ version: 2, weight: 50 }, { version: 3, weight: 50 }]);
  assert.equal(changed.status, 200);
  assert.equal(changed.body.id, started.body.id, "a change keeps the experiment (and its salt)");
  const bundle = await api.get("/v1/bundle?environment=production");
  assert.deepEqual(bundle.body.prompts.ab.experiment.variants.map((v) => [v.version, v.weight]), [[2, 50], [3, 50]]);
  assert.equal(bundle.body.prompts.ab.experiment.variants[1].content.text, "version 3");

  const ended = await api.del("/v1/prompts/ab/experiments/production");
  assert.equal(ended.status, 200);
  assert.equal(ended.body.status, "ended");
  const r = await resolveFor(api, "u");
  assert.equal(r.body.version, 1);
  assert.equal(r.body.assignment, "deployed");
  assert.equal(r.body.experiment_id, null);
  assert.equal((await api.del("/v1/prompts/ab/experiments/production")).status, 404);

  const history = await api.get("/v1/prompts/ab/experiments");
  assert.deepEqual(history.body.items.map((x) => [x.id, x.status]), [[started.body.id, "ended"]]);
  const audit = await api.get("/v1/audit?prompt=ab");
  const actions = audit.body.items.map((e) => e.action);
  for (const a of ["experiment.start", "experiment.update", "experiment.end"]) assert.ok(actions.includes(a), a);
});

test("an experiment needs a deployment; in protected environments it waits for an approver", async () => {
  const { api } = await setup();
  const notDeployed = await api.put("/v1/prompts/ab/experiments/staging", { variants: [{ version: 1, weight: 50 }, { version: 2, weight: 50 }] });
  assert.equal(notDeployed.status, 409);
  assert.equal(notDeployed.body.error.code, "conflict");

  await api.put("/v1/environments/production", { position: 2, policy: { requires_approval: true } });
  const editor = w.client((await api.post("/v1/keys", { name: "e", role: "editor" })).body.key);
  const approver = w.client((await api.post("/v1/keys", { name: "a", role: "approver" })).body.key);
  const body = { variants: [{ version: 1, weight: 50 }, { version: 2, weight: 50 }] };
  // In a protected environment a split is a request another approver decides.
  const asked = await editor.put("/v1/prompts/ab/experiments/production", body);
  assert.equal(asked.status, 202);
  assert.equal(asked.body.kind, "experiment");
  assert.equal((await approver.post(`/v1/approvals/${asked.body.approval_id}/approve`, {})).status, 201);
  // Ending it is a brake: an editor may, without approval.
  assert.equal((await editor.del("/v1/prompts/ab/experiments/production")).status, 200);
  // In an unprotected environment an editor may split traffic.
  await editor.post("/v1/prompts/ab/promote", { version: 1, environment: "staging" });
  assert.equal((await editor.put("/v1/prompts/ab/experiments/staging", body)).status, 201);
});
