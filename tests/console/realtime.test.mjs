// Live updates in the console, in Chromium against the real worker
// (./harness.mjs, one for the file, pointed at a stub Access team so a
// person can sign in without a key): pages open in the browser while
// changes are made through the API by other keys, and the pages follow
// without a reload (each page carries a marker a reload would wipe).
// * approvals + deploy tab, signed in with the admin key: a promotion into
//   production (which requires approval) shows in the queue; approved by
//   another approver, the prompt page shows the new live version; rolled
//   back, the badge goes back. The top bar says Live.
// * the editor keeps an unsaved draft while the page follows a change
// * a person signed in through Access (no key: ["pvct.v1"] and the cookie)
//   sees the prompt list follow a change
// * a dropped channel says Reconnecting…, comes back, and the page catches
//   up on what changed while it was down
// * heartbeat, on the page's fake clock with stand-in sockets: a ping every
//   30 s; two intervals without an answer and the socket is replaced
// Screenshots for review go to target/console-screenshots/realtime-*.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { client, promptWithVersions, until } from "../e2e/harness.mjs";
import { startAccessTeam } from "../e2e/access-stub.mjs";
import { startConsole } from "./harness.mjs";

let team;
let app;
let api;
let approver;

before(async () => {
  team = await startAccessTeam();
  app = await startConsole({ vars: team.vars() });
  api = client(app.url, app.adminKey);
  await promptWithVersions(api, "greeter", ["Hello (1).", "Hello (2)."]);
  await promptWithVersions(api, "drafted", ["Draft me (1).", "Draft me (2)."]);
  await promptWithVersions(api, "listed", ["Listed (1).", "Listed (2)."]);
  assert.equal((await api.post("/v1/prompts/greeter/promote", { version: 1, environment: "production" })).status, 201);
  assert.equal((await api.put("/v1/environments/production", { policy: { requires_approval: true } })).status, 200);
  const made = await api.post("/v1/keys", { name: "live-approver", role: "approver" });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  approver = client(app.url, made.body.key);
});

after(async () => {
  await app?.stop();
  await team?.close();
});

/** Marks the page: the mark is gone if the page ever reloads. */
const mark = (page) => page.evaluate(() => (window.__notReloaded = true));
const stillMarked = async (page) => assert.equal(await page.evaluate(() => window.__notReloaded), true, "the page did not reload");

/** Waits for the top bar to say the live channel is up. */
async function live(page) {
  const pill = page.getByTestId("live-state");
  await page.locator('[data-testid="live-state"][data-state="live"]').waitFor();
  assert.equal(await pill.getAttribute("aria-live"), "polite");
  assert.equal((await pill.locator('[aria-hidden="true"]').innerText()).trim(), "Live");
}

test("a request, its approval and a rollback made through the API show on the approvals page and the deploy tab without a reload", async () => {
  const queue = await app.signedIn();
  await queue.page.goto(`${app.url}/approvals`);
  await queue.page.getByText("Nothing waits for approval.").waitFor();
  await live(queue.page);

  const prompt = await app.signedIn();
  await prompt.page.goto(`${app.url}/prompts/greeter/deploy`);
  const badge = prompt.page.getByTestId("badge-production");
  await badge.filter({ hasText: /^production: v1$/ }).waitFor();
  await live(prompt.page);
  await Promise.all([mark(queue.page), mark(prompt.page)]);

  // Asked through the API: the queue shows the request.
  const asked = await api.post("/v1/prompts/greeter/promote", { version: 2, environment: "production", reason: "warmer greeting" });
  assert.equal(asked.status, 202, JSON.stringify(asked.body));
  const card = queue.page.getByTestId(`approval-${asked.body.approval_id}`);
  await card.waitFor();
  assert.equal((await card.getByTestId("approval-request").textContent()).replace(/\s+/g, " ").trim(), "promote v2 → production");
  assert.match(await card.getByTestId("approval-live-now").innerText(), /live in production now:\s*v1/);
  await card.getByText("“warmer greeting”").waitFor();
  await app.screenshot(queue.page, "realtime-approval-requested");

  // Approved by another approver: the prompt page shows v2 live, the queue empties.
  const approved = await approver.post(`/v1/approvals/${asked.body.approval_id}/approve`, { note: "ship it" });
  assert.equal(approved.status, 201, JSON.stringify(approved.body));
  await badge.filter({ hasText: /^production: v2$/ }).waitFor();
  await prompt.page.getByTestId("deploy-live-production").filter({ hasText: /^v2$/ }).waitFor();
  await prompt.page.getByTestId("rollback-preview-production").filter({ hasText: "Rollback returns to v1" }).waitFor();
  await prompt.page.getByRole("table", { name: "Deployments" }).getByRole("row").filter({ hasText: "production" }).filter({ hasText: "v2" }).first().waitFor();
  await card.waitFor({ state: "detached" });
  await queue.page.getByRole("table", { name: "Decided requests" }).getByRole("row").filter({ hasText: "v2" }).filter({ hasText: "approved" }).waitFor();
  await queue.page.getByText("Nothing waits for approval.").waitFor();
  await app.screenshot(prompt.page, "realtime-approved");

  // Rolled back through the API: the badge goes back.
  const back = await api.post("/v1/prompts/greeter/rollback", { environment: "production", reason: "too warm" });
  assert.equal(back.status, 201, JSON.stringify(back.body));
  await badge.filter({ hasText: /^production: v1$/ }).waitFor();
  await prompt.page.getByTestId("deploy-live-production").filter({ hasText: /^v1$/ }).waitFor();
  await prompt.page.getByRole("table", { name: "Deployments" }).getByRole("row").filter({ hasText: "too warm" }).waitFor();
  await app.screenshot(prompt.page, "realtime-rolled-back");

  await Promise.all([stillMarked(queue.page), stillMarked(prompt.page)]);
  await live(prompt.page);
  assert.deepEqual(queue.errors, []);
  assert.deepEqual(prompt.errors, []);
  await Promise.all([queue.page.close(), prompt.page.close()]);
});

