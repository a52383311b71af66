// `pvct test` as users run it (the bin npm links from the tarball) against
// the real worker: a prompt's test suite rendered locally by the package's
// WASM core, each case piped as JSON to an --exec command (a small node
// script stands in for the LLM), the outputs graded by the server, the run
// printed and turned into an exit code; judge assertions waited for;
// --on-provider with and without the workspace's provider.
//
// pvct runs asynchronously here (never spawnSync): the judge and provider
// stubs live in this process and must answer while pvct waits.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { startWorker, newWorkspace, promptWithVersions } from "../e2e/harness.mjs";
import { installPackage, runPvct } from "./package.mjs";

let w;
let pkg;
let stub;
let fake;
const judged = [];
const provided = [];

/** The fake LLM's answer to a rendered prompt: capitals as JSON or prose, a remembered code. */
const FAKE_ANSWER = `
const CAPITALS = { France: "Paris", Italy: "Rome", Japan: "Tokyo" };
function answer(text) {
  const code = text.match(/the code is (\\d+)/);
  if (code) return "The code is " + code[1] + ".";
  const country = text.match(/capital of (\\w+)/)?.[1];
  const capital = CAPITALS[country] ?? "unknown";
  return text.includes("JSON") ? JSON.stringify({ country, capital }) : "The capital of " + country + " is " + capital + ".";
}`;

before(async () => {
  w = await startWorker();
  pkg = installPackage();
  // The "LLM" --exec runs: reads the case on stdin, answers from the rendered
  // prompt; --fail-on=<case> exits 1, --hang-on=<case> never answers;
  // DUMP_DIR keeps each input it was given.
  fake = path.join(pkg.dir, "fake-llm.mjs");
  writeFileSync(fake, `import { writeFileSync } from "node:fs";
${FAKE_ANSWER}
let raw = "";
for await (const chunk of process.stdin) raw += chunk;
const input = JSON.parse(raw);
if (process.env.DUMP_DIR) writeFileSync(process.env.DUMP_DIR + "/" + input.case + ".json", raw);
const args = process.argv.slice(2);
if (args.includes("--fail-on=" + input.case)) {
  console.error("no answer for " + input.case);
  process.exit(1);
}
if (args.includes("--hang-on=" + input.case)) await new Promise((r) => setTimeout(r, 60_000));
const text = input.rendered.text ?? input.rendered.messages.map((m) => m.content).join("\\n");
process.stdout.write("  " + answer(text) + "\\n\\n");
`);
  // One OpenAI-compatible stub for the judge (model "judge") and the
  // provider (any other model).
  const answer = new Function(`${FAKE_ANSWER}; return answer;`)();
  stub = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const parsed = JSON.parse(body);
      let content;
      if (parsed.model === "judge") {
        const user = parsed.messages.at(-1).content;
        judged.push(user);
        content = JSON.stringify({ score: user.includes("42") ? 0.9 : 0.1 });
      } else {
        provided.push(parsed);
        content = answer(parsed.messages.map((m) => m.content).join("\n"));
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ choices: [{ message: { role: "assistant", content } }], usage: { prompt_tokens: 10, completion_tokens: 5 } }));
    });
  });
  await new Promise((r) => stub.listen(0, "127.0.0.1", r));
});
after(async () => {
  stub?.close();
  pkg?.remove();
  await w?.stop();
});

const stubUrl = () => `http://127.0.0.1:${stub.address().port}/v1/chat/completions`;

/** Runs the installed `pvct` bin in the scratch project: { code, out, err, json }. */
function pvct(key, args, extraEnv = {}) {
  return runPvct(pkg, w.url, key, args, extraEnv);
}

const exec = (...flags) => `node ${JSON.stringify(fake)}${flags.map((f) => ` ${f}`).join("")}`;

const CAPITAL_CASES = [
  {
    name: "france",
    variables: { country: "France" },
    assert: [{ type: "contains", value: "Paris" }, { type: "json_valid" }, { type: "max_latency_ms", value: 60_000 }],
  },
  {
    name: "italy",
    variables: { country: "Italy" },
    assert: [{ type: "regex", pattern: '"capital":\\s*"Rome"' }, { type: "not_contains", value: "Paris" }],
  },
  {
    name: "japan",
    variables: { country: "Japan" },
    assert: [
      { type: "json_valid", schema: { type: "object", required: ["capital"], properties: { capital: { type: "string" } } } },
      { type: "contains", value: "Tokyo" },
    ],
  },
];

