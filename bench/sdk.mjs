// The npm SDK against its peers, in one run on one machine: a warm get +
// route + render of the same 2 KB prompt with 5 variables (pvct vs
// @langfuse/client's warm prompt.get + compile, against a local stub of the
// Langfuse API); routing a new user into an 80/20 experiment (pvct vs
// @growthbook/growthbook's evalFeature); diffWords on 2,000- and
// 20,000-word texts with ~5% of words changed (pvct vs jsdiff). pvct is
// installed from its npm pack tarball, as users get it. Prints ns/op and
// ratios; writes bench/out/sdk.json.
//
// Usage: node bench/sdk.mjs
import http from "node:http";
import { createRequire } from "node:module";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import os from "node:os";
import path from "node:path";
import { startWorker, newWorkspace, root } from "../tests/e2e/harness.mjs";
import { installPackage } from "../tests/sdk/package.mjs";

const peers = createRequire(path.join(root, "bench/peers/package.json"));
const { LangfuseClient } = await import(peers.resolve("@langfuse/client"));
const { GrowthBookClient } = await import(peers.resolve("@growthbook/growthbook"));
const jsdiff = await import(peers.resolve("diff"));

/**
 * Median ns/op of `rounds` timed runs of `fn`, each ~`ms` long. Async
 * functions are awaited; synchronous ones are called in a plain loop, as
 * their users call them.
 */
async function measure(fn, { rounds = 5, ms = 400 } = {}) {
  const isAsync = typeof fn(0)?.then === "function";
  let sink = 0;
  const run = isAsync
    ? async (n) => {
        for (let i = 0; i < n; i++) await fn(i);
      }
    : async (n) => {
        for (let i = 0; i < n; i++) if (fn(i) === undefined) sink++;
      };
  let n = 1;
  // Calibrate: double until one run takes ~ms/4.
  for (;;) {
    const t = process.hrtime.bigint();
    await run(n);
    const took = Number(process.hrtime.bigint() - t) / 1e6;
    if (took > ms / 4 || n > 1e7) {
      n = Math.max(1, Math.round((n * ms) / Math.max(took, 0.001)));
      break;
    }
    n *= 2;
  }
  const results = [];
  for (let r = 0; r < rounds; r++) {
    const t = process.hrtime.bigint();
    await run(n);
    results.push(Number(process.hrtime.bigint() - t) / n);
  }
  results.sort((a, b) => a - b);
  if (sink < 0) console.log(sink);
  return results[Math.floor(rounds / 2)];
}

// The prompt: ~2 KB of text with 5 variables.
const paragraph = "You are the support assistant of {{company}}. Answer {{customer}} about {{product}} in a {{tone}} tone, " +
  "citing the policy where it applies and never promising what the policy does not allow. ";
let template = "";
while (template.length < 1900) template += paragraph;
template += "Question: {{question}}";
const variables = { company: "Acme", customer: "Ada", product: "the X100 kettle", tone: "warm", question: "Can I return it after 40 days?" };

