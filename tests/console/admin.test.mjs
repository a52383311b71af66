// The admin pages and sign-in through Cloudflare Access, in Chromium against
// the real worker (./harness.mjs): `make dev`'s worker pointed at a stub
// Access team (../e2e/access-stub.mjs: a JWKS and RS256 tokens), one for
// the whole file. Each test does what an admin would in the console and
// checks the outcome twice: on the page, and in what the API stored.
// * keys: a new key shown once, copied, working; revoked, it is refused
// * members: invite, change role and subscription, remove (confirmed); a
//   second invite of the same email is refused; the last admin member
//   stays; an invite completed with the keyboard alone
// * environments: a gate policy edited, an environment added
// * webhooks: created to a local receiver, a real event in its delivery
//   log, Redeliver sends it again (signed with the secret shown once)
// * settings: retention, the judge and Slack saved; no secret comes back
// * Access: the CF_Authorization cookie of a member signs in as that
//   person, no key prompt; a non-member gets the not-a-member page; a
//   member of two workspaces names one
// * audit: filtered by action and by person
// Screenshots for review go to target/console-screenshots/admin-*.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createHmac } from "node:crypto";
import { client, promptWithVersions, until } from "../e2e/harness.mjs";
import { startAccessTeam } from "../e2e/access-stub.mjs";
import { startConsole } from "./harness.mjs";

let team;
let app;
let api;
let receiver;
const received = [];

before(async () => {
  team = await startAccessTeam();
  app = await startConsole({ vars: team.vars() });
  api = client(app.url, app.adminKey);
  // A webhook receiver outside our system: it records every request.
  receiver = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ path: req.url, headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
});

after(async () => {
  await app?.stop();
  receiver?.close();
  await team?.close();
});

/** Signs `page` in with an API key through the key prompt. */
async function keySignIn(page, key = app.adminKey) {
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Prompts" }).waitFor();
}

/** An admin page, signed in with the admin key. */
async function adminPage(section) {
  const { page, errors } = await app.signedIn();
  await page.goto(`${app.url}/admin/${section}`);
  return { page, errors };
}

/** Waits for the notice a change leaves on the page; failing, says what the page's alerts say instead. */
async function status(page, text) {
  try {
    await page.getByRole("status").filter({ hasText: text }).waitFor({ timeout: 15_000 });
  } catch (e) {
    const alerts = await page.getByRole("alert").allInnerTexts();
    throw new Error(`the page never said "${text}"; its alerts: ${JSON.stringify(alerts)}`, { cause: e });
  }
}

test("keys: a new key is shown once and copies, works, and is refused once revoked", async () => {
  const { page, context, errors } = await app.openPage({ permissions: ["clipboard-read", "clipboard-write"] });
  await keySignIn(page);
  // Admin is in the top nav; its tabs lead to the keys.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).click();
  await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "API keys" }).click();
  await page.waitForURL(/\/admin\/keys$/);

  const form = page.getByRole("form", { name: "New API key" });
  await form.getByLabel("Key name").fill("ci-deploy");
  await form.getByLabel("Role").selectOption("editor");
  await form.getByRole("button", { name: "Create key" }).click();
  const box = page.getByTestId("secret-once");
  const secret = (await box.getByTestId("secret").innerText()).trim();
  assert.match(secret, /^pvct_[0-9a-f]{48}$/);
  await box.getByRole("button", { name: "Copy" }).click();
  await box.getByRole("button", { name: "Copied" }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);

  // The key works, with the role chosen.
  const me = await client(app.url, secret).get("/v1/me");
  assert.equal(me.status, 200, JSON.stringify(me.body));
  assert.equal(me.body.role, "editor");
  const row = page.getByTestId(`key-${me.body.key_id}`);
  assert.match(await row.innerText(), /ci-deploy\s+editor\s+pvct_[0-9a-f]+…/);
  await app.screenshot(page, "admin-keys");

  // Shown once: gone from the page when done, never in the list.
  await box.getByRole("button", { name: "Done" }).click();
  assert.equal(await page.getByTestId("secret-once").count(), 0);
  assert.ok(!(await page.content()).includes(secret));
  assert.ok(!JSON.stringify((await api.get("/v1/keys")).body).includes(secret));

  // Revoke asks first.
  await row.getByRole("button", { name: "Revoke ci-deploy" }).click();
  await row.getByRole("button", { name: "Yes, revoke" }).click();
  await status(page, "is revoked");
  await row.getByText("revoked").waitFor();
  assert.equal(await row.getByRole("button", { name: "Revoke ci-deploy" }).count(), 0);
  assert.ok((await api.get("/v1/keys")).body.items.find((k) => k.id === me.body.key_id).revoked_at);
  const refused = await client(app.url, secret).get("/v1/me");
  assert.equal(refused.status, 401);
  assert.equal(refused.body.error.code, "unauthenticated");
  assert.deepEqual(errors, []);
  await context.close();
});

