// The `pvct` command as users run it (the bin npm links from the tarball)
// against the real worker: prompts as code (push, a second push that
// changes nothing, pull), diff, promote with a gate refusal exiting
// non-zero, rollback, and --json outputs parsed here.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { startWorker, newWorkspace } from "../e2e/harness.mjs";
import { installPackage } from "./package.mjs";

let w;
let pkg;
before(async () => {
  w = await startWorker();
  pkg = installPackage();
});
after(async () => {
  pkg?.remove();
  await w?.stop();
});

/** Runs the installed `pvct` bin (what `npx pvct` runs) in the scratch project: { code, out, err, json }. */
function pvct(key, ...args) {
  const r = spawnSync(path.join(pkg.project, "node_modules/.bin/pvct"), args, {
    cwd: pkg.project,
    encoding: "utf8",
    env: { ...process.env, PVCT_URL: w.url, PVCT_API_KEY: key, NO_COLOR: "1" },
  });
  let json = null;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    // not --json
  }
  return { code: r.status, out: r.stdout, err: r.stderr, json };
}

function writePrompts(dir, n, suffix = "") {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < n; i++) {
    const doc = i % 2
      ? { name: `Prompt ${i}`, kind: "chat", model_params: { model: "gpt-4o-mini", temperature: 0.2 }, variables: [],
          messages: [{ role: "system", content: `You are helper ${i}.${suffix}` }, { role: "user", content: "{{question}}" }] }
      : { name: `Prompt ${i}`, kind: "text", model_params: {}, variables: [{ name: "tone", required: false, default: "warm" }], text: `Answer in a {{tone}} tone, number ${i}.${suffix}` };
    writeFileSync(path.join(dir, `p-${i}.prompt.json`), JSON.stringify(doc, null, 2));
  }
}

test("push 50 prompt files, push again to change nothing, pull them back", async () => {
  const { key } = await newWorkspace(w);
  const dir = path.join(pkg.dir, "prompts");
  writePrompts(dir, 50);
  const first = pvct(key, "push", dir, "-m", "initial", "--json");
  assert.equal(first.code, 0, first.err);
  assert.deepEqual([first.json.pushed, first.json.unchanged, first.json.failed], [50, 0, 0]);
  const again = pvct(key, "push", dir, "--json");
  assert.deepEqual([again.json.pushed, again.json.unchanged], [0, 50], "re-running changes nothing");
  // Two edits: only those two are committed.
  const edited = JSON.parse(readFileSync(path.join(dir, "p-3.prompt.json"), "utf8"));
  edited.messages[0].content = "You are a very careful helper 3.";
  writeFileSync(path.join(dir, "p-3.prompt.json"), JSON.stringify(edited));
  const text = JSON.parse(readFileSync(path.join(dir, "p-4.prompt.json"), "utf8"));
  writeFileSync(path.join(dir, "p-4.prompt.json"), JSON.stringify({ ...text, text: `${text.text} Be brief.` }));
  const third = pvct(key, "push", dir, "--json");
  assert.deepEqual(third.json.results.filter((r) => r.created).map((r) => [r.slug, r.version]), [["p-3", 2], ["p-4", 2]]);

  const ls = pvct(key, "ls", "--json");
  assert.equal(ls.json.length, 50);
  assert.equal(ls.json.find((p) => p.slug === "p-3").head, 2);

  const out = path.join(pkg.dir, "pulled");
  const pulled = pvct(key, "pull", out, "--json");
  assert.equal(pulled.json.written.length, 50);
  assert.equal(readdirSync(out).length, 50);
  assert.deepEqual(JSON.parse(readFileSync(path.join(out, "p-3.prompt.json"), "utf8")).messages, edited.messages);
  // What pull wrote pushes as unchanged: the format round-trips.
  assert.deepEqual(pvct(key, "push", out, "--json").json.unchanged, 50);

  const log = pvct(key, "log", "p-3", "--json");
  assert.deepEqual(log.json.map((v) => v.number), [2, 1]);
  const show = pvct(key, "show", "p-3@1", "--json");
  assert.equal(show.json.number, 1);
});

test("diff, promote with a gate refusal, rollback, and exit codes", async () => {
  const { key, api } = await newWorkspace(w);
  const dir = path.join(pkg.dir, "gated");
  writePrompts(dir, 1);
  pvct(key, "push", dir);
  writePrompts(dir, 1, " Cite the policy.");
  pvct(key, "push", dir);

  const diff = pvct(key, "diff", "p-0", "1", "2", "--json");
  assert.equal(diff.code, 0);
  assert.ok(diff.json.fields.some((f) => f.ops.some((o) => o.op === "insert" && o.text.includes("policy"))));
  const inline = pvct(key, "diff", "p-0", "1", "2", "--inline");
  assert.match(inline.out, /\{\+.*policy.*\+\}/);

  assert.equal(pvct(key, "promote", "p-0", "1", "--to", "dev").code, 0);
  assert.equal(pvct(key, "promote", "p-0", "2", "--to", "dev").code, 0);
  await api.put("/v1/environments/staging", { policy: { min_samples: 1000 } });
  const refused = pvct(key, "promote", "p-0", "2", "--to", "staging");
  assert.equal(refused.code, 6, "a gate refusal exits 6");
  assert.match(refused.err, /min_samples: measured/);
  const refusedJson = pvct(key, "promote", "p-0", "2", "--to", "staging", "--json");
  assert.equal(JSON.parse(refusedJson.err).error.code, "gates_failed");

  // A split is running: promote is a conflict unless it ends the split;
  // rollback is the brake and ends it.
  const split = pvct(key, "experiment", "set", "p-0", "--env", "dev", "--variant", "1:50", "--variant", "2:50");
  assert.equal(split.code, 0, split.err);
  assert.match(split.out, /v1 50%, v2 50% \(started\)/);
  const busy = pvct(key, "promote", "p-0", "1", "--to", "dev");
  assert.equal(busy.code, 5, "experiment_running is a conflict");
  assert.match(busy.err, /end-experiment|end_experiment/);
  const brake = pvct(key, "rollback", "p-0", "--env", "dev");
  assert.equal(brake.code, 0, brake.err);
  assert.match(brake.out, /split ended, everyone gets v2/);

  const back = pvct(key, "rollback", "p-0", "--env", "dev", "-m", "bad tone", "--json");
  assert.equal(back.code, 0, back.err);
  assert.equal(back.json.version, 1);
  assert.equal(pvct(key, "rollback", "p-0", "--env", "dev").code, 5, "nothing left to roll back: a conflict");

  const status = pvct(key, "status", "--json");
  assert.equal(status.json.prompts[0].live.dev, 1);
  const metrics = pvct(key, "metrics", "p-0", "--env", "dev", "--json");
  assert.deepEqual(metrics.json.items, []);

  assert.equal(pvct("pvct_" + "0".repeat(48), "ls").code, 3, "a bad key exits 3");
  assert.equal(pvct(key, "show", "nope").code, 4);
  assert.equal(pvct(key, "frobnicate").code, 2);
  const help = pvct(key, "--help");
  assert.equal(help.code, 0);
  assert.match(help.out, /pvct push <dir>/);
  assert.equal(pvct(key, "promote", "--help").code, 0);
});