const w = await startWorker();
const pkg = installPackage();
const results = {};
try {
  const { api, key } = await newWorkspace(w, "bench-sdk");
  await api.post("/v1/prompts", { slug: "support", name: "Support", kind: "text" });
  await api.post("/v1/prompts/support/versions", { parent_version: null, message: "one", content: { text: template } });
  await api.post("/v1/prompts/support/versions", { parent_version: 1, message: "two", content: { text: `${template} Be concise.` } });
  await api.post("/v1/prompts/support/promote", { version: 1, environment: "production" });
  const experiment = await api.put("/v1/prompts/support/experiments/production", {
    name: "tone", variants: [{ version: 1, weight: 80 }, { version: 2, weight: 20 }],
  });
  if (experiment.status !== 201) throw new Error(`experiment: ${experiment.status} ${JSON.stringify(experiment.body)}`);

  const pvct = await pkg.esm();
  const client = new pvct.PromptClient({ apiKey: key, baseUrl: w.url, cacheTtlMs: 3_600_000 });
  await client.get("support", { userKey: "warm-up", variables });
  const users = Array.from({ length: 4096 }, (_, i) => `user-${i}`);

  // Langfuse against a stub of its prompt API (outside our system).
  const stub = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ id: "p1", name: "support", version: 1, type: "text", prompt: template, config: {}, labels: ["production"], tags: [], commitMessage: null }));
  });
  await new Promise((r) => stub.listen(0, "127.0.0.1", r));
  const langfuse = new LangfuseClient({ publicKey: "pk-lf-bench", secretKey: "sk-lf-bench", baseUrl: `http://127.0.0.1:${stub.address().port}` });
  const warm = await langfuse.prompt.get("support");
  if (!warm.compile(variables).includes("Ada")) throw new Error("langfuse did not compile");

  const gb = new GrowthBookClient({});
  gb.initSync({
    payload: { features: { support: { defaultValue: 0, rules: [{ key: "support-exp", seed: "support-exp", hashAttribute: "id", variations: [0, 1], weights: [0.8, 0.2], coverage: 1 }] } } },
  });

  await client.refresh();
  const split = users.filter((u) => client.route("support", { userKey: u }).version === 2).length / users.length;
  if (!(split > 0.15 && split < 0.25)) throw new Error(`the 80/20 experiment routes ${split} to version 2`);
  const check = await client.get("support", { userKey: "u1", variables });
  if (!check.text.includes("the X100 kettle")) throw new Error("pvct did not render");

  results.get_route_render = {
    pvct_ns: await measure((i) => client.get("support", { userKey: users[i & 4095], variables })),
    langfuse_ns: await measure(async () => (await langfuse.prompt.get("support")).compile(variables)),
  };
  results.get_route_render_sync = {
    pvct_ns: await measure((i) => client.getSync("support", { userKey: users[i & 4095], variables }).text),
  };
  results.routing = {
    pvct_ns: await measure((i) => client.route("support", { userKey: users[i & 4095] }).version),
    growthbook_ns: await measure((i) => gb.evalFeature("support", { attributes: { id: users[i & 4095] } }).value),
  };

  // Texts of N words with ~5% of words changed at spread-out places.
  const words = "the quick brown fox jumps over a lazy dog while seven wise owls watch from old oak trees".split(" ");
  const text = (n) => Array.from({ length: n }, (_, i) => words[(i * 7 + (i >> 3)) % words.length]).join(" ");
  const changed = (n) => Array.from({ length: n }, (_, i) => (i % 20 === 7 ? `changed${i}` : words[(i * 7 + (i >> 3)) % words.length])).join(" ");
  for (const n of [2000, 20000]) {
    const [a, b] = [text(n), changed(n)];
    const ours = pvct.diffWords(a, b).filter((o) => o.op === "insert").length;
    const theirs = jsdiff.diffWords(a, b).filter((o) => o.added).length;
    if (!ours || !theirs) throw new Error("a diff found no changes");
    const opts = n > 5000 ? { rounds: 3, ms: 2000 } : {};
    results[`diff_${n}_words`] = {
      pvct_ns: await measure(() => pvct.diffWords(a, b), opts),
      jsdiff_ns: await measure(() => jsdiff.diffWords(a, b), opts),
    };
  }
  const dist = path.join(root, "sdk-wasm/dist");
  const gz = (f) => gzipSync(readFileSync(path.join(dist, f)), { level: 9 }).length;
  results.sizes = { prompts_wasm_gzip_bytes: gz("pvct_bg.wasm"), diff_wasm_gzip_bytes: gz("pvct_diff_bg.wasm"), limit_bytes: 80 * 1024 };
  await client.close();
  stub.close();
} finally {
  pkg.remove();
  await w.stop();
}

const us = (ns) => `${(ns / 1000).toFixed(2)} µs`;
const rows = [
  ["warm get + route + render (2 KB, 5 vars)", results.get_route_render.pvct_ns, "@langfuse/client get + compile", results.get_route_render.langfuse_ns, 1 / 4],
  ["same, getSync (no await)", results.get_route_render_sync.pvct_ns, "@langfuse/client get + compile", results.get_route_render.langfuse_ns, 1 / 4],
  ["route a user (80/20 experiment)", results.routing.pvct_ns, "@growthbook/growthbook evalFeature", results.routing.growthbook_ns, 1 / 10],
  ["diffWords, 2,000 words (5% changed)", results.diff_2000_words.pvct_ns, "diff (jsdiff) diffWords", results.diff_2000_words.jsdiff_ns, null],
  ["diffWords, 20,000 words (5% changed)", results.diff_20000_words.pvct_ns, "diff (jsdiff) diffWords", results.diff_20000_words.jsdiff_ns, 1 / 10],
];
console.log(`\nnpm SDK vs peers, node ${process.version}, ${os.cpus().length} cores, median of rounds\n`);
console.log("| measurement | pvct | peer | peer time | ratio (pvct / peer) | target |\n|---|---|---|---|---|---|");
for (const [name, ours, peer, theirs, target] of rows) {
  const ratio = ours / theirs;
  const verdict = target === null ? "—" : `≤ ${target.toFixed(2)} ${ratio <= target ? "met" : "MISSED"}`;
  console.log(`| ${name} | ${us(ours)} | ${peer} | ${us(theirs)} | ${ratio.toFixed(3)} | ${verdict} |`);
}
console.log(`\nSDK WASM gzipped: prompts ${results.sizes.prompts_wasm_gzip_bytes} bytes (limit ${results.sizes.limit_bytes}), diff ${results.sizes.diff_wasm_gzip_bytes} bytes (loaded only by diffWords)`);
mkdirSync(path.join(root, "bench/out"), { recursive: true });
writeFileSync(path.join(root, "bench/out/sdk.json"), JSON.stringify({ date: new Date().toISOString(), node: process.version, cores: os.cpus().length, results }, null, 2));
