// Sizes are bounded as data arrives: a body sent without a length is cut at
// the limit while it streams, and includes are held to the content limit
// as they expand. Each refusal is a clean 413 that writes nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, newWorkspace, counts } from "./harness.mjs";

let w;
before(async () => (w = await startWorker()));
after(async () => w?.stop());

/** A chunked body of `total` bytes of a JSON string, made as it is sent. */
function chunkedJson(total) {
  const chunk = new TextEncoder().encode("a".repeat(64 * 1024));
  let sent = 0;
  return new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode('{"blob":"'));
    },
    pull(c) {
      if (sent >= total) {
        c.enqueue(new TextEncoder().encode('"}'));
        c.close();
        return;
      }
      c.enqueue(chunk);
      sent += chunk.length;
    },
  });
}

test("a 50 MB chunked body without Content-Length gets 413 and writes nothing", async () => {
  const { key } = await newWorkspace(w);
  const before = await counts(w.db);
  const res = await fetch(`${w.url}/v1/prompts`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: chunkedJson(50 * 1024 * 1024),
    duplex: "half",
  });
  assert.equal(res.status, 413);
  const body = await res.json();
  assert.equal(body.error.code, "payload_too_large");
  assert.equal(body.error.details.limit_bytes, 512 * 1024);
  assert.deepEqual(await counts(w.db), before);
  // A chunked body under the limit is read as usual.
  const small = new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode(JSON.stringify({ slug: "streamed", name: "Streamed", kind: "text" })));
      c.close();
    },
  });
  const ok = await fetch(`${w.url}/v1/prompts`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: small,
    duplex: "half",
  });
  assert.equal(ok.status, 201);
});

test("3,000 includes of a 200 KB snippet are refused with 413 at once", async () => {
  const { api } = await newWorkspace(w);
  assert.equal((await api.post("/v1/prompts", { slug: "big", name: "Big", kind: "snippet" })).status, 201);
  const snippet = await api.post("/v1/prompts/big/versions", { content: { text: "z".repeat(200 * 1024) }, parent_version: null });
  assert.equal(snippet.status, 201, JSON.stringify(snippet.body).slice(0, 300));
  assert.equal((await api.post("/v1/prompts/big/promote", { version: 1, environment: "production" })).status, 201);
  assert.equal((await api.post("/v1/prompts", { slug: "many", name: "Many", kind: "text" })).status, 201);
  const before = await counts(w.db);
  const res = await api.post("/v1/prompts/many/versions", { content: { text: "{{> big}}".repeat(3000) }, parent_version: null });
  assert.equal(res.status, 413);
  assert.equal(res.body.error.code, "payload_too_large");
  assert.equal(res.body.error.details.field, "content");
  assert.deepEqual(await counts(w.db), before);
  // Within the limit, includes expand as before.
  const one = await api.post("/v1/prompts/many/versions", { content: { text: "{{> big}}" }, parent_version: null });
  assert.equal(one.status, 201);
  assert.equal(one.body.version.resolved_content.text.length, 200 * 1024);
});

test("per-workspace caps: webhooks, environments and active keys stop at their limit with 409 quota_exceeded", async () => {
  const { api } = await newWorkspace(w);
  const hooks = [];
  for (let i = 0; i < 20; i++) {
    const res = await api.post("/v1/webhooks", { url: `https://example.com/h${i}`, events: ["*"] });
    assert.equal(res.status, 201);
    hooks.push(res.body.id);
  }
  const over = await api.post("/v1/webhooks", { url: "https://example.com/one-more", events: ["*"] });
  assert.equal(over.status, 409);
  assert.equal(over.body.error.code, "quota_exceeded");
  assert.deepEqual(over.body.error.details, { quota: "webhooks", limit: 20 });
  assert.equal((await api.del(`/v1/webhooks/${hooks[0]}`)).status, 200);
  assert.equal((await api.post("/v1/webhooks", { url: "https://example.com/again", events: ["*"] })).status, 201);

  // A workspace starts with dev, staging and production.
  for (let i = 0; i < 17; i++) assert.equal((await api.put(`/v1/environments/env-${i}`, { position: 10 + i })).status, 201);
  const tooMany = await api.put("/v1/environments/one-more", { position: 99 });
  assert.equal(tooMany.status, 409);
  assert.equal(tooMany.body.error.details.quota, "environments");
  assert.equal((await api.put("/v1/environments/env-0", { position: 50 })).status, 200, "updating one is not creating one");

  const before = await counts(w.db);
  let keys = (await api.get("/v1/keys")).body.items.filter((k) => !k.revoked_at).length;
  for (; keys < 200; keys++) assert.equal((await api.post("/v1/keys", { name: `k${keys}`, role: "reader" })).status, 201);
  const after = await counts(w.db);
  const extra = await api.post("/v1/keys", { name: "one-more", role: "reader" });
  assert.equal(extra.status, 409);
  assert.equal(extra.body.error.details.quota, "active_keys");
  assert.deepEqual(await counts(w.db), after, "a refused create writes nothing");
  assert.ok(after.api_keys > before.api_keys);
});

test("a promotion that would make the bundle exceed KV's value limit is refused with 409 bundle_too_large; smaller prompts make room", async () => {
  const { api } = await newWorkspace(w);
  const text = (i) => `prompt ${i}: ` + "lorem ipsum dolor sit amet ".repeat(Math.floor((250 * 1024) / 27));
  let refused = null;
  let live = 0;
  for (let i = 0; i < 90 && !refused; i++) {
    const slug = `big-${i}`;
    assert.equal((await api.post("/v1/prompts", { slug, name: slug, kind: "text" })).status, 201);
    const commit = await api.post(`/v1/prompts/${slug}/versions`, { content: { text: text(i) } });
    assert.equal(commit.status, 201, JSON.stringify(commit.body).slice(0, 300));
    const res = await api.post(`/v1/prompts/${slug}/promote`, { version: 1, environment: "staging" });
    if (res.status === 409) refused = { slug, res };
    else {
      assert.equal(res.status, 201, JSON.stringify(res.body).slice(0, 300));
      live++;
    }
  }
  assert.ok(refused, "the bundle limit was reached");
  // 20 MiB of about 250 KiB prompts: the 82nd or so does not fit.
  assert.ok(live >= 78 && live <= 84, `prompts live before the refusal: ${live}`);
  const { error } = refused.res.body;
  assert.equal(error.code, "bundle_too_large");
  assert.ok(error.details.bundle_bytes > error.details.limit_bytes);
  assert.equal(error.details.limit_bytes, 20 * 1024 * 1024);
  // Nothing was written: the bundle still serves every earlier prompt, and not the refused one.
  const bundle = await api.get("/v1/bundle?environment=staging");
  assert.equal(Object.keys(bundle.body.prompts).length, live);
  assert.ok(!(refused.slug in bundle.body.prompts));
  assert.equal((await api.get(`/v1/prompts/${refused.slug}/deployments`)).body.items.length, 0);
  // A smaller version of a live prompt makes room; then the refused promotion goes through.
  assert.equal((await api.post("/v1/prompts/big-0/versions", { content: { text: "short now" }, parent_version: 1 })).status, 201);
  assert.equal((await api.post("/v1/prompts/big-0/promote", { version: 2, environment: "staging" })).status, 201);
  assert.equal((await api.post(`/v1/prompts/${refused.slug}/promote`, { version: 1, environment: "staging" })).status, 201);
});
