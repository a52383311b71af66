// Hostile input on every write route, and the role matrix over every route:
// each gets a clear 4xx with a stable code, and nothing is written.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, newWorkspace, promptWithVersions, counts, documentedRoutes, templateOf } from "./harness.mjs";

let w;
let ws;
before(async () => {
  w = await startWorker();
  ws = await newWorkspace(w);
  await promptWithVersions(ws.api, "target", ["one", "two"]);
  await ws.api.post("/v1/prompts/target/promote", { version: 1, environment: "production" });
});
after(async () => w?.stop());

const WRITE_ROUTES = [
  ["POST", "/v1/prompts"],
  ["POST", "/v1/prompts/target/versions"],
  ["POST", "/v1/prompts/target/promote"],
  ["POST", "/v1/prompts/target/rollback"],
  ["POST", "/v1/prompts/target/render"],
  ["PUT", "/v1/prompts/target/experiments/production"],
  ["PUT", "/v1/prompts/target/evaluators"],
  ["PUT", "/v1/prompts/target/tests"],
  ["POST", "/v1/prompts/target/versions/1/test-runs"],
  ["PUT", "/v1/environments/qa"],
  ["POST", "/v1/keys"],
  ["POST", "/v1/executions"],
  ["POST", "/v1/feedback"],
  ["PUT", "/v1/prices/house-model"],
  ["PUT", "/v1/settings"],
  ["POST", "/v1/webhooks"],
  ["POST", "/v1/members"],
  ["PATCH", "/v1/members/no-such-member"],
  ["POST", "/v1/approvals/no-such-approval/approve"],
  ["POST", "/v1/approvals/no-such-approval/reject"],
];

test("the sweeps below cover every route the worker documents", () => {
  const templates = documentedRoutes().map((r) => r.key);
  const writes = new Set(WRITE_ROUTES.map(([m, p]) => templateOf(m, p, templates)));
  const withBody = documentedRoutes()
    .filter((r) => r.hasBody && r.key !== "POST /v1/workspaces")
    .map((r) => r.key);
  assert.deepEqual(withBody.filter((t) => !writes.has(t)), [], "write routes without a hostile-body check");
  const swept = new Set(ROLE_ROUTES.map(([m, p]) => templateOf(m, p, templates)));
  const workspaceRoutes = documentedRoutes().filter((r) => /Role: (reader|editor|approver|admin)/.test(r.role)).map((r) => r.key);
  assert.deepEqual(workspaceRoutes.filter((t) => !swept.has(t)), [], "routes missing from the roles sweep");
});

test("every write route refuses malformed, oversized, mistyped and deep bodies without writing", async () => {
  const before = await counts(w.db);
  const bodies = [
    ["{not json", {}, 400, "malformed_json"],
    ["", {}, 400, "malformed_json"],
    ["null", {}, 400, "invalid_field"],
    ['"a string"', {}, 400, "invalid_field"],
    ["[" .repeat(20000) + "]".repeat(20000), {}, 400, null],
    ['{"a":1}', { "content-type": "text/plain" }, 415, "unsupported_media_type"],
    ['{"a":1}', { "content-type": "application/x-www-form-urlencoded" }, 415, "unsupported_media_type"],
    ["x".repeat(600 * 1024), {}, 413, "payload_too_large"],
    [JSON.stringify({ blob: "y".repeat(513 * 1024) }), {}, 413, "payload_too_large"],
    [JSON.stringify({ unexpected_field: true }), {}, 400, "invalid_field"],
  ];
  // The one route with a larger body limit: a client's outputs for a whole test suite (20 MiB).
  const oversized = (path) => (path.endsWith("/test-runs") ? 20 * 1024 * 1024 : 512 * 1024);
  for (const [method, path] of WRITE_ROUTES) {
    const limit = oversized(path);
    const routeBodies = bodies.map(([body, headers, status, code]) =>
      status === 413 && limit > 512 * 1024 ? [body.length > 600 * 1024 ? "x".repeat(limit + 88 * 1024) : JSON.stringify({ blob: "y".repeat(limit + 1024) }), headers, status, code] : [body, headers, status, code],
    );
    for (const [body, headers, status, code] of routeBodies) {
      const res = await ws.api.call(method, path, body, headers);
      const what = `${method} ${path} with ${body.slice(0, 20)}… ${JSON.stringify(headers)}`;
      assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
      if (code) assert.equal(res.body.error.code, code, what);
      assert.ok(res.body.error.message, what);
    }
  }
  assert.deepEqual(await counts(w.db), before);
});

