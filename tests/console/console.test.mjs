// The web console in Chromium (Debian's, driven by playwright-core) against
// the worker exactly as `make dev` serves it: scripts/dev.sh on a free port
// with state of its own, the console from Workers static assets at /.
// A user signs in, creates a prompt, commits two versions in the Monaco
// editor, opens the diff and finds the inserted words highlighted, promotes,
// sees the live badge change, and rolls back. The diff page's screenshot is
// saved to target/console/diff.png. The harness is ./harness.mjs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { client } from "../e2e/harness.mjs";
import { root, startConsole } from "./harness.mjs";

let app;
let url;
let adminKey;
let signedIn;
let browser;

before(async () => {
  app = await startConsole();
  ({ url, adminKey, signedIn, browser } = app);
});

after(async () => {
  await app?.stop();
});

/** Replaces the text of the Monaco editor labelled `label` by typing, as a user would. */
async function typeInto(page, label, text) {
  const editor = page.getByTestId(`editor-${label}`);
  await editor.locator(".view-lines").click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.type(text);
}

test("the console is served at / and deep links, the API stays JSON, the key never enters the URL", async () => {
  const home = await fetch(url + "/");
  assert.equal(home.status, 200);
  assert.match(home.headers.get("content-type"), /text\/html/);
  const deep = await fetch(url + "/prompts/anything/diff?from=1&to=2", { headers: { "sec-fetch-mode": "navigate" } });
  assert.equal(deep.status, 200, "a deep link loads the console");
  assert.match(await deep.text(), /<div id="root">/);
  const api = await fetch(url + "/v1/prompts", { headers: { "sec-fetch-mode": "navigate" } });
  assert.equal(api.status, 401, "API paths always reach the worker");
  const refusal = await api.text();
  assert.equal(JSON.parse(refusal).error.code, "unauthenticated");
  // API answers end with a newline, so `curl` output in a shell ends its line:
  // built answers, errors, and documents served as stored (bundle, OpenAPI).
  assert.ok(refusal.endsWith("}\n"), `error body ends with a newline: ${JSON.stringify(refusal.slice(-5))}`);
  const headers = { authorization: `Bearer ${adminKey}` };
  for (const p of ["/v1/prompts", "/v1/me", "/v1/bundle?environment=production", "/openapi.json", "/healthz"]) {
    const res = await fetch(url + p, { headers });
    const text = await res.text();
    assert.equal(res.status, 200, p);
    assert.match(res.headers.get("content-type"), /application\/json/, p);
    assert.ok(text.endsWith("\n") && !text.endsWith("\n\n"), `${p} ends with one newline: ${JSON.stringify(text.slice(-5))}`);
  }
  const bundle = await fetch(url + "/v1/bundle?environment=production", { headers });
  const again = await fetch(url + "/v1/bundle?environment=production", { headers: { ...headers, "if-none-match": bundle.headers.get("etag") } });
  assert.equal(again.status, 304, "the ETag still matches the document it names");

  const page = await browser.newPage();
  await page.goto(url + "/");
  await page.getByLabel("API key").fill("pvct_" + "0".repeat(48));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "unknown or revoked" }).waitFor();
  assert.ok(!page.url().includes("pvct_"));
  await page.close();
});

test("a reader is not offered what readers may not do", async () => {
  const made = await client(url, adminKey).post("/v1/keys", { name: "console-reader", role: "reader" });
  assert.equal(made.status, 201);
  const { page, errors } = await signedIn(made.body.key);
  assert.equal(await page.getByRole("button", { name: "New prompt" }).count(), 0);
  await page.getByText("console-reader").first().waitFor();
  assert.deepEqual(errors, []);
  await page.close();
});

