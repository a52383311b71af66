// Live updates end to end: the workspace's hub (a Durable Object in
// workerd) tells WebSocket subscribers and long polls of each committed
// change, in order, with the environment's release sequence; a bundle
// asked with min_seq is never older than the change heard of.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "undici";
import { startWorker, newWorkspace, promptWithVersions } from "./harness.mjs";

let w;
before(async () => {
  w = await startWorker();
});
after(async () => {
  await w?.stop();
});

/** A subscriber: its messages as they arrive, and a way to await the next matching one. */
function subscribe(key, environment, protocols = ["pvct.v1", key]) {
  const url = `${w.url.replace(/^http/, "ws")}/v1/live?environment=${environment}`;
  const ws = new WebSocket(url, protocols);
  const messages = [];
  const waiting = [];
  ws.addEventListener("message", (e) => {
    const m = e.data === "pong" ? { type: "pong" } : JSON.parse(e.data);
    messages.push(m);
    for (const x of waiting.splice(0)) x();
  });
  const opened = new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve);
    ws.addEventListener("error", reject);
  });
  async function next(match, what) {
    for (let i = 0; i < 100; i++) {
      const found = messages.find(match);
      if (found) return found;
      await new Promise((r) => {
        waiting.push(r);
        setTimeout(r, 100);
      });
    }
    throw new Error(`no ${what}: ${JSON.stringify(messages)}`);
  }
  return { ws, messages, opened, next, close: () => ws.close() };
}

test("subscribers hear of every change in order, with its sequence; ping gets pong", async () => {
  const { api, key } = await newWorkspace(w);
  await promptWithVersions(api, "greeter", ["hello", "hi", "hey"]);
  const sub = subscribe(key, "production");
  await sub.opened;
  assert.equal(sub.ws.protocol, "pvct.v1");
  const hello = await sub.next((m) => m.type === "hello", "hello");
  assert.deepEqual(hello, { type: "hello", environment: "production", seq: 0 });
  const other = subscribe(key, "staging");
  await other.opened;

  await api.post("/v1/prompts/greeter/promote", { version: 1, environment: "production" });
  await api.post("/v1/prompts/greeter/promote", { version: 2, environment: "production" });
  await api.post("/v1/prompts/greeter/rollback", { environment: "production" });
  const third = await sub.next((m) => m.type === "changed" && m.seq === 3, "the rollback");
  assert.deepEqual(third.prompts, ["greeter"]);
  const seqs = sub.messages.filter((m) => m.type === "changed").map((m) => m.seq);
  assert.deepEqual(seqs, [1, 2, 3], "in order, each once");
  assert.ok(!other.messages.some((m) => m.type === "changed"), "another environment's subscriber hears nothing");

  // What a subscriber fetches after hearing of change 3 is at least that new.
  const bundle = await api.get("/v1/bundle?environment=production&min_seq=3");
  assert.equal(bundle.status, 200);
  assert.ok(Number(bundle.headers.get("x-pvct-seq")) >= 3);
  assert.equal(bundle.body.prompts.greeter.version, 1);

  sub.ws.send("ping");
  await sub.next((m) => m.type === "pong", "the pong");
  // A new subscriber is greeted with the last sequence.
  const late = subscribe(key, "production");
  assert.equal((await late.next((m) => m.type === "hello", "hello")).seq, 3);
  for (const s of [sub, other, late]) s.close();
});

test("a long poll is held until the environment changes, then answers the new bundle", async () => {
  const { api } = await newWorkspace(w);
  await promptWithVersions(api, "poller", ["one", "two"]);
  await api.post("/v1/prompts/poller/promote", { version: 1, environment: "staging" });
  const first = await api.get("/v1/bundle?environment=staging");
  const etag = first.headers.get("etag");

  // Nothing changes: 304 once the wait is over.
  const idle = await api.get("/v1/bundle?environment=staging&wait=1", { "if-none-match": etag });
  assert.equal(idle.status, 304);

  const held = api.get("/v1/bundle?environment=staging&wait=20", { "if-none-match": etag });
  await new Promise((r) => setTimeout(r, 300));
  await api.post("/v1/prompts/poller/promote", { version: 2, environment: "staging" });
  const answered = await held;
  assert.equal(answered.status, 200);
  assert.notEqual(answered.headers.get("etag"), etag);
  assert.equal(answered.body.prompts.poller.version, 2);
  assert.equal(answered.headers.get("x-pvct-seq"), "2");

  // A poll on an old ETag answers at once with what is current.
  const behind = await api.get("/v1/bundle?environment=staging&wait=20", { "if-none-match": etag });
  assert.equal(behind.status, 200);
  assert.equal(behind.body.prompts.poller.version, 2);
  assert.equal((await api.get("/v1/bundle?environment=staging&wait=99")).body.error.code, "invalid_query");
});

