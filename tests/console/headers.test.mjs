// The web console's security headers (issue 17), as the worker serves them
// from Workers static assets with console/public/_headers, checked on the
// wire and in Chromium (playwright-core, as in ./harness.mjs):
// * `/`, a deep link and the assets carry the Content-Security-Policy,
//   X-Content-Type-Options, X-Frame-Options and Referrer-Policy;
// * a person signs in, opens a diff (the WASM diff module) and the Monaco
//   editor, and commits, with zero CSP violations and no page errors;
// * the same listener does see what the policy refuses (inline script,
//   eval, a blob: worker), so "zero violations" is not a deaf listener;
// * a page on another origin that frames the console gets nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { client } from "../e2e/harness.mjs";
import { root, startConsole } from "./harness.mjs";

/** The policy, directive by directive; each relaxation is explained in console/public/_headers and SECURITY.md. */
const CSP = {
  "default-src": "'self'",
  "script-src": "'self' 'wasm-unsafe-eval'",
  "style-src": "'self' 'unsafe-inline'",
  "img-src": "'self' data:",
  "connect-src": "'self'",
  "object-src": "'none'",
  "base-uri": "'none'",
  "form-action": "'none'",
  "frame-ancestors": "'none'",
};

const parseCsp = (value) =>
  Object.fromEntries(
    value
      .split(";")
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...sources]) => [name, sources.join(" ")]),
  );

let app;
let url;
let adminKey;
let browser;

before(async () => {
  // The worker serves console/dist as built; its _headers comes from
  // console/public (copied by `vite build`, i.e. scripts/build-console.sh).
  const built = path.join(root, "console/dist/_headers");
  assert.ok(existsSync(built), "console/dist/_headers is missing: rebuild the console (make build-console)");
  assert.equal(readFileSync(built, "utf8"), readFileSync(path.join(root, "console/public/_headers"), "utf8"), "console/dist is older than console/public/_headers: rebuild the console");
  app = await startConsole();
  ({ url, adminKey, browser } = app);
  const api = client(url, adminKey);
  assert.equal((await api.post("/v1/prompts", { slug: "greeting", name: "Greeting", kind: "text" })).status, 201);
  const v1 = await api.post("/v1/prompts/greeting/versions", { content: { text: "Hello {{name}}, welcome." }, parent_version: null, message: "v1" });
  assert.equal(v1.status, 201);
  const v2 = await api.post("/v1/prompts/greeting/versions", { content: { text: "Hello {{name}}, a warm welcome to you." }, parent_version: 1, message: "v2" });
  assert.equal(v2.status, 201);
});

after(async () => {
  await app?.stop();
});

function assertConsoleHeaders(res, what) {
  assert.equal(res.status, 200, what);
  const csp = res.headers.get("content-security-policy");
  assert.ok(csp, `${what}: Content-Security-Policy`);
  assert.deepEqual(parseCsp(csp), CSP, `${what}: the policy`);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff", what);
  assert.equal(res.headers.get("x-frame-options"), "DENY", what);
  assert.equal(res.headers.get("referrer-policy"), "no-referrer", what);
}

test("/, a deep link and the assets carry the CSP, nosniff, X-Frame-Options and Referrer-Policy", async () => {
  const home = await fetch(url + "/");
  assertConsoleHeaders(home, "/");
  const html = await home.text();
  // Nothing inline for the policy to allow: the page loads only its own files.
  assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/, "no inline script in index.html");
  assert.doesNotMatch(html, /<style|\sstyle=/, "no inline style in index.html");

  const deep = await fetch(url + "/prompts/greeting/diff?from=1&to=2", { headers: { "sec-fetch-mode": "navigate" } });
  assertConsoleHeaders(deep, "a deep link");
  assert.match(await deep.text(), /<div id="root">/, "the deep link is the console");
  assertConsoleHeaders(await fetch(url + "/approvals", { headers: { "sec-fetch-mode": "navigate" } }), "/approvals");

  const entry = html.match(/src="(\/assets\/index-[^"]+\.js)"/)[1];
  const css = html.match(/href="(\/assets\/index-[^"]+\.css)"/)[1];
  const wasm = "/assets/" + readdirSync(path.join(root, "console/dist/assets")).find((f) => /^pvct_diff_bg-.*\.wasm$/.test(f));
  for (const [asset, type] of [[entry, /javascript/], [css, /text\/css/], [wasm, /application\/wasm/]]) {
    const res = await fetch(url + asset);
    assertConsoleHeaders(res, asset);
    // nosniff makes the browser hold the type to its word; so it must be right.
    assert.match(res.headers.get("content-type"), type, asset);
    await res.arrayBuffer();
  }
  // The rules file itself is configuration, not an asset.
  const rules = await fetch(url + "/_headers", { headers: { "sec-fetch-mode": "navigate" } });
  assert.doesNotMatch(await rules.text(), /Content-Security-Policy/);
});

