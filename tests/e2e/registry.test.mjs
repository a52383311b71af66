// Prompts and versions: create, list, commit with optimistic concurrency,
// history, one version, diff. Against the real worker in workerd.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, newWorkspace, promptWithVersions, counts } from "./harness.mjs";

let w;
before(async () => (w = await startWorker()));
after(async () => w?.stop());

test("create, get and list prompts with cursor pages", async () => {
  const { api } = await newWorkspace(w);
  const created = await api.post("/v1/prompts", { slug: "support-bot", name: "Support bot", kind: "chat", description: "tier 1" });
  assert.equal(created.status, 201);
  assert.equal(created.body.slug, "support-bot");
  assert.equal(created.body.kind, "chat");

  const one = await api.get("/v1/prompts/support-bot");
  assert.equal(one.status, 200);
  assert.equal(one.body.head, null);
  assert.deepEqual(one.body.deployments, {});

  for (const s of ["a-1", "b-2", "c-3", "d-4"]) {
    assert.equal((await api.post("/v1/prompts", { slug: s, name: s, kind: "text" })).status, 201);
  }
  const seen = [];
  let cursor = null;
  let pages = 0;
  do {
    const page = await api.get(`/v1/prompts?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
    assert.equal(page.status, 200);
    assert.ok(page.body.items.length <= 2);
    seen.push(...page.body.items.map((p) => p.slug));
    cursor = page.body.next_cursor;
    pages++;
  } while (cursor);
  assert.deepEqual(seen, ["a-1", "b-2", "c-3", "d-4", "support-bot"]);
  assert.equal(pages, 3);
});

test("prompt creation refuses bad slugs, kinds, unknown fields and duplicates", async () => {
  const { api } = await newWorkspace(w);
  const cases = [
    [{ slug: "Bad Slug", name: "x", kind: "text" }, 400, "invalid_field"],
    [{ slug: "x".repeat(65), name: "x", kind: "text" }, 400, "invalid_field"],
    [{ slug: "ok", name: "x", kind: "poem" }, 400, "invalid_field"],
    [{ slug: "ok", name: "   ", kind: "text" }, 400, "invalid_field"],
    [{ slug: "ok", name: "x", kind: "text", colour: "red" }, 400, "invalid_field"],
    ['{"slug": "ok", ', 400, "malformed_json"],
  ];
  for (const [body, status, code] of cases) {
    const res = await api.post("/v1/prompts", body);
    assert.equal(res.status, status, JSON.stringify(body));
    assert.equal(res.body.error.code, code, JSON.stringify(body));
    assert.equal(typeof res.body.error.message, "string");
  }
  assert.equal((await api.post("/v1/prompts", { slug: "ok", name: "x", kind: "text" })).status, 201);
  const dup = await api.post("/v1/prompts", { slug: "ok", name: "y", kind: "text" });
  assert.equal(dup.status, 409);
  assert.equal(dup.body.error.code, "already_exists");
  assert.equal((await api.get("/v1/prompts/missing")).status, 404);
});

test("commit: numbers run 1, 2, 3; identical content is a no-op; stale parent is 409 with the head", async () => {
  const { api } = await newWorkspace(w);
  await api.post("/v1/prompts", { slug: "p", name: "P", kind: "text" });
  const v1 = await api.post("/v1/prompts/p/versions", {
    content: { text: "Hello {{name}}" },
    model_params: { model: "gpt-4o", temperature: 0.2, seed: 7 },
    parent_version: null,
    message: "first",
  });
  assert.equal(v1.status, 201);
  assert.equal(v1.body.created, true);
  assert.equal(v1.body.version.number, 1);
  assert.equal(v1.body.version.parent_version, null);
  assert.equal(v1.body.version.model_params.seed, 7, "extra model params are kept");

  // Same content and params, keys in another order: nothing is written.
  const before = await counts(w.db);
  const same = await api.post("/v1/prompts/p/versions", {
    content: { text: "Hello {{name}}" },
    model_params: { seed: 7, temperature: 0.2, model: "gpt-4o" },
    parent_version: 1,
    message: "again",
  });
  assert.equal(same.status, 200);
  assert.equal(same.body.created, false);
  assert.equal(same.body.version.number, 1);
  assert.deepEqual(await counts(w.db), before);

  const v2 = await api.post("/v1/prompts/p/versions", { content: { text: "Hi {{name}}" }, parent_version: 1, message: "second" });
  assert.equal(v2.status, 201);
  assert.equal(v2.body.version.number, 2);
  assert.equal(v2.body.version.parent_version, 1);

  const stale = await api.post("/v1/prompts/p/versions", { content: { text: "Hey" }, parent_version: 1 });
  assert.equal(stale.status, 409);
  assert.equal(stale.body.error.code, "stale_parent");
  assert.equal(stale.body.error.details.head_version, 2);
  assert.equal(stale.body.error.details.head.content.text, "Hi {{name}}");

  const future = await api.post("/v1/prompts/p/versions", { content: { text: "Hey" }, parent_version: 9 });
  assert.equal(future.status, 409);

  const rebased = await api.post("/v1/prompts/p/versions", { content: { text: "Hey" }, parent_version: 1, rebase: true });
  assert.equal(rebased.status, 201);
  assert.equal(rebased.body.version.number, 3);
  assert.equal(rebased.body.version.parent_version, 2);
});

test("commit validates content by kind, params and size, and writes nothing when refused", async () => {
  const { api } = await newWorkspace(w);
  await api.post("/v1/prompts", { slug: "chat", name: "Chat", kind: "chat" });
  const before = await counts(w.db);
  const bad = [
    [{ content: { text: "x" } }, 400],
    [{ content: { messages: [] } }, 400],
    [{ content: { messages: [{ role: "robot", content: "x" }] } }, 400],
    [{ content: { messages: [{ role: "user", content: "x" }] }, model_params: { temperature: 5 } }, 400],
    [{ content: { messages: [{ role: "user", content: "x" }] }, model_params: { max_tokens: 0 } }, 400],
    [{ content: { messages: [{ role: "user", content: "x" }] }, parent: 1 }, 400],
    [{ content: { messages: [{ role: "user", content: "x".repeat(300 * 1024) }] } }, 413],
  ];
  for (const [body, status] of bad) {
    const res = await api.post("/v1/prompts/chat/versions", body);
    assert.equal(res.status, status, JSON.stringify(body).slice(0, 120));
    assert.ok(res.body.error.code);
  }
  const huge = await api.post("/v1/prompts/chat/versions", { content: { messages: [{ role: "user", content: "x".repeat(600 * 1024) }] } });
  assert.equal(huge.status, 413);
  assert.equal(huge.body.error.code, "payload_too_large");
  assert.deepEqual(await counts(w.db), before);
});

test("20 concurrent commits on the same parent: one 201, nineteen 409, gapless numbers", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "race", ["base"]);
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      api.post("/v1/prompts/race/versions", { content: { text: `attempt ${i}` }, parent_version: 1 }),
    ),
  );
  const statuses = results.map((r) => r.status).sort();
  assert.equal(statuses.filter((s) => s === 201).length, 1, JSON.stringify(statuses));
  assert.equal(statuses.filter((s) => s === 409).length, 19, JSON.stringify(statuses));
  for (const r of results.filter((r) => r.status === 409)) assert.equal(r.body.error.code, "stale_parent");
  const history = await api.get("/v1/prompts/race/versions");
  assert.deepEqual(history.body.items.map((v) => v.number), [2, 1]);
});

test("history is newest first with cursor pages; one version by number", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "h", ["one", "two", "three", "four", "five"]);
  const numbers = [];
  let cursor = null;
  do {
    const page = await api.get(`/v1/prompts/h/versions?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
    assert.equal(page.status, 200);
    numbers.push(...page.body.items.map((v) => v.number));
    cursor = page.body.next_cursor;
  } while (cursor);
  assert.deepEqual(numbers, [5, 4, 3, 2, 1]);

  // Pages carry summaries; content only when asked, and then at most 20 versions a page.
  const summaries = (await api.get("/v1/prompts/h/versions")).body.items;
  assert.equal(summaries.length, 5);
  assert.ok(summaries.every((v) => !("content" in v) && !("resolved_content" in v) && v.content_hash && v.message));
  const full = await api.get("/v1/prompts/h/versions?include=content&limit=2");
  assert.deepEqual(full.body.items.map((v) => [v.number, v.content.text, v.resolved_content.text]), [[5, "five", "five"], [4, "four", "four"]]);
  const rest = await api.get(`/v1/prompts/h/versions?include=content&cursor=${full.body.next_cursor}`);
  assert.deepEqual(rest.body.items.map((v) => v.content.text), ["three", "two", "one"]);
  for (const q of ["include=content&limit=21", "include=everything"]) {
    const res = await api.get(`/v1/prompts/h/versions?${q}`);
    assert.equal(res.status, 400, q);
    assert.equal(res.body.error.code, "invalid_query");
  }

  const v3 = await api.get("/v1/prompts/h/versions/3");
  assert.equal(v3.status, 200);
  assert.equal(v3.body.content.text, "three");
  assert.equal(v3.body.parent_version, 2);
  assert.equal(v3.body.message, "three");
  assert.equal((await api.get("/v1/prompts/h/versions/9")).status, 404);
  assert.equal((await api.get("/v1/prompts/h/versions?limit=0")).status, 400);
  assert.equal((await api.get("/v1/prompts/h/versions?cursor=zz")).body.error.code, "invalid_query");
});

test("diff is word-level per field with counts", async () => {
  const { api } = await newWorkspace(w);
  await api.post("/v1/prompts", { slug: "d", name: "D", kind: "chat" });
  await api.post("/v1/prompts/d/versions", {
    content: { messages: [{ role: "system", content: "You are a helpful assistant." }, { role: "user", content: "Hi" }] },
    model_params: { temperature: 0.2 },
  });
  await api.post("/v1/prompts/d/versions", {
    content: { messages: [{ role: "system", content: "You are a concise, helpful assistant." }, { role: "user", content: "Hi" }] },
    model_params: { temperature: 0.7 },
    parent_version: 1,
  });
  const res = await api.get("/v1/prompts/d/diff?from=1&to=2");
  assert.equal(res.status, 200);
  const byField = Object.fromEntries(res.body.fields.map((f) => [f.field, f]));
  assert.deepEqual(Object.keys(byField), ["messages[0]", "messages[1]", "model_params"]);
  const sys = byField["messages[0]"];
  assert.equal(sys.changed, true);
  assert.equal(sys.words_added, 1);
  assert.equal(sys.words_removed, 0);
  assert.ok(sys.ops.some((o) => o.op === "insert" && o.text.includes("concise,")));
  assert.equal(sys.ops.filter((o) => o.op !== "insert").map((o) => o.text).join(""), "You are a helpful assistant.");
  assert.equal(byField["messages[1]"].changed, false);
  assert.deepEqual(
    byField.model_params.ops.filter((o) => o.op !== "equal").map((o) => [o.op, o.text]),
    [["delete", "0.2"], ["insert", "0.7"]],
  );
  assert.equal(res.body.words_added, 2);
  assert.equal(res.body.words_removed, 1);

  assert.equal((await api.get("/v1/prompts/d/diff?from=1")).status, 400);
  assert.equal((await api.get("/v1/prompts/d/diff?from=1&to=7")).status, 404);
});
