// The legacy Langfuse JS client (langfuse 3, unmodified) against the worker's
// Langfuse-compatible API in workerd. Its base URL option is `baseUrl`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Langfuse } from "langfuse";
import { startWorker, newWorkspace } from "../e2e/harness.mjs";
import { langfuseKey, served, slugOf, sorted } from "./lib.mjs";

let w;
before(async () => (w = await startWorker()));
after(async () => w?.stop());

async function setup(role = "editor") {
  const ws = await newWorkspace(w);
  const key = await langfuseKey(w, ws.api, role);
  const lf = new Langfuse({ baseUrl: w.url, publicKey: key.publicKey, secretKey: key.secretKey, fetchRetryCount: 0 });
  return { ...ws, key, lf };
}

test("createPrompt, getPrompt by label and version, updatePrompt moves production", async () => {
  const { api, lf } = await setup();
  const name = "legacy/greeting";
  const v1 = await lf.createPrompt({ name, prompt: "Hi {{name}}", labels: ["production"], config: { temperature: 0.1 }, tags: ["old"] });
  assert.equal(v1.constructor.name, "TextPromptClient");
  assert.equal(v1.name, name);
  assert.equal(v1.version, 1);
  assert.deepEqual(sorted(v1.labels), ["latest", "production"]);
  const v2 = await lf.createPrompt({ name, prompt: "Hello {{name}}", commitMessage: "warmer" });
  assert.equal(v2.version, 2);
  assert.deepEqual(v2.labels, ["latest"]);
  assert.equal(v2.commitMessage, "warmer");

  const prod = await lf.getPrompt(name);
  assert.equal(prod.version, 1);
  assert.equal(prod.compile({ name: "Ada" }), "Hi Ada");
  assert.deepEqual(prod.config, { temperature: 0.1 });
  assert.deepEqual(prod.tags, ["old"]);
  const second = await lf.getPrompt(name, 2);
  assert.equal(second.prompt, "Hello {{name}}");
  assert.equal((await lf.getPrompt(name, undefined, { label: "latest" })).version, 2);
  assert.equal((await lf.getPrompt(name, undefined, { label: "production", cacheTtlSeconds: 0 })).version, 1);
  // The raw API sends the name with its slash unencoded.
  const raw = await lf.api.promptsGet({ promptName: name, version: 1 });
  assert.equal(raw.name, name);
  assert.equal(raw.prompt, "Hi {{name}}");

  const updated = await lf.updatePrompt({ name, version: 2, newLabels: ["production"] });
  assert.equal(updated.version, 2);
  assert.deepEqual(sorted(updated.labels), ["latest", "production"]);
  const live = await served(api, name);
  assert.equal(live.version, 2);
  assert.deepEqual(live.content, { text: "Hello {{name}}" });
  assert.equal((await lf.getPrompt(name)).version, 2, "updatePrompt invalidated the cache");
  assert.deepEqual((await lf.getPrompt(name, 1)).labels, []);
  assert.match(await slugOf(api, name), /^[a-z0-9-]+-[0-9a-f]{8}$/);
});

test("isActive creates into production; tracing events reach /api/public/ingestion and are accepted", async () => {
  const { api, lf } = await setup();
  const sent = [];
  const errors = [];
  const fetchOf = lf.fetch.bind(lf);
  lf.fetch = async (url, options) => {
    const res = await fetchOf(url, options);
    sent.push(`${options.method} ${new URL(url).pathname} ${res.status}`);
    return res;
  };
  lf.on("error", (e) => errors.push(String(e?.message ?? e)));

  const active = await lf.createPrompt({ name: "legacy-active", prompt: "Hi {{who}}", isActive: true });
  assert.deepEqual(sorted(active.labels), ["latest", "production"]);
  assert.equal((await served(api, "legacy-active")).version, 1);

  const prompt = await lf.getPrompt("legacy-active");
  const trace = lf.trace({ name: "request" });
  trace.generation({ name: "llm", prompt, input: prompt.compile({ who: "Ada" }), output: "hello" });
  trace.score({ name: "quality", value: 1 });
  await lf.shutdownAsync();
  assert.deepEqual(errors, []);
  const ingestion = sent.filter((s) => s.includes("/api/public/ingestion"));
  assert.ok(ingestion.length >= 1, JSON.stringify(sent));
  for (const s of ingestion) assert.equal(s, "POST /api/public/ingestion 200");
});

