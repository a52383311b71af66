// The console shows what users actually get (issue 23), looked at as a person
// would: a prompt with a running 80/20 split in production and ~1,000
// executions per environment sent through POST /v1/executions.
// * The split and its weights are on every live indicator (prompt list,
//   badges, history, deploy tab, approvals) and link to the experiment.
// * Rollback says what it would do before it is clicked; promote while a
//   split runs needs an explicit "end the split" and sends end_experiment.
// * A split needs two versions; in an approval environment it waits like a
//   pending promotion; stale and superseded requests read right.
// * Metrics: axis labels inside the chart, rates as rates, one window drawn
//   as bars, legends filled, the verdict in words with units.
// Screenshots for review go to target/console-screenshots/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { client, metricsWhen, promptWithVersions, versionIds } from "../e2e/harness.mjs";
import { startConsole } from "./harness.mjs";

let app;
let api;

/** A seeded PRNG, so the data (and so the verdict) is the same every run. */
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (mean, sd) => mean + sd * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return { next, normal };
}

// How each version behaves: v2 is faster, cheaper, scores higher.
const PROFILE = {
  1: { latency: [720, 90], cost: 0.0021, score: [0.7, 0.1], errors: 0.02 },
  2: { latency: [530, 70], cost: 0.0015, score: [0.78, 0.1], errors: 0.01 },
};

/** `n` executions in `env`, version v with probability share[v]. */
function executions(env, n, share, ids, seed) {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const version = r.next() < share[1] ? 1 : 2;
    const p = PROFILE[version];
    const failed = r.next() < p.errors;
    return {
      id: `${env}-${i}`,
      prompt_version_id: ids[version],
      environment: env,
      latency_ms: Math.max(50, Math.round(r.normal(...p.latency) * 10) / 10),
      tokens_in: 420,
      tokens_out: 180,
      cost_usd: Number((p.cost * (0.8 + 0.4 * r.next())).toFixed(6)),
      score: Math.min(1, Math.max(0, Number(r.normal(...p.score).toFixed(3)))),
      ...(failed ? { error: "upstream timeout" } : {}),
    };
  });
}

before(async () => {
  app = await startConsole();
  api = client(app.url, app.adminKey);
  const ok = (res, what) => assert.ok(res.status < 300, `${what}: ${res.status} ${JSON.stringify(res.body)}`);

  // checkout: production v1 with an 80/20 split against v2; dev on v2; staging on v1.
  await promptWithVersions(api, "checkout", ["Confirm the order of {{name}}.", "Confirm {{name}}'s order in one line."]);
  for (const env of ["dev", "staging", "production"]) ok(await api.post("/v1/prompts/checkout/promote", { version: 1, environment: env }), `promote ${env}`);
  ok(await api.post("/v1/prompts/checkout/promote", { version: 2, environment: "dev" }), "promote v2 dev");
  ok(
    await api.put("/v1/prompts/checkout/experiments/production", { name: "shorter checkout", variants: [{ version: 1, weight: 80 }, { version: 2, weight: 20 }] }),
    "split",
  );

  // ~1,000 executions per environment, as the split and deployments route them.
  const ids = await versionIds(api, "checkout");
  const shares = { production: { 1: 0.8 }, staging: { 1: 1 }, dev: { 1: 0 } };
  let seed = 23;
  for (const [env, share] of Object.entries(shares)) {
    const sent = await api.post("/v1/executions", { executions: executions(env, 1000, share, ids, seed++) });
    assert.equal(sent.status, 202);
    assert.equal(sent.body.accepted, 1000, JSON.stringify(sent.body.rejected?.slice(0, 3)));
  }
  for (const env of Object.keys(shares)) await metricsWhen(api, "checkout", (items) => items.reduce((n, i) => n + i.metrics.calls, 0) === 1000, env);
});

after(async () => {
  await app?.stop();
});