test("sign in, create, commit twice in the editor, diff, promote, see the badge, roll back", async () => {
  const { page, errors } = await signedIn(adminKey);
  // The key lives in sessionStorage, not in the URL or localStorage.
  assert.equal(await page.evaluate(() => sessionStorage.getItem("pvct.apiKey")), adminKey);
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  assert.ok(!page.url().includes(adminKey));

  // Create a text prompt: the console opens its editor.
  await page.getByRole("button", { name: "New prompt" }).click();
  await page.getByLabel("Slug").fill("welcome");
  await page.getByLabel("Name").fill("Welcome mail");
  await page.getByLabel("Kind").selectOption("text");
  await page.getByRole("button", { name: "Create" }).click();
  await page.waitForURL(/\/prompts\/welcome\/edit$/);

  // Version 1, typed into Monaco; the template's variable is highlighted.
  await typeInto(page, "text", "Hello {{name}}, thanks for joining.");
  await page.getByLabel("Commit message").fill("first draft");
  await page.getByRole("button", { name: "Commit" }).click();
  await page.waitForURL(/\/prompts\/welcome\/history$/);
  await page.getByTestId("version-1").waitFor();

  // Version 2.
  await page.getByRole("link", { name: "Edit" }).click();
  await page.getByTestId("editor-text").locator(".view-lines").getByText("Hello").waitFor();
  assert.ok(await page.getByTestId("editor-text").locator(".view-lines span").evaluateAll((spans) => spans.some((s) => s.textContent.includes("{{name}}") && getComputedStyle(s).fontWeight === "700")), "{{name}} is highlighted");
  await typeInto(page, "text", "Hello {{name}}, thanks so much for joining us today.");
  await page.getByLabel("Commit message").fill("warmer");
  await page.keyboard.press("Enter");
  // A commit on a parent lands on its diff.
  await page.waitForURL(/\/prompts\/welcome\/diff\?from=1&to=2$/);
  const inserted = page.getByTestId("diff").locator("ins");
  await inserted.first().waitFor();
  const words = (await inserted.allTextContents()).join(" ").split(/\s+/).filter(Boolean);
  // similar splits on whitespace, so "joining." became "joining"; the core decides, the console shows it.
  assert.deepEqual(words, ["so", "much", "joining", "us", "today."]);
  // The same words the API's diff reports as inserted.
  const apiDiff = await client(url, adminKey).get("/v1/prompts/welcome/diff?from=1&to=2");
  const apiInserted = apiDiff.body.fields.find((f) => f.field === "text").ops.filter((o) => o.op === "insert").map((o) => o.text).join(" ").split(/\s+/).filter(Boolean);
  assert.deepEqual(words, apiInserted);
  assert.equal(await inserted.first().evaluate((e) => getComputedStyle(e).backgroundColor), "rgb(218, 251, 225)", "inserted words are highlighted");
  mkdirSync(path.join(root, "target/console"), { recursive: true });
  await page.screenshot({ path: path.join(root, "target/console/diff.png"), fullPage: true });
  // Version lists carry no content: the page fetches a version's content once
  // (GET …/versions/N) and keeps it, so swapping sides and back asks for nothing.
  const fetched = [];
  const onRequest = (r) => /\/v1\/prompts\/welcome\/versions\/\d+$/.test(new URL(r.url()).pathname) && fetched.push(r.url());
  page.on("request", onRequest);
  await page.getByRole("button", { name: "⇄ swap" }).click();
  await page.waitForURL(/\/prompts\/welcome\/diff\?from=2&to=1$/);
  // v2 is now the old side: its words missing from v1 struck out.
  const deleted = page.getByTestId("diff").getByLabel("text in v2").locator("del");
  await deleted.first().waitFor();
  const swapped = await client(url, adminKey).get("/v1/prompts/welcome/diff?from=2&to=1");
  assert.deepEqual(
    (await deleted.allTextContents()).join(" ").split(/\s+/).filter(Boolean),
    swapped.body.fields.find((f) => f.field === "text").ops.filter((o) => o.op === "delete").map((o) => o.text).join(" ").split(/\s+/).filter(Boolean),
  );
  await page.getByRole("button", { name: "⇄ swap" }).click();
  await page.waitForURL(/\/prompts\/welcome\/diff\?from=1&to=2$/);
  await page.getByTestId("diff").getByLabel("text in v2").locator("ins").first().waitFor();
  page.off("request", onRequest);
  assert.deepEqual(fetched, [], "swapping sides refetches no version");

  // Promote v1 then v2 to production; the live badge follows.
  await page.getByRole("link", { name: "Deploy" }).click();
  const badge = page.getByTestId("badge-production");
  assert.equal((await badge.textContent()).trim(), "production: —");
  await page.getByLabel("version to promote").selectOption("1");
  await page.getByLabel("environment to promote to").selectOption("production");
  await page.getByLabel("Reason").fill("launch");
  await page.getByRole("button", { name: "Promote" }).click();
  await page.getByRole("status").filter({ hasText: "v1 is live in production" }).waitFor();
  await badge.filter({ hasText: "production: v1" }).waitFor();
  await page.getByLabel("version to promote").selectOption("2");
  await page.getByRole("button", { name: "Promote" }).click();
  await badge.filter({ hasText: "production: v2" }).waitFor();
  const resolved = await client(url, adminKey).get("/v1/resolve/welcome?environment=production");
  assert.equal(resolved.body.version, 2);

  // Roll back: the console says where it goes before it is clicked; then
  // production is on v1 again, in the console and at the edge.
  await page.getByTestId("rollback-preview-production").filter({ hasText: "Rollback returns to v1" }).waitFor();
  await page.getByRole("button", { name: "Roll back production" }).click();
  await badge.filter({ hasText: "production: v1" }).waitFor();
  const back = await client(url, adminKey).get("/v1/resolve/welcome?environment=production", { "cache-control": "no-cache" });
  assert.equal(back.body.version, 1);
  await page.getByRole("cell", { name: "rollback" }).waitFor();

  // The prompt list shows what is live where.
  await page.goto(url + "/");
  await page.getByTestId("live-welcome-production").filter({ hasText: "v1" }).waitFor();
  assert.deepEqual(errors, []);
  await page.close();
});

