// Rate limits through the real Workers Rate Limiting binding (Miniflare's,
// as `wrangler dev` runs it): an API key past its budget gets 429
// `rate_limited` with Retry-After, edge reads keep their own budget, and an
// address that fails to sign in too often is refused even with a good key.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, newWorkspace, promptWithVersions, RATE_LIMITS, newKey } from "./harness.mjs";

let w;
// Small budgets, so the test reaches them in a few requests; the periods
// are wrangler.toml's.
const KEY_LIMIT = 30;
before(async () => (w = await startWorker({ rateLimits: { RATE_LIMIT_KEY: KEY_LIMIT, RATE_LIMIT_AUTH_FAILURES: 5 } })));
after(async () => w?.stop());

test("wrangler.toml sets every limiter the worker uses", () => {
  assert.deepEqual(Object.keys(RATE_LIMITS).sort(), ["RATE_LIMIT_AUTH_FAILURES", "RATE_LIMIT_EDGE_READS", "RATE_LIMIT_KEY"]);
  assert.equal(RATE_LIMITS.RATE_LIMIT_AUTH_FAILURES.period, 60);
});

test("a key past its budget gets 429 with Retry-After; its edge reads and other keys go on", async () => {
  const { api, key } = await newWorkspace(w);
  await promptWithVersions(api, "bot", ["hello"]);
  assert.equal((await api.post("/v1/prompts/bot/promote", { version: 1, environment: "production" })).status, 201);
  const other = await newWorkspace(w);
  // Up to KEY_LIMIT requests in one 10 s window; a window may end midway,
  // so send until refused (at most a few windows' worth).
  let refused;
  for (let i = 0; i < KEY_LIMIT * 20 && !refused; i++) {
    const res = await api.get("/v1/me");
    if (res.status === 429) refused = res;
    else assert.equal(res.status, 200);
  }
  assert.ok(refused, "the key was refused past its budget");
  assert.equal(refused.body.error.code, "rate_limited");
  assert.equal(refused.headers.get("retry-after"), "10");
  assert.equal(refused.body.error.details.retry_after_seconds, 10);
  // Edge reads are counted apart, and another key is not affected.
  const read = await w.client(key).get("/v1/resolve/bot?environment=production");
  assert.equal(read.status, 200, JSON.stringify(read.body));
  assert.equal((await other.api.get("/v1/me")).status, 200);
});

test("an address that keeps failing to sign in is refused, then even with a good key", async () => {
  const { api } = await newWorkspace(w);
  const address = { "cf-connecting-ip": "203.0.113.7" };
  const wrong = w.client(newKey());
  // Failures are counted in fixed 60 s windows; one may end midway, so
  // send until refused (a few windows' worth at most).
  const statuses = [];
  while (statuses.length < 40 && statuses.at(-1) !== 429) statuses.push((await wrong.get("/v1/me", address)).status);
  const first429 = statuses.indexOf(429);
  assert.ok(first429 >= 5, `refused after at least 5 failures: ${statuses.join(",")}`);
  assert.ok(statuses.slice(0, first429).every((s) => s === 401), statuses.join(","));
  assert.equal((await wrong.get("/v1/me", address)).status, 429, "and refused from then on");
  const good = await api.get("/v1/me", address);
  assert.equal(good.status, 429, "the address is refused before its key is looked at");
  assert.equal(good.headers.get("retry-after"), "60");
  // Another address signs in as usual; a request without a key counts as a failure too.
  assert.equal((await api.get("/v1/me", { "cf-connecting-ip": "198.51.100.1" })).status, 200);
  const anonymous = w.client(null);
  const seen = [];
  while (seen.length < 40 && seen.at(-1) !== 429) seen.push((await anonymous.get("/v1/me", { "cf-connecting-ip": "198.51.100.2" })).status);
  assert.ok(seen.indexOf(429) >= 5 && seen.slice(0, seen.indexOf(429)).every((s) => s === 401), seen.join(","));
});
