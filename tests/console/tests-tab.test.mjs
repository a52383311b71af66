// The console's Tests tab (issue 21) in Chromium against the real worker
// (./harness.mjs): a prompt with two versions and a suite made through the
// API; a user adds a case in the tab (fields from the version's declared
// variables) and saves a new revision, sees the API's 400 with its field,
// finds two client runs in the runs list with their status, opens one case
// by case, compares the two (the regression first, its output word diff as
// the API computed it), and is told plainly that "Run on provider" needs a
// provider; with one (a local stub of an OpenAI-compatible endpoint), the
// started run shows its progress until it finishes. The tab and its main
// buttons are reached and worked by keyboard.
// Screenshots for review go to target/console-screenshots/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { client } from "../e2e/harness.mjs";
import { startConsole } from "./harness.mjs";

let app;
let api;

before(async () => {
  app = await startConsole();
  api = client(app.url, app.adminKey);
  assert.equal((await api.post("/v1/prompts", { slug: "support", name: "Support answers", kind: "text" })).status, 201);
  const v1 = await api.post("/v1/prompts/support/versions", {
    content: { text: "Answer {{question}} briefly." },
    parent_version: null,
    message: "v1",
    variables: [{ name: "question", required: true, description: "what the customer asked" }],
  });
  assert.equal(v1.status, 201, JSON.stringify(v1.body));
  const v2 = await api.post("/v1/prompts/support/versions", {
    content: { text: "Answer {{question}} in detail, {{tone}}." },
    parent_version: 1,
    message: "v2",
    variables: [
      { name: "question", required: true, description: "what the customer asked" },
      { name: "tone", required: false, default: "kindly" },
    ],
  });
  assert.equal(v2.status, 201, JSON.stringify(v2.body));
  const suite = await api.put("/v1/prompts/support/tests", {
    cases: [
      { name: "refund", variables: { question: "Can I get a refund?" }, assert: [{ type: "contains", value: "refund" }] },
      {
        name: "hours",
        variables: { question: "When are you open?" },
        reference: "We are open nine to five",
        assert: [{ type: "contains", value: "nine" }, { type: "similarity", threshold: 0.3 }],
      },
    ],
  });
  assert.equal(suite.status, 200, JSON.stringify(suite.body));
  assert.equal(suite.body.revision, 1);
});

after(async () => {
  await app?.stop();
});

const isFocused = (locator) => locator.evaluate((el) => el === document.activeElement);

/** Presses Tab (Shift+Tab with `back`) until `locator` has the focus, as a keyboard user would reach it. */
async function tabTo(page, locator, { back = false, max = 120 } = {}) {
  for (let i = 0; i < max; i++) {
    if (await isFocused(locator)) return;
    await page.keyboard.press(back ? "Shift+Tab" : "Tab");
  }
  assert.fail(`${locator} is not reachable with ${back ? "Shift+Tab" : "Tab"}`);
}

