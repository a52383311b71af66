// The official Python Langfuse client (langfuse 5, from PyPI, in
// target/compat-venv made by scripts/test-compat.sh) against the worker's
// Langfuse-compatible API: tests/compat/langfuse_client.py runs a scenario in
// its own process (the client is a singleton per public key) and prints JSON.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { startWorker, newWorkspace, promptWithVersions, root } from "../e2e/harness.mjs";
import { langfuseKey, served, sorted } from "./lib.mjs";

const PYTHON = path.join(root, "target/compat-venv/bin/python");
const SCRIPT = path.join(root, "tests/compat/langfuse_client.py");

let w;
before(async () => {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run scripts/test-compat.sh (make test-compat), which creates it`);
  w = await startWorker();
});
after(async () => w?.stop());

/** Runs one scenario; resolves to { code, out (parsed stdout), stderr, ms }. */
function runScenario(scenario, args, key, { tracing = false, timeoutMs = 40_000 } = {}) {
  const env = {
    ...process.env,
    LANGFUSE_BASE_URL: w.url,
    LANGFUSE_PUBLIC_KEY: key.publicKey,
    LANGFUSE_SECRET_KEY: key.secretKey,
    PYTHONDONTWRITEBYTECODE: "1",
  };
  delete env.LANGFUSE_TRACING_ENABLED;
  delete env.LANGFUSE_HOST;
  if (!tracing) env.LANGFUSE_TRACING_ENABLED = "false";
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [SCRIPT, scenario, JSON.stringify(args)], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${scenario} did not finish in ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      let out = null;
      try {
        out = JSON.parse(stdout.trim().split("\n").pop());
      } catch {
        return reject(new Error(`${scenario} exited ${code} without JSON; stdout: ${stdout}\nstderr: ${stderr}`));
      }
      resolve({ code, out, stderr, ms: Date.now() - started });
    });
  });
}

/** The value of a step, or a failure that shows what the client raised. */
function ok(step, label) {
  assert.ok(step, `${label}: no result`);
  assert.ok(!("error" in step), `${label} raised ${JSON.stringify(step.error)}`);
  return step.ok;
}

test("python: create, get by label and version, compile, update_prompt, fallback, list", async () => {
  const { api } = await newWorkspace(w);
  const key = await langfuseKey(w, api, "editor");
  const name = "py/Welcome Note";
  const run = await runScenario("prompts", { name, chat: "py-chat", missing: "py/not here" }, key);
  assert.equal(run.code, 0, run.stderr);
  const r = run.out;

  const t1 = ok(r.create_text, "create_prompt text");
  assert.equal(t1.class, "TextPromptClient");
  assert.equal(t1.name, name);
  assert.equal(t1.version, 1);
  assert.deepEqual(sorted(t1.labels), ["latest", "production"]);
  assert.deepEqual(t1.tags, [], "null tags are no tags");
  assert.equal(t1.commit_message, null);
  assert.deepEqual(t1.config, { model: "gpt-4o-mini", temperature: 0.3 });
  const t2 = ok(r.create_text_v2, "create_prompt v2");
  assert.equal(t2.version, 2);
  assert.deepEqual(t2.labels, ["latest"]);
  assert.equal(t2.commit_message, "friendlier");
  assert.deepEqual(t2.config, {}, "no config is {}");
  const c1 = ok(r.create_chat, "create_prompt chat");
  assert.equal(c1.class, "ChatPromptClient");
  assert.equal(c1.version, 1);

  const prod = ok(r.get_production, "get_prompt");
  assert.equal(prod.version, 1);
  assert.equal(prod.prompt, "Hi {{name}}, your code is {{code}}");
  assert.equal(prod.is_fallback, false);
  assert.equal(ok(r.get_version_2, "get_prompt version=2").prompt, "Hello {{name}}, the code is {{code}}");
  assert.equal(ok(r.get_latest, "get_prompt label=latest").version, 2);
  assert.equal(ok(r.compile_text, "compile text"), "Hi Ada, your code is 42");

  const chat = ok(r.get_chat, "get_prompt chat");
  assert.deepEqual(chat.prompt, [
    { type: "message", role: "system", content: "You are {{persona}}." },
    { type: "placeholder", name: "history" },
    { type: "message", role: "user", content: "{{question}}" },
  ]);
  assert.deepEqual(ok(r.compile_chat, "compile chat"), [
    { role: "system", content: "You are a pirate." },
    { role: "user", content: "hi" },
    { role: "assistant", content: "ahoy a pirate" },
    { role: "user", content: "Where is it?" },
  ]);

  const updated = ok(r.update, "update_prompt");
  assert.equal(updated.version, 2);
  assert.equal(updated.type, "text");
  assert.deepEqual(sorted(updated.labels), ["latest", "production"]);
  assert.equal(ok(r.get_after_update, "get_prompt after update").version, 2);
  assert.deepEqual(ok(r.get_v1_after_update, "get_prompt version=1 after update").labels, []);
  const live = await served(api, name);
  assert.equal(live.version, 2);
  assert.deepEqual(live.content, { text: "Hello {{name}}, the code is {{code}}" });
  const chatLive = await served(api, "py-chat");
  assert.deepEqual(chatLive.content.messages, [
    { role: "system", content: "You are {{persona}}." },
    { role: "placeholder", name: "history" },
    { role: "user", content: "{{question}}" },
  ]);

  ok(r.create_base, "create_prompt py-base");
  assert.equal(ok(r.create_composed, "create_prompt composed").version, 1);
  const composed = ok(r.get_composed, "get_prompt composed");
  assert.equal(composed.prompt, "Base says {{x}}. Then {{y}}.");
  const rawComposed = ok(r.get_composed_raw, "api.prompts.get(resolve=False)");
  assert.equal(rawComposed.prompt, "@@@langfusePrompt:name=py-base|version=1@@@ Then {{y}}.");
  assert.equal(typeof rawComposed.resolutionGraph, "object");
  assert.notEqual(rawComposed.resolutionGraph, null);

  const fb = ok(r.missing_fallback, "get_prompt missing with fallback");
  assert.equal(fb.is_fallback, true);
  assert.equal(fb.prompt, "Fallback {{name}}");
  assert.equal(fb.version, 0);
  assert.ok(r.missing.error, `a missing prompt without fallback raised nothing: ${JSON.stringify(r.missing)}`);
  assert.equal(r.missing.error.class, "NotFoundError");
  assert.equal(r.missing.error.status, 404);
  assert.equal(r.missing.error.body.error, "LangfuseNotFoundError");
  assert.match(r.missing.error.body.message, /Prompt not found: 'py\/not here'/);

  const p1 = ok(r.list_page_1, "api.prompts.list page 1");
  const p2 = ok(r.list_page_2, "api.prompts.list page 2");
  assert.deepEqual(p1.meta, { page: 1, limit: 3, totalItems: 4, totalPages: 2 });
  assert.deepEqual(p2.meta, { page: 2, limit: 3, totalItems: 4, totalPages: 2 });
  assert.equal(p1.data.length, 3);
  assert.equal(p2.data.length, 1);
  const listed = Object.fromEntries([...p1.data, ...p2.data].map((p) => [p.name, p]));
  assert.deepEqual(Object.keys(listed).sort(), ["py-base", "py-chat", "py-composed", name].sort());
  assert.deepEqual(listed[name].versions.sort(), [1, 2]);
  assert.equal(listed[name].type, "text");
  assert.equal(listed["py-chat"].type, "chat");
  assert.equal(ok(r.auth_check, "auth_check"), true);
});

test("python with tracing on: spans and a score are accepted, flush and shutdown are quick and quiet", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "traced", ["Hello {{name}}"]);
  const promoted = await api.post("/v1/prompts/traced/promote", { version: 1, environment: "production" });
  assert.equal(promoted.status, 201, JSON.stringify(promoted.body));
  const key = await langfuseKey(w, api, "reader");
  const run = await runScenario("tracing", { name: "traced" }, key, { tracing: true, timeoutMs: 30_000 });
  assert.equal(run.code, 0, run.stderr);
  const r = run.out;
  assert.equal(r.prompt.version, 1);
  assert.equal(r.prompt.prompt, "Hello {{name}}");
  const exported = r.exports.flatMap((e) => e.spans);
  assert.ok(exported.includes("handle-request") && exported.includes("llm-call"), JSON.stringify(r.exports));
  for (const e of r.exports) assert.equal(e.result, "SUCCESS", `OTLP export to /api/public/otel/v1/traces: ${JSON.stringify(r.exports)}`);
  assert.deepEqual(r.logged, [], "no warnings or errors (exports, scores)");
  assert.doesNotMatch(run.stderr, /error|fail|exception|traceback/i, run.stderr);
  // That it does not stall at shutdown is the scenario finishing before
  // the runner's hang guard kills it (no timing assertion here).
});
