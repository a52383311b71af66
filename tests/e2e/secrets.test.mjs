// Secrets at rest: webhook signing secrets and the judge's key are stored
// sealed (AES-256-GCM under PVCT_ENCRYPTION_KEY), still work (deliveries
// verify, the judge gets its key), and the audit trail keeps receiver URLs
// without userinfo or query strings.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createHmac } from "node:crypto";
import { startWorker, newWorkspace, promptWithVersions, until } from "./harness.mjs";

let w;
let receiver;
const received = [];
before(async () => {
  w = await startWorker();
  receiver = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ url: req.url, headers: req.headers, body });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ choices: [{ message: { content: '{"score": 1}' } }] }));
    });
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
});
after(async () => {
  receiver?.close();
  await w?.stop();
});

test("webhook secrets are sealed at rest, deliveries still verify, the audit keeps no credentials in URLs", async () => {
  const { api, id } = await newWorkspace(w);
  const secret = "whsec_" + "ab".repeat(24);
  // Userinfo is refused at validation; a token in the query string is a
  // common way receivers authenticate, and must not reach the audit trail.
  const url = `http://127.0.0.1:${receiver.address().port}/sealed?token=t0ps3cret`;
  const created = await api.post("/v1/webhooks", { url, events: ["version.created"], secret });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const row = await w.db.prepare("SELECT secret FROM webhooks WHERE workspace_id = ?").bind(id).first();
  assert.match(row.secret, /^pvct:v1:[0-9a-f]{8}:/);
  assert.ok(!row.secret.includes(secret) && !row.secret.includes("ab".repeat(24)));
  const audit = await api.get("/v1/audit?action=webhook.create");
  const details = JSON.stringify(audit.body.items[0].details);
  assert.ok(details.includes(`127.0.0.1:${receiver.address().port}/sealed`));
  assert.ok(!details.includes("t0ps3cret"), details);

  await promptWithVersions(api, "bot", ["hello"]);
  const delivery = await until(() => received.find((r) => r.url.startsWith("/sealed")), "the delivery");
  const { t, v1 } = Object.fromEntries(delivery.headers["x-pvct-signature"].split(",").map((kv) => kv.split("=")));
  assert.equal(v1, createHmac("sha256", secret).update(`${t}.${delivery.body}`).digest("hex"), "signed with the opened secret");
});

test("the judge's key is sealed at rest and reaches the judge in clear", async () => {
  const { api, id } = await newWorkspace(w);
  const key = "sk-judge-" + "9".repeat(30);
  const judgeUrl = `http://127.0.0.1:${receiver.address().port}/judge?api-version=1`;
  assert.equal((await api.put("/v1/settings", { judge: { url: judgeUrl, model: "m", api_key: key } })).status, 200);
  const row = await w.db.prepare("SELECT judge_api_key FROM workspace_settings WHERE workspace_id = ?").bind(id).first();
  assert.match(row.judge_api_key, /^pvct:v1:/);
  assert.ok(!row.judge_api_key.includes(key));
  const audit = JSON.stringify((await api.get("/v1/audit?action=settings.put")).body.items[0].details);
  assert.ok(!audit.includes("api-version") && !audit.includes(key), audit);
  // Changing the model keeps the key (opened, sealed again).
  assert.equal((await api.put("/v1/settings", { judge: { url: judgeUrl, model: "m2" } })).body.judge.api_key_set, true);

  await promptWithVersions(api, "judged", ["one"]);
  await api.post("/v1/prompts/judged/promote", { version: 1, environment: "production" });
  await api.put("/v1/prompts/judged/evaluators", { evaluators: [{ name: "good", type: "judge", criteria: "Good?" }] });
  const v = (await api.get("/v1/prompts/judged/versions")).body.items[0].id;
  await api.post("/v1/executions", { executions: [{ id: "j1", prompt_version_id: v, environment: "production", latency_ms: 1, output: "fine" }] });
  const call = await until(() => received.find((r) => r.url.startsWith("/judge")), "the judge call");
  assert.equal(call.headers.authorization, `Bearer ${key}`);
});