/** A text prompt whose v1 makes the fake answer in JSON (passing) and v2 in prose (failing), with the capitals suite. */
async function capitals(api, cases = CAPITAL_CASES) {
  await promptWithVersions(api, "capitals", [
    "Reply in JSON. What is the capital of {{country}}?",
    "Reply in prose. What is the capital of {{country}}?",
  ]);
  const put = await api.put("/v1/prompts/capitals/tests", { cases });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  return put.body.revision;
}

test("a passing version: cases rendered locally, piped to --exec, graded by the server; exit 0 and the run is stored", async () => {
  const { key, api } = await newWorkspace(w);
  const revision = await capitals(api);
  const dump = path.join(pkg.dir, "dump-pass");
  mkdirSync(dump, { recursive: true });

  const run = await pvct(key, ["test", "capitals@1", "--exec", exec(), "--json"], { DUMP_DIR: dump });
  assert.equal(run.code, 0, run.err);
  assert.equal(run.json.status, "passed");
  assert.equal(run.json.mode, "client");
  assert.deepEqual([run.json.version, run.json.suite_revision, run.json.total, run.json.passed, run.json.failed], [1, revision, 3, 3, 0]);
  assert.equal(run.json.pass_rate, 1);
  const france = run.json.results.find((r) => r.case === "france");
  assert.equal(france.output, '{"country":"France","capital":"Paris"}', "the command's stdout, trimmed");
  assert.equal(france.error, null);
  assert.ok(run.json.results.every((r) => typeof r.latency_ms === "number" && r.latency_ms > 0), "wall time of each command");
  assert.ok(france.assertions.every((a) => a.passed === true));

  // What the command got on stdin: the case rendered by the package's core.
  assert.deepEqual(JSON.parse(readFileSync(path.join(dump, "france.json"), "utf8")), {
    case: "france",
    prompt: "capitals",
    version: 1,
    rendered: { text: "Reply in JSON. What is the capital of France?" },
    model_params: {},
    variables: { country: "France" },
  });

  // The run is the server's: listed for the version, with its results.
  const listed = await api.get("/v1/prompts/capitals/test-runs?version=1");
  assert.equal(listed.status, 200);
  assert.equal(listed.body.items[0].id, run.json.id);
  assert.equal(listed.body.items[0].status, "passed");
  const stored = await api.get(`/v1/prompts/capitals/test-runs/${run.json.id}`);
  assert.deepEqual(stored.body.results.map((r) => [r.case, r.passed, r.output]), run.json.results.map((r) => [r.case, true, r.output]));

  // The table, with a concurrency of 1.
  const table = await pvct(key, ["test", "capitals@1", "--exec", exec(), "--concurrency", "1"]);
  assert.equal(table.code, 0, table.err);
  assert.match(table.out, /^france\s+pass\s+\d+ ms$/m);
  assert.match(table.out, /^japan\s+pass\s+\d+ ms$/m);
  assert.match(table.out, /passed 3\/3 \(100%\) — passed/);
});

