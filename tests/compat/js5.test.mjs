// The official Langfuse JS client (@langfuse/client 5, unmodified) against
// the worker's Langfuse-compatible API in workerd: what it writes is what
// PromptVault stores and serves, and PromptVault's rules (gates, approvals,
// immutable versions) reach the client as Langfuse-shaped answers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { LangfuseClient, ChatPromptClient, TextPromptClient } from "@langfuse/client";
import { startWorker, newWorkspace } from "../e2e/harness.mjs";
import { langfuseKey, nativePrompt, served, slugOf, sorted } from "./lib.mjs";

let w;
before(async () => (w = await startWorker()));
after(async () => w?.stop());

/** A fresh workspace, a key of `role` in it and a Langfuse client on that key. */
async function setup(role = "editor") {
  const ws = await newWorkspace(w);
  const key = await langfuseKey(w, ws.api, role);
  const lf = new LangfuseClient({ baseUrl: w.url, publicKey: key.publicKey, secretKey: key.secretKey });
  return { ...ws, key, lf };
}

/** The error a client call rejects with (fails the test if it resolves). */
async function rejection(promise) {
  try {
    const value = await promise;
    assert.fail(`expected an error, got ${JSON.stringify(value)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    return e;
  }
}

test("text prompt: create, get by label and by version, compile, stored natively as written", async () => {
  const { api, lf } = await setup();
  const v1 = await lf.prompt.create({
    name: "greeting",
    prompt: "Hello {{name}}, welcome to {{place}}!",
    labels: ["production"],
    tags: ["onboarding"],
    config: { model: "gpt-4o", temperature: 0.2 },
    commitMessage: "first cut",
  });
  assert.ok(v1 instanceof TextPromptClient);
  assert.equal(v1.name, "greeting");
  assert.equal(v1.version, 1);
  assert.deepEqual(sorted(v1.labels), ["latest", "production"]);
  assert.deepEqual(v1.tags, ["onboarding"]);
  assert.deepEqual(v1.config, { model: "gpt-4o", temperature: 0.2 });
  assert.equal(v1.commitMessage, "first cut");

  const v2 = await lf.prompt.create({ name: "greeting", prompt: "Hi {{name}}, this is {{place}}.", labels: ["staging"] });
  assert.equal(v2.version, 2);
  assert.deepEqual(sorted(v2.labels), ["latest", "staging"]);

  // A name that is already a slug is that native prompt.
  assert.equal(await slugOf(api, "greeting"), "greeting");
  const live = await served(api, "greeting");
  assert.equal(live.status, 200, JSON.stringify(live));
  assert.equal(live.version, 1);
  assert.deepEqual(live.content, { text: "Hello {{name}}, welcome to {{place}}!" });
  assert.equal(live.model_params.model, "gpt-4o");
  assert.equal(live.model_params.temperature, 0.2);
  assert.equal((await served(api, "greeting", "staging")).version, 2);

  const prod = await lf.prompt.get("greeting");
  assert.equal(prod.version, 1, "no label means production");
  assert.equal(prod.isFallback, false);
  assert.deepEqual(sorted(prod.labels), ["production"], "v1 is no longer the head");
  assert.equal(prod.compile({ name: "Ada", place: "Paris" }), "Hello Ada, welcome to Paris!");
  // Plain identifiers compile the same in their client and in our renderer.
  const ours = await api.post("/v1/prompts/greeting/render", { version: 1, variables: { name: "Ada", place: "Paris" } });
  assert.equal(ours.status, 200, JSON.stringify(ours.body));
  assert.equal(ours.body.rendered.text, prod.compile({ name: "Ada", place: "Paris" }));

  const staging = await lf.prompt.get("greeting", { label: "staging" });
  assert.equal(staging.version, 2);
  assert.equal(staging.prompt, "Hi {{name}}, this is {{place}}.");
  assert.equal((await lf.prompt.get("greeting", { label: "latest" })).version, 2);

  const byVersion = await lf.prompt.get("greeting", { version: 1 });
  assert.equal(byVersion.prompt, "Hello {{name}}, welcome to {{place}}!");
  assert.deepEqual(byVersion.tags, ["onboarding"]);
  assert.deepEqual(byVersion.config, { model: "gpt-4o", temperature: 0.2 });

  // Writing the head's content again writes nothing new.
  const same = await lf.prompt.create({ name: "greeting", prompt: "Hi {{name}}, this is {{place}}." });
  assert.equal(same.version, 2);
  const versions = await api.get("/v1/prompts/greeting/versions");
  assert.deepEqual(versions.body.items.map((v) => v.number).sort(), [1, 2]);
});

test("chat prompt with a placeholder: stored as a native placeholder, compiled by the client", async () => {
  const { api, lf } = await setup();
  const created = await lf.prompt.create({
    name: "support-chat",
    type: "chat",
    prompt: [
      { role: "system", content: "You help {{customer}} with orders." },
      { type: "placeholder", name: "history" },
      { role: "user", content: "{{question}}" },
    ],
    labels: ["production"],
  });
  assert.ok(created instanceof ChatPromptClient);
  assert.equal(created.version, 1);

  const live = await served(api, "support-chat");
  assert.equal(live.status, 200, JSON.stringify(live));
  assert.equal(live.kind, "chat");
  assert.deepEqual(live.content.messages, [
    { role: "system", content: "You help {{customer}} with orders." },
    { role: "placeholder", name: "history" },
    { role: "user", content: "{{question}}" },
  ]);

  const chat = await lf.prompt.get("support-chat", { type: "chat" });
  assert.ok(chat instanceof ChatPromptClient);
  assert.deepEqual(chat.prompt, [
    { type: "chatmessage", role: "system", content: "You help {{customer}} with orders." },
    { type: "placeholder", name: "history" },
    { type: "chatmessage", role: "user", content: "{{question}}" },
  ]);
  const compiled = chat.compile(
    { customer: "Ada", question: "Where is my parcel?" },
    { history: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello {{customer}}" }] },
  );
  assert.deepEqual(compiled, [
    { role: "system", content: "You help Ada with orders." },
    { role: "user", content: "Hi" },
    { role: "assistant", content: "Hello Ada" },
    { role: "user", content: "Where is my parcel?" },
  ]);
});

test("update newLabels moves production to another version, natively too", async () => {
  const { api, lf } = await setup();
  await lf.prompt.create({ name: "mover", prompt: "one {{x}}", labels: ["production"] });
  await lf.prompt.create({ name: "mover", prompt: "two {{x}}" });
  assert.equal((await served(api, "mover")).version, 1);
  assert.equal((await lf.prompt.get("mover")).version, 1);

  const updated = await lf.prompt.update({ name: "mover", version: 2, newLabels: ["production", "staging"] });
  assert.equal(updated.version, 2);
  assert.equal(updated.prompt, "two {{x}}");
  assert.deepEqual(sorted(updated.labels), ["latest", "production", "staging"]);
  assert.ok(!updated.pendingApprovals?.length, "nothing waits for approval");

  const live = await served(api, "mover");
  assert.equal(live.version, 2);
  assert.deepEqual(live.content, { text: "two {{x}}" });
  assert.equal((await served(api, "mover", "staging")).version, 2);
  // The client dropped its cache on update: it serves the new version.
  const now = await lf.prompt.get("mover");
  assert.equal(now.version, 2);
  assert.equal(now.compile({ x: "!" }), "two !");
  assert.deepEqual((await lf.prompt.get("mover", { version: 1 })).labels, [], "the label moved off v1");

  // The move is a native promotion: audited.
  const audit = await api.get(`/v1/audit?prompt=${await slugOf(api, "mover")}`);
  assert.ok(audit.body.items.some((e) => e.action === "deployment.promote"), JSON.stringify(audit.body.items.map((e) => e.action)));

  // A label that names no environment is refused, listing the environments.
  const bad = await rejection(lf.prompt.update({ name: "mover", version: 1, newLabels: ["no-such-env"] }));
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.body.error, "InvalidRequestError");
  assert.match(bad.body.message, /production/);
  assert.equal((await served(api, "mover")).version, 2);
});

test("composed prompts: references resolve on get, pinned at create time, raw with resolve=false", async () => {
  const { api, lf } = await setup();
  await lf.prompt.create({ name: "shared/persona", prompt: "You are a careful assistant.", labels: ["production"] });
  const composite = await lf.prompt.create({
    name: "answer",
    prompt: "@@@langfusePrompt:name=shared/persona|label=production@@@ Answer {{question}}",
    labels: ["production"],
  });
  assert.equal(composite.prompt, "You are a careful assistant. Answer {{question}}");
  const got = await lf.prompt.get("answer");
  assert.equal(got.prompt, "You are a careful assistant. Answer {{question}}");
  assert.equal(got.compile({ question: "why?" }), "You are a careful assistant. Answer why?");

  const unresolved = await lf.api.prompts.get("answer", { resolve: false });
  assert.equal(unresolved.prompt, "@@@langfusePrompt:name=shared/persona|version=1@@@ Answer {{question}}", "the label is pinned to its version");
  assert.equal(typeof unresolved.resolutionGraph, "object");
  assert.match(JSON.stringify(unresolved.resolutionGraph), /shared\/persona/, "resolutionGraph lists what was pinned");

  // Moving the referenced prompt's label later does not change the pinned composition.
  await lf.prompt.create({ name: "shared/persona", prompt: "You are a reckless assistant.", labels: ["production"] });
  assert.equal((await served(api, "shared/persona")).version, 2);
  assert.equal((await lf.prompt.get("answer", { cacheTtlSeconds: 0 })).prompt, "You are a careful assistant. Answer {{question}}");
});

test("a refused create of a new name writes nothing: no native prompt, and the name's type stays free", async () => {
  const { api, lf } = await setup();
  const refused = [
    ["unknown reference", { name: "broken", prompt: "@@@langfusePrompt:name=nowhere|version=1@@@" }],
    ["template syntax", { name: "Broken Template", prompt: "hi {{#x}}" }],
    ["label that is no environment", { name: "Broken Label", prompt: "hi", labels: ["nope"] }],
  ];
  for (const [why, body] of refused) {
    const e = await rejection(lf.prompt.create(body));
    assert.equal(e.statusCode, 400, why);
    assert.equal(e.body.error, "InvalidRequestError", why);
    assert.equal(await nativePrompt(api, body.name), null, `${why}: GET /v1/prompts shows no prompt named ${body.name}`);
  }
  const chat = await lf.prompt.create({ name: "broken", type: "chat", prompt: [{ role: "user", content: "fine" }] });
  assert.equal(chat.version, 1);
  assert.ok(chat instanceof ChatPromptClient);
});

test("list pages through lf.api.prompts.list with Langfuse meta", async () => {
  const { lf } = await setup();
  await lf.prompt.create({ name: "alpha", prompt: "a1", labels: ["production"], tags: ["t1"] });
  await lf.prompt.create({ name: "alpha", prompt: "a2" });
  await lf.prompt.create({ name: "beta", prompt: "b1" });
  await lf.prompt.create({ name: "gamma", type: "chat", prompt: [{ role: "user", content: "g1" }] });

  const p1 = await lf.api.prompts.list({ page: 1, limit: 2 });
  assert.deepEqual(p1.meta, { page: 1, limit: 2, totalItems: 3, totalPages: 2 });
  assert.equal(p1.data.length, 2);
  const p2 = await lf.api.prompts.list({ page: 2, limit: 2 });
  assert.deepEqual(p2.meta, { page: 2, limit: 2, totalItems: 3, totalPages: 2 });
  assert.equal(p2.data.length, 1);
  const all = [...p1.data, ...p2.data];
  assert.deepEqual(all.map((p) => p.name).sort(), ["alpha", "beta", "gamma"]);
  const byName = Object.fromEntries(all.map((p) => [p.name, p]));
  assert.deepEqual(byName.alpha.versions.sort(), [1, 2]);
  assert.deepEqual(sorted(byName.alpha.labels), ["latest", "production"]);
  assert.deepEqual(byName.alpha.tags, ["t1"]);
  assert.equal(byName.alpha.type, "text");
  assert.equal(byName.gamma.type, "chat");
  assert.ok(!Number.isNaN(Date.parse(byName.beta.lastUpdatedAt)), byName.beta.lastUpdatedAt);
  assert.ok("lastConfig" in byName.beta);

  const beyond = await lf.api.prompts.list({ page: 3, limit: 2 });
  assert.deepEqual(beyond.data, []);
  assert.equal(beyond.meta.totalItems, 3);
  const labelled = await lf.api.prompts.list({ label: "production" });
  assert.deepEqual(labelled.data.map((p) => p.name), ["alpha"]);
});

test("a folder name with spaces and slashes round-trips and gets a native slug", async () => {
  const { api, lf } = await setup();
  const name = "team a/Support Bot v2.1";
  const created = await lf.prompt.create({ name, prompt: "Support for {{product}}", labels: ["production"] });
  assert.equal(created.name, name);
  await lf.prompt.create({ name, prompt: "Support for {{product}}, v2" });

  const got = await lf.prompt.get(name);
  assert.equal(got.name, name);
  assert.equal(got.version, 1);
  assert.equal(got.prompt, "Support for {{product}}");

  const native = await nativePrompt(api, name);
  assert.ok(native, "GET /v1/prompts lists the prompt under its Langfuse name");
  assert.match(native.slug, /^[a-z0-9-]{1,55}-[0-9a-f]{8}$/);
  assert.equal((await served(api, name)).version, 1);

  const moved = await lf.prompt.update({ name, version: 2, newLabels: ["production"] });
  assert.equal(moved.name, name);
  assert.equal((await served(api, name)).version, 2);
  assert.equal((await lf.prompt.get(name)).prompt, "Support for {{product}}, v2");

  const listed = await lf.api.prompts.list({ name });
  assert.deepEqual(listed.data.map((p) => [p.name, p.versions.sort()]), [[name, [1, 2]]]);
  // Another name with the same slugified form is another prompt.
  await lf.prompt.create({ name: "team-a/support bot v2.1", prompt: "other" });
  assert.notEqual(await slugOf(api, "team-a/support bot v2.1"), native.slug);
  assert.equal((await lf.prompt.get(name, { version: 2 })).prompt, "Support for {{product}}, v2");

  // Characters that mean something in a URL survive encodeURIComponent.
  const odd = "folder/sub name?#%&+é";
  await lf.prompt.create({ name: odd, prompt: "odd one", labels: ["production"] });
  const oddGot = await lf.prompt.get(odd);
  assert.equal(oddGot.name, odd);
  assert.equal(oddGot.prompt, "odd one");
  assert.equal((await served(api, odd)).version, 1);
});

test("a missing prompt: NotFoundError without a fallback, the fallback with one", async () => {
  const { lf } = await setup();
  const e = await rejection(lf.prompt.get("does-not-exist", { maxRetries: 0 }));
  assert.match(e.constructor.name, /^_?NotFoundError$/, "the client's NotFoundError");
  assert.equal(e.statusCode, 404);
  assert.equal(e.body.error, "LangfuseNotFoundError");
  assert.match(e.body.message, /Prompt not found: 'does-not-exist'/);

  const fb = await lf.prompt.get("also-missing", { fallback: "Hi {{name}}", maxRetries: 0 });
  assert.equal(fb.isFallback, true);
  assert.equal(fb.prompt, "Hi {{name}}");
  assert.equal(fb.version, 0);
  assert.equal(fb.compile({ name: "Ada" }), "Hi Ada");

  const chatFb = await lf.prompt.get("missing-chat", { type: "chat", fallback: [{ role: "system", content: "fb" }], maxRetries: 0 });
  assert.equal(chatFb.isFallback, true);
  assert.deepEqual(chatFb.compile(), [{ role: "system", content: "fb" }]);

  // A prompt that exists is fetched, not the fallback; a version that does not exist is a 404.
  await lf.prompt.create({ name: "exists", prompt: "real", labels: ["production"] });
  const real = await lf.prompt.get("exists", { fallback: "fake" });
  assert.equal(real.isFallback, false);
  assert.equal(real.prompt, "real");
  const noVersion = await rejection(lf.prompt.get("exists", { version: 7, maxRetries: 0 }));
  assert.equal(noVersion.statusCode, 404);
  assert.equal(noVersion.body.error, "LangfuseNotFoundError");
  const noLabel = await rejection(lf.prompt.get("exists", { label: "staging", maxRetries: 0 }));
  assert.equal(noLabel.statusCode, 404, "nothing is deployed to staging");
});

test("a gate refusal is an error naming the failing gate; nothing moves", async () => {
  const { api, lf } = await setup();
  await lf.prompt.create({ name: "gated", prompt: "v1 {{q}}", labels: ["production"] });
  await lf.prompt.create({ name: "gated", prompt: "v2 {{q}}" });
  const policy = await api.put("/v1/environments/production", { policy: { min_samples: 10 } });
  assert.ok([200, 201].includes(policy.status), JSON.stringify(policy.body));

  const e = await rejection(lf.prompt.update({ name: "gated", version: 2, newLabels: ["production"] }));
  assert.equal(e.statusCode, 422);
  assert.equal(e.body.error, "GatesFailedError");
  assert.match(e.body.message, /min_samples/);
  assert.match(e.message, /min_samples/, "the client's error message carries the gate");
  assert.equal((await served(api, "gated")).version, 1);
  assert.deepEqual(sorted((await lf.prompt.get("gated", { version: 2 })).labels), ["latest"]);

  // On create the version is written, the label is not moved, and the answer says so.
  const c = await rejection(lf.prompt.create({ name: "gated", prompt: "v3 {{q}}", labels: ["production"] }));
  assert.equal(c.statusCode, 422);
  assert.equal(c.body.error, "GatesFailedError");
  assert.match(c.body.message, /min_samples/);
  const v3 = await lf.prompt.get("gated", { version: 3 });
  assert.equal(v3.prompt, "v3 {{q}}");
  assert.deepEqual(sorted(v3.labels), ["latest"]);
  assert.equal((await served(api, "gated")).version, 1);
  // Environments without that gate still move.
  const staged = await lf.prompt.update({ name: "gated", version: 3, newLabels: ["staging"] });
  assert.deepEqual(sorted(staged.labels), ["latest", "staging"]);
});

test("the variable contract: a version needing other variables is a 409 ConflictError; production stays", async () => {
  const { api, lf } = await setup();
  await lf.prompt.create({ name: "contract", prompt: "Hi {{a}}", labels: ["production"] });
  await lf.prompt.create({ name: "contract", prompt: "Hi {{a}} and {{b}}" });
  const e = await rejection(lf.prompt.update({ name: "contract", version: 2, newLabels: ["production"] }));
  assert.equal(e.statusCode, 409);
  assert.equal(e.body.error, "ConflictError");
  assert.match(e.body.message, /\bb\b/, "the message names the added variable");
  assert.equal((await served(api, "contract")).version, 1);
  assert.deepEqual(sorted((await lf.prompt.get("contract", { version: 2 })).labels), ["latest"]);
});

test("production requiring approval: 202 with pendingApprovals, the label moves once another approver approves", async () => {
  const { api, lf } = await setup("editor");
  await lf.prompt.create({ name: "guarded", prompt: "v1 {{q}}", labels: ["production"] });
  await lf.prompt.create({ name: "guarded", prompt: "v2 {{q}}" });
  const policy = await api.put("/v1/environments/production", { policy: { requires_approval: true } });
  assert.ok([200, 201].includes(policy.status), JSON.stringify(policy.body));
  const approver = await langfuseKey(w, api, "approver");

  const asked = await lf.prompt.update({ name: "guarded", version: 2, newLabels: ["production"] });
  assert.equal(asked.version, 2);
  assert.deepEqual(sorted(asked.labels), ["latest"], "production is not on v2 yet");
  assert.equal(asked.pendingApprovals?.length, 1, JSON.stringify(asked));
  const [pending] = asked.pendingApprovals;
  assert.equal(pending.environment, "production");
  assert.equal(typeof pending.approvalId, "string");

  assert.equal((await served(api, "guarded")).version, 1);
  assert.equal((await lf.prompt.get("guarded", { cacheTtlSeconds: 0 })).version, 1);
  const queue = await api.get("/v1/approvals?status=pending");
  assert.deepEqual(queue.body.items.map((a) => [a.id, a.version, a.status]), [[pending.approvalId, 2, "pending"]]);

  const approved = await approver.api.post(`/v1/approvals/${pending.approvalId}/approve`, {});
  assert.equal(approved.status, 201, JSON.stringify(approved.body));
  assert.equal((await served(api, "guarded")).version, 2);
  const now = await lf.prompt.get("guarded", { cacheTtlSeconds: 0 });
  assert.equal(now.version, 2);
  assert.deepEqual(sorted(now.labels), ["latest", "production"]);
});

test("delete is refused with a JSON 400 and deletes nothing", async () => {
  const { api, lf } = await setup();
  await lf.prompt.create({ name: "keeper", prompt: "keep me", labels: ["production"] });
  for (const opts of [undefined, { version: 1 }, { label: "production" }]) {
    const e = await rejection(lf.prompt.delete("keeper", opts));
    assert.equal(e.statusCode, 400, `delete ${JSON.stringify(opts)}`);
    assert.equal(typeof e.body, "object", "the body is JSON");
    assert.equal(e.body.error, "InvalidRequestError");
    assert.equal(typeof e.body.message, "string");
    assert.ok(e.body.message.length > 0);
  }
  assert.equal((await lf.prompt.get("keeper", { cacheTtlSeconds: 0 })).prompt, "keep me");
  assert.equal((await served(api, "keeper")).version, 1);
});

test("credentials: a public key with another key's secret is 401, a reader cannot create", async () => {
  const { api, key } = await setup("editor");
  const other = await langfuseKey(w, api, "editor");
  const mixed = new LangfuseClient({ baseUrl: w.url, publicKey: key.publicKey, secretKey: other.secretKey });
  const e = await rejection(mixed.prompt.get("anything", { maxRetries: 0 }));
  assert.equal(e.statusCode, 401);
  assert.equal(e.body.error, "UnauthorizedError");

  const reader = await langfuseKey(w, api, "reader");
  const rlf = new LangfuseClient({ baseUrl: w.url, publicKey: reader.publicKey, secretKey: reader.secretKey });
  const denied = await rejection(rlf.prompt.create({ name: "nope", prompt: "x" }));
  assert.equal(denied.statusCode, 403);
  assert.equal(denied.body.error, "AccessDeniedError");
  assert.equal(await nativePrompt(api, "nope"), null, "nothing was created");
});