test("approval activity reaches watchers; the hub keeps its sequence across a restart", async () => {
  const { api, key } = await newWorkspace(w);
  await api.put("/v1/environments/production", { policy: { requires_approval: true } });
  await promptWithVersions(api, "gated", ["one"]);
  const sub = subscribe(key, "production");
  await sub.opened;
  const asked = await api.post("/v1/prompts/gated/promote", { version: 1, environment: "production" });
  assert.equal(asked.status, 202);
  const activity = await sub.next((m) => m.type === "activity", "the approval activity");
  assert.deepEqual(activity, { type: "activity", environment: "production", event: "approval.requested", prompt: "gated" });
  assert.ok(!sub.messages.some((m) => m.type === "changed"), "nothing is served differently yet");

  await api.put("/v1/environments/staging", { policy: {} });
  await api.post("/v1/prompts/gated/promote", { version: 1, environment: "staging" });
  const closed = new Promise((r) => sub.ws.addEventListener("close", r));
  await w.restart();
  await closed;
  const again = subscribe(key, "staging");
  assert.equal((await again.next((m) => m.type === "hello", "hello after the restart")).seq, 1);
  again.close();
});

test("an app asks for only its prompts: a bundle of those, revalidated and long-polled like the whole", async () => {
  const { api } = await newWorkspace(w);
  for (const slug of ["a1", "a2", "a3", "b1"]) {
    await promptWithVersions(api, slug, [`${slug} one`, `${slug} two`]);
    await api.post(`/v1/prompts/${slug}/promote`, { version: 1, environment: "production" });
  }
  await promptWithVersions(api, "draft", ["never deployed"]);
  const some = await api.get("/v1/bundle?environment=production&prompts=a2,a1,draft,a1");
  assert.equal(some.status, 200);
  assert.deepEqual(Object.keys(some.body.prompts), ["a1", "a2"], "only those asked for, and only what is deployed");
  const full = await api.get("/v1/bundle?environment=production");
  assert.deepEqual(some.body.prompts.a1, full.body.prompts.a1, "the same documents as the whole bundle");
  const etag = some.headers.get("etag");
  assert.equal((await api.get("/v1/bundle?environment=production&prompts=a1,a2", { "if-none-match": etag })).status, 304);

  // A change to another prompt leaves the filtered bundle as it was.
  await api.post("/v1/prompts/b1/promote", { version: 2, environment: "production" });
  assert.equal((await api.get("/v1/bundle?environment=production&prompts=a1,a2", { "if-none-match": etag })).status, 304);
  // A long poll on the filtered bundle answers its own prompt's change.
  const held = api.get("/v1/bundle?environment=production&prompts=a1,a2&wait=20", { "if-none-match": etag });
  await new Promise((r) => setTimeout(r, 300));
  const promoted = await api.post("/v1/prompts/a2/promote", { version: 2, environment: "production" });
  const answered = await held;
  assert.equal(answered.status, 200);
  assert.equal(answered.body.prompts.a2.version, 2);
  const after = await api.get(`/v1/bundle?environment=production&prompts=a2&min_seq=${promoted.body.seq}`);
  assert.equal(after.body.prompts.a2.version, 2);
  assert.ok(Number(after.headers.get("x-pvct-seq")) >= promoted.body.seq);
  assert.equal((await api.get("/v1/bundle?environment=production&prompts=Not_A_Slug")).body.error.code, "invalid_query");

  // Served from KV alone when every document is there: with the environment
  // renamed away in D1, the hit still answers (a D1 read would be a 404).
  const id = (await api.get("/v1/me")).body.workspace_id;
  await w.db.prepare("UPDATE environments SET name = 'renamed' WHERE workspace_id = ? AND name = 'production'").bind(id).run();
  const hit = await api.get("/v1/bundle?environment=production&prompts=a1,a2");
  assert.equal(hit.status, 200, JSON.stringify(hit.body));
  assert.deepEqual(Object.keys(hit.body.prompts), ["a1", "a2"]);
});

test("the live channel refuses what is not a subscriber", async () => {
  const { api, key } = await newWorkspace(w);
  const plain = await api.get("/v1/live?environment=production");
  assert.equal(plain.status, 426);
  assert.equal(plain.body.error.code, "upgrade_required");
  const nowhere = subscribe(key, "nowhere");
  await assert.rejects(nowhere.opened);
  const stranger = subscribe(key, "production", ["pvct.v1", `pvct_${"0".repeat(48)}`]);
  await assert.rejects(stranger.opened);
});