test("a failing version exits 9 and prints the failing cases and assertion types", async () => {
  const { key, api } = await newWorkspace(w);
  await capitals(api);

  // No @N: the head, v2, whose prose answers are not JSON.
  const failed = await pvct(key, ["test", "capitals", "--exec", exec()]);
  assert.equal(failed.code, 9, failed.err);
  assert.match(failed.out, /capitals v2/);
  assert.match(failed.out, /^france\s+FAIL\s+json_valid\s+\d+ ms$/m);
  assert.match(failed.out, /^italy\s+FAIL\s+regex\s+\d+ ms$/m);
  assert.match(failed.out, /^japan\s+FAIL\s+json_valid\s+\d+ ms$/m);
  assert.match(failed.out, /passed 0\/3 \(0%\) — failed \(threshold 100%\)/);
  assert.match(failed.err, /test_failed: 3 of 3 cases failed/);

  const json = await pvct(key, ["test", "capitals", "--exec", exec(), "--json"]);
  assert.equal(json.code, 9);
  assert.equal(json.json.status, "failed");
  assert.equal(json.json.version, 2);
  const italy = json.json.results.find((r) => r.case === "italy");
  assert.equal(italy.output, "The capital of Italy is Rome.");
  assert.deepEqual(italy.assertions.map((a) => [a.type, a.passed]), [["regex", false], ["not_contains", true]]);
  assert.equal(JSON.parse(json.err).error.code, "test_failed");

  // A lower pass threshold lets the same outputs pass.
  await api.put("/v1/prompts/capitals/tests", { cases: CAPITAL_CASES, pass_threshold: 0 });
  const lenient = await pvct(key, ["test", "capitals", "--exec", exec()]);
  assert.equal(lenient.code, 0, lenient.err);
  assert.match(lenient.out, /passed 0\/3 \(0%\) — passed/);
});

test("a command that exits 1, one that times out, and a slow case fail on their own", async () => {
  const { key, api } = await newWorkspace(w);
  await capitals(api, [
    ...CAPITAL_CASES,
    // Starting node takes longer than a millisecond.
    { name: "slow", variables: { country: "France" }, assert: [{ type: "contains", value: "Paris" }, { type: "max_latency_ms", value: 1 }] },
  ]);
  const res = await pvct(key, ["test", "capitals@1", "--exec", exec("--fail-on=italy", "--hang-on=japan"), "--timeout", "2", "--concurrency", "2"]);
  assert.equal(res.code, 9, res.err);
  assert.match(res.out, /^france\s+pass\s/m);
  assert.match(res.out, /^italy\s+FAIL\s+error\s/m);
  assert.match(res.out, /italy: exit code 1: no answer for italy/);
  assert.match(res.out, /^japan\s+FAIL\s+error\s/m);
  assert.match(res.out, /japan: timed out after 2 s/);
  assert.match(res.out, /^slow\s+FAIL\s+max_latency_ms\s+\d+ ms$/m);
  assert.match(res.out, /passed 1\/4 \(25%\) — failed/);

  const id = (await api.get("/v1/prompts/capitals/test-runs?version=1")).body.items[0].id;
  const run = (await api.get(`/v1/prompts/capitals/test-runs/${id}`)).body;
  const italy = run.results.find((r) => r.case === "italy");
  assert.equal(italy.passed, false);
  assert.equal(italy.output, "");
  assert.match(italy.error, /^exit code 1: no answer for italy/);
  assert.ok(italy.assertions.every((a) => a.passed === false), "no output: every assertion fails");
  const japan = run.results.find((r) => r.case === "japan");
  assert.match(japan.error, /^timed out after 2 s/);
  assert.ok(japan.latency_ms >= 2000 && japan.latency_ms < 10_000, `the hung command was ended at the timeout (${japan.latency_ms} ms)`);
  const slow = run.results.find((r) => r.case === "slow");
  assert.equal(slow.error, null);
  assert.deepEqual(slow.assertions.map((a) => [a.type, a.passed]), [["contains", true], ["max_latency_ms", false]]);
});