/** Every <text> of each chart's SVG, with whether its box lies inside the SVG's. */
const chartLabels = (page) =>
  page.locator(".chart svg").evaluateAll((svgs) =>
    svgs.map((svg) => {
      const b = svg.getBoundingClientRect();
      const id = svg.closest("[data-testid]").dataset.testid;
      return [...svg.querySelectorAll("text")].map((t) => {
        const r = t.getBoundingClientRect();
        return {
          chart: id,
          text: t.textContent,
          cls: t.getAttribute("class"),
          left: r.left,
          right: r.right,
          inside: r.width > 0 && r.left >= b.left - 0.5 && r.right <= b.right + 0.5 && r.top >= b.top - 0.5 && r.bottom <= b.bottom + 0.5,
        };
      });
    }),
  );

function assertLabelsInside(charts) {
  assert.ok(charts.length >= 5, `charts drawn: ${charts.length}`);
  for (const labels of charts) {
    assert.ok(labels.length > 0);
    const outside = labels.filter((l) => !l.inside);
    assert.deepEqual(outside, [], `labels outside ${labels[0].chart}`);
    // Neighbouring x-axis labels do not overlap either.
    const xs = labels.filter((l) => l.cls.includes("x-tick")).sort((a, b) => a.left - b.left);
    for (let i = 1; i < xs.length; i++) assert.ok(xs[i].left >= xs[i - 1].right, `${xs[i - 1].text} and ${xs[i].text} overlap in ${labels[0].chart}`);
  }
}

test("the running split is on every live indicator, links to the experiment, and rollback says what it does", async () => {
  const { page, errors } = await app.signedIn();

  // The prompt list: production is the split, not "v1".
  const cell = page.getByTestId("live-checkout-production");
  await cell.filter({ hasText: "v1 80% / v2 20%" }).waitFor();
  assert.equal((await page.getByTestId("live-checkout-dev").textContent()).trim(), "v2");
  assert.equal((await page.getByTestId("live-checkout-staging").textContent()).trim(), "v1");
  assert.equal(await cell.locator("a").getAttribute("href"), "/prompts/checkout/experiments?environment=production");
  await app.screenshot(page, "prompt-list");
  // It opens the experiments tab on production's split.
  await cell.locator("a").click();
  await page.waitForURL(/\/prompts\/checkout\/experiments\?environment=production$/);
  await page.getByTestId("experiment-production").waitFor();
  assert.equal(await page.getByLabel("experiment environment").inputValue(), "production");

  // The prompt's badges.
  const badge = page.getByTestId("badge-production");
  assert.equal((await badge.textContent()).trim(), "production: v1 80% / v2 20%");
  assert.equal(await badge.getAttribute("href"), "/prompts/checkout/experiments?environment=production");
  assert.equal((await page.getByTestId("badge-dev").textContent()).trim(), "dev: v2");
  // The experiments tab with the running 80/20 split, for review.
  assert.deepEqual(await page.getByTestId("experiment-production").locator(".split span").evaluateAll((s) => s.map((x) => x.title)), ["v1: 80%", "v2: 20%"]);
  await app.screenshot(page, "experiments");

  // History: each version's share of production; the header row spans every column.
  await page.getByRole("link", { name: "History" }).click();
  await page.getByTestId("version-2").getByText("production 20%").waitFor();
  await page.getByTestId("version-1").getByText("production 80%").waitFor();
  const table = await page.getByRole("table", { name: "Versions" }).evaluate((t) => {
    const edges = (row) => [...row.cells].map((c) => [Math.round(c.getBoundingClientRect().left), Math.round(c.getBoundingClientRect().right)]);
    return { head: edges(t.tHead.rows[0]), rows: [...t.tBodies[0].rows].map(edges) };
  });
  for (const row of table.rows) assert.deepEqual(row, table.head, "every body row has the header's columns, edge for edge");

  // Deploy tab: the split, and what a rollback would do in each environment.
  await page.getByRole("link", { name: "Deploy" }).click();
  const live = page.getByTestId("deploy-live-production");
  await live.getByRole("link", { name: "v1 80% / v2 20%" }).waitFor();
  assert.equal(await live.getByRole("link").getAttribute("href"), "/prompts/checkout/experiments?environment=production");
  const preview = (env) => page.getByTestId(`rollback-preview-${env}`);
  await preview("production").filter({ hasText: "Rollback ends the split: everyone gets v1" }).waitFor();
  await preview("dev").filter({ hasText: "Rollback returns to v1" }).waitFor();
  await preview("staging").filter({ hasText: "Nothing earlier to roll back to" }).waitFor();
  assert.equal(await page.getByRole("button", { name: "Roll back staging" }).isDisabled(), true);
  // Promoting into production while the split runs says it ends the split, and waits for the confirmation.
  await page.getByLabel("version to promote").selectOption("2");
  await page.getByLabel("environment to promote to").selectOption("production");
  const warning = page.getByTestId("promote-ends-split");
  await warning.waitFor();
  assert.match(await warning.textContent(), /An A\/B split runs in production: v1 80% \/ v2 20%\. Promoting v2 ends it: everyone in production gets v2\./);
  assert.equal(await page.getByRole("button", { name: "End the split and promote" }).isDisabled(), true);
  await app.screenshot(page, "deploy");
  assert.deepEqual(errors, []);
  await page.close();
});