test("huge headers on a write route get a 4xx and write nothing", async () => {
  // The runtime may refuse the headers (431) or pass them to the API, which
  // then refuses the bad body (400): either way a clear 4xx, nothing written.
  const before = await counts(w.db);
  for (const size of [16 * 1024, 200 * 1024]) {
    const res = await fetch(`${w.url}/v1/prompts`, {
      method: "POST",
      headers: { authorization: `Bearer ${ws.key}`, "content-type": "application/json", "x-junk": "j".repeat(size) },
      body: JSON.stringify({ slug: "Not A Slug", name: "x", kind: "text" }),
    }).catch(() => null);
    assert.ok(res === null || (res.status >= 400 && res.status < 500), `a ${size}-byte header got ${res?.status}`);
  }
  assert.deepEqual(await counts(w.db), before);
});

const ROLE_ROUTES = [
  ["GET", "/v1/prompts", null, "reader"],
  ["GET", "/v1/prompts/target", null, "reader"],
  ["GET", "/v1/prompts/target/versions", null, "reader"],
  ["GET", "/v1/prompts/target/versions/1", null, "reader"],
  ["GET", "/v1/prompts/target/diff?from=1&to=2", null, "reader"],
  ["GET", "/v1/prompts/target/deployments", null, "reader"],
  ["GET", "/v1/prompts/target/experiments", null, "reader"],
  ["GET", "/v1/prompts/target/evaluators", null, "reader"],
  ["GET", "/v1/prompts/target/metrics?environment=production", null, "reader"],
  ["GET", "/v1/prompts/target/compare?environment=production&a=1&b=2", null, "reader"],
  ["POST", "/v1/prompts/target/render", { version: 1 }, "reader"],
  ["GET", "/v1/resolve/target?environment=production", null, "reader"],
  ["GET", "/v1/bundle?environment=production", null, "reader"],
  ["GET", "/v1/me", null, "reader"],
  ["GET", "/v1/environments", null, "reader"],
  ["GET", "/v1/approvals", null, "reader"],
  ["GET", "/v1/prices", null, "reader"],
  ["GET", "/v1/stats/promotions", null, "reader"],
  ["POST", "/v1/executions", { executions: [{ id: "x", prompt_version_id: "v", environment: "production", latency_ms: 1 }] }, "reader"],
  ["POST", "/v1/feedback", { execution_id: "x", value: 1, prompt_version_id: "v", environment: "production" }, "reader"],
  ["GET", "/v1/prompts/target/dependents", null, "reader"],
  ["POST", "/v1/prompts", { slug: "x", name: "x", kind: "text" }, "editor"],
  ["POST", "/v1/prompts/target/versions", { content: { text: "x" }, parent_version: 2 }, "editor"],
  ["POST", "/v1/prompts/target/promote", { version: 2, environment: "dev" }, "editor"],
  ["POST", "/v1/prompts/target/rollback", { environment: "dev" }, "editor"],
  ["PUT", "/v1/prompts/target/experiments/production", { variants: [{ version: 1, weight: 50 }, { version: 2, weight: 50 }] }, "editor"],
  ["DELETE", "/v1/prompts/target/experiments/production", undefined, "editor"],
  ["PUT", "/v1/prompts/target/evaluators", { evaluators: [] }, "editor"],
  ["GET", "/v1/prompts/target/tests", null, "reader"],
  ["PUT", "/v1/prompts/target/tests", { cases: [] }, "editor"],
  ["POST", "/v1/prompts/target/versions/1/test-runs", {}, "editor"],
  ["GET", "/v1/prompts/target/test-runs", null, "reader"],
  ["GET", "/v1/prompts/target/test-runs/compare?a=none&b=none", null, "reader"],
  ["GET", "/v1/prompts/target/test-runs/none", null, "reader"],
  ["POST", "/v1/approvals/none/approve", {}, "approver"],
  ["POST", "/v1/approvals/none/reject", {}, "approver"],
  ["PUT", "/v1/environments/qa", {}, "admin"],
  ["PUT", "/v1/prices/house-model", { input_per_million: 1, output_per_million: 2 }, "admin"],
  ["GET", "/v1/settings", null, "admin"],
  ["GET", "/v1/telemetry/log?day=2026-01-01", null, "admin"],
  ["GET", "/v1/telemetry/log/2026-01-01T00_executions_00000000000000000000000000000000", null, "admin"],
  ["PUT", "/v1/settings", { retention_days: 7 }, "admin"],
  ["GET", "/v1/keys", null, "admin"],
  ["POST", "/v1/keys", { name: "x", role: "reader" }, "admin"],
  ["DELETE", "/v1/keys/whatever", undefined, "admin"],
  ["GET", "/v1/audit", null, "admin"],
  ["GET", "/v1/webhooks", null, "admin"],
  ["POST", "/v1/webhooks", { url: "http://127.0.0.1:9/hook" }, "admin"],
  ["DELETE", "/v1/webhooks/none", undefined, "admin"],
  ["GET", "/v1/webhooks/none/deliveries", null, "admin"],
  ["POST", "/v1/webhooks/none/deliveries/none/redeliver", undefined, "admin"],
  ["GET", "/v1/notifications/deliveries", null, "admin"],
  ["GET", "/v1/live?environment=none", null, "reader"],
  ["GET", "/v1/members", null, "admin"],
  ["POST", "/v1/members", { email: "sweep@example.com", role: "reader" }, "admin"],
  ["PATCH", "/v1/members/none", { role: "reader" }, "admin"],
  ["DELETE", "/v1/members/none", undefined, "admin"],
  ["GET", "/v1/dead-letters", null, "admin"],
  ["POST", "/v1/dead-letters/none/replay", undefined, "admin"],
];