test("a commit on a stale parent shows their change and rebases onto it", async () => {
  const api = client(url, adminKey);
  assert.equal((await api.post("/v1/prompts", { slug: "faq", name: "FAQ", kind: "chat" })).status, 201);
  const v1 = await api.post("/v1/prompts/faq/versions", { content: { messages: [{ role: "system", content: "Answer briefly." }] }, parent_version: null, message: "v1" });
  assert.equal(v1.status, 201);
  const { page, errors } = await signedIn(adminKey);
  await page.goto(url + "/prompts/faq/edit");
  await page.getByTestId("editor-message-1").locator(".view-lines").getByText("Answer").waitFor();
  // Someone else commits while this user edits.
  const theirs = await api.post("/v1/prompts/faq/versions", { content: { messages: [{ role: "system", content: "Answer briefly and politely." }] }, parent_version: 1, message: "polite" });
  assert.equal(theirs.status, 201);
  await typeInto(page, "message-1", "Answer briefly, citing the docs.");
  await page.getByLabel("Commit message").fill("cite docs");
  await page.getByRole("button", { name: "Commit" }).click();
  const conflict = page.getByTestId("conflict");
  await conflict.waitFor();
  assert.match(await conflict.textContent(), /committed v2 while you were editing/);
  // Their change as the API's diff reports it.
  const theirDiff = await api.get("/v1/prompts/faq/diff?from=1&to=2");
  const theirInsert = theirDiff.body.fields[0].ops.find((o) => o.op === "insert").text;
  assert.match(theirInsert, /politely/);
  assert.equal(await conflict.locator("ins").first().textContent(), theirInsert);
  await page.getByRole("button", { name: "Rebase my draft onto v2" }).click();
  await page.getByRole("button", { name: "Commit" }).click();
  await page.waitForURL(/\/prompts\/faq\/diff\?from=2&to=3$/);
  const head = await api.get("/v1/prompts/faq");
  assert.equal(head.body.head.number, 3);
  assert.equal(head.body.head.parent_version, 2);
  assert.equal(head.body.head.content.messages[0].content, "Answer briefly, citing the docs.");
  assert.deepEqual(errors, []);
  await page.close();
});

test("a gate refusal lists each failing gate with its measured value and threshold", async () => {
  const api = client(url, adminKey);
  const put = await api.put("/v1/environments/production", { policy: { min_samples: 50, max_error_rate: 0.05 } });
  assert.equal(put.status, 200);
  try {
    const { page } = await signedIn(adminKey);
    await page.goto(url + "/prompts/faq/deploy");
    await page.getByLabel("version to promote").selectOption("3");
    await page.getByLabel("environment to promote to").selectOption("production");
    await page.getByRole("button", { name: "Promote" }).click();
    const refusal = page.getByTestId("gates-failed");
    await refusal.waitFor();
    // Nothing was logged for v3: 0 samples measured against the 50 required.
    assert.deepEqual(await refusal.locator('[data-gate="min_samples"] td').allTextContents(), ["min_samples", "0", "50"]);
    assert.equal(await refusal.locator('[data-gate="max_error_rate"]').count(), 1);
    await page.close();
  } finally {
    await api.put("/v1/environments/production", { policy: {} });
  }
});