test("metrics: axis labels inside the charts, rates read as rates, one window as bars with a filled legend, verdict in words", async () => {
  const { page, errors } = await app.signedIn();
  await page.goto(`${app.url}/prompts/checkout/metrics?environment=production`);
  await page.locator(".chart svg").first().waitFor();
  await page.getByTestId("verdict").waitFor();

  // Every execution landed in this hour: one window with data, drawn as bars.
  assert.deepEqual(
    await page.locator(".chart").evaluateAll((cs) => cs.map((c) => [c.dataset.testid, c.dataset.mode])),
    [
      ["chart-p50_ms", "bars"],
      ["chart-p95_ms", "bars"],
      ["chart-p99_ms", "bars"],
      ["chart-cost_per_call_usd", "bars"],
      ["chart-mean_score", "bars"],
      ["chart-feedback_rate", "empty"],
      ["chart-error_rate", "bars"],
    ],
  );
  assertLabelsInside(await chartLabels(page));
  // No feedback was sent: that chart says so instead of drawing an empty frame.
  await page.getByTestId("chart-feedback_rate").getByText("No values in this range.").waitFor();

  // The error-rate axis is in percent of calls: from 0 % to a few percent, not 10000 %.
  const errorTicks = await page.getByTestId("chart-error_rate").locator("text.y-tick").allTextContents();
  assert.match(errorTicks[0], /^0(\.0+)?%$/);
  for (const t of errorTicks) assert.match(t, /^\d+(\.\d+)?%$/);
  const top = Math.max(...errorTicks.map(parseFloat));
  assert.ok(top > 1 && top <= 10, `error-rate axis tops at ${top}%: ${errorTicks}`);
  // Cost ticks are dollars with the digits that tell them apart.
  const costTicks = await page.getByTestId("chart-cost_per_call_usd").locator("text.y-tick").allTextContents();
  assert.ok(costTicks.every((t) => /^\$\d+(\.\d+)?$/.test(t)) && new Set(costTicks).size === costTicks.length, costTicks.join(" "));

  // The legend is filled without hovering, and still after hovering.
  for (const id of ["p50_ms", "cost_per_call_usd", "error_rate"]) {
    const legend = page.getByTestId(`legend-${id}`);
    const text = await legend.textContent();
    assert.match(text, /v1 \S+.*v2 \S+/, text);
    assert.ok(!/(--|—)/.test(text), `legend of ${id} has values: ${text}`);
  }
  assert.match(await page.getByTestId("legend-p50_ms").textContent(), /v1 \d{3} ms.*v2 \d{3} ms/);
  assert.match(await page.getByTestId("legend-error_rate").textContent(), /v1 \d+\.\d+%.*v2 \d+\.\d+%/);
  await page.getByTestId("chart-p50_ms").locator("svg").hover();
  assert.ok(!/(--|—)/.test(await page.getByTestId("legend-p50_ms").textContent()));

  // The verdict: human labels, units, sensible precision, p < 0.0001.
  const verdict = (await page.getByTestId("verdict").textContent()).trim();
  assert.match(verdict, /(^|; )v2 is better on mean latency: \d{3} ms vs \d{3} ms for v1 \(p < 0\.0001\)/, verdict);
  assert.match(verdict, /v2 is better on mean score: 0\.\d{3} vs 0\.\d{3} for v1 \(p < 0\.0001\)/, verdict);
  assert.doesNotMatch(verdict, /latency_mean_ms|mean_score|error_rate|\d\.\d{4} vs|p = 0\.0000/, verdict);
  const latencyRow = await page.getByRole("table", { name: "Comparison" }).locator('tr[data-metric="latency_mean_ms"] td').allTextContents();
  assert.equal(latencyRow[0], "mean latency");
  assert.match(latencyRow[1], /^\d{3} ms$/);
  assert.match(latencyRow[2], /^\d{3} ms$/);
  assert.match(latencyRow[4], /^p < 0\.0001 ✱$/);
  const errorRow = await page.getByRole("table", { name: "Comparison" }).locator('tr[data-metric="error_rate"] td').allTextContents();
  assert.match(errorRow[1], /^\d+\.\d+%$/);
  await app.screenshot(page, "metrics");
  assert.deepEqual(errors, []);
  await page.close();
});

