// Templates end to end: validation with positions, variables, snippet
// includes pinned at commit, rendering (strict and lenient, chat history),
// dependents, and the diff of pins and variables.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, newWorkspace, counts } from "./harness.mjs";

let w;
before(async () => (w = await startWorker()));
after(async () => w?.stop());

async function commit(api, slug, content, parent = undefined, extra = {}) {
  const head = (await api.get(`/v1/prompts/${slug}`)).body.head;
  const parent_version = parent === undefined ? (head ? head.number : null) : parent;
  return api.post(`/v1/prompts/${slug}/versions`, { content, parent_version, ...extra });
}
const text = (t) => ({ text: t });

test("a template that does not parse is refused with its field, line and column", async () => {
  const { api } = await newWorkspace(w);
  await api.post("/v1/prompts", { slug: "chat", name: "c", kind: "chat" });
  const before = await counts(w.db);
  const res = await commit(api, "chat", {
    messages: [{ role: "system", content: "ok" }, { role: "user", content: "Hi\n  {{ not valid }}" }],
  });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, "template_syntax");
  assert.deepEqual(res.body.error.details, { line: 2, column: 3, field: "content.messages[1].content" });
  assert.deepEqual(await counts(w.db), before);
});

test("snippets are pinned at commit and expanded in resolve; a version renders the same forever", async () => {
  const { api } = await newWorkspace(w);
  await api.post("/v1/prompts", { slug: "tone", name: "Tone", kind: "snippet" });
  await commit(api, "tone", text("Be {{style}}."));
  await api.post("/v1/prompts/tone/promote", { version: 1, environment: "production" });
  await api.post("/v1/prompts", { slug: "bot", name: "Bot", kind: "text" });
  const v1 = await commit(api, "bot", text("{{> tone}} Answer: {{question}}"));
  assert.equal(v1.status, 201);
  assert.deepEqual(v1.body.version.snippet_pins, { tone: 1 });
  assert.deepEqual(v1.body.version.variables, ["question", "style"]);
  assert.equal(v1.body.version.content.text, "{{> tone}} Answer: {{question}}");
  assert.equal(v1.body.version.resolved_content.text, "Be {{style}}. Answer: {{question}}");

  await api.post("/v1/prompts/bot/promote", { version: 1, environment: "production" });
  const live = await api.get("/v1/resolve/bot?environment=production");
  assert.equal(live.body.content.text, "Be {{style}}. Answer: {{question}}");

  // The snippet moves on; the pinned version does not.
  await commit(api, "tone", text("Be {{style}} and brief."));
  await api.post("/v1/prompts/tone/promote", { version: 2, environment: "production" });
  const rendered = await api.post("/v1/prompts/bot/render", { environment: "production", variables: { style: "kind", question: "why?" } });
  assert.equal(rendered.status, 200);
  assert.equal(rendered.body.rendered.text, "Be kind. Answer: why?");
  assert.equal(rendered.body.version, 1);

  const deps = await api.get("/v1/prompts/tone/dependents");
  assert.equal(deps.status, 200);
  assert.equal(deps.body.production_version, 2);
  assert.deepEqual(deps.body.items, [{ prompt: "bot", head_version: 1, pinned_version: 1, behind_production: true }]);

  // Re-committing the same text re-pins to the snippet's production version.
  const v2 = await commit(api, "bot", text("{{> tone}} Answer: {{question}}"));
  assert.equal(v2.status, 201, "a new pin is a new version");
  assert.deepEqual(v2.body.version.snippet_pins, { tone: 2 });
  const same = await commit(api, "bot", text("{{> tone}} Answer: {{question}}"));
  assert.equal(same.status, 200, "and then it is identical again");
  const diff = await api.get("/v1/prompts/bot/diff?from=1&to=2");
  const pins = diff.body.fields.find((f) => f.field === "snippet_pins");
  assert.ok(pins, JSON.stringify(diff.body.fields.map((f) => f.field)));
  assert.deepEqual(pins.ops.filter((o) => o.op !== "equal").map((o) => [o.op, o.text]), [["delete", "tone@1"], ["insert", "tone@2"]]);
  assert.equal((await api.get("/v1/prompts/tone/dependents")).body.items[0].behind_production, false);
  assert.equal((await api.get("/v1/prompts/bot/dependents")).status, 400, "only snippets have dependents");
});