test("the editor keeps its unsaved draft while the page follows a change", async () => {
  const { page, errors } = await app.signedIn();
  await page.goto(`${app.url}/prompts/drafted/edit`);
  const editor = page.getByTestId("editor-text").locator(".view-lines");
  await editor.getByText("Draft me (2).").waitFor();
  await live(page);
  await mark(page);
  await editor.click();
  await page.keyboard.press("Control+End");
  await page.keyboard.type(" Unsaved words.");
  await page.getByLabel("Commit message").fill("half done");

  assert.equal((await api.post("/v1/prompts/drafted/promote", { version: 2, environment: "staging" })).status, 201);
  await page.getByTestId("badge-staging").filter({ hasText: /^staging: v2$/ }).waitFor();
  await editor.getByText("Draft me (2). Unsaved words.").waitFor();
  assert.equal(await page.getByLabel("Commit message").inputValue(), "half done");
  await stillMarked(page);
  assert.deepEqual(errors, []);
  await page.close();
});

test("a person signed in through Access (no key) gets live updates: the prompt list follows a change", async () => {
  assert.equal((await api.post("/v1/members", { email: "erin@example.com", role: "editor" })).status, 201);
  const { page, context, errors } = await app.openPage({ cookies: [{ name: "CF_Authorization", value: team.token("erin@example.com") }] });
  await page.getByRole("heading", { name: "Prompts" }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, "no key kept");
  const cell = page.getByTestId("live-listed-dev");
  await cell.filter({ hasText: /^—$/ }).waitFor();
  await live(page);
  await mark(page);
  assert.equal((await api.post("/v1/prompts/listed/promote", { version: 1, environment: "dev" })).status, 201);
  await cell.filter({ hasText: /^v1$/ }).waitFor();
  await stillMarked(page);
  await app.screenshot(page, "realtime-person-list");
  assert.deepEqual(errors, []);
  await context.close();
});

test("a dropped channel says Reconnecting…, comes back, and the page catches up on what changed meanwhile", async () => {
  const context = await app.browser.newContext({ viewport: { width: 1366, height: 900 } });
  // The page's live sockets pass through here: while `refuse` is set, a socket is closed as it opens.
  let refuse = false;
  const sockets = [];
  await context.routeWebSocket(/\/v1\/live\?/, (ws) => {
    if (refuse) return ws.close({ code: 1011, reason: "down for the test" });
    ws.connectToServer();
    sockets.push(ws);
  });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(app.url + "/");
  await page.getByLabel("API key").fill(app.adminKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  const cell = page.getByTestId("live-listed-staging");
  await cell.filter({ hasText: /^—$/ }).waitFor();
  await live(page);
  await mark(page);

  // The worker goes away (as on a deploy): every socket drops and reconnecting fails.
  refuse = true;
  for (const ws of sockets.splice(0)) await ws.close({ code: 1012, reason: "restarting" });
  await page.locator('[data-testid="live-state"][data-state="reconnecting"]').waitFor();
  assert.equal((await page.getByTestId("live-state").locator('[aria-hidden="true"]').innerText()).trim(), "Reconnecting…");
  await app.screenshot(page, "realtime-reconnecting");
  // A change while the page hears nothing.
  assert.equal((await api.post("/v1/prompts/listed/promote", { version: 2, environment: "staging" })).status, 201);

  // Back: the channel reconnects by itself and the page catches up.
  refuse = false;
  await live(page);
  await cell.filter({ hasText: /^v2$/ }).waitFor();
  await stillMarked(page);
  assert.deepEqual(errors, []);
  await context.close();
});

test("pings every 30 s; a socket that stops answering them counts as dead and is replaced", async () => {
  const context = await app.browser.newContext({ viewport: { width: 1366, height: 900 } });
  // The hub stands in here (no worker behind the sockets): hello on open, pong to ping while `answering`.
  let answering = true;
  const pings = [];
  let opened = 0;
  await context.routeWebSocket(/\/v1\/live\?/, (ws) => {
    opened++;
    const environment = new URL(ws.url()).searchParams.get("environment");
    ws.onMessage((m) => {
      pings.push(m);
      if (m === "ping" && answering) ws.send("pong");
    });
    ws.send(JSON.stringify({ type: "hello", environment, seq: 0 }));
  });
  await context.clock.install();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(app.url + "/");
  await page.getByLabel("API key").fill(app.adminKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Prompts" }).waitFor();
  await live(page);
  const sockets = opened;
  assert.equal(sockets, 3, "one socket per environment (dev, staging, production)");

  await page.clock.runFor(29_000);
  assert.deepEqual(pings, [], "no ping before 30 s");
  await page.clock.runFor(1_000);
  await until(() => pings.length === 3, "a ping from each socket after 30 s");
  assert.deepEqual(pings, ["ping", "ping", "ping"]);
  // No answers from here: the next ping goes unanswered, and after two intervals without a word the sockets are dead.
  answering = false;
  await page.clock.runFor(60_000);
  await live(page);
  assert.equal(opened, sockets, "one unanswered ping is not yet a dead socket");
  await page.clock.runFor(30_000);
  await page.locator('[data-testid="live-state"][data-state="reconnecting"]').waitFor();
  // Replaced within the first backoff (0.5 s ± 50 %).
  answering = true;
  await page.clock.runFor(1_000);
  await live(page);
  assert.equal(opened, 2 * sockets);
  assert.deepEqual(errors, []);
  await context.close();
});
