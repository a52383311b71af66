// `pvct import --from-langfuse`: a Langfuse project copied into a workspace
// as native history, with its labels as deployments, by the installed bin.
// Two sources: our own Langfuse-compatible API (workspace A → workspace B),
// and a stub serving a recorded Langfuse answer set (fixtures/langfuse).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startWorker, newWorkspace } from "../e2e/harness.mjs";
import { installPackage, runPvct } from "./package.mjs";

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures/langfuse");

let w;
let pkg;
before(async () => {
  w = await startWorker();
  pkg = installPackage();
});
after(async () => {
  pkg?.remove();
  await w?.stop();
});

/** Runs the installed `pvct` bin without blocking this process (the stub server lives here): { code, out, err, json }. */
function pvct(key, ...args) {
  return runPvct(pkg, w.url, key, args, { LANGFUSE_PUBLIC_KEY: "", LANGFUSE_SECRET_KEY: "" });
}

/** The slug rule, written out independently of the CLI's copy. */
function expectedSlug(name) {
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 8);
  const readable = name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40).replace(/-+$/, "");
  return `${readable}-${hash}`;
}

/** A workspace whose key comes with its Langfuse public key (from the `POST /v1/workspaces` answer). */
async function langfuseWorkspace(name) {
  const res = await w.client(w.adminKey).post("/v1/workspaces", { name });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const { key, public_key: publicKey } = res.body.api_key;
  const basic = `Basic ${Buffer.from(`${publicKey}:${key}`).toString("base64")}`;
  return { key, publicKey, api: w.client(key), lf: (p, body) => w.client().call(body === undefined ? "GET" : "POST", p, body, { authorization: basic }) };
}

