// Every documented Langfuse-compatible route (/api/public/… in
// worker/openapi.json) on the wire, as the official clients send requests:
// credentials (Basic pk:sk, a public key alone, a mismatched pair), roles,
// methods, and that every answer is JSON in Langfuse's error shape.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import path from "node:path";
import { startWorker, newWorkspace, root } from "../e2e/harness.mjs";
import { langfuseKey, slugOf } from "./lib.mjs";

let w;
before(async () => (w = await startWorker()));
after(async () => w?.stop());

const basic = (k) => `Basic ${Buffer.from(`${k.publicKey}:${k.secretKey}`).toString("base64")}`;

/** One request; resolves to { status, body (parsed JSON or the text), type }. */
async function call(method, pathname, { auth, body, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (auth) init.headers.authorization = auth;
  if (body !== undefined) {
    if (Buffer.isBuffer(body) || typeof body === "string") init.body = body;
    else {
      init.headers["content-type"] ??= "application/json";
      init.body = JSON.stringify(body);
    }
  }
  const res = await fetch(w.url + pathname, init);
  const text = await res.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed, type: res.headers.get("content-type") ?? "", allow: res.headers.get("allow") };
}

function assertLangfuseError(res, status, error, what) {
  const msg = `${what}: ${res.status} ${JSON.stringify(res.body)}`;
  assert.equal(res.status, status, msg);
  assert.match(res.type, /application\/json/, msg);
  assert.equal(typeof res.body, "object", msg);
  assert.equal(res.body.error, error, msg);
  assert.equal(typeof res.body.message, "string", msg);
  assert.ok(res.body.message.length > 0, msg);
}

// An OTLP/HTTP export as the Python client sends it: protobuf, gzip. An empty
// ExportTraceServiceRequest is zero bytes; the server only acknowledges.
const OTLP = { body: gzipSync(Buffer.alloc(0)), headers: { "content-type": "application/x-protobuf", "content-encoding": "gzip" } };

/** A concrete request for each documented (method, path), on a prompt named "wired" with a version 1. */
const REQUESTS = {
  "GET /api/public/v2/prompts": { path: "/api/public/v2/prompts" },
  "POST /api/public/v2/prompts": { path: "/api/public/v2/prompts", body: { name: "wired", prompt: "x {{a}}", type: "text" } },
  "GET /api/public/v2/prompts/{name}": { path: "/api/public/v2/prompts/wired" },
  "DELETE /api/public/v2/prompts/{name}": { path: "/api/public/v2/prompts/wired" },
  "PATCH /api/public/v2/prompts/{name}/versions/{version}": { path: "/api/public/v2/prompts/wired/versions/1", body: { newLabels: ["staging"] } },
  "POST /api/public/ingestion": { path: "/api/public/ingestion", body: { batch: [] } },
  "POST /api/public/otel/v1/traces": { path: "/api/public/otel/v1/traces", ...OTLP },
  "POST /api/public/scores": { path: "/api/public/scores", body: [] },
  "GET /api/public/projects": { path: "/api/public/projects" },
};
const WRITES = ["POST /api/public/v2/prompts", "DELETE /api/public/v2/prompts/{name}", "PATCH /api/public/v2/prompts/{name}/versions/{version}"];

function documented() {
  const doc = JSON.parse(readFileSync(path.join(root, "worker/openapi.json"), "utf8"));
  return Object.entries(doc.paths)
    .filter(([p]) => p.startsWith("/api/public/"))
    .flatMap(([p, item]) => Object.keys(item).filter((m) => m !== "parameters").map((m) => `${m.toUpperCase()} ${p}`));
}

test("the sweep covers every documented /api/public route", () => {
  assert.deepEqual(documented().sort(), Object.keys(REQUESTS).sort());
});