test("includes: explicit versions, unknown snippets, non-snippets, cycles and depth", async () => {
  const { api } = await newWorkspace(w);
  await api.post("/v1/prompts", { slug: "legal", name: "Legal", kind: "snippet" });
  await commit(api, "legal", text("(c) {{year}}"));
  await commit(api, "legal", text("(c) {{year}} Acme"));
  await api.post("/v1/prompts", { slug: "p", name: "P", kind: "text" });
  const pinned = await commit(api, "p", text("x {{> legal@1}}"));
  assert.equal(pinned.status, 201);
  assert.equal(pinned.body.version.resolved_content.text, "x (c) {{year}}");

  const before = await counts(w.db);
  const refusals = [
    ["x {{> legal}}", "unknown_include", /no production version/],
    ["x {{> nope}}", "unknown_include", /not a snippet/],
    ["x {{> p}}", "unknown_include", /not a snippet/],
    ["x {{> legal@9}}", "unknown_include", /no version 9/],
    ["x {{> legal@1}} {{> legal@2}}", "invalid_field", /two different versions/],
  ];
  for (const [src, code, message] of refusals) {
    const res = await commit(api, "p", text(src));
    assert.equal(res.status, 400, src);
    assert.equal(res.body.error.code, code, src);
    assert.match(res.body.error.message, message, src);
  }
  assert.deepEqual(await counts(w.db), before);

  // a includes b@1; a new b that includes a would be a cycle.
  await api.post("/v1/prompts", { slug: "b", name: "b", kind: "snippet" });
  await commit(api, "b", text("bee"));
  await api.post("/v1/prompts", { slug: "a", name: "a", kind: "snippet" });
  assert.equal((await commit(api, "a", text("A {{> b@1}}"))).status, 201);
  const cycle = await commit(api, "b", text("B {{> a@1}}"));
  assert.equal(cycle.status, 400);
  assert.equal(cycle.body.error.code, "include_cycle");
  assert.equal((await commit(api, "a", text("A {{> a@1}}"))).body.error.code, "include_cycle");

  // A chain s0 <- s1 <- ... nests one deeper each time; depth 9 is refused.
  let previous = null;
  for (let i = 0; i <= 9; i++) {
    await api.post("/v1/prompts", { slug: `s${i}`, name: `s${i}`, kind: "snippet" });
    const res = await commit(api, `s${i}`, text(previous ? `${i} {{> ${previous}@1}}` : "base"));
    if (i <= 8) assert.equal(res.status, 201, `s${i}: ${JSON.stringify(res.body)}`);
    else {
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, "include_too_deep");
    }
    previous = `s${i}`;
  }
});

test("render: strict by default, naming every missing and unknown variable; lenient ignores unknown", async () => {
  const { api } = await newWorkspace(w);
  await api.post("/v1/prompts", { slug: "r", name: "R", kind: "text" });
  await commit(api, "r", text("Dear {{name}}, about {{topic}}: {{tone}}"), null, {
    variables: [{ name: "tone", required: false, default: "thanks" }, { name: "extra", required: false, description: "spare" }],
  });
  const render = (body) => api.post("/v1/prompts/r/render", { version: 1, ...body });
  const ok = await render({ variables: { name: "Ann", topic: "refunds", extra: 1 } });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.rendered.text, "Dear Ann, about refunds: thanks");
  const missing = await render({ variables: { zzz: 1 } });
  assert.equal(missing.status, 400);
  assert.equal(missing.body.error.code, "missing_variables");
  assert.deepEqual(missing.body.error.details, { missing: ["name", "topic"], unknown: ["zzz"] });
  const unknown = await render({ variables: { name: "A", topic: "B", zzz: 1 } });
  assert.equal(unknown.body.error.code, "unknown_variables");
  assert.deepEqual(unknown.body.error.details.unknown, ["zzz"]);
  const lenient = await render({ variables: { name: "A", topic: "B", zzz: 1 }, strict: false });
  assert.equal(lenient.body.rendered.text, "Dear A, about B: thanks");
  assert.equal((await api.post("/v1/prompts/r/render", { variables: {} })).status, 400, "environment or version");
  assert.equal((await render({ version: 7, variables: {} })).status, 404);
  const notLive = await api.post("/v1/prompts/r/render", { environment: "production", variables: {} });
  assert.equal(notLive.body.error.code, "not_deployed");
});