/** Every native version of every prompt of a workspace, oldest first: { slug: [version] }. */
async function history(api) {
  const prompts = (await api.get("/v1/prompts?limit=200")).body.items;
  const out = {};
  for (const p of prompts) {
    // Lists carry content only when asked, 20 versions a page at most.
    const items = [];
    let cursor = null;
    do {
      const page = await api.get(`/v1/prompts/${p.slug}/versions?include=content&limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      items.push(...page.body.items);
      cursor = page.body.next_cursor;
    } while (cursor);
    out[p.slug] = items.reverse();
  }
  return { prompts, versions: out };
}

test("import a project from our own Langfuse-compatible API: history, labels as deployments, a second run changes nothing", async () => {
  const a = await langfuseWorkspace(`lf-src-${process.pid}`);
  assert.equal((await a.api.put("/v1/environments/canary", { policy: {} })).status, 201);
  const create = async (body) => {
    const res = await a.lf("/api/public/v2/prompts", body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  await create({ name: "greeting", type: "text", prompt: "Hello {{name}}!", config: { model: "gpt-4o-mini", temperature: 0.3 }, commitMessage: "first" });
  await create({ name: "greeting", type: "text", prompt: "Hello {{name}}, welcome back!", config: { model: "gpt-4o-mini", temperature: 0.3 }, labels: ["production"], commitMessage: "warmer" });
  await create({ name: "greeting", type: "text", prompt: "Hi {{name}} 👋", config: { model: "gpt-4o", temperature: 0.9, max_tokens: 200 }, labels: ["staging"] });
  const folder = "Marketing/EU campaigns/Launch email";
  await create({ name: folder, type: "text", prompt: "Subject: {{product}} is here", config: {}, labels: ["production", "canary"], tags: ["email"] });
  const chat = [
    { role: "system", content: "You help with {{product}}.", type: "chatmessage" },
    { type: "placeholder", name: "history" },
    { role: "user", content: "{{question}}", type: "chatmessage" },
  ];
  await create({ name: "support/chat", type: "chat", prompt: chat, config: { temperature: 0.2 } });
  await create({ name: "composed", type: "text", prompt: "Intro. @@@langfusePrompt:name=greeting|label=production@@@ Bye." });
  const long = "Équipe/Über lange Überschrift für den Newsletter-Versand (v2.0)";
  await create({ name: long, type: "text", prompt: "Hallo {{name}}" });
  const composedRaw = (await a.lf("/api/public/v2/prompts/composed?version=1&resolve=false")).body.prompt;
  assert.match(composedRaw, /@@@langfusePrompt:name=greeting\|version=2@@@/, "the source pinned the label reference");

  const b = await newWorkspace(w);
  const args = ["import", "--from-langfuse", `${w.url}/`, "--public-key", a.publicKey, "--secret-key", a.key];
  const first = await pvct(b.key, ...args, "--json");
  assert.equal(first.code, 0, first.err + first.out);
  assert.deepEqual(
    { ...first.json.totals },
    { prompts: 5, prompts_created: 5, versions_created: 7, versions_unchanged: 0, labels_set: 3, labels_unchanged: 0, labels_pending: 0, labels_skipped: 1, failed: 0 },
  );
  const byName = Object.fromEntries(first.json.prompts.map((p) => [p.name, p]));
  assert.deepEqual(byName[folder].labels.map((l) => [l.label, l.status, l.reason ?? null]), [["production", "set", null], ["canary", "skipped", "not_an_environment"]]);
  assert.deepEqual(byName.greeting.labels.map((l) => [l.label, l.version, l.status]), [["staging", 3, "set"], ["production", 2, "set"]]);

  // B's native history.
  const { prompts, versions } = await history(b.api);
  const folderSlug = expectedSlug(folder);
  assert.deepEqual(prompts.map((p) => [p.slug, p.name, p.kind]).sort(), [
    ["composed", "composed", "text"], ["greeting", "greeting", "text"], [folderSlug, folder, "text"], [expectedSlug("support/chat"), "support/chat", "chat"],
    [expectedSlug(long), long, "text"],
  ].sort());
  // The slugs the CLI chose are the ones the server gave the same names in A.
  assert.deepEqual(prompts.map((p) => p.slug).sort(), (await a.api.get("/v1/prompts?limit=200")).body.items.map((p) => p.slug).sort());
  assert.deepEqual(versions.greeting.map((v) => [v.number, v.content.text, v.model_params]), [
    [1, "Hello {{name}}!", { model: "gpt-4o-mini", temperature: 0.3 }],
    [2, "Hello {{name}}, welcome back!", { model: "gpt-4o-mini", temperature: 0.3 }],
    [3, "Hi {{name}} 👋", { model: "gpt-4o", temperature: 0.9, max_tokens: 200 }],
  ]);
  assert.match(versions.greeting[0].message, /^first \(imported from Langfuse v1 by .+\)$/);
  assert.match(versions.greeting[2].message, /^\(imported from Langfuse v3 by .+\)$/);
  assert.deepEqual(versions[expectedSlug("support/chat")].map((v) => [v.content, v.model_params]), [[{
    messages: [{ role: "system", content: "You help with {{product}}." }, { role: "placeholder", name: "history" }, { role: "user", content: "{{question}}" }],
  }, { temperature: 0.2 }]]);
  assert.deepEqual(versions.composed.map((v) => v.content), [{ text: composedRaw }], "references are imported as text");
  assert.deepEqual(versions[folderSlug].map((v) => v.content), [{ text: "Subject: {{product}} is here" }]);

  // What B serves where the labels were.
  const served = async (slug, env) => (await b.api.get(`/v1/resolve/${slug}?environment=${env}`)).body;
  assert.deepEqual([(await served("greeting", "production")).version, (await served("greeting", "production")).content.text], [2, "Hello {{name}}, welcome back!"]);
  assert.equal((await served("greeting", "staging")).version, 3);
  assert.equal((await served(folderSlug, "production")).version, 1);
  assert.equal((await b.api.get(`/v1/resolve/${expectedSlug("support/chat")}?environment=production`)).status, 404, "no label, no deployment");
  // Langfuse clients pointed at B find the imported prompts by their names.
  const bKey = (await b.api.get("/v1/keys")).body.items.find((k) => b.key.startsWith(k.key_prefix));
  const bBasic = `Basic ${Buffer.from(`${bKey.public_key}:${b.key}`).toString("base64")}`;
  const viaName = await w.client().call("GET", `/api/public/v2/prompts/${encodeURIComponent(folder)}`, undefined, { authorization: bBasic });
  assert.equal(viaName.status, 200, JSON.stringify(viaName.body));
  assert.deepEqual([viaName.body.name, viaName.body.version, viaName.body.labels], [folder, 1, ["production", "latest"]]);

  // A second run changes nothing.
  const audit = async () => {
    const items = (await b.api.get("/v1/audit?limit=200")).body.items;
    return `${items.length} entries, newest ${items[0]?.id}`;
  };
  const auditBefore = await audit();
  const second = await pvct(b.key, ...args, "--json");
  assert.equal(second.code, 0, second.err);
  assert.deepEqual(
    { ...second.json.totals },
    { prompts: 5, prompts_created: 0, versions_created: 0, versions_unchanged: 7, labels_set: 0, labels_unchanged: 3, labels_pending: 0, labels_skipped: 1, failed: 0 },
  );
  const again = await history(b.api);
  assert.deepEqual(Object.fromEntries(Object.entries(again.versions).map(([s, v]) => [s, v.length])), Object.fromEntries(Object.entries(versions).map(([s, v]) => [s, v.length])));
  assert.equal(await audit(), auditBefore, "nothing audited: nothing written");
  const text = await pvct(b.key, ...args);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /greeting → greeting: 0 versions created, 3 unchanged/);
  assert.match(text.out, /canary → v1 \(Langfuse v1\): skipped \(not an environment\)/);
  assert.match(text.out, /5 prompts: 0 versions created, 7 unchanged/);

  // A new Langfuse version: only it is committed, and the moved label follows.
  await create({ name: "greeting", type: "text", prompt: "Hi {{name}}, good to see you.", config: { model: "gpt-4o", temperature: 0.9, max_tokens: 200 }, labels: ["production"] });
  const third = await pvct(b.key, ...args, "--json");
  assert.equal(third.code, 0, third.err);
  const greeting = third.json.prompts.find((p) => p.name === "greeting");
  assert.deepEqual(greeting.versions.map((v) => [v.langfuse_version, v.version, v.status]), [[1, 1, "unchanged"], [2, 2, "unchanged"], [3, 3, "unchanged"], [4, 4, "created"]]);
  assert.equal(third.json.totals.versions_created, 1);
  assert.equal((await served("greeting", "production")).version, 4);

  // Wrong keys: Langfuse's 401 is an auth failure, and nothing is written.
  const denied = await pvct(b.key, "import", "--from-langfuse", w.url, "--public-key", a.publicKey, "--secret-key", `pvct_${"0".repeat(48)}`);
  assert.equal(denied.code, 3, denied.err);
  assert.match(denied.err, /Langfuse: GET \/api\/public\/v2\/prompts\?page=1&limit=50: HTTP 401/);
  assert.equal((await pvct(b.key, "import", "--public-key", "x", "--secret-key", "y")).code, 2, "--from-langfuse is required");
});

/** A Langfuse stand-in answering the recorded requests of fixtures/langfuse, behind Basic auth. */
async function langfuseStub(publicKey, secretKey) {
  const index = JSON.parse(readFileSync(path.join(FIXTURES, "index.json"), "utf8"));
  const expected = `Basic ${Buffer.from(`${publicKey}:${secretKey}`).toString("base64")}`;
  const requests = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://stub");
    const query = [...url.searchParams.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
    const key = `${req.method} ${url.pathname}${query ? `?${query}` : ""}`;
    const send = (status, body) => {
      res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
      res.end(JSON.stringify(body));
    };
    const authorized = req.headers.authorization === expected;
    requests.push({ key, authorized, recorded: key in index });
    if (!authorized) return send(401, { message: "Invalid credentials. Confirm that you've configured the correct host.", error: "UnauthorizedError" });
    if (!(key in index)) return send(404, { message: `test stub: no recorded answer for ${key}`, error: "LangfuseNotFoundError" });
    res.writeHead(200, { "content-type": "application/json; charset=utf-8" });
    res.end(readFileSync(path.join(FIXTURES, index[key])));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, requests, close: () => new Promise((r) => server.close(r)) };
}

test("import a recorded Langfuse project: folders, placeholders, composed text, labels set, pending, refused and unknown", async () => {
  const pk = "pk-lf-0c5a4b7e-91d2-4f3a-8e6b-2d9f1a7c3e55";
  const sk = "sk-lf-7e2b9d41-3c6a-4b8f-a1e0-5f4d2c8b9a63";
  const stub = await langfuseStub(pk, sk);
  try {
    const { key, api } = await newWorkspace(w);
    // staging waits for an approver; qa has a gate nothing can pass yet.
    assert.equal((await api.put("/v1/environments/staging", { policy: { requires_approval: true } })).status, 200);
    assert.equal((await api.put("/v1/environments/qa", { policy: { min_samples: 1000 } })).status, 201);
    const args = ["import", "--from-langfuse", stub.url, "--public-key", pk, "--secret-key", sk, "--json"];

    const first = await pvct(key, ...args);
    assert.equal(first.code, 6, `a refused label exits 6 once the import ran: ${first.err}`);
    assert.match(first.err, /gates_failed/);
    assert.deepEqual(
      { ...first.json.totals },
      { prompts: 3, prompts_created: 3, versions_created: 6, versions_unchanged: 1, labels_set: 3, labels_unchanged: 0, labels_pending: 1, labels_skipped: 2, failed: 0 },
    );
    const chatName = "Support Bot/system prompts/Chat Agent";
    const chatSlug = expectedSlug(chatName);
    const composedSlug = expectedSlug("emails/Welcome email");
    const byName = Object.fromEntries(first.json.prompts.map((p) => [p.name, p]));
    assert.deepEqual(byName["movie-critic"].labels.map((l) => [l.label, l.version, l.status, l.reason ?? null]), [
      ["staging", 3, "pending_approval", null], ["production", 2, "set", null], ["experiment-b", 3, "skipped", "not_an_environment"],
    ]);
    const pendingId = byName["movie-critic"].labels[0].approval_id;
    assert.ok(pendingId);
    assert.deepEqual(byName[chatName].labels.map((l) => [l.label, l.version, l.status, l.reason ?? null]), [
      ["production", 2, "set", null], ["qa", 1, "skipped", "gates_failed"],
    ]);
    assert.ok(byName[chatName].labels[1].failures.some((f) => f.gate === "min_samples"));
    assert.deepEqual(byName["emails/Welcome email"].versions.map((v) => [v.langfuse_version, v.version, v.status]), [[1, 1, "created"], [2, 1, "unchanged"]],
      "two identical Langfuse versions are one native version");

    const { prompts, versions } = await history(api);
    assert.deepEqual(prompts.map((p) => [p.slug, p.name, p.kind]).sort(), [
      ["movie-critic", "movie-critic", "text"], [chatSlug, chatName, "chat"], [composedSlug, "emails/Welcome email", "text"],
    ].sort());
    assert.deepEqual(versions["movie-critic"].map((v) => [v.content.text, v.model_params, v.message]), [
      ["As a {{criticLevel}} movie critic, do you like {{movie}}?", { model: "gpt-4o", temperature: 0.7 }, "(imported from Langfuse v1 by API)"],
      ["As a {{criticLevel}} movie critic, rate {{movie}} out of 10.", { model: "gpt-4o", temperature: 0.5, supported_languages: ["en", "fr"] },
        "Ask for a rating (imported from Langfuse v2 by clzq4d1x10003l808m2kq7v1y)"],
      ["As a {{criticLevel}} movie critic, rate {{movie}} out of 10 and say why in one sentence.", { model: "gpt-4o-mini", temperature: 0.5, max_tokens: 300 },
        "One sentence of reasoning (imported from Langfuse v3 by API)"],
    ]);
    assert.deepEqual(versions[chatSlug].map((v) => v.content.messages), [
      [{ role: "system", content: "You are a support agent for {{product}}." }, { role: "placeholder", name: "history" }, { role: "user", content: "{{question}}" }],
      [{ role: "system", content: "You are a patient support agent for {{product}}. Answer in {{language}}." }, { role: "placeholder", name: "history" }, { role: "user", content: "{{question}}" }],
    ]);
    assert.deepEqual(versions[chatSlug][1].model_params, { model: "claude-3-5-sonnet-20241022", temperature: 0.2, max_tokens: 1024 });
    assert.deepEqual(versions[composedSlug].map((v) => v.content.text), ["Dear {{user}},\n\n@@@langfusePrompt:name=movie-critic|label=production@@@\n\nThe team"]);

    const served = async (slug, env) => (await api.get(`/v1/resolve/${slug}?environment=${env}`));
    assert.equal((await served("movie-critic", "production")).body.version, 2);
    assert.equal((await served("movie-critic", "staging")).status, 404, "staging waits for its approver");
    assert.equal((await served(chatSlug, "production")).body.version, 2);
    assert.equal((await served(chatSlug, "qa")).status, 404, "the gate refused qa");
    assert.equal((await served(composedSlug, "production")).body.version, 1);
    const pending = (await api.get("/v1/approvals?status=pending")).body.items;
    assert.deepEqual(pending.map((p) => [p.id, p.environment, p.version]), [[pendingId, "staging", 3]]);

    // Every request carried the keys and asked for references unresolved.
    assert.ok(stub.requests.every((r) => r.authorized && r.recorded), JSON.stringify(stub.requests.filter((r) => !r.authorized || !r.recorded)));
    assert.equal(stub.requests.filter((r) => r.key.includes("resolve=false")).length, 7);

    // Again: nothing new, the same pending approval, the same refusal.
    const second = await pvct(key, ...args);
    assert.equal(second.code, 6);
    assert.deepEqual(
      { ...second.json.totals },
      { prompts: 3, prompts_created: 0, versions_created: 0, versions_unchanged: 7, labels_set: 0, labels_unchanged: 3, labels_pending: 1, labels_skipped: 2, failed: 0 },
    );
    assert.equal(second.json.prompts.find((p) => p.name === "movie-critic").labels[0].approval_id, pendingId);
    assert.deepEqual((await api.get("/v1/approvals?status=pending")).body.items.map((p) => p.id), [pendingId], "no second request");
    assert.deepEqual(Object.values((await history(api)).versions).map((v) => v.length).sort(), [1, 2, 3]);

    // The stub checks the keys.
    const before = stub.requests.length;
    const denied = await pvct(key, "import", "--from-langfuse", stub.url, "--public-key", pk, "--secret-key", "sk-lf-wrong");
    assert.equal(denied.code, 3);
    assert.match(denied.err, /HTTP 401: Invalid credentials/);
    assert.deepEqual(stub.requests.slice(before).map((r) => r.authorized), [false]);
  } finally {
    await stub.close();
  }
});