test("credentials: no header 401, a public key alone 403, a mismatched or unknown pair 401, on every route", async () => {
  const { api } = await newWorkspace(w);
  const a = await langfuseKey(w, api, "admin");
  const b = await langfuseKey(w, api, "admin");
  const revoked = await langfuseKey(w, api, "admin");
  const keys = (await api.get("/v1/keys")).body.items;
  const revokedId = keys.find((k) => k.public_key === revoked.publicKey)?.id;
  assert.ok(revokedId, "GET /v1/keys lists the public key of each key");
  assert.equal((await api.del(`/v1/keys/${revokedId}`)).status, 200);
  for (const [route, req] of Object.entries(REQUESTS)) {
    const send = (auth) => call(route.split(" ")[0], req.path, { auth, body: req.body, headers: req.headers });
    assertLangfuseError(await send(undefined), 401, "UnauthorizedError", `${route} without credentials`);
    assertLangfuseError(await send(`Bearer ${a.publicKey}`), 403, "AccessDeniedError", `${route} with a public key alone`);
    assertLangfuseError(await send(basic({ publicKey: a.publicKey, secretKey: b.secretKey })), 401, "UnauthorizedError", `${route} with another key's secret`);
    assertLangfuseError(await send(basic({ publicKey: "pk-pvct-0000", secretKey: a.secretKey })), 401, "UnauthorizedError", `${route} with an unknown public key`);
    assertLangfuseError(await send(basic({ publicKey: a.publicKey, secretKey: "sk-lf-not-ours" })), 401, "UnauthorizedError", `${route} with a foreign secret`);
    assertLangfuseError(await send(basic(revoked)), 401, "UnauthorizedError", `${route} with a revoked key`);
  }
});

test("roles: a reader reads and sends telemetry but cannot write; an editor does all of it", async () => {
  const ws = await newWorkspace(w);
  const reader = await langfuseKey(w, ws.api, "reader");
  const editor = await langfuseKey(w, ws.api, "editor");
  const expected = {
    "GET /api/public/v2/prompts": 200,
    "POST /api/public/v2/prompts": 200,
    "GET /api/public/v2/prompts/{name}": 404, // nothing is deployed to production
    "DELETE /api/public/v2/prompts/{name}": 400,
    "PATCH /api/public/v2/prompts/{name}/versions/{version}": 200,
    "POST /api/public/ingestion": 200,
    "POST /api/public/otel/v1/traces": 200,
    "POST /api/public/scores": 200,
    "GET /api/public/projects": 200,
  };
  for (const [route, req] of Object.entries(REQUESTS)) {
    const method = route.split(" ")[0];
    const asReader = await call(method, req.path, { auth: basic(reader), body: req.body, headers: req.headers });
    if (WRITES.includes(route)) assertLangfuseError(asReader, 403, "AccessDeniedError", `${route} as a reader`);
    else if (route !== "GET /api/public/v2/prompts/{name}") assert.equal(asReader.status, 200, `${route} as a reader: ${JSON.stringify(asReader.body)}`);
  }
  assert.equal(await slugOf(ws.api, "wired").catch(() => null), null, "the reader wrote nothing");

  const seen = {};
  for (const [route, req] of Object.entries(REQUESTS)) {
    const res = await call(route.split(" ")[0], req.path, { auth: basic(editor), body: req.body, headers: req.headers });
    seen[route] = res;
    assert.equal(res.status, expected[route], `${route} as an editor: ${JSON.stringify(res.body)}`);
    assert.match(res.type, /application\/json/, route);
  }
  assert.deepEqual(seen["POST /api/public/ingestion"].body, { successes: [], errors: [] });
  assert.deepEqual(seen["POST /api/public/otel/v1/traces"].body, {});
  assert.deepEqual(seen["POST /api/public/scores"].body, {});
  assert.equal(seen["GET /api/public/v2/prompts/{name}"].body.error, "LangfuseNotFoundError");
  assert.equal(seen["DELETE /api/public/v2/prompts/{name}"].body.error, "InvalidRequestError");
  assert.deepEqual(seen["PATCH /api/public/v2/prompts/{name}/versions/{version}"].body.labels.sort(), ["latest", "staging"]);

  // Our own Bearer key works on the compatibility routes too.
  const bearer = await call("GET", "/api/public/v2/prompts/wired?label=staging", { auth: `Bearer ${editor.secretKey}` });
  assert.equal(bearer.status, 200, JSON.stringify(bearer.body));
  assert.equal(bearer.body.version, 1);

  // The project (Python's auth_check()) is the workspace.
  const project = seen["GET /api/public/projects"].body.data;
  assert.equal(project.length, 1);
  assert.equal(typeof project[0].organization.id, "string");
  assert.equal(typeof project[0].organization.name, "string");
  assert.deepEqual(project[0].metadata, {});
  assert.equal(project[0].id, ws.id);
  assert.equal(project[0].name, ws.name, "the project's name is the workspace's name");
});