test("members: invite, change role and subscription, remove; a second invite and demoting the last admin are refused", async () => {
  const { page, errors } = await adminPage("members");
  const member = async (email) => (await api.get("/v1/members")).body.items.find((m) => m.email === email);
  const form = page.getByRole("form", { name: "Invite a member" });
  await form.getByLabel("Email address").fill("alice@example.com");
  await form.getByLabel("Display name").fill("Alice Example");
  await form.getByLabel("Role").selectOption("approver");
  await form.getByRole("button", { name: "Invite" }).click();
  await status(page, "alice@example.com was invited as approver");
  const row = page.getByTestId("member-alice@example.com");
  assert.match(await row.innerText(), /alice@example\.com\s+Alice Example/);
  assert.equal(await row.getByLabel("Role of alice@example.com").inputValue(), "approver");
  const invited = await member("alice@example.com");
  assert.deepEqual([invited.role, invited.display_name, invited.subscribed], ["approver", "Alice Example", false]);

  // The same email again: the API's already_exists, in the page's words.
  await form.getByLabel("Email address").fill("alice@example.com");
  await form.getByRole("button", { name: "Invite" }).click();
  const refusal = form.getByRole("alert");
  await refusal.waitFor();
  assert.match(await refusal.innerText(), /alice@example\.com is already a member of this workspace\.\s*already_exists/);
  assert.equal((await api.get("/v1/members")).body.items.filter((m) => m.email === "alice@example.com").length, 1);

  // Role and subscription change in place.
  await row.getByLabel("Role of alice@example.com").selectOption("editor");
  await status(page, "alice@example.com is now an editor");
  assert.equal((await member("alice@example.com")).role, "editor");
  await row.getByLabel("alice@example.com is subscribed to notifications").check();
  await status(page, "alice@example.com gets notifications");
  assert.equal((await member("alice@example.com")).subscribed, true);
  await app.screenshot(page, "admin-members");

  // Removing asks first.
  await row.getByRole("button", { name: "Remove alice@example.com" }).click();
  await row.getByRole("button", { name: "Yes, remove" }).click();
  await status(page, "alice@example.com was removed");
  await row.waitFor({ state: "detached" });
  assert.equal(await member("alice@example.com"), undefined);

  // Keyboard only: type, Tab, arrow the role from reader to editor, Space subscribes, Enter invites.
  await form.getByLabel("Email address").focus();
  await page.keyboard.press("Control+A");
  await page.keyboard.type("bob@example.com");
  await page.keyboard.press("Tab");
  await page.keyboard.type("Bob");
  await page.keyboard.press("Tab");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Space");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await status(page, "bob@example.com was invited as editor");
  const bob = await member("bob@example.com");
  assert.deepEqual([bob.role, bob.display_name, bob.subscribed], ["editor", "Bob", true]);

  // The only admin member cannot be demoted (409 conflict), and the page says why.
  await form.getByLabel("Email address").fill("root@example.com");
  await form.getByLabel("Role").selectOption("admin");
  await form.getByRole("button", { name: "Invite" }).click();
  await status(page, "root@example.com was invited as admin");
  await page.getByLabel("Role of root@example.com").selectOption("reader");
  const conflict = page.getByRole("alert").filter({ hasText: "conflict" });
  await conflict.waitFor();
  assert.match(await conflict.innerText(), /at least one admin member/);
  assert.equal((await member("root@example.com")).role, "admin");
  assert.equal(await page.getByLabel("Role of root@example.com").inputValue(), "admin");
  assert.deepEqual(errors, []);
  await page.close();
});