test("metrics over several windows: lines with round ticks inside the chart, the legend follows the cursor", async () => {
  const { page, errors } = await app.signedIn();
  // The API stamps executions with the time they arrive, so a week of
  // history is served from here: each window's figures vary with its start.
  await page.route((u) => u.pathname === "/v1/prompts/checkout/metrics", async (route) => {
    const from = new URL(route.request().url()).searchParams.get("from");
    const k = (Date.parse(from) / 3_600_000) % 7;
    const m = (v, f) => ({
      calls: 100 + 10 * k,
      errors: 2,
      error_rate: 0.01 + 0.004 * ((k * v) % 5),
      cost_per_call_usd: 0.0012 * v + 0.0003 * k,
      p50_ms: 400 + 60 * k * f,
      p95_ms: 900 + 80 * k * f,
      p99_ms: 1400 + 200 * k * f,
      mean_score: 0.6 + 0.03 * k,
      feedback_rate: 0.5 + 0.05 * k,
    });
    const items = [{ version: 1, version_id: "a", metrics: m(1, 1) }];
    if (k % 3 !== 1) items.push({ version: 2, version_id: "b", metrics: m(2, 0.7) });
    await route.fulfill({ json: { items } });
  });
  await page.goto(`${app.url}/prompts/checkout/metrics?environment=production`);
  await page.locator('.chart[data-mode="lines"] svg').first().waitFor();
  assert.equal(await page.locator('.chart[data-mode="bars"]').count(), 0);
  assertLabelsInside(await chartLabels(page));
  // Round ticks in the metric's unit.
  const latencyTicks = await page.getByTestId("chart-p99_ms").locator("text.y-tick").allTextContents();
  assert.ok(latencyTicks.every((t) => /^\d+(\.\d+)? s$|^\d+ ms$/.test(t)), latencyTicks.join(" "));

  const legend = page.getByTestId("legend-cost_per_call_usd");
  assert.match(await legend.textContent(), /^latest: /);
  const area = page.getByTestId("hover-cost_per_call_usd");
  const box = await area.boundingBox();
  await page.mouse.move(box.x + 3, box.y + box.height / 2);
  const first = await legend.textContent();
  assert.doesNotMatch(first, /^latest/);
  assert.match(first, /v1 \$0\.\d+/);
  await page.mouse.move(box.x + box.width - 3, box.y + box.height / 2);
  const last = await legend.textContent();
  assert.notEqual(last, first, "the legend follows the cursor");
  assert.doesNotMatch(last, /v1 (--|—)/);
  await page.mouse.move(0, 0);
  await legend.filter({ hasText: /^latest: / }).waitFor();
  await app.screenshot(page, "metrics-lines");
  assert.deepEqual(errors, []);
  await page.close();
});

