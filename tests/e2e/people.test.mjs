// People, not keys, end to end: sign-in through Cloudflare Access (a stub
// team with its own RSA keys and JWKS, outside our system), members and
// roles, four-eyes across people (one person with two keys is still one
// person), the audit trail naming people, and notifications to stub Slack
// and Resend receivers through the real Queue.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startWorker, newWorkspace, promptWithVersions, client, until } from "./harness.mjs";
import { startAccessTeam, signJwt } from "./access-stub.mjs";

let w;
let team;
let receiver;
const slack = [];
const emails = [];
let failEmails = 0;

before(async () => {
  team = await startAccessTeam();
  receiver = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      if (req.url === "/slack") {
        slack.push(JSON.parse(body));
        res.writeHead(200).end("ok");
      } else if (req.url === "/resend/emails") {
        if (failEmails > 0) {
          failEmails--;
          res.writeHead(500).end();
          return;
        }
        emails.push({ auth: req.headers.authorization, idempotency: req.headers["idempotency-key"], ...JSON.parse(body) });
        res.writeHead(200, { "content-type": "application/json" }).end('{"id":"e1"}');
      } else res.writeHead(404).end();
    });
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  // Many refusals on purpose: the failed sign-in limit is not under test here.
  w = await startWorker({ vars: { ...team.vars(), CONSOLE_KEY_SIGN_IN: "off" }, rateLimits: { RATE_LIMIT_AUTH_FAILURES: 10_000 } });
});
after(async () => {
  receiver?.close();
  await team?.close();
  await w?.stop();
});

const stub = (p) => `http://127.0.0.1:${receiver.address().port}${p}`;

/** A client signed in as `email` through Access (the assertion header), in `workspace` when given. */
function person(email, { workspace, extra = {} } = {}) {
  const api = client(w.url);
  const headers = { "cf-access-jwt-assertion": team.token(email, extra), ...(workspace ? { "pvct-workspace": workspace } : {}) };
  return {
    get: (p) => api.get(p, headers),
    post: (p, b) => api.post(p, b, headers),
    put: (p, b) => api.put(p, b, headers),
    patch: (p, b) => api.call("PATCH", p, b, headers),
    del: (p) => api.del(p, headers),
  };
}

