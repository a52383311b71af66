// The approvals page in Chromium against the real worker (./harness.mjs):
// each pending request shows, for every version it asks for, that version's
// latest run of the prompt's current suite (status and pass rate) linked to
// the run in the prompt's Tests tab, or "no test run". A prompt with three
// versions and a one-case suite, client runs posted through the API (v1
// passes, v3 fails, v2 is never run), a promotion of v1 into production
// and a split of v1/v2/v3 in staging, both waiting for approval.
// Screenshots for review go to target/console-screenshots/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { client } from "../e2e/harness.mjs";
import { startConsole } from "./harness.mjs";

let app;
let api;
let passedRun;
let failedRun;
let promotion;
let split;

before(async () => {
  app = await startConsole();
  api = client(app.url, app.adminKey);
  assert.equal((await api.post("/v1/prompts", { slug: "support", name: "Support answers", kind: "text" })).status, 201);
  for (const n of [1, 2, 3]) {
    const v = await api.post("/v1/prompts/support/versions", {
      content: { text: `Answer briefly (${n}).` },
      parent_version: n === 1 ? null : n - 1,
      message: `v${n}`,
    });
    assert.equal(v.status, 201, JSON.stringify(v.body));
  }
  const suite = await api.put("/v1/prompts/support/tests", { cases: [{ name: "a", assert: [{ type: "contains", value: "ok" }] }] });
  assert.equal(suite.status, 200, JSON.stringify(suite.body));
  const ok = await api.post("/v1/prompts/support/versions/1/test-runs", { outputs: [{ case: "a", output: "ok" }] });
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  assert.equal(ok.body.status, "passed");
  passedRun = ok.body.id;
  const bad = await api.post("/v1/prompts/support/versions/3/test-runs", { outputs: [{ case: "a", output: "no" }] });
  assert.equal(bad.status, 201, JSON.stringify(bad.body));
  assert.equal(bad.body.status, "failed");
  failedRun = bad.body.id;

  // A split needs a deployment: v1 goes to staging before staging asks for approval.
  assert.equal((await api.post("/v1/prompts/support/promote", { version: 1, environment: "staging" })).status, 201);
  for (const env of ["production", "staging"])
    assert.equal((await api.put(`/v1/environments/${env}`, { policy: { requires_approval: true } })).status, 200);
  const promoted = await api.post("/v1/prompts/support/promote", { version: 1, environment: "production" });
  assert.equal(promoted.status, 202, JSON.stringify(promoted.body));
  promotion = promoted.body.approval_id;
  const asked = await api.put("/v1/prompts/support/experiments/staging", {
    variants: [
      { version: 1, weight: 50 },
      { version: 2, weight: 30 },
      { version: 3, weight: 20 },
    ],
  });
  assert.equal(asked.status, 202, JSON.stringify(asked.body));
  split = asked.body.approval_id;
});

after(async () => {
  await app?.stop();
});

const isFocused = (locator) => locator.evaluate((el) => el === document.activeElement);

test("approvals show each asked version's latest test run, linked to the run in the Tests tab", async () => {
  const { page, errors } = await app.signedIn();
  await page.goto(app.url + "/approvals");

  // The promotion of v1: passed at 100 %, a link to its run.
  const card = page.getByTestId(`approval-${promotion}`);
  const tests = card.getByTestId("approval-tests");
  await tests.waitFor();
  assert.match(await tests.innerText(), /latest test run:\s*v1 tests\s+passed\s+100(\.0)?\s?%/);
  const link = tests.getByRole("link", { name: /^v1 tests passed 100(\.0)?\s?%$/ });
  assert.equal(await link.getAttribute("href"), `/prompts/support/tests?run=${encodeURIComponent(passedRun)}`);

  // The split: v1 passed, v2 never run (no link), v3 failed at 0 %.
  const splitTests = page.getByTestId(`approval-${split}`).getByTestId("approval-tests");
  assert.match(await splitTests.getByTestId("approval-test-v1").innerText(), /v1 tests\s+passed\s+100/);
  const never = splitTests.getByTestId("approval-test-v2");
  assert.match(await never.innerText(), /^v2\s+no test run$/);
  assert.equal(await never.getByRole("link").count(), 0);
  const failed = splitTests.getByRole("link", { name: /^v3 tests failed 0(\.0)?\s?%$/ });
  assert.equal(await failed.getAttribute("href"), `/prompts/support/tests?run=${encodeURIComponent(failedRun)}`);
  await app.screenshot(page, "approvals-test-runs");

  // The link is reached by keyboard and opens the run in the prompt's Tests tab.
  await link.focus();
  assert.ok(await isFocused(link));
  await page.keyboard.press("Enter");
  await page.waitForURL(new RegExp(`/prompts/support/tests\\?run=${passedRun}$`));
  const run = page.getByTestId("test-run");
  await run.getByRole("heading", { name: /of v1/ }).waitFor();
  assert.match(await run.getByRole("heading").first().innerText(), /passed/);
  await page.getByRole("status").filter({ hasText: "1 passed · 0 failed · 0 pending" }).waitFor();

  // Back on the approvals page, the failed run of v3 opens with a click.
  await page.goBack();
  await failed.click();
  await page.waitForURL(new RegExp(`/prompts/support/tests\\?run=${failedRun}$`));
  await page.getByTestId("test-run").getByRole("heading", { name: /of v3/ }).waitFor();
  assert.deepEqual(errors, []);
  await page.close();
});

test("a request for a version never run shows \"no test run\"", async () => {
  // A newer request for production supersedes the promotion of v1: it asks for v2, never run.
  const asked = await api.post("/v1/prompts/support/promote", { version: 2, environment: "production" });
  assert.equal(asked.status, 202, JSON.stringify(asked.body));
  const { page, errors } = await app.signedIn();
  await page.goto(app.url + "/approvals");
  const tests = page.getByTestId(`approval-${asked.body.approval_id}`).getByTestId("approval-tests");
  await tests.waitFor();
  assert.match(await tests.innerText(), /latest test run:\s*v2\s+no test run/);
  assert.equal(await tests.getByRole("link").count(), 0);
  // The superseded promotion left the queue.
  assert.equal(await page.getByTestId(`approval-${promotion}`).count(), 0);
  assert.deepEqual(errors, []);
  await page.close();
});