test("a split needs two versions; the form cannot send fewer", async () => {
  await promptWithVersions(api, "solo", ["Only one version."]);
  assert.equal((await api.post("/v1/prompts/solo/promote", { version: 1, environment: "production" })).status, 201);
  const { page, errors } = await app.signedIn();
  await page.goto(`${app.url}/prompts/solo/experiments`);
  await page.getByTestId("split-needs-two").waitFor();
  assert.equal(await page.getByRole("button", { name: /Start or update/ }).count(), 0);

  await page.goto(`${app.url}/prompts/checkout/experiments?environment=staging`);
  await page.getByLabel("variant 2 version").waitFor();
  assert.equal(await page.getByRole("button", { name: "remove variant 1" }).isDisabled(), true, "two variants stay two");
  await page.getByLabel("variant 2 version").selectOption("1");
  assert.equal((await page.getByTestId("split-check").textContent()).trim(), "each variant must be a different version");
  assert.equal(await page.getByRole("button", { name: "Start or update in staging" }).isDisabled(), true);
  assert.deepEqual(errors, []);
  await page.close();
});

test("promote while a split runs ends it only when confirmed (end_experiment: true); rollback of a split ends it", async () => {
  await promptWithVersions(api, "promo", ["One {{x}}.", "Two {{x}}.", "Three {{x}}."]);
  assert.equal((await api.post("/v1/prompts/promo/promote", { version: 1, environment: "production" })).status, 201);
  const split = { variants: [{ version: 1, weight: 80 }, { version: 2, weight: 20 }] };
  assert.equal((await api.put("/v1/prompts/promo/experiments/production", split)).status, 201);

  const { page, errors } = await app.signedIn();
  await page.goto(`${app.url}/prompts/promo/deploy`);
  await page.getByLabel("version to promote").selectOption("3");
  await page.getByLabel("environment to promote to").selectOption("production");
  const button = page.getByRole("button", { name: "End the split and promote" });
  assert.equal(await button.isDisabled(), true);
  await page.getByLabel("End the split and send everyone to v3").check();
  const sent = page.waitForRequest((r) => r.url().endsWith("/v1/prompts/promo/promote"));
  await button.click();
  assert.deepEqual(JSON.parse((await sent).postData()), { version: 3, environment: "production", reason: "", end_experiment: true });
  await page.getByRole("status").filter({ hasText: "The split in production ended: v3 is live for everyone." }).waitFor();
  await page.getByTestId("badge-production").filter({ hasText: /^production: v3$/ }).waitFor();
  await page.getByTestId("rollback-preview-production").filter({ hasText: "Rollback returns to v1" }).waitFor();
  const bundle = await api.get("/v1/bundle?environment=production", { "cache-control": "no-cache" });
  assert.equal(bundle.body.prompts.promo.version, 3);
  assert.equal(bundle.body.prompts.promo.experiment, undefined);

  // A split again; rollback ends it, and says so before and after.
  assert.equal((await api.put("/v1/prompts/promo/experiments/production", { variants: [{ version: 3, weight: 80 }, { version: 2, weight: 20 }] })).status, 201);
  await page.reload();
  await page.getByTestId("rollback-preview-production").filter({ hasText: "Rollback ends the split: everyone gets v3" }).waitFor();
  await page.getByRole("button", { name: "Roll back production" }).click();
  await page.getByRole("status").filter({ hasText: "The split in production ended: everyone gets v3." }).waitFor();
  await page.getByTestId("badge-production").filter({ hasText: /^production: v3$/ }).waitFor();
  const after = await api.get("/v1/bundle?environment=production", { "cache-control": "no-cache" });
  assert.equal(after.body.prompts.promo.version, 3);
  assert.equal(after.body.prompts.promo.experiment, undefined);
  assert.deepEqual(errors, []);
  await page.close();
});

