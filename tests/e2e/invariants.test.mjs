// What the database itself guarantees, the error contract, and the API
// description. The last test breaks the database on purpose.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, newWorkspace, promptWithVersions } from "./harness.mjs";

let w;
before(async () => (w = await startWorker()));
after(async () => w?.stop());

test("history tables refuse UPDATE and DELETE in the database itself", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "imm", ["original"]);
  await api.post("/v1/prompts/imm/promote", { version: 1, environment: "production" });
  const statements = [
    "UPDATE prompt_versions SET content = '{\"text\":\"tampered\"}'",
    "DELETE FROM prompt_versions",
    "UPDATE deployments SET reason = 'tampered'",
    "DELETE FROM deployments",
    "UPDATE audit_log SET actor = 'nobody'",
    "DELETE FROM audit_log",
  ];
  for (const sql of statements) {
    await assert.rejects(w.db.prepare(sql).run(), /append-only/, sql);
  }
  assert.equal((await api.get("/v1/prompts/imm/versions/1")).body.content.text, "original");
});

test("errors are JSON with a stable code and the right status", async () => {
  const { api } = await newWorkspace(w);
  const cases = [
    [await api.get("/v1/nothing-here"), 404, "route_not_found"],
    [await api.del("/v1/prompts"), 405, "method_not_allowed"],
    [await api.post("/v1/prompts", "{not json"), 400, "malformed_json"],
    [await api.post("/v1/prompts", ""), 400, "malformed_json"],
    [await api.post("/v1/prompts", "[1,2]"), 400, "invalid_field"],
    [await api.post("/v1/prompts", '{"slug":"x"}', { "content-type": "text/plain" }), 415, "unsupported_media_type"],
    // Nesting deeper than 128 levels is refused while parsing.
    [await api.post("/v1/prompts", '{"slug":' + "[".repeat(5000) + "]".repeat(5000) + "}"), 400, "malformed_json"],
    [await api.post("/v1/prompts", "[".repeat(5000) + "]".repeat(5000)), 400, "malformed_json"],
    [await api.post("/v1/prompts", '["a", "A", "text"]'), 400, "invalid_field"],
    [await api.get("/v1/resolve/x"), 400, "invalid_query"],
    [await api.get("/v1/prompts?limit=1000"), 400, "invalid_query"],
  ];
  for (const [res, status, code] of cases) {
    assert.equal(res.status, status, code);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.equal(res.body.error.code, code);
    assert.equal(typeof res.body.error.message, "string");
    assert.equal(typeof res.body.error.details, "object");
  }
});

test("/openapi.json is an OpenAPI 3.1 document naming every route the API serves", async () => {
  const res = await w.client().get("/openapi.json");
  assert.equal(res.status, 200);
  assert.equal(res.body.openapi, "3.1.0");
  const paths = res.body.paths;
  const expected = {
    "/healthz": ["get"],
    "/openapi.json": ["get"],
    "/v1/workspaces": ["post"],
    "/v1/prompts": ["get", "post"],
    "/v1/prompts/{slug}": ["get"],
    "/v1/prompts/{slug}/versions": ["get", "post"],
    "/v1/prompts/{slug}/versions/{number}": ["get"],
    "/v1/prompts/{slug}/diff": ["get"],
    "/v1/prompts/{slug}/promote": ["post"],
    "/v1/prompts/{slug}/rollback": ["post"],
    "/v1/prompts/{slug}/deployments": ["get"],
    "/v1/prompts/{slug}/experiments": ["get"],
    "/v1/prompts/{slug}/experiments/{environment}": ["put", "delete"],
    "/v1/prompts/{slug}/render": ["post"],
    "/v1/prompts/{slug}/dependents": ["get"],
    "/v1/prompts/{slug}/metrics": ["get"],
    "/v1/prompts/{slug}/compare": ["get"],
    "/v1/executions": ["post"],
    "/v1/feedback": ["post"],
    "/v1/prices": ["get"],
    "/v1/stats/promotions": ["get"],
    "/v1/prices/{model}": ["put"],
    "/v1/approvals": ["get"],
    "/v1/approvals/{id}/approve": ["post"],
    "/v1/approvals/{id}/reject": ["post"],
    "/v1/resolve/{slug}": ["get"],
    "/v1/bundle": ["get"],
    "/v1/environments": ["get"],
    "/v1/environments/{name}": ["put"],
    "/v1/keys": ["get", "post"],
    "/v1/keys/{id}": ["delete"],
    "/v1/audit": ["get"],
  };
  for (const [path, methods] of Object.entries(expected)) {
    assert.ok(paths[path], `missing ${path}`);
    for (const m of methods) assert.ok(paths[path][m], `missing ${m} ${path}`);
  }
});

test("an internal failure answers 500 with no internal text and leaves nothing half-written", async () => {
  const { api } = await newWorkspace(w);
  await api.post("/v1/prompts", { slug: "boom", name: "Boom", kind: "text" });
  // Break the audit table: every change writes its audit row in the same
  // batch, so the change must fail as a whole.
  await w.db.prepare("ALTER TABLE audit_log RENAME TO audit_log_gone").run();
  const res = await api.post("/v1/prompts/boom/versions", { content: { text: "x" }, parent_version: null });
  assert.equal(res.status, 500);
  assert.equal(res.body.error.code, "internal");
  assert.doesNotMatch(JSON.stringify(res.body), /audit|sqlite|D1|SQL|no such table/i);
  const versions = await w.db
    .prepare("SELECT COUNT(*) AS n FROM prompt_versions v JOIN prompts p ON p.id = v.prompt_id WHERE p.slug = 'boom'")
    .first();
  assert.equal(versions.n, 0, "the version was not written without its audit row");
});