async function member(api, email, role, extra = {}) {
  const res = await api.post("/v1/members", { email, role, ...extra });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

test("a member signs in through Access with no key; anyone else is refused with a clear code", async () => {
  const { api, name } = await newWorkspace(w);
  const config = await client(w.url).get("/v1/auth/config");
  assert.deepEqual(config.body, { access: { team_domain: team.origin, logout_url: "/cdn-cgi/access/logout" }, key_sign_in: false });

  const stranger = await person("ada@example.com", { workspace: name }).get("/v1/me");
  assert.equal(stranger.status, 403);
  assert.equal(stranger.body.error.code, "not_a_member");
  assert.equal(stranger.body.error.details.email, "ada@example.com");

  await member(api, "Ada@Example.com", "approver", { display_name: "Ada Lovelace" });
  const me = await person("ada@example.com").get("/v1/me");
  assert.equal(me.status, 200, JSON.stringify(me.body));
  assert.equal(me.body.kind, "person");
  assert.equal(me.body.key_id, null);
  assert.equal(me.body.role, "approver");
  assert.deepEqual(me.body.person, { email: "ada@example.com", name: "Ada Lovelace" });
  assert.equal(me.body.actor, "Ada Lovelace <ada@example.com>");

  // The console's way: the CF_Authorization cookie instead of the header.
  const byCookie = await client(w.url).get("/v1/me", { cookie: `other=1; CF_Authorization=${team.token("ada@example.com")}` });
  assert.equal(byCookie.status, 200);
  assert.equal(byCookie.body.person.email, "ada@example.com");

  // What a person may do is their role's: an approver is no admin.
  assert.equal((await person("ada@example.com").get("/v1/members")).status, 403);

  // A workspace default role lets every signed-in person in.
  assert.equal((await api.put("/v1/settings", { default_role: "reader" })).status, 200);
  const guest = await person("guest@example.com", { workspace: name }).get("/v1/me");
  assert.equal(guest.status, 200);
  assert.equal(guest.body.role, "reader");
});

test("tokens are checked: signature, key, audience, issuer, expiry; each refusal names its reason", async () => {
  const { api, name } = await newWorkspace(w);
  await member(api, "bo@example.com", "reader");
  const me = (token) => client(w.url).get("/v1/me", { "cf-access-jwt-assertion": token, "pvct-workspace": name });
  const reason = async (token) => {
    const res = await me(token);
    assert.equal(res.status, 401, JSON.stringify(res.body));
    assert.equal(res.body.error.code, "invalid_access_token");
    return res.body.error.details.reason;
  };
  const good = team.token("bo@example.com");
  assert.equal((await me(good)).status, 200);
  const [h, p, s] = good.split(".");
  const claims = JSON.parse(Buffer.from(p, "base64url"));
  const forged = Buffer.from(JSON.stringify({ ...claims, email: "boss@example.com" })).toString("base64url");
  assert.equal(await reason(`${h}.${forged}.${s}`), "signature");
  assert.equal(await reason(signJwt(claims, team.foreign())), "unknown_key");
  assert.equal(await reason(team.token("bo@example.com", { aud: ["another-app"] })), "audience");
  assert.equal(await reason(team.token("bo@example.com", { iss: "https://evil.cloudflareaccess.com" })), "issuer");
  const past = Math.floor(Date.now() / 1000) - 3600;
  assert.equal(await reason(team.token("bo@example.com", { exp: past })), "expired");
  assert.equal(await reason(`${h}.${p}`), "malformed");
  const none = `${Buffer.from('{"alg":"none","kid":"x"}').toString("base64url")}.${p}.`;
  assert.equal(await reason(none), "algorithm");
  // Access rotates its keys: a token signed with a new key is accepted once
  // the worker refetches the team's keys (at most every 2 s, so forged key
  // ids cannot make it fetch on every request).
  const fetched = team.certRequests;
  const fresh = team.rotate();
  await until(async () => (await me(signJwt(team.claims("bo@example.com"), fresh))).status === 200, "the rotated key accepted");
  assert.ok(team.certRequests > fetched);
  assert.ok(team.certRequests - fetched <= 3, "refetches are rate-limited");
});

test("four eyes compares people: one person with two keys cannot approve their own request", async () => {
  const { api, name } = await newWorkspace(w);
  await api.put("/v1/environments/production", { policy: { requires_approval: true } });
  await member(api, "ada@example.com", "admin", { display_name: "Ada" });
  await member(api, "bob@example.com", "approver", { display_name: "Bob" });
  const ada = person("ada@example.com", { workspace: name });
  await promptWithVersions(api, "greeter", ["hello", "hi"]);

  // Ada makes two keys; both act for her.
  const ci = await ada.post("/v1/keys", { name: "ada-ci", role: "editor" });
  assert.equal(ci.status, 201);
  assert.equal(ci.body.created_by_person, "ada@example.com");
  const second = await ada.post("/v1/keys", { name: "ada-approver", role: "approver" });
  const ciMe = await client(w.url, ci.body.key).get("/v1/me");
  assert.equal(ciMe.body.kind, "key");
  assert.equal(ciMe.body.person.email, "ada@example.com");

  const asked = await client(w.url, ci.body.key).post("/v1/prompts/greeter/promote", { version: 2, environment: "production", reason: "friendlier" });
  assert.equal(asked.status, 202, JSON.stringify(asked.body));
  assert.equal(asked.body.requested_by_person, "ada@example.com");
  const id = asked.body.approval_id;

  for (const [who, c] of [
    ["her other key", client(w.url, second.body.key)],
    ["Ada herself", ada],
  ]) {
    const refused = await c.post(`/v1/approvals/${id}/approve`, {});
    assert.equal(refused.status, 403, `${who}: ${JSON.stringify(refused.body)}`);
    assert.equal(refused.body.error.code, "forbidden");
  }
  const approved = await person("bob@example.com", { workspace: name }).post(`/v1/approvals/${id}/approve`, { note: "ship it" });
  assert.equal(approved.status, 201, JSON.stringify(approved.body));

  // The audit trail names the people, and is filtered by person and time.
  const since = new Date(Date.now() - 60_000).toISOString();
  const bobs = await api.get(`/v1/audit?person=bob@example.com&since=${encodeURIComponent(since)}`);
  assert.ok(bobs.body.items.length >= 1);
  assert.ok(bobs.body.items.every((e) => e.person?.email === "bob@example.com"));
  assert.ok(bobs.body.items.some((e) => e.action === "approval.approve" && e.person.name === "Bob"));
  const request = (await api.get("/v1/audit?action=approval.request")).body.items[0];
  assert.deepEqual(request.person, { email: "ada@example.com", name: "ada@example.com" });
  const future = new Date(Date.now() + 3_600_000).toISOString();
  assert.equal((await api.get(`/v1/audit?since=${encodeURIComponent(future)}`)).body.items.length, 0);
  assert.equal((await api.get("/v1/audit?since=yesterday")).body.error.code, "invalid_query");
});

test("members: roles change, the last admin stays, and removing a person revokes the keys they made", async () => {
  const { api, name } = await newWorkspace(w);
  const ada = await member(api, "ada@example.com", "admin");
  const twin = await api.post("/v1/members", { email: "ADA@example.com", role: "reader" });
  assert.equal(twin.status, 409);
  assert.equal(twin.body.error.code, "already_exists");
  assert.equal((await api.post("/v1/members", { role: "reader" })).body.error.code, "invalid_field");
  const eng = await member(api, undefined, "editor", { group: "eng" });
  assert.equal(eng.group, "eng");

  // Group members sign in by the groups their identity provider passes.
  const carol = person("carol@example.com", { workspace: name, extra: { groups: ["eng"] } });
  assert.equal((await carol.get("/v1/me")).body.role, "editor");

  const demote = await api.call("PATCH", `/v1/members/${ada.id}`, { role: "reader" });
  assert.equal(demote.status, 409);
  assert.equal(demote.body.error.details.reason, "last_admin");
  assert.equal((await api.del(`/v1/members/${ada.id}`)).status, 409);

  const bob = await member(api, "bob@example.com", "admin");
  const bobKey = (await person("bob@example.com", { workspace: name }).post("/v1/keys", { name: "bob-ci", role: "reader" })).body.key;
  assert.equal((await client(w.url, bobKey).get("/v1/me")).status, 200);
  const patched = await api.call("PATCH", `/v1/members/${bob.id}`, { subscribed: true, display_name: "Bob B." });
  assert.equal(patched.status, 200);
  assert.equal(patched.body.subscribed, true);
  const removed = await api.del(`/v1/members/${bob.id}`);
  assert.equal(removed.status, 200);
  assert.equal(removed.body.keys_revoked, 1);
  assert.equal((await client(w.url, bobKey).get("/v1/me")).status, 401, "his key went with him");
  assert.equal((await person("bob@example.com", { workspace: name }).get("/v1/me")).body.error.code, "not_a_member");
  const listed = (await api.get("/v1/members")).body.items.map((m) => m.email ?? `group:${m.group}`);
  assert.deepEqual(listed, ["ada@example.com", "group:eng"]);
  const actions = (await api.get("/v1/audit")).body.items.map((e) => e.action);
  for (const a of ["member.add", "member.update", "member.remove"]) assert.ok(actions.includes(a), a);
});

test("API keys may not sign in to the console when turned off; machines keep theirs", async () => {
  const { key } = await newWorkspace(w);
  const machine = await client(w.url, key).get("/v1/me");
  assert.equal(machine.status, 200);
  const browser = await client(w.url, key).get("/v1/me", { "sec-fetch-site": "same-origin" });
  assert.equal(browser.status, 403);
  assert.equal(browser.body.error.code, "key_sign_in_disabled");
});

test("another site cannot act with a person's sign-in (the browser sends the cookie along)", async () => {
  const { api, name } = await newWorkspace(w);
  await member(api, "ada@example.com", "admin");
  const cookie = { cookie: `CF_Authorization=${team.token("ada@example.com")}`, "pvct-workspace": name };
  const forged = await client(w.url).post("/v1/keys", { name: "x", role: "admin" }, { ...cookie, "sec-fetch-site": "cross-site" });
  assert.equal(forged.status, 403);
  assert.equal(forged.body.error.code, "forbidden");
  const own = await client(w.url).post("/v1/keys", { name: "x", role: "reader" }, { ...cookie, "sec-fetch-site": "same-origin" });
  assert.equal(own.status, 201);
});

test("notifications: approvers hear of a request, the requester and subscribers of the decision", async () => {
  const { api, name } = await newWorkspace(w);
  const set = await api.put("/v1/settings", {
    notifications: {
      slack: { url: stub("/slack") },
      email: { from: "PromptVault <pv@example.com>", api_key: "re_test_key", api_url: stub("/resend") },
    },
  });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.equal(set.body.notifications.email.api_key_set, true);
  assert.ok(!JSON.stringify(set.body).includes("re_test_key"));
  await api.put("/v1/environments/production", { policy: { requires_approval: true } });
  await member(api, "ada@example.com", "editor");
  await member(api, "bob@example.com", "approver");
  await member(api, "cy@example.com", "admin", { subscribed: true });
  await promptWithVersions(api, "mailer", ["one", "two"]);
  const ada = person("ada@example.com", { workspace: name });
  failEmails = 1; // the first send fails: the Queue retries it

  const asked = await ada.post("/v1/prompts/mailer/promote", { version: 1, environment: "production", reason: "launch" });
  assert.equal(asked.status, 202);
  const requestMail = await until(() => emails.find((e) => e.subject.includes("Approval needed: mailer v1")), "the request email");
  assert.deepEqual(requestMail.to, ["bob@example.com", "cy@example.com"], "approvers and admins, not the requester");
  assert.equal(requestMail.auth, "Bearer re_test_key");
  assert.equal(requestMail.from, "PromptVault <pv@example.com>");
  assert.ok(requestMail.text.includes(`${w.url}/approvals`), requestMail.text);
  await until(() => slack.find((m) => m.text.includes("Approval needed: mailer v1")), "the Slack message");

  const rejected = await person("bob@example.com", { workspace: name }).post(`/v1/approvals/${asked.body.approval_id}/reject`, { note: "not yet" });
  assert.equal(rejected.status, 200);
  const decision = await until(() => emails.find((e) => e.subject.startsWith("Rejected: mailer")), "the decision email");
  assert.deepEqual(decision.to, ["ada@example.com", "cy@example.com"], "the requester and subscribers, not the decider");
  assert.ok(decision.text.includes("not yet"));

  const log = await until(async () => {
    const items = (await api.get("/v1/notifications/deliveries")).body.items;
    return items.length >= 4 && items.every((d) => d.status === "delivered") && items;
  }, "every notification delivered");
  const first = log.find((d) => d.channel === "email" && d.event === "approval.requested");
  assert.equal(first.attempts, 2, "retried once after the 500");
  assert.deepEqual(first.recipients, ["bob@example.com", "cy@example.com"]);
  // Channels are not webhooks.
  assert.deepEqual((await api.get("/v1/webhooks")).body.items, []);

  // Removing the email channel stops emails; Slack keeps getting them.
  assert.equal((await api.put("/v1/settings", { notifications: { email: null } })).body.notifications.email, null);
  await api.post("/v1/prompts/mailer/promote", { version: 2, environment: "staging" });
  await api.post("/v1/prompts/mailer/promote", { version: 1, environment: "staging" });
  await api.post("/v1/prompts/mailer/rollback", { environment: "staging" });
  await until(() => slack.find((m) => m.text.includes("Rolled back: mailer in staging")), "the rollback on Slack");
  assert.ok(!emails.some((e) => e.subject.startsWith("Rolled back")));

  // Gates that refuse a promotion tell the subscribers (the caller has the 422).
  await api.put("/v1/environments/staging", { policy: { min_samples: 100 } });
  const refused = await ada.post("/v1/prompts/mailer/promote", { version: 1, environment: "staging" });
  assert.equal(refused.status, 422);
  const gates = await until(() => slack.find((m) => m.text.includes("Gates refused: mailer v1 → staging")), "refused gates on Slack");
  assert.ok(gates.text.includes(`${w.url}/prompts/mailer/metrics`));
});