test("approvals: a split waits like a promotion, shows what is live now, supersedes; a stale approval says why", async () => {
  // promo in staging: v2 live with a 80/20 split against v3, then approval required.
  assert.equal((await api.post("/v1/prompts/promo/promote", { version: 2, environment: "staging" })).status, 201);
  assert.equal((await api.put("/v1/prompts/promo/experiments/staging", { variants: [{ version: 2, weight: 80 }, { version: 3, weight: 20 }] })).status, 201);
  assert.equal((await api.put("/v1/environments/staging", { policy: { requires_approval: true } })).status, 200);
  try {
    const { page, errors } = await app.signedIn();
    // A split request from the experiments tab waits for approval.
    await page.goto(`${app.url}/prompts/promo/experiments?environment=staging`);
    await page.getByLabel("variant 1 weight").fill("50");
    await page.getByLabel("variant 2 weight").fill("50");
    await page.getByRole("button", { name: "Ask to start or update in staging" }).click();
    await page.getByRole("status").filter({ hasText: "The split v2 50% / v3 50% in staging waits for approval" }).waitFor();
    await page.getByTestId("badge-staging").filter({ hasText: "staging: v2 80% / v3 20%" }).waitFor();
    // Then a promotion there, which would end the split: it supersedes the split request.
    await page.getByRole("link", { name: "Deploy" }).click();
    await page.getByLabel("version to promote").selectOption("3");
    await page.getByLabel("environment to promote to").selectOption("staging");
    await page.getByLabel("End the split and send everyone to v3").check();
    await page.getByRole("button", { name: "End the split and promote" }).click();
    await page.getByRole("status").filter({ hasText: "v3 waits for approval in staging (approving it ends the split)" }).waitFor();
    await page.goto(`${app.url}/approvals`);
    await page.getByText("Your own request").waitFor();
    await page.close();

    const approver = await api.post("/v1/keys", { name: "split-approver", role: "approver" });
    const second = await app.signedIn(approver.body.key);
    await second.page.goto(`${app.url}/approvals`);
    const card = second.page.locator('.card[data-testid^="approval-"]').filter({ hasText: "promo" });
    await card.waitFor();
    assert.equal(await card.count(), 1, "the newer request superseded the older one");
    assert.equal((await card.getByTestId("approval-request").textContent()).replace(/\s+/g, " ").trim(), "promote v3 (ends the running split) → staging");
    const liveNow = card.getByTestId("approval-live-now");
    assert.equal((await liveNow.getByRole("link").textContent()).trim(), "v2 80% / v3 20%");
    assert.equal(await liveNow.getByRole("link").getAttribute("href"), "/prompts/promo/experiments?environment=staging");
    const decided = second.page.getByRole("table", { name: "Decided requests" });
    await decided.getByRole("row").filter({ hasText: "split v2 50% / v3 50%" }).filter({ hasText: "superseded" }).waitFor();
    await app.screenshot(second.page, "approvals");

    // What staging serves moves before the approver decides: the approval is stale.
    const back = await api.post("/v1/prompts/promo/rollback", { environment: "staging" });
    assert.equal(back.status, 200);
    assert.equal(back.body.status, "experiment_ended");
    await card.getByRole("button", { name: "Approve" }).click();
    const refusal = second.page.getByRole("alert").filter({ hasText: "changed after this approval was requested" });
    await refusal.waitFor();
    assert.match(await refusal.textContent(), /stale_approval/);
    await decided.getByRole("row").filter({ hasText: "v3 (ends the running split)" }).filter({ hasText: "superseded" }).waitFor();

    // A split request, approved in the console, runs.
    const asked = await api.put("/v1/prompts/promo/experiments/staging", { variants: [{ version: 2, weight: 60 }, { version: 3, weight: 40 }] });
    assert.equal(asked.status, 202);
    assert.equal(asked.body.kind, "experiment");
    await second.page.reload();
    const splitCard = second.page.getByTestId(`approval-${asked.body.approval_id}`);
    assert.equal((await splitCard.getByTestId("approval-request").textContent()).replace(/\s+/g, " ").trim(), "A/B split v2 60% / v3 40% → staging");
    await splitCard.getByRole("button", { name: "Approve" }).click();
    await second.page.getByRole("status").filter({ hasText: "The split v2 60% / v3 40% of promo runs in staging." }).waitFor();
    await second.page.goto(`${app.url}/prompts/promo`);
    await second.page.getByTestId("badge-staging").filter({ hasText: "staging: v2 60% / v3 40%" }).waitFor();
    assert.deepEqual(errors, []);
    assert.deepEqual(second.errors, []);
    await second.page.close();
  } finally {
    await api.put("/v1/environments/staging", { policy: {} });
  }
});