test("a chat prompt: history fills its placeholder; a judge assertion is waited for", async () => {
  const { key, api } = await newWorkspace(w);
  assert.equal((await api.put("/v1/settings", { judge: { url: stubUrl(), model: "judge" } })).status, 200);
  assert.equal((await api.post("/v1/prompts", { slug: "support", name: "Support", kind: "chat" })).status, 201);
  const messages = [
    { role: "system", content: "You are terse." },
    { role: "placeholder", name: "history" },
    { role: "user", content: "{{question}}" },
  ];
  const commit = await api.post("/v1/prompts/support/versions", { content: { messages }, model_params: { model: "gpt-4o-mini", temperature: 0 } });
  assert.equal(commit.status, 201, JSON.stringify(commit.body));
  const history = [{ role: "user", content: "Remember: the code is 42" }, { role: "assistant", content: "OK." }];
  const put = await api.put("/v1/prompts/support/tests", {
    cases: [{
      name: "code",
      variables: { question: "What is the code?" },
      history,
      assert: [{ type: "contains", value: "42" }, { type: "judge", criteria: "Does the answer give the code?" }],
    }],
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const dump = path.join(pkg.dir, "dump-chat");
  mkdirSync(dump, { recursive: true });

  // Such a run starts "running" (the judge is asked in the background): pvct polls it.
  const direct = await api.post("/v1/prompts/support/versions/1/test-runs", { outputs: [{ case: "code", output: "The code is 42." }] });
  assert.deepEqual([direct.status, direct.body.status, direct.body.pending], [201, "running", 1]);

  const res = await pvct(key, ["test", "support", "--exec", exec(), "--json"], { DUMP_DIR: dump });
  assert.equal(res.code, 0, res.err);
  assert.equal(res.json.status, "passed");
  assert.equal(res.json.pending, 0);
  assert.deepEqual(res.json.results[0].assertions.map((a) => [a.type, a.passed]), [["contains", true], ["judge", true]]);
  assert.equal(res.json.results[0].assertions[1].score, 0.9);
  assert.ok(judged.some((u) => u.includes("The code is 42.")), "the judge saw the output");

  const input = JSON.parse(readFileSync(path.join(dump, "code.json"), "utf8"));
  assert.deepEqual(input.rendered, {
    messages: [{ role: "system", content: "You are terse." }, ...history, { role: "user", content: "What is the code?" }],
  });
  assert.deepEqual(input.model_params, { model: "gpt-4o-mini", temperature: 0 });
});

test("--on-provider: 409 without a provider, a run on the provider with one; usage and API errors", async () => {
  const { key, api } = await newWorkspace(w);
  await capitals(api);

  const none = await pvct(key, ["test", "capitals@1", "--on-provider"]);
  assert.equal(none.code, 5, "provider_not_configured is a conflict");
  assert.match(none.err, /provider_not_configured/);
  const noneJson = await pvct(key, ["test", "capitals@1", "--on-provider", "--json"]);
  assert.equal(noneJson.code, 5);
  assert.equal(JSON.parse(noneJson.err).error.code, "provider_not_configured");

  assert.equal((await api.put("/v1/settings", { provider: { url: stubUrl(), model: "fake-1" } })).status, 200);
  const onProvider = await pvct(key, ["test", "capitals@1", "--on-provider", "--json"]);
  assert.equal(onProvider.code, 0, onProvider.err);
  assert.equal(onProvider.json.mode, "provider");
  assert.equal(onProvider.json.status, "passed");
  assert.equal(onProvider.json.results.find((r) => r.case === "japan").output, '{"country":"Japan","capital":"Tokyo"}');
  assert.ok(provided.some((p) => p.messages.some((m) => m.content === "Reply in JSON. What is the capital of Japan?")));
  const failing = await pvct(key, ["test", "capitals@2", "--on-provider"]);
  assert.equal(failing.code, 9, failing.err);
  assert.match(failing.out, /^france\s+FAIL\s+json_valid\s/m);

  // A prompt without cases, an unknown prompt, bad flags.
  await promptWithVersions(api, "bare", ["Hello"]);
  const bare = await pvct(key, ["test", "bare", "--exec", exec()]);
  assert.equal(bare.code, 5);
  assert.match(bare.err, /no_test_suite/);
  assert.equal((await pvct(key, ["test", "bare", "--on-provider"])).code, 5, "the server's 409 no_test_suite");
  assert.equal((await pvct(key, ["test", "nope", "--exec", exec()])).code, 4);
  assert.equal((await pvct(key, ["test", "capitals@9", "--exec", exec()])).code, 4);
  assert.equal((await pvct(key, ["test", "capitals"])).code, 2, "neither --exec nor --on-provider");
  assert.equal((await pvct(key, ["test", "capitals", "--exec", "cat", "--on-provider"])).code, 2);
  assert.equal((await pvct(key, ["test", "capitals", "--exec", "cat", "--concurrency", "0"])).code, 2);

  const help = await pvct(key, ["--help"]);
  assert.match(help.out, /pvct test <slug>\[@N\]/);
  assert.match(help.out, /9 test_failed/);
  assert.equal((await pvct(key, ["test", "--help"])).code, 0);
});