/** A browser context that reports every CSP violation (and CSP console message) of its pages. */
async function watchedContext() {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const violations = [];
  await context.exposeBinding("__pvctCspViolation", ({ frame }, v) => violations.push({ ...v, page: frame.url() }));
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__pvctCspViolation({ directive: e.effectiveDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber, sample: e.sample }),
    );
  });
  const messages = [];
  const errors = [];
  context.on("console", (m) => /Content Security Policy|Refused to/i.test(m.text()) && messages.push(m.text()));
  context.on("weberror", (e) => errors.push(e.error().message));
  return { context, violations, messages, errors };
}

test("in Chromium the console works under the policy with zero violations: sign in, WASM diff, Monaco editor, commit", async () => {
  const { context, violations, messages, errors } = await watchedContext();
  const page = await context.newPage();
  await page.goto(url + "/");
  await page.getByLabel("API key").fill(adminKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Prompts" }).waitFor();

  // The diff: computed in the browser by the WASM module (needs 'wasm-unsafe-eval').
  await page.goto(url + "/prompts/greeting/diff?from=1&to=2");
  const inserted = page.getByTestId("diff").locator("ins");
  await inserted.first().waitFor();
  const words = (await inserted.allTextContents()).join(" ").split(/\s+/).filter(Boolean);
  const apiDiff = await client(url, adminKey).get("/v1/prompts/greeting/diff?from=1&to=2");
  const apiWords = apiDiff.body.fields[0].ops.filter((o) => o.op === "insert").map((o) => o.text).join(" ").split(/\s+/).filter(Boolean);
  assert.ok(words.includes("warm"), `inserted: ${words}`);
  assert.deepEqual(words, apiWords, "the browser's WASM diff is the API's");
  assert.equal(await inserted.first().evaluate((e) => getComputedStyle(e).backgroundColor), "rgb(218, 251, 225)", "the stylesheet applies");

  // Monaco: its injected styles apply ({{name}} is bold by the editor's own
  // token CSS), typing works, the find widget opens, the commit lands.
  await page.getByRole("link", { name: "Edit" }).click();
  const editor = page.getByTestId("editor-text");
  await editor.locator(".view-lines").getByText("Hello").waitFor();
  // Monaco tokenizes after it paints the text: wait for the token styles.
  const bold = () =>
    editor.locator(".view-lines span").evaluateAll((spans) => spans.some((s) => s.textContent.includes("{{name}}") && getComputedStyle(s).fontWeight === "700"));
  let styled = await bold();
  for (let i = 0; i < 100 && !styled; i++) {
    await new Promise((r) => setTimeout(r, 100));
    styled = await bold();
  }
  assert.ok(styled, "Monaco's token styles apply");
  await editor.locator(".view-lines").click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.type("Hello {{name}}, a very warm welcome to you.");
  await page.keyboard.press("Control+F");
  await editor.locator(".find-widget.visible").waitFor();
  await page.keyboard.press("Escape");
  await page.getByLabel("Commit message").fill("warmer still");
  await page.getByRole("button", { name: "Commit" }).click();
  await page.waitForURL(/\/prompts\/greeting\/diff\?from=2&to=3$/);
  await page.getByTestId("diff").locator("ins").filter({ hasText: "very" }).waitFor();

  // Monaco's editor worker (a module worker from /assets, served with the
  // same policy) starts under it, should Monaco need it.
  const workerFile = readdirSync(path.join(root, "console/dist/assets")).find((f) => /^editor\.worker-.*\.js$/.test(f));
  const worker = await page.evaluate(
    (src) =>
      new Promise((resolve) => {
        const w = new Worker(src, { type: "module" });
        w.onerror = () => resolve("error");
        setTimeout(() => (w.terminate(), resolve("running")), 1000);
      }),
    `/assets/${workerFile}`,
  );
  assert.equal(worker, "running");

  assert.deepEqual(violations, [], "no CSP violation");
  assert.deepEqual(messages, [], "no CSP message in the console");
  assert.deepEqual(errors, [], "no page error");
  await context.close();
});

test("the policy refuses inline script, eval and blob: workers, and the listener sees it", async () => {
  const { context, violations } = await watchedContext();
  const page = await context.newPage();
  await page.goto(url + "/");
  await page.getByLabel("API key").waitFor();
  const outcome = await page.evaluate(async () => {
    const script = document.createElement("script");
    script.textContent = "window.__inlineRan = true";
    document.body.append(script);
    // Later, from a timer: what DevTools evaluates itself is exempt from CSP.
    const evaluated = await new Promise((resolve) =>
      setTimeout(() => {
        try {
          resolve(eval("1 + 1"));
        } catch (e) {
          resolve(e.name);
        }
      }),
    );
    let blobWorker;
    try {
      const w = new Worker(URL.createObjectURL(new Blob(["postMessage(1)"], { type: "text/javascript" })));
      blobWorker = await new Promise((resolve) => {
        w.onmessage = () => resolve("ran");
        w.onerror = () => resolve("refused");
        setTimeout(() => resolve("silent"), 1000);
      });
    } catch (e) {
      blobWorker = e.name;
    }
    await new Promise((r) => setTimeout(r, 100)); // violation events are queued
    return { inline: window.__inlineRan === true, evaluated, blobWorker };
  });
  assert.equal(outcome.inline, false, "an injected inline script does not run");
  assert.equal(outcome.evaluated, "EvalError", "eval is refused");
  assert.notEqual(outcome.blobWorker, "ran", "a blob: worker does not run");
  const directives = new Set(violations.map((v) => v.directive));
  for (const d of ["script-src-elem", "script-src", "worker-src"]) assert.ok(directives.has(d), `a ${d} violation was reported: ${JSON.stringify(violations)}`);
  await context.close();
});

test("a page on another origin that frames the console gets nothing (frame-ancestors 'none')", async () => {
  // Two frames on a page of another origin (another port): the console, and
  // a page of the framing server itself, which loads (so the check can see a
  // frame that did load).
  const server = createServer((req, res) => {
    res.setHeader("content-type", "text/html");
    if (req.url === "/own") return res.end("<!doctype html><p id=own>framed fine</p>");
    res.end(`<!doctype html><iframe id=own src="/own"></iframe><iframe id=console src="${url}/prompts/greeting"></iframe>`);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const framer = `http://127.0.0.1:${server.address().port}`;
  const page = await browser.newPage();
  const messages = [];
  page.on("console", (m) => messages.push(m.text()));
  let consoleAnswered = false;
  page.on("response", (r) => r.url().startsWith(url) && (consoleAnswered = true));
  try {
    await page.goto(framer + "/", { waitUntil: "load" });
    const own = page.frames().find((f) => f.url() === framer + "/own");
    assert.equal(await own.locator("#own").textContent(), "framed fine");

    assert.ok(consoleAnswered, "the console's answer reached the browser");
    const framed = page.frames().find((f) => f !== page.mainFrame() && f !== own);
    assert.ok(framed, "the console's frame exists");
    assert.ok(!framed.url().startsWith(url), `the console did not load in the frame (it shows ${framed.url()})`);
    assert.equal(await framed.locator("#root").count(), 0, "no console document in the frame");
    assert.ok(
      messages.some((m) => /frame-ancestors 'none'/.test(m)),
      `Chromium reports the frame-ancestors refusal: ${JSON.stringify(messages)}`,
    );
  } finally {
    await page.close();
    await new Promise((r) => server.close(r));
  }
});