test("chat prompts render with the caller's history in the placeholder, routed like resolve", async () => {
  const { api } = await newWorkspace(w);
  await api.post("/v1/prompts", { slug: "support", name: "S", kind: "chat" });
  const messages = (greeting) => [
    { role: "system", content: `${greeting} You help {{customer}}.` },
    { role: "placeholder", name: "history" },
    { role: "user", content: "{{question}}" },
  ];
  await commit(api, "support", { messages: messages("Hi.") });
  await commit(api, "support", { messages: messages("Hello.") });
  await api.post("/v1/prompts/support/promote", { version: 1, environment: "production" });
  await api.put("/v1/prompts/support/experiments/production", { variants: [{ version: 1, weight: 50 }, { version: 2, weight: 50 }] });
  const history = [{ role: "user", content: "my order {{id}}" }, { role: "assistant", content: "Which one?" }];
  for (const user of ["u1", "u2", "u3", "u4", "u5", "u6"]) {
    const resolved = await api.get(`/v1/resolve/support?environment=production&user_key=${user}`);
    const res = await api.post("/v1/prompts/support/render", {
      environment: "production", user_key: user, history, variables: { customer: "Acme", question: "Refund?" },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.version, resolved.body.version, "render routes exactly like resolve");
    assert.equal(res.body.assignment, "hashed");
    const greeting = resolved.body.version === 1 ? "Hi." : "Hello.";
    assert.deepEqual(res.body.rendered.messages, [
      { role: "system", content: `${greeting} You help Acme.` },
      { role: "user", content: "my order {{id}}" },
      { role: "assistant", content: "Which one?" },
      { role: "user", content: "Refund?" },
    ]);
  }
  const badHistory = await api.post("/v1/prompts/support/render", { version: 1, history: [{ role: "robot", content: "x" }], variables: { customer: "A", question: "B" } });
  assert.equal(badHistory.status, 400);
});

test("promoting a version that needs other variables than the live one is refused unless accepted", async () => {
  const { api } = await newWorkspace(w);
  await api.post("/v1/prompts", { slug: "v", name: "V", kind: "text" });
  await commit(api, "v", text("Hi {{name}}"));
  await commit(api, "v", text("Hi {{name}} from {{city}}"));
  await commit(api, "v", text("Hi {{name}} from {{city}}!"), undefined, { variables: [{ name: "city", required: false, default: "here" }] });
  await commit(api, "v", text("Hello {{name}}"));
  assert.equal((await api.post("/v1/prompts/v/promote", { version: 1, environment: "production" })).status, 201);
  const before = await counts(w.db);
  const refused = await api.post("/v1/prompts/v/promote", { version: 2, environment: "production" });
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error.code, "variables_changed");
  assert.deepEqual(refused.body.error.details.added, ["city"]);
  assert.deepEqual(refused.body.error.details.removed, []);
  assert.deepEqual(await counts(w.db), before, "nothing deployed");
  // An optional variable with a default is no burden on callers.
  assert.equal((await api.post("/v1/prompts/v/promote", { version: 3, environment: "production" })).status, 201);
  assert.equal((await api.post("/v1/prompts/v/promote", { version: 4, environment: "production" })).status, 201);
  assert.equal((await api.post("/v1/prompts/v/promote", { version: 2, environment: "production", accept_variable_changes: true })).status, 201);
  assert.equal((await api.get("/v1/resolve/v?environment=production")).body.version, 2);
});