test("methods a route does not have are 405 in Langfuse's shape; unknown paths are JSON 404", async () => {
  const { api } = await newWorkspace(w);
  const k = await langfuseKey(w, api, "admin");
  const paths = [...new Set(Object.values(REQUESTS).map((r) => r.path))];
  for (const p of paths) {
    const allowed = Object.keys(REQUESTS).filter((r) => REQUESTS[r].path === p).map((r) => r.split(" ")[0]);
    // As on Langfuse, GET and DELETE of …/{a}/versions/{n} are the prompt named "{a}/versions/{n}".
    const names = p.includes("/versions/") ? ["GET", "DELETE"] : [];
    for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"].filter((m) => !allowed.includes(m) && !names.includes(m))) {
      const res = await call(method, p, { auth: basic(k), body: method === "GET" || method === "DELETE" ? undefined : {} });
      assertLangfuseError(res, 405, "MethodNotAllowedError", `${method} ${p}`);
      for (const m of allowed) assert.match(res.allow ?? "", new RegExp(m), `${method} ${p}: Allow lists ${m}`);
    }
  }
  const unknown = await call("GET", "/api/public/v1/nothing-here", { auth: basic(k) });
  assert.equal(unknown.status, 404);
  assert.match(unknown.type, /application\/json/);
  assert.equal(typeof unknown.body.message, "string");
});

test("names and queries on the wire: %2F or raw slashes, both version and label refused, bad names refused", async () => {
  const { api } = await newWorkspace(w);
  const k = await langfuseKey(w, api, "editor");
  const auth = basic(k);
  const created = await call("POST", "/api/public/v2/prompts", {
    auth, body: { name: "Folder One/Sub Two/Leaf.v3", prompt: "leaf {{x}}", labels: ["production"] },
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const encoded = await call("GET", `/api/public/v2/prompts/${encodeURIComponent("Folder One/Sub Two/Leaf.v3")}`, { auth });
  const raw = await call("GET", "/api/public/v2/prompts/Folder%20One/Sub%20Two/Leaf.v3", { auth });
  assert.equal(encoded.status, 200, JSON.stringify(encoded.body));
  assert.equal(raw.status, 200, JSON.stringify(raw.body));
  assert.equal(encoded.body.id, raw.body.id);
  assert.equal(raw.body.name, "Folder One/Sub Two/Leaf.v3");
  const patched = await call("PATCH", "/api/public/v2/prompts/Folder%20One/Sub%20Two/Leaf.v3/versions/1", { auth, body: { newLabels: ["staging"] } });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.ok(patched.body.labels.includes("staging"));

  const both = await call("GET", "/api/public/v2/prompts/Folder%20One%2FSub%20Two%2FLeaf.v3?version=1&label=production", { auth });
  assertLangfuseError(both, 400, "InvalidRequestError", "version and label together");
  for (const q of ["limit=0", "limit=101", "page=0", "page=x"]) {
    assertLangfuseError(await call("GET", `/api/public/v2/prompts?${q}`, { auth }), 400, "InvalidRequestError", `list ?${q}`);
  }
  const plus = await call("GET", "/api/public/v2/prompts/Folder+One%2FSub+Two%2FLeaf.v3", { auth });
  assert.equal(plus.status, 404, "+ in a path is a plus, not a space");

  for (const name of ["", "x".repeat(201), "bell\u0007name", "line\nbreak"]) {
    const res = await call("POST", "/api/public/v2/prompts", { auth, body: { name, prompt: "p" } });
    assertLangfuseError(res, 400, "InvalidRequestError", `create ${JSON.stringify(name.slice(0, 20))}`);
  }
  const long = await call("POST", "/api/public/v2/prompts", { auth, body: { name: "y".repeat(200), prompt: "p" } });
  assert.equal(long.status, 200, "200 characters is allowed");
  const malformed = await call("POST", "/api/public/v2/prompts", { auth, body: "{not json", headers: { "content-type": "application/json" } });
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.error, "InvalidRequestError");
});