test("environments: a gate policy edited in the form is what the API stores; a new environment is added", async () => {
  const { page, errors } = await adminPage("environments");
  const prod = page.getByTestId("environment-production");
  await prod.getByRole("button", { name: "Edit the gates of production" }).click();
  const form = prod.getByRole("form", { name: "Gates of production" });
  await form.getByLabel("Requires approval").check();
  await form.getByLabel("Maximum error rate (%)").fill("5");
  await form.getByLabel("Minimum calls measured").fill("100");
  await form.getByLabel("Measured in").selectOption("staging");
  await form.getByRole("button", { name: "Save gates" }).click();
  await status(page, "The gates of production are saved");
  const stored = (await api.get("/v1/environments")).body.items.find((e) => e.name === "production");
  assert.deepEqual(stored.policy, { requires_approval: true, max_error_rate: 0.05, min_samples: 100, measured_in: "staging" });
  // The card reads the stored policy back, in words.
  await prod.getByTestId("policy-summary").filter({ hasText: /^approval · ≥ 100 calls · error rate ≤ 5\.0% \(measured in staging\)$/ }).waitFor();

  const add = page.getByRole("form", { name: "Add an environment" });
  await add.getByLabel("Environment name").fill("qa");
  await add.getByLabel("Position").fill("7");
  await add.getByRole("button", { name: "Add environment" }).click();
  await status(page, "qa was added at position 7");
  await page.getByTestId("environment-qa").waitFor();
  const qa = (await api.get("/v1/environments")).body.items.find((e) => e.name === "qa");
  assert.equal(qa.position, 7);
  await app.screenshot(page, "admin-environments");
  assert.deepEqual(errors, []);
  await page.close();
});

test("webhooks: created in the console, a real event shows in its log, Redeliver sends it again", async () => {
  const { page, errors } = await adminPage("webhooks");
  const url = `http://127.0.0.1:${receiver.address().port}/hook`;
  const form = page.getByRole("form", { name: "New webhook" });
  await form.getByLabel("Receiver URL").fill(url);
  await form.getByLabel("All events (*)").uncheck();
  await form.getByLabel("deployment.created", { exact: true }).check();
  await form.getByRole("button", { name: "Create webhook" }).click();
  const secret = (await page.getByTestId("secret-once").getByTestId("secret").innerText()).trim();
  assert.match(secret, /^whsec_/);
  const hook = (await api.get("/v1/webhooks")).body.items.find((h) => h.url === url);
  assert.deepEqual(hook.events, ["deployment.created"]);

  // A promotion (through the API) is the event; the receiver gets it signed with the secret shown.
  await promptWithVersions(api, "hooked", ["Hello"]);
  assert.equal((await api.post("/v1/prompts/hooked/promote", { version: 1, environment: "dev" })).status, 201);
  const mine = () => received.filter((r) => r.path === "/hook");
  await until(() => mine().length >= 1, "the first delivery");
  const first = mine()[0];
  const signed = (r) => {
    const { t, v1 } = Object.fromEntries(r.headers["x-pvct-signature"].split(",").map((kv) => kv.split("=")));
    return createHmac("sha256", secret).update(`${t}.${r.body}`).digest("hex") === v1;
  };
  assert.ok(signed(first), "signed with the secret the console showed");
  const log = () => api.get(`/v1/webhooks/${hook.id}/deliveries`).then((r) => r.body.items);
  const [delivery] = await until(async () => ((await log())[0]?.status === "delivered" ? log() : null), "a delivered delivery");

  // The log in the console.
  const card = page.getByTestId(`webhook-${hook.id}`);
  await card.getByRole("button", { name: "Deliveries" }).click();
  const row = card.getByTestId(`delivery-${delivery.id}`);
  await row.waitFor();
  assert.match(await row.innerText(), /deployment\.created\s+delivered\s+1\s+204/);

  // Redeliver: the receiver gets the same event again, signed.
  await row.getByRole("button", { name: /^Redeliver/ }).click();
  await status(page, "The deployment.created delivery is sent again");
  await until(() => mine().length >= 2, "the redelivery");
  const again = mine()[1];
  assert.equal(again.headers["x-pvct-event"], "deployment.created");
  assert.deepEqual(JSON.parse(again.body).data, JSON.parse(first.body).data);
  assert.ok(signed(again));
  assert.equal((await log()).length, 2);
  await card.getByRole("button", { name: "Refresh" }).click();
  await until(async () => (await card.locator("tbody tr").count()) === 2, "two rows in the log");
  await app.screenshot(page, "admin-webhooks");
  assert.deepEqual(errors, []);
  await page.close();
});

