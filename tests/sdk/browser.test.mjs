// The package's browser entry in a real browser (Debian's Chromium driven by
// playwright-core): the WASM compiles from its URL, the client routes and
// renders from a bundle the live worker produced (given as the fallback: the
// worker sends no CORS headers to another origin), and diffWords works once
// `ready` resolves.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { chromium } from "playwright-core";
import { startWorker, newWorkspace, promptWithVersions, root } from "../e2e/harness.mjs";

let w;
let server;
let browser;
before(async () => {
  w = await startWorker();
  const dist = path.join(root, "sdk-wasm/dist");
  const types = { ".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm", ".html": "text/html" };
  server = http.createServer(async (req, res) => {
    const name = path.basename(new URL(req.url, "http://x").pathname) || "index.html";
    try {
      const body = name === "index.html" ? PAGE : await readFile(path.join(dist, name));
      res.writeHead(200, { "content-type": types[path.extname(name)] ?? "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
after(async () => {
  await browser?.close();
  server?.close();
  await w?.stop();
});

const PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
import { PromptClient, diffWords, ready, bucket } from "./browser.mjs";
window.run = async (bundle, users) => {
  await ready;
  const client = new PromptClient({ apiKey: "pvct_x", baseUrl: "http://127.0.0.1:9", timeoutMs: 300, fallback: bundle, onError: () => {} });
  const out = [];
  for (const userKey of users) {
    const p = await client.get("greet", { userKey, variables: { name: "Ada" } });
    out.push({ version: p.version, text: p.text, source: p.source });
  }
  client.log({ promptVersionId: "v", latencyMs: 1 });
  await client.flush();
  return { out, diff: diffWords("a quick fox", "a slow fox"), bucket: bucket("exp-1", "user-1"), stats: client.stats() };
};
window.loaded = true;
</script>`;

test("in a browser: the WASM loads, routing and rendering match the worker, telemetry failures stay quiet", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "greet", ["Hello {{name}}", "Hi {{name}}!"]);
  await api.post("/v1/prompts/greet/promote", { version: 1, environment: "production" });
  await api.put("/v1/prompts/greet/experiments/production", { name: "tone", variants: [{ version: 1, weight: 50 }, { version: 2, weight: 50 }] });
  const bundle = (await api.get("/v1/bundle?environment=production")).body;
  const users = Array.from({ length: 40 }, (_, i) => `user-${i}`);

  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(`http://127.0.0.1:${server.address().port}/index.html`);
  await page.waitForFunction(() => window.loaded === true);
  const result = await page.evaluate(([b, u]) => window.run(b, u), [bundle, users]);
  assert.deepEqual(errors, []);
  for (const [i, user] of users.entries()) {
    const edge = (await api.get(`/v1/resolve/greet?environment=production&user_key=${user}`)).body;
    assert.equal(result.out[i].version, edge.version, user);
    assert.equal(result.out[i].text, edge.version === 1 ? "Hello Ada" : "Hi Ada!");
    assert.equal(result.out[i].source, "fallback");
  }
  assert.deepEqual(new Set(result.out.map((o) => o.version)), new Set([1, 2]));
  assert.deepEqual(result.diff.filter((o) => o.op !== "equal").map((o) => o.text), ["quick", "slow"]);
  assert.equal(result.bucket, 0.5069);
  assert.equal(result.stats.sent, 0, "the log could not be sent, and nothing threw");
  await page.close();
});