test("Tests tab: add a case and save a revision, see client runs and their status, compare them", async () => {
  const { page, errors } = await app.signedIn();
  await page.goto(app.url + "/prompts/support/history");

  // The tab is reached and opened by keyboard.
  const tab = page.getByRole("navigation", { name: "Prompt" }).getByRole("link", { name: "Tests" });
  await tabTo(page, tab);
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/prompts\/support\/tests$/);
  const cases = page.getByRole("table", { name: "Cases" });
  await cases.getByTestId("case-refund").waitFor();
  await cases.getByTestId("case-hours").waitFor();
  assert.match(await page.getByText(/^Revision 1/).textContent(), /Revision 1 by /);

  // Add a case, by keyboard: the name field takes the focus.
  const addCase = page.getByRole("button", { name: "Add case" });
  await tabTo(page, addCase);
  await page.keyboard.press("Enter");
  const form = page.getByTestId("case-form");
  await form.waitFor();
  assert.ok(await isFocused(page.getByLabel("Case name")), "the new case's name has the focus");
  await page.keyboard.type("greeting");
  // The newest version's declared variables are fields: question and tone (its default shown).
  assert.equal(await form.getByLabel("variable question").count(), 1);
  assert.equal(await form.getByLabel("variable tone").getAttribute("placeholder"), "default: kindly");
  // What a strict render of the version would refuse is said before any run.
  const warning = form.getByTestId("variables-warning");
  assert.match(await warning.textContent(), /question is required: rendering v2 for this case fails/);
  await form.getByLabel("variable question").fill("Hello?");
  await warning.waitFor({ state: "detached" });
  await form.getByLabel("Other variables (JSON)").fill('{"count": 3}');
  assert.match(await warning.textContent(), /v2 does not take count/);
  await form.getByLabel("assertion 1 type").selectOption("not_contains");
  await form.getByLabel("assertion 1 text").fill("sorry");
  await form.getByRole("button", { name: "Add assertion" }).click();
  await form.getByLabel("assertion 2 type").selectOption("max_latency_ms");
  await form.getByLabel("assertion 2 milliseconds").fill("5000");
  await app.screenshot(page, "tests-cases");
  // v1 declares only `question`: the form follows the picked version.
  await page.getByLabel("variables of version").selectOption("1");
  assert.equal(await form.getByLabel("variable tone").count(), 0);
  assert.equal(await form.getByLabel("variable question").inputValue(), "Hello?");

  // Save, by keyboard: the API has revision 2 with the new case.
  const save = page.getByRole("button", { name: "Save suite" });
  await tabTo(page, save);
  await page.keyboard.press("Enter");
  await page.getByRole("status").filter({ hasText: "Saved revision 2 of the suite (3 cases)." }).waitFor();
  const stored = (await api.get("/v1/prompts/support/tests")).body;
  assert.equal(stored.revision, 2);
  const greeting = stored.cases.find((c) => c.name === "greeting");
  assert.deepEqual(greeting.variables, { question: "Hello?", count: 3 });
  assert.deepEqual(greeting.assert, [
    { type: "not_contains", value: "sorry", case_sensitive: false },
    { type: "max_latency_ms", value: 5000 },
  ]);

  // A pattern the API refuses: its 400, with the field it names.
  await form.getByRole("button", { name: "Add assertion" }).click();
  await form.getByLabel("assertion 3 type").selectOption("regex");
  await form.getByLabel("assertion 3 pattern").fill("(unclosed");
  await save.click();
  const refusal = page.getByTestId("save-error");
  await refusal.waitFor();
  assert.match(await refusal.getByRole("alert").textContent(), /invalid_field/);
  assert.equal(await refusal.locator("p.muted code").textContent(), "pattern");
  assert.equal((await api.get("/v1/prompts/support/tests")).body.revision, 2, "the refusal wrote nothing");
  // Without it the suite is revision 2 again: nothing to save.
  await form.getByRole("button", { name: "remove assertion 3" }).click();
  await save.click();
  await page.getByRole("status").filter({ hasText: "Nothing to save: revision 2" }).waitFor();
  await form.getByRole("button", { name: "Done" }).click();
  await form.waitFor({ state: "detached" });

  // Two client runs through the API: v1 passes every case, v2 regresses on refund.
  const runA = await api.post("/v1/prompts/support/versions/1/test-runs", {
    outputs: [
      { case: "refund", output: "Yes, a refund is possible within thirty days.", latency_ms: 800 },
      { case: "hours", output: "We are open nine to five on weekdays.", latency_ms: 700 },
      { case: "greeting", output: "Hello! How can I help?", latency_ms: 1200 },
    ],
  });
  assert.equal(runA.status, 201, JSON.stringify(runA.body));
  assert.equal(runA.body.status, "passed");
  const runB = await api.post("/v1/prompts/support/versions/2/test-runs", {
    outputs: [
      { case: "refund", output: "Sorry, we cannot help with that today.", latency_ms: 900 },
      { case: "hours", output: "We are open nine to five on weekdays.", latency_ms: 650 },
      { case: "greeting", output: "Hello there! How can I help you today?", latency_ms: 900 },
    ],
  });
  assert.equal(runB.status, 201, JSON.stringify(runB.body));
  assert.equal(runB.body.status, "failed");
  const [a, b] = [runA.body.id, runB.body.id];

  // The runs list, reached by keyboard: each run with its version, status and pass rate.
  const runsView = page.getByRole("group", { name: "Tests" }).getByRole("button", { name: "Runs" });
  await tabTo(page, runsView);
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/prompts\/support\/tests\?view=runs$/);
  const rowA = page.getByTestId(`run-${a}`);
  const rowB = page.getByTestId(`run-${b}`);
  await rowB.waitFor();
  const cells = (row) => row.locator("td").allTextContents();
  assert.deepEqual((await cells(rowA)).slice(2, 5), ["v1", "passed", "100.0% (3/3)"]);
  assert.deepEqual((await cells(rowB)).slice(2, 5), ["v2", "failed", "66.7% (2/3)"]);
  assert.ok(
    (await page.getByRole("table", { name: "Test runs" }).locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.testid))).indexOf(`run-${b}`) === 0,
    "newest first",
  );

  // Open run B by keyboard: case by case, the failed one with its failed assertion and score.
  const open = rowB.getByRole("link", { name: /^Open run / });
  await tabTo(page, open);
  await page.keyboard.press("Enter");
  await page.waitForURL(new RegExp(`\\?run=${b}$`));
  const detail = page.getByTestId("test-run");
  await detail.waitFor();
  assert.ok(await isFocused(detail.getByRole("heading", { level: 2 })), "the opened run's heading has the focus");
  assert.match(await detail.getByTestId("progress").textContent(), /2 passed · 1 failed · 0 pending · pass rate 66\.7% \(needs 100\.0%\)/);
  const refund = detail.getByTestId("result-refund");
  assert.equal(await refund.getAttribute("class"), "case-failed");
  assert.match(await refund.textContent(), /failed/);
  assert.equal(await refund.locator(".output").textContent(), "Sorry, we cannot help with that today.");
  assert.deepEqual(await refund.locator(".failed-assertions li").allTextContents(), ["contains score 0.00"]);
  assert.match(await detail.getByTestId("result-hours").textContent(), /passed.*all 2 passed/);
  await app.screenshot(page, "tests-run");

  // Compare: pick both by keyboard, back up from the run (Space ticks, Enter compares); A is the older run.
  await tabTo(page, rowA.getByRole("checkbox"), { back: true });
  await page.keyboard.press("Space");
  await tabTo(page, rowB.getByRole("checkbox"), { back: true });
  await page.keyboard.press("Space");
  const compareButton = page.getByRole("button", { name: "Compare the two picked runs" });
  await tabTo(page, compareButton, { back: true });
  assert.equal(await compareButton.isDisabled(), false);
  await page.keyboard.press("Enter");
  await page.waitForURL(new RegExp(`\\?a=${a}&b=${b}$`));
  const compare = page.getByTestId("compare");
  await compare.waitFor();
  const apiCompare = (await api.get(`/v1/prompts/support/test-runs/compare?a=${a}&b=${b}`)).body;
  assert.equal(apiCompare.cases[0].case, "refund");
  assert.equal(apiCompare.cases[0].change, "regressed");
  // The regression comes first, highlighted, with its output diff.
  const changes = compare.locator(".case-change");
  assert.equal(await changes.first().getAttribute("data-change"), "regressed");
  assert.equal(await changes.first().getAttribute("data-testid"), "change-refund");
  const regressed = compare.getByTestId("change-refund");
  assert.match(await regressed.textContent(), /regressed.*passed in A → failed in B/);
  assert.equal(await regressed.evaluate((e) => getComputedStyle(e).backgroundColor), "rgb(255, 248, 247)", "the regression is highlighted");
  assert.match(await compare.getByTestId("compare-counts").textContent(), /1 regressed/);
  const words = (texts) => texts.join(" ").split(/\s+/).filter(Boolean);
  const apiOps = (op) => words(apiCompare.cases[0].diff.filter((o) => o.op === op).map((o) => o.text));
  const inserted = regressed.getByLabel("output in B · v2").locator("ins");
  await inserted.first().waitFor();
  assert.deepEqual(words(await inserted.allTextContents()), apiOps("insert"));
  assert.deepEqual(words(await regressed.getByLabel("output in A · v1").locator("del").allTextContents()), apiOps("delete"));
  assert.equal(await inserted.first().evaluate((e) => getComputedStyle(e).backgroundColor), "rgb(218, 251, 225)", "inserted words are highlighted");
  // greeting's output changed but it still passes; hours is unchanged.
  assert.equal(await compare.getByTestId("change-greeting").getAttribute("data-change"), "output_changed");
  assert.equal(await compare.getByTestId("change-hours").count(), 0);
  assert.match(await compare.locator("details summary").textContent(), /1 unchanged case/);
  await app.screenshot(page, "tests-compare");

  // Both runs are finished: opening one again asks the API nothing.
  const asked = [];
  page.on("request", (r) => r.url().includes("/test-runs/") && asked.push(r.url()));
  await page.getByRole("button", { name: "⇄ swap" }).click();
  await page.waitForURL(new RegExp(`\\?a=${b}&b=${a}$`));
  await compare.getByTestId("change-refund").filter({ hasText: "improved" }).waitFor();
  await page.goBack();
  await compare.getByTestId("change-refund").filter({ hasText: "regressed" }).waitFor();
  assert.equal(asked.filter((u) => u.includes(`a=${a}&b=${b}`)).length, 0, "a finished comparison is kept");
  assert.deepEqual(errors, []);
  await page.close();
});