test("settings: retention, the judge and Slack are saved; secrets never come back", async () => {
  const { page, errors } = await adminPage("settings");
  await page.getByLabel("Retention (days)").fill("14");
  await page.getByRole("button", { name: "Save retention" }).click();
  await status(page, "Raw executions are kept 14 days");

  const judge = page.getByRole("form", { name: "LLM judge" });
  await judge.getByLabel("LLM judge URL").fill("https://judge.example/v1/chat/completions");
  await judge.getByLabel("LLM judge model").fill("gpt-judge");
  await judge.getByLabel("LLM judge API key").fill("sk-judge-secret-4242");
  await judge.getByRole("button", { name: "Save judge" }).click();
  await status(page, "The judge is saved");
  await page.getByTestId("judge-key-state").filter({ hasText: "key set" }).waitFor();
  assert.equal(await judge.getByLabel("LLM judge API key").inputValue(), "");

  const slackUrl = "https://hooks.slack.com/services/T0001/B0001/slack-secret-4242";
  await page.getByLabel("Slack webhook URL").fill(slackUrl);
  await page.getByRole("button", { name: "Save Slack" }).click();
  await status(page, "Notifications go to Slack");
  await page.getByTestId("slack-state").filter({ hasText: "hooks.slack.com" }).waitFor();

  const settings = (await api.get("/v1/settings")).body;
  assert.equal(settings.retention_days, 14);
  assert.deepEqual(settings.judge, { url: "https://judge.example/v1/chat/completions", model: "gpt-judge", api_key_set: true });
  assert.match(settings.notifications.slack.url, /^https:\/\/hooks\.slack\.com/);
  for (const secret of ["sk-judge-secret-4242", "slack-secret-4242"]) {
    assert.ok(!JSON.stringify(settings).includes(secret), `the API does not answer ${secret}`);
    assert.ok(!(await page.locator("body").innerText()).includes(secret), `the page does not show ${secret}`);
  }
  await page.getByRole("table", { name: "Notification deliveries" }).or(page.getByText("No notifications sent yet.")).waitFor();
  await app.screenshot(page, "admin-settings");
  assert.deepEqual(errors, []);
  await page.close();
});

