// Webhooks end to end: real state changes in the worker emit events, the
// real Queue delivers them to a local receiver (outside our system), signed
// with HMAC-SHA256; failures are retried with backoff and logged.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createHmac, timingSafeEqual } from "node:crypto";
import { startWorker, newWorkspace, promptWithVersions, counts, until } from "./harness.mjs";

let w;
let receiver;
const received = [];
// Paths whose first N requests fail with 503.
const failFirst = new Map();

before(async () => {
  w = await startWorker();
  receiver = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const left = failFirst.get(req.url) ?? 0;
      received.push({ path: req.url, headers: req.headers, body, failed: left > 0 });
      if (left > 0) {
        failFirst.set(req.url, left - 1);
        res.writeHead(503).end("try later");
      } else {
        res.writeHead(204).end();
      }
    });
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
});
after(async () => {
  receiver?.close();
  await w?.stop();
});

const hookUrl = (p) => `http://127.0.0.1:${receiver.address().port}${p}`;

/** What a receiver does: recompute the signature over "<t>.<body>". */
function verify(secret, header, body) {
  const { t, v1 } = Object.fromEntries(header.split(",").map((kv) => kv.split("=")));
  const expected = createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");
  return timingSafeEqual(Buffer.from(expected), Buffer.from(v1)) && Math.abs(Date.now() / 1000 - Number(t)) < 300;
}

test("subscribed events arrive signed; others are filtered out; the log says what happened", async () => {
  const { api } = await newWorkspace(w);
  const created = await api.post("/v1/webhooks", { url: hookUrl("/a"), events: ["version.created", "deployment.created", "deployment.rolled_back"] });
  assert.equal(created.status, 201);
  assert.match(created.body.secret, /^whsec_[0-9a-f]{48}$/);
  const secret = created.body.secret;
  assert.ok(!JSON.stringify((await api.get("/v1/webhooks")).body).includes(secret), "the secret is shown once");

  await promptWithVersions(api, "hooked", ["one", "two"]);
  await api.post("/v1/prompts/hooked/promote", { version: 1, environment: "production" });
  await api.post("/v1/prompts/hooked/promote", { version: 2, environment: "production" });
  await api.post("/v1/prompts/hooked/rollback", { environment: "production" });
  await api.put("/v1/prompts/hooked/experiments/production", { variants: [{ version: 1, weight: 50 }, { version: 2, weight: 50 }] });

  const mine = () => received.filter((r) => r.path === "/a");
  await until(() => mine().length >= 5, "five deliveries");
  await new Promise((r) => setTimeout(r, 1000));
  const events = mine().map((r) => r.headers["x-pvct-event"]).sort();
  assert.deepEqual(events, ["deployment.created", "deployment.created", "deployment.rolled_back", "version.created", "version.created"]);
  for (const r of mine()) {
    assert.ok(verify(secret, r.headers["x-pvct-signature"], r.body), "the signature verifies");
    assert.ok(!verify("whsec_wrong-secret-of-some-length", r.headers["x-pvct-signature"], r.body));
    const payload = JSON.parse(r.body);
    assert.equal(payload.event, r.headers["x-pvct-event"]);
    assert.equal(payload.id, r.headers["x-pvct-delivery"]);
    assert.equal(payload.data.prompt, "hooked");
  }
  const rollback = JSON.parse(mine().find((r) => r.headers["x-pvct-event"] === "deployment.rolled_back").body);
  assert.equal(rollback.data.version, 1);

  const log = (await api.get(`/v1/webhooks/${created.body.id}/deliveries`)).body.items;
  assert.equal(log.length, 5);
  assert.ok(log.every((d) => d.status === "delivered" && d.attempts === 1 && d.response_status === 204));
});

test("a failing receiver is retried with backoff until it answers; the attempts are logged", async () => {
  const { api } = await newWorkspace(w);
  const hook = (await api.post("/v1/webhooks", { url: hookUrl("/flaky"), secret: "s3cret-s3cret-s3cret", events: ["*"] })).body;
  failFirst.set("/flaky", 2);
  await api.post("/v1/prompts", { slug: "retry", name: "retry", kind: "text" });
  await api.post("/v1/prompts/retry/versions", { content: { text: "hello" }, parent_version: null });
  const delivered = await until(async () => {
    const items = (await api.get(`/v1/webhooks/${hook.id}/deliveries`)).body.items;
    return items.find((d) => d.status === "delivered");
  }, "a delivery after two failures");
  assert.equal(delivered.attempts, 3);
  assert.equal(delivered.event, "version.created");
  const attempts = received.filter((r) => r.path === "/flaky");
  assert.deepEqual(attempts.map((a) => a.failed), [true, true, false]);
  assert.equal(new Set(attempts.map((a) => a.headers["x-pvct-delivery"])).size, 1, "the same delivery, retried");
});

test("approvals and experiments emit their events; webhooks are admin-only, validated and workspace-scoped", async () => {
  const { api } = await newWorkspace(w);
  const hook = (await api.post("/v1/webhooks", { url: hookUrl("/ops"), events: ["approval.requested", "approval.decided", "experiment.started", "experiment.ended"] })).body;
  await promptWithVersions(api, "ops", ["one", "two"]);
  await api.put("/v1/environments/gated", { policy: { requires_approval: true } });
  const pending = (await api.post("/v1/prompts/ops/promote", { version: 1, environment: "gated" })).body;
  const approver = w.client((await api.post("/v1/keys", { name: "approver", role: "approver" })).body.key);
  assert.equal((await approver.post(`/v1/approvals/${pending.approval_id}/approve`, { note: "ok" })).status, 201);
  await api.post("/v1/prompts/ops/promote", { version: 1, environment: "production" });
  await api.put("/v1/prompts/ops/experiments/production", { variants: [{ version: 1, weight: 50 }, { version: 2, weight: 50 }] });
  await api.del("/v1/prompts/ops/experiments/production");
  const mine = () => received.filter((r) => r.path === "/ops");
  await until(() => mine().length >= 4, "four deliveries");
  assert.deepEqual(mine().map((r) => r.headers["x-pvct-event"]).sort(), ["approval.decided", "approval.requested", "experiment.ended", "experiment.started"]);
  const decided = JSON.parse(mine().find((r) => r.headers["x-pvct-event"] === "approval.decided").body);
  assert.equal(decided.data.status, "approved");

  const before = await counts(w.db);
  for (const bad of [{ url: "ftp://x" }, { url: hookUrl("/x"), events: ["nope"] }, { url: hookUrl("/x"), secret: "short" }]) {
    const res = await api.post("/v1/webhooks", bad);
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, "invalid_field");
  }
  assert.deepEqual(await counts(w.db), before, "refused webhooks write nothing");
  const editor = w.client((await api.post("/v1/keys", { name: "ed", role: "editor" })).body.key);
  assert.equal((await editor.get("/v1/webhooks")).status, 403);
  assert.equal((await editor.get(`/v1/webhooks/${hook.id}/deliveries`)).status, 403);
  const other = await newWorkspace(w);
  assert.equal((await other.api.get(`/v1/webhooks/${hook.id}/deliveries`)).status, 404);
  assert.equal((await other.api.del(`/v1/webhooks/${hook.id}`)).status, 404);
  assert.deepEqual((await other.api.get("/v1/webhooks")).body.items, []);

  assert.equal((await api.del(`/v1/webhooks/${hook.id}`)).status, 200);
  assert.deepEqual((await api.get("/v1/webhooks")).body.items, []);
  assert.equal((await api.get(`/v1/webhooks/${hook.id}/deliveries`)).body.items.length, 4, "the log outlives the webhook");
});