test("experiments: set a split in the console, see it at the edge, end it", async () => {
  const { page, errors } = await signedIn(adminKey);
  await page.goto(url + "/prompts/welcome/experiments");
  await page.getByLabel("experiment environment").selectOption("production");
  await page.getByLabel("Name").fill("warmer mail");
  await page.getByLabel("variant 1 version").selectOption("1");
  await page.getByLabel("variant 1 weight").fill("70");
  await page.getByLabel("variant 2 version").selectOption("2");
  await page.getByLabel("variant 2 weight").fill("30");
  await page.getByRole("button", { name: "Start or update in production" }).click();
  const running = page.getByTestId("experiment-production");
  await running.waitFor();
  assert.match(await running.textContent(), /warmer mail/);
  assert.deepEqual(await running.locator(".split span").evaluateAll((s) => s.map((x) => x.title)), ["v1: 70%", "v2: 30%"]);
  const bundle = await client(url, adminKey).get("/v1/bundle?environment=production", { "cache-control": "no-cache" });
  assert.deepEqual(bundle.body.prompts.welcome.experiment.variants.map((v) => [v.version, v.weight]), [[1, 70], [2, 30]]);
  // Weights that do not add up to 100 cannot be sent.
  await page.getByLabel("variant 2 weight").fill("20");
  assert.equal(await page.getByRole("button", { name: "Start or update in production" }).isDisabled(), true);
  await page.getByRole("button", { name: "End the experiment in production" }).click();
  await running.waitFor({ state: "detached" });
  await page.getByText("No experiment is running.").waitFor();
  const after = await client(url, adminKey).get("/v1/bundle?environment=production", { "cache-control": "no-cache" });
  assert.equal(after.body.prompts.welcome.experiment, undefined);
  assert.deepEqual(errors, []);
  await page.close();
});

test("approvals: a promotion into an approval environment waits; another approver approves it in the console", async () => {
  const api = client(url, adminKey);
  assert.equal((await api.put("/v1/environments/staging", { policy: { requires_approval: true } })).status, 200);
  try {
    const { page } = await signedIn(adminKey);
    await page.goto(url + "/prompts/welcome/deploy");
    await page.getByLabel("version to promote").selectOption("2");
    await page.getByLabel("environment to promote to").selectOption("staging");
    await page.getByRole("button", { name: "Promote" }).click();
    await page.getByRole("status").filter({ hasText: "waits for approval" }).waitFor();
    assert.equal((await page.getByTestId("badge-staging").textContent()).trim(), "staging: —");
    // The requester is not offered a decision on their own request.
    await page.goto(url + "/approvals");
    await page.getByText("Your own request").waitFor();
    await page.close();

    const approver = await api.post("/v1/keys", { name: "console-approver", role: "approver" });
    const second = await signedIn(approver.body.key);
    await second.page.goto(url + "/approvals");
    await second.page.getByRole("button", { name: "Approve" }).click();
    await second.page.getByRole("status").filter({ hasText: "v2 of welcome is live in staging" }).waitFor();
    await second.page.goto(url + "/prompts/welcome");
    await second.page.getByTestId("badge-staging").filter({ hasText: "staging: v2" }).waitFor();
    assert.deepEqual(second.errors, []);
    await second.page.close();
  } finally {
    await api.put("/v1/environments/staging", { policy: {} });
  }
});

test("Monaco loads only where the editor is; the console's own JavaScript stays under 200 KB gzipped", async () => {
  const { page } = await signedIn(adminKey);
  const scripts = [];
  page.on("request", (r) => r.resourceType() === "script" && scripts.push(new URL(r.url()).pathname));
  for (const tab of ["history", "diff?from=1&to=2", "deploy", "experiments", "metrics"]) {
    await page.goto(`${url}/prompts/welcome/${tab}`);
    await page.getByRole("navigation", { name: "Prompt" }).waitFor();
    await page.waitForLoadState("networkidle");
  }
  assert.ok(!scripts.some((s) => s.includes("monaco")), `no Monaco before the editor: ${scripts.join(", ")}`);
  await page.goto(`${url}/prompts/welcome/edit`);
  await page.getByTestId("editor-text").locator(".view-lines").waitFor();
  assert.ok(scripts.some((s) => s.includes("monaco")), "the editor loads Monaco");
  await page.close();

  // Measured on what the worker serves: every JS asset but Monaco's chunk and worker.
  const html = await (await fetch(url + "/")).text();
  const entry = html.match(/src="(\/assets\/index-[^"]+\.js)"/)[1];
  const { readdirSync, readFileSync } = await import("node:fs");
  const { gzipSync } = await import("node:zlib");
  const dir = path.join(root, "console/dist/assets");
  const own = readdirSync(dir).filter((f) => f.endsWith(".js") && !/^(monaco|editor\.worker)-/.test(f));
  assert.ok(own.includes(entry.slice("/assets/".length)), "the entry served is the one measured");
  const bytes = own.reduce((n, f) => n + gzipSync(readFileSync(path.join(dir, f)), { level: 9 }).length, 0);
  assert.ok(bytes < 200 * 1024, `own JS is ${bytes} bytes gzipped`);
});