test("Access: a member's CF_Authorization cookie signs in as that person, no key prompt; a non-member is told so; a member of two workspaces picks one", async () => {
  const invited = await api.post("/v1/members", { email: "carol@example.com", display_name: "Carol Admin", role: "admin" });
  assert.equal(invited.status, 201, JSON.stringify(invited.body));
  const cookie = (email) => [{ name: "CF_Authorization", value: team.token(email) }];

  const { page, context, errors } = await app.openPage({ cookies: cookie("carol@example.com") });
  const who = page.getByTestId("who");
  await who.waitFor();
  assert.match(await who.innerText(), /^Carol Admin carol@example\.com · admin$/);
  assert.equal(await page.getByLabel("API key").count(), 0);
  assert.equal(await page.getByRole("link", { name: "Sign out" }).getAttribute("href"), "/cdn-cgi/access/logout");
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, "no key kept");
  await page.getByRole("heading", { name: "Prompts" }).waitFor();
  await app.screenshot(page, "access-signed-in");

  // Carol works in the console as herself: an environment added through the admin pages.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).click();
  await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Environments" }).click();
  const add = page.getByRole("form", { name: "Add an environment" });
  await add.getByLabel("Environment name").fill("carol-env");
  await add.getByRole("button", { name: "Add environment" }).click();
  await status(page, "carol-env was added");
  assert.ok((await api.get("/v1/environments")).body.items.some((e) => e.name === "carol-env"));
  assert.deepEqual(errors, []);
  await context.close();

  // Someone Access signed in whom the workspace does not know.
  const other = await app.openPage({ cookies: cookie("mallory@example.com") });
  const gate = other.page.getByTestId("not-a-member");
  await gate.waitFor();
  assert.match(await gate.innerText(), /You are signed in as mallory@example\.com but not a member of this workspace/);
  assert.equal(await gate.getByRole("link", { name: "Sign out" }).getAttribute("href"), "/cdn-cgi/access/logout");
  assert.equal(await other.page.getByRole("heading", { name: "Prompts" }).count(), 0);
  await app.screenshot(other.page, "access-not-a-member");
  assert.deepEqual(other.errors, []);
  await other.context.close();

  // A member of two workspaces names the one to open.
  const made = await api.post("/v1/workspaces", { name: "second" });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  for (const admin of [api, client(app.url, made.body.api_key.key)])
    assert.equal((await admin.post("/v1/members", { email: "dave@example.com", role: "reader" })).status, 201);
  const dave = await app.openPage({ cookies: cookie("dave@example.com") });
  await dave.page.getByLabel("Workspace", { exact: true }).fill("second");
  await dave.page.getByRole("button", { name: "Open" }).click();
  await dave.page.getByRole("heading", { name: "Prompts" }).waitFor();
  const daveWho = dave.page.getByTestId("who");
  assert.match(await daveWho.innerText(), /^dave@example\.com · reader$/);
  assert.equal(await daveWho.getAttribute("title"), `dave@example.com · ${made.body.workspace.id}`);
  assert.deepEqual(dave.errors, []);
  await dave.context.close();
});

test("audit: filtered by action, with Load more, the trail is the API's", async () => {
  for (const name of ["audit-one", "audit-two"]) assert.equal((await api.post("/v1/keys", { name, role: "reader" })).status, 201);
  const { page, errors } = await adminPage("audit?limit=2");
  await page.getByLabel("Action").selectOption("key.create");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForURL(/action=key\.create/);
  // Only the filtered trail offers to clear its filters.
  await page.getByRole("link", { name: "Clear filters" }).waitFor();
  const fromApi = (await api.get("/v1/audit?action=key.create&limit=200")).body.items;
  assert.ok(fromApi.length >= 3, "ci-deploy and the two keys above");
  // Two a page: Load more until the trail ends.
  const rows = page.getByRole("table", { name: "Audit trail" }).locator("tbody tr");
  for (let shown = 2; shown < fromApi.length; shown += 2) {
    await until(async () => (await rows.count()) === shown, `${shown} entries`);
    await page.getByRole("button", { name: "Load more" }).click();
  }
  await until(async () => (await rows.count()) === fromApi.length, "every entry");
  assert.deepEqual(new Set(await page.getByTestId("audit-action").allTextContents()), new Set(["key.create"]));
  assert.equal(await page.getByRole("button", { name: "Load more" }).count(), 0);
  const ids = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.testid));
  assert.deepEqual(ids, fromApi.map((a) => `audit-${a.id}`));
  await app.screenshot(page, "admin-audit");
  assert.deepEqual(errors, []);
  await page.close();
});

test("audit: filtered by person, each change names the person by name and email", async () => {
  const { page, errors } = await adminPage("audit");
  await page.getByLabel("Person").fill("carol@example.com");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForURL(/person=carol%40example\.com/);
  await page.getByRole("link", { name: "Clear filters" }).waitFor();
  const fromApi = (await api.get("/v1/audit?person=carol%40example.com")).body.items;
  assert.ok(fromApi.some((a) => a.action === "environment.put" && a.target === "carol-env"), JSON.stringify(fromApi));
  const who = page.getByTestId("audit-who");
  await until(async () => (await who.count()) === fromApi.length, "carol's entries");
  for (const text of await who.allTextContents()) assert.equal(text, "Carol Admin <carol@example.com>");
  assert.deepEqual(errors, []);
  await page.close();
});
