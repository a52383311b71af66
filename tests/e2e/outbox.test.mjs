// Events are never lost: a change's webhook deliveries commit in the same
// D1 batch as the change (a transactional outbox), so when the Queue send
// fails after the commit, the minute sweep queues them and they arrive
// anyway. The fault is outside our code: the deliveries queue's producer
// binding, wrapped to fail while the test says so.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startWorker, newWorkspace, promptWithVersions, until } from "./harness.mjs";

let w;
let receiver;
const received = [];

before(async () => {
  w = await startWorker({ queueFaults: true });
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
  receiver?.close();
  await w?.stop();
});

test("a delivery whose queue send failed is committed with its change and arrives through the sweep", async () => {
  const { api } = await newWorkspace(w);
  const url = `http://127.0.0.1:${receiver.address().port}/outbox`;
  assert.equal((await api.post("/v1/webhooks", { url, events: ["deployment.created", "version.created"] })).status, 201);
  await promptWithVersions(api, "bot", ["one"]);
  await until(() => received.some((r) => r.headers["x-pvct-event"] === "version.created"), "the version event, sent normally");

  await w.fault("send", "deliveries");
  const promoted = await api.post("/v1/prompts/bot/promote", { version: 1, environment: "production" });
  assert.equal(promoted.status, 201, "the change commits; the failed send is not the caller's error");
  const pending = await w.db
    .prepare("SELECT status FROM webhook_deliveries WHERE event = 'deployment.created'")
    .all();
  assert.deepEqual(pending.results.map((r) => r.status), ["pending"], "the delivery was written with the change");
  // Sweeping while the queue still fails loses nothing either.
  await w.scheduled("* * * * *");
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(received.filter((r) => r.headers["x-pvct-event"] === "deployment.created").length, 0);

  await w.fault("send", "deliveries", false);
  // Claimed by the failed sweep for a minute: made due again, as a minute passing would.
  await w.db.prepare("UPDATE webhook_deliveries SET due_at = '2000-01-01T00:00:00Z' WHERE status = 'pending'").run();
  await w.scheduled("* * * * *");
  const arrived = await until(() => received.find((r) => r.headers["x-pvct-event"] === "deployment.created"), "the swept delivery");
  assert.equal(JSON.parse(arrived.body).data.version, 1);
  await until(async () => {
    const row = await w.db.prepare("SELECT status FROM webhook_deliveries WHERE event = 'deployment.created'").first();
    return row.status === "delivered";
  }, "the log to say delivered");
  // A later sweep finds nothing due: exactly one delivery.
  await w.scheduled("* * * * *");
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(received.filter((r) => r.headers["x-pvct-event"] === "deployment.created").length, 1);
});