test("roles sweep: every route refuses the roles below it with 403 and a stable code", async () => {
  const key = async (role) => w.client((await ws.api.post("/v1/keys", { name: `sweep-${role}`, role })).body.key);
  const clients = { reader: await key("reader"), editor: await key("editor"), approver: await key("approver") };
  const order = ["reader", "editor", "approver", "admin"];
  const routes = ROLE_ROUTES;
  const before = await counts(w.db);
  for (const [method, path, body, minimum] of routes) {
    for (const [role, client] of Object.entries(clients)) {
      if (order.indexOf(role) >= order.indexOf(minimum)) continue;
      const res = await client.call(method, path, body ?? undefined);
      assert.equal(res.status, 403, `${role} ${method} ${path}`);
      assert.equal(res.body.error.code, "forbidden");
      assert.equal(res.body.error.details.required_role, minimum, `${method} ${path}`);
    }
  }
  assert.deepEqual(await counts(w.db), before, "no refused request wrote anything");
  // And the minimum role is enough (spot check of reads for the reader).
  for (const [method, path, body] of routes.filter((r) => r[3] === "reader" && r[0] === "GET" && !/[/=]none/.test(r[1]) && !r[1].endsWith("/dependents"))) {
    assert.equal((await clients.reader.call(method, path, body ?? undefined)).status, 200, `${method} ${path}`);
  }
});