test("a timed generation traced against a prompt version counts as an execution of it", async () => {
  const { api, lf } = await setup();
  await lf.createPrompt({ name: "traced/prompt", prompt: "Hi {{who}}", labels: ["production"] });
  const prompt = await lf.getPrompt("traced/prompt");
  const startTime = new Date(Date.now() - 1500);
  const endTime = new Date(startTime.getTime() + 1200);
  const trace = lf.trace({ name: "request" });
  trace.generation({ name: "llm", prompt, model: "gpt-4o-mini", startTime, endTime, usage: { input: 40, output: 12 } });
  trace.generation({ name: "untimed", prompt, model: "gpt-4o-mini" });
  await lf.shutdownAsync();
  const slug = await slugOf(api, "traced/prompt");
  let metrics = [];
  for (let i = 0; i < 100 && !metrics.some((m) => m.metrics.calls > 0); i++) {
    metrics = (await api.get(`/v1/prompts/${slug}/metrics?environment=production`)).body.items;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(metrics.length, 1, JSON.stringify(metrics));
  assert.equal(metrics[0].version, 1);
  assert.equal(metrics[0].metrics.calls, 1, "the untimed generation cannot be measured and is not counted");
  assert.equal(metrics[0].metrics.tokens_in, 40);
  assert.ok(Math.abs(metrics[0].metrics.p50_ms - 1200) / 1200 < 0.05, JSON.stringify(metrics[0].metrics));
});

test("chat prompt with a placeholder through the legacy client", async () => {
  const { api, lf } = await setup();
  await lf.createPrompt({
    name: "legacy-chat",
    type: "chat",
    prompt: [{ role: "system", content: "Be {{tone}}." }, { type: "placeholder", name: "history" }, { role: "user", content: "{{q}}" }],
    labels: ["production"],
  });
  const live = await served(api, "legacy-chat");
  assert.deepEqual(live.content.messages, [
    { role: "system", content: "Be {{tone}}." },
    { role: "placeholder", name: "history" },
    { role: "user", content: "{{q}}" },
  ]);
  const chat = await lf.getPrompt("legacy-chat", undefined, { type: "chat" });
  assert.equal(chat.constructor.name, "ChatPromptClient");
  assert.deepEqual(chat.compile({ tone: "brief", q: "Why?" }, { history: [{ role: "assistant", content: "Earlier." }] }), [
    { role: "system", content: "Be brief." },
    { role: "assistant", content: "Earlier." },
    { role: "user", content: "Why?" },
  ]);
});

test("a missing prompt surfaces as Error with the server's message", async () => {
  const { lf } = await setup();
  await assert.rejects(lf.getPrompt("legacy-missing", undefined, { maxRetries: 0 }), (e) => {
    assert.equal(e.constructor, Error);
    assert.match(e.message, /^Prompt not found/);
    assert.match(e.message, /legacy-missing/);
    return true;
  });
  await lf.createPrompt({ name: "legacy-there", prompt: "x", labels: ["production"] });
  await assert.rejects(lf.getPrompt("legacy-there", 5, { maxRetries: 0 }), (e) => {
    assert.match(e.message, /^Prompt not found/);
    return true;
  });
  // With a fallback the client carries on with it.
  const fb = await lf.getPrompt("legacy-missing", undefined, { fallback: "fb {{a}}", maxRetries: 0 });
  assert.equal(fb.isFallback, true);
  assert.equal(fb.compile({ a: 1 }), "fb 1");
});