test('"Run on provider" without a provider says to set one in settings', async () => {
  const runsOfV2 = async () => (await api.get("/v1/prompts/support/test-runs?version=2")).body.items.length;
  const before = await runsOfV2();
  const { page, errors } = await app.signedIn();
  await page.goto(app.url + "/prompts/support/tests?view=runs");
  await page.getByLabel("version to test").selectOption("2");
  const run = page.getByRole("button", { name: "Run on provider" });
  await tabTo(page, run);
  await page.keyboard.press("Enter");
  const refusal = page.getByTestId("provider-not-configured");
  await refusal.waitFor();
  assert.equal(await refusal.getAttribute("role"), "alert");
  assert.match(await refusal.textContent(), /set a provider in settings/);
  assert.match(await refusal.textContent(), /provider_not_configured/);
  // Nothing started.
  assert.equal(await runsOfV2(), before);
  await app.screenshot(page, "tests-no-provider");
  assert.deepEqual(errors, []);
  await page.close();
});

test("Run on provider: the run shows its progress while it runs, then its outcome", async () => {
  // The stub "model" holds every call until the test lets them through, so
  // the run is seen running first.
  const held = [];
  let open = false;
  const llm = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const answer = () => {
        res.writeHead(200, { "content-type": "application/json" });
        const content = "Yes, a refund is possible; we are open nine to five.";
        res.end(JSON.stringify({ choices: [{ message: { role: "assistant", content } }], usage: { prompt_tokens: 50, completion_tokens: 12 } }));
      };
      if (open) answer();
      else held.push(answer);
    });
  });
  await new Promise((r) => llm.listen(0, "127.0.0.1", r));
  const provider = { url: `http://127.0.0.1:${llm.address().port}/v1/chat/completions`, model: "house-model" };
  assert.equal((await api.put("/v1/settings", { provider })).status, 200);
  try {
    const { page, errors } = await app.signedIn();
    await page.goto(app.url + "/prompts/support/tests?view=runs");
    await page.getByLabel("version to test").selectOption("1");
    await page.getByRole("button", { name: "Run on provider" }).click();
    await page.waitForURL(/\?run=/);
    const id = new URL(page.url()).searchParams.get("run");
    const detail = page.getByTestId("test-run");
    await detail.waitFor();
    assert.match(await detail.getByRole("heading", { level: 2 }).textContent(), /of v1\s*running/);
    await detail.getByTestId("progress").filter({ hasText: "0 passed · 0 failed · 3 pending" }).waitFor();
    await page.getByTestId(`run-${id}`).locator(".badge.status-running").waitFor();
    // Let the provider answer: the page, asking again, shows the outcome.
    open = true;
    held.splice(0).forEach((answer) => answer());
    await detail.getByRole("heading", { level: 2 }).locator(".badge:not(.status-running)").waitFor({ timeout: 60_000 });
    const run = (await api.get(`/v1/prompts/support/test-runs/${id}`)).body;
    assert.notEqual(run.status, "running");
    assert.equal(run.mode, "provider");
    await detail.getByTestId("progress").filter({ hasText: `${run.passed} passed · ${run.failed} failed · 0 pending` }).waitFor();
    assert.match(await detail.getByTestId("result-refund").textContent(), /Yes, a refund is possible/);
    // The runs list follows too.
    await page.getByTestId(`run-${id}`).locator(`.badge.status-${run.status}`).waitFor();
    await app.screenshot(page, "tests-provider-run");
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    await api.put("/v1/settings", { provider: null });
    llm.close();
  }
});
