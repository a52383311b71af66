// The npm SDK against its peers, in one run on one machine: a warm get +
// route + render of the same 2 KB prompt with 5 variables (pvct vs
// @langfuse/client's warm prompt.get + compile, against a local stub of the
// Langfuse API); routing a new user into an 80/20 experiment (pvct vs
// @growthbook/growthbook's evalFeature); diffWords (pvct vs jsdiff) on
// realistic texts of 500, 2,000 and 20,000 words with 1 % and 5 % of words
// substituted, inserted or deleted at scattered places (a vocabulary of
// 2,000 words, sentences of ~15 words, a fixed seed), and on the favourable
// input (2,000 and 20,000 words of a 16-word vocabulary, one word in 20
// changed at regular places). pvct is installed from its npm pack tarball,
// as users get it. Prints ns/op and ratios; writes bench/out/sdk.json.
//
// Usage: node bench/sdk.mjs [diff]   (`diff`: only the diffWords figures,
// no worker; writes bench/out/sdk-diff.json)
import http from "node:http";
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { pathToFileURL } from "node:url";
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

const diffOnly = process.argv[2] === "diff";

/** A deterministic PRNG (mulberry32), so every run diffs the same texts. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A realistic edit: a text of `n` words (a vocabulary of 2,000 words with a
 * Zipf-like skew, sentences of ~15 words) and a copy with `rate` of its
 * words substituted, inserted after or deleted, at scattered places.
 */
function scattered(n, rate, seed) {
  const next = rng(seed);
  const syllables = ["ka", "lo", "mi", "ren", "to", "sa", "vel", "dor", "in", "pe", "qua", "zu", "ber", "an", "so", "ti"];
  const vocabulary = Array.from({ length: 2000 }, (_, i) => {
    let w = "";
    for (let x = i + 1; x > 0; x = Math.floor(x / 16)) w += syllables[x % 16];
    return w;
  });
  const word = () => vocabulary[Math.floor(vocabulary.length * next() ** 2.5)];
  const old = [];
  while (old.length < n) {
    const len = 8 + Math.floor(next() * 15);
    for (let i = 0; i < len && old.length < n; i++) {
      const w = word();
      old.push(i === 0 ? w[0].toUpperCase() + w.slice(1) : i === len - 1 ? `${w}.` : w);
    }
  }
  const changed = [];
  for (const w of old) {
    if (next() >= rate) changed.push(w);
    else {
      const kind = Math.floor(next() * 3);
      if (kind === 0) changed.push(word());
      else if (kind === 1) changed.push(w, word());
    }
  }
  return [old.join(" "), changed.join(" ")];
}

/** diffWords of pvct and jsdiff on the scattered and the favourable inputs. */
async function diffBench(pvct, results) {
  const cases = [];
  for (const n of [500, 2000, 20000]) {
    for (const rate of [0.01, 0.05]) cases.push({ key: `diff_scattered_${n}_words_${rate * 100}pct`, n, rate, texts: scattered(n, rate, n * 100 + rate * 100) });
  }
  // The favourable input (kept for comparison with earlier runs).
  const words = "the quick brown fox jumps over a lazy dog while seven wise owls watch from old oak trees".split(" ");
  const text = (n) => Array.from({ length: n }, (_, i) => words[(i * 7 + (i >> 3)) % words.length]).join(" ");
  const changed = (n) => Array.from({ length: n }, (_, i) => (i % 20 === 7 ? `changed${i}` : words[(i * 7 + (i >> 3)) % words.length])).join(" ");
  for (const n of [2000, 20000]) cases.push({ key: `diff_${n}_words`, n, texts: [text(n), changed(n)] });
  for (const { key, n, texts: [a, b] } of cases) {
    const ours = pvct.diffWords(a, b);
    const theirs = jsdiff.diffWords(a, b);
    if (!ours.some((o) => o.op === "insert") || !theirs.some((o) => o.added)) throw new Error("a diff found no changes");
    // Both sides rebuild from the ops.
    const side = (keep) => ours.filter((o) => o.op === "equal" || o.op === keep).map((o) => o.text).join("");
    if (side("delete") !== a || side("insert") !== b) throw new Error(`${key}: pvct's ops do not rebuild the texts`);
    const opts = n > 5000 ? { rounds: 3, ms: 2000 } : {};
    results[key] = {
      pvct_ns: await measure(() => pvct.diffWords(a, b), opts),
      jsdiff_ns: await measure(() => jsdiff.diffWords(a, b), opts),
    };
  }
}

/** The rows of the diff figures: [name, pvct ns, peer, peer ns, target]. */
function diffRows(results) {
  const rows = [];
  for (const n of [500, 2000, 20000]) {
    for (const pct of [1, 5]) {
      const r = results[`diff_scattered_${n}_words_${pct}pct`];
      const target = n === 20000 && pct === 5 ? 1 / 10 : n === 2000 && pct === 5 ? 1 / 5 : null;
      rows.push([`diffWords, ${n.toLocaleString("en-US")} words, ${pct}% scattered edits`, r.pvct_ns, "diff (jsdiff) diffWords", r.jsdiff_ns, target]);
    }
  }
  rows.push(
    ["diffWords, 2,000 words (favourable: 16-word vocabulary, 5% changed at regular places)", results.diff_2000_words.pvct_ns, "diff (jsdiff) diffWords", results.diff_2000_words.jsdiff_ns, null],
    ["diffWords, 20,000 words (favourable: 16-word vocabulary, 5% changed at regular places)", results.diff_20000_words.pvct_ns, "diff (jsdiff) diffWords", results.diff_20000_words.jsdiff_ns, 1 / 10],
  );
  return rows;
}

// ---- Cold start: a new client's first get ------------------------------
//
// pvct: `new PromptClient` + the first `get` (GET /v1/bundle, the core
// compiles the prompt, route + render). Langfuse: `new LangfuseClient` +
// `prompt.get` (a cache miss: GET /api/public/v2/prompts/{name}) +
// `compile`. Both against the same kind of local server: one node:http
// stub (in this process) replaying answers recorded from the worker (the
// bundle for pvct; the worker's Langfuse-compatible API's answer for
// Langfuse), gzipped when the request accepts gzip (both clients' fetch
// asks for it, and the worker compresses). Each client runs in its own
// Node process (its own heap and JIT: one client's garbage is not collected
// on the other's time), 400 cold starts after 100 unmeasured, the two
// alternated over 5 rounds; the ratio is the median of the rounds' ratios.
// Also, for the picture: a 20-prompt environment (pvct fetches the whole
// bundle, Langfuse one prompt), both against the worker itself (workerd),
// and a fresh Node process (import + new client + first get).

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Cold starts of both clients, each in its own process running `runner`
 * (warm-up, then `n` timed cold starts; it prints the median ns), alternated
 * over an odd number of `rounds`: the times of the round whose ratio is the
 * median of the rounds' ratios, and every round's.
 */
async function pairedProcesses(runner, pvctArgs, langfuseArgs, { rounds = 5, n = 400, warmup = 100 } = {}) {
  const run = (args) => new Promise((resolve, reject) =>
    execFile(process.execPath, [runner, JSON.stringify({ ...args, n, warmup })], (e, so, se) => (e ? reject(new Error(se || e.message)) : resolve(Number(so)))));
  const per = { pvct: [], langfuse: [] };
  const ratios = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ["pvct", "langfuse"] : ["langfuse", "pvct"];
    const got = {};
    for (const side of order) got[side] = await run(side === "pvct" ? { side, ...pvctArgs } : { side, ...langfuseArgs });
    per.pvct.push(got.pvct);
    per.langfuse.push(got.langfuse);
    ratios.push(got.pvct / got.langfuse);
  }
  const mid = ratios.indexOf(median(ratios));
  return { pvct_ns: per.pvct[mid], langfuse_ns: per.langfuse[mid], ratio: ratios[mid], rounds: { pvct_ns: per.pvct, langfuse_ns: per.langfuse } };
}

/** The child of pairedProcesses, written into the project where "pvct" resolves. */
const coldRunner = (langfuseHref) => `const a = JSON.parse(process.argv[2]);
const variables = ${JSON.stringify(variables)};
let once;
if (a.side === "pvct") {
  const { PromptClient } = await import("pvct");
  once = async (i) => {
    const client = new PromptClient({ apiKey: a.apiKey, baseUrl: a.baseUrl });
    const p = await client.get("support", { userKey: "cold-" + i, variables });
    if (!p.text.includes("the X100 kettle")) throw new Error("pvct did not render");
    return () => client.close();
  };
} else {
  const { LangfuseClient } = await import(${JSON.stringify(langfuseHref)});
  once = async () => {
    const langfuse = new LangfuseClient({ publicKey: a.publicKey, secretKey: a.secretKey, baseUrl: a.baseUrl });
    if (!(await langfuse.prompt.get("support")).compile(variables).includes("the X100 kettle")) throw new Error("langfuse did not compile");
  };
}
const times = [];
for (let i = 0; i < a.warmup + a.n; i++) {
  const t = process.hrtime.bigint();
  const cleanup = await once(i);
  if (i >= a.warmup) times.push(Number(process.hrtime.bigint() - t));
  await cleanup?.();
}
times.sort((x, y) => x - y);
console.log(times[times.length >> 1]);
process.exit(0);
`;

/** A stub replaying recorded answers by path prefix; gzip when the request accepts it. */
async function replayStub(answers) {
  const prepared = answers.map(({ prefix, body, headers = {} }) => ({ prefix, body, gz: gzipSync(body), headers }));
  const server = http.createServer((req, res) => {
    const a = prepared.find((x) => req.url.startsWith(x.prefix));
    if (!a) return res.writeHead(404).end();
    const gzip = /\bgzip\b/.test(req.headers["accept-encoding"] ?? "");
    res.writeHead(200, { "content-type": "application/json", ...a.headers, ...(gzip ? { "content-encoding": "gzip" } : {}) });
    res.end(gzip ? a.gz : a.body);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

/** Runs `node file` `runs` times per side, alternating; medians of what each child prints ({ import_ms, get_ms }). */
async function freshProcesses(files, runs = 10) {
  const out = Object.fromEntries(Object.keys(files).map((k) => [k, []]));
  for (let i = 0; i < runs; i++) {
    for (const [k, file] of Object.entries(files)) {
      const stdout = await new Promise((resolve, reject) =>
        execFile(process.execPath, [file], (e, so, se) => (e ? reject(new Error(`${k}: ${se || e.message}`)) : resolve(so))));
      out[k].push(JSON.parse(stdout));
    }
  }
  return Object.fromEntries(Object.entries(out).map(([k, xs]) => [k, {
    import_ms: median(xs.map((x) => x.import_ms)), get_ms: median(xs.map((x) => x.get_ms)), total_ms: median(xs.map((x) => x.import_ms + x.get_ms)),
  }]));
}

async function coldStartBench({ w, pkg, api, key, results }) {
  // The Langfuse-compatible API takes pk-pvct-<key id> as the public key.
  const me = (await api.get("/v1/keys")).body.items.find((k) => key.startsWith(k.key_prefix));
  const lfCredentials = { publicKey: me.public_key, secretKey: key };
  const record = async (path, headers) => {
    const res = await fetch(w.url + path, { headers });
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
    return { body: await res.text(), etag: res.headers.get("etag"), encoding: res.headers.get("content-encoding") };
  };
  const basic = `Basic ${Buffer.from(`${lfCredentials.publicKey}:${lfCredentials.secretKey}`).toString("base64")}`;
  const bundle = await record("/v1/bundle?environment=production", { authorization: `Bearer ${key}` });
  const lfPrompt = await record("/api/public/v2/prompts/support?label=production", { authorization: basic });

  // An environment of 20 prompts like the one measured (the experiment on one of them).
  const many = await newWorkspace(w, "bench-sdk-20");
  for (let i = 0; i < 20; i++) {
    const slug = i === 0 ? "support" : `support-${i}`;
    await many.api.post("/v1/prompts", { slug, name: slug, kind: "text" });
    await many.api.post(`/v1/prompts/${slug}/versions`, { parent_version: null, message: "one", content: { text: template } });
    await many.api.post(`/v1/prompts/${slug}/versions`, { parent_version: 1, message: "two", content: { text: `${template} Be concise.` } });
    await many.api.post(`/v1/prompts/${slug}/promote`, { version: 1, environment: "production" });
  }
  await many.api.put("/v1/prompts/support/experiments/production", { name: "tone", variants: [{ version: 1, weight: 80 }, { version: 2, weight: 20 }] });
  const bundle20 = await record("/v1/bundle?environment=production", { authorization: `Bearer ${many.key}` });

  const stub = await replayStub([
    { prefix: "/v1/bundle", body: bundle.body, headers: { etag: bundle.etag } },
    { prefix: "/api/public/v2/prompts/", body: lfPrompt.body },
  ]);
  const stub20 = await replayStub([{ prefix: "/v1/bundle", body: bundle20.body, headers: { etag: bundle20.etag } }]);
  const runner = path.join(pkg.project, "cold-runner.mjs");
  writeFileSync(runner, coldRunner(pathToFileURL(peers.resolve("@langfuse/client")).href));
  try {
    results.cold_start = {
      stub: await pairedProcesses(runner, { baseUrl: stub.url, apiKey: key }, { baseUrl: stub.url, ...lfCredentials }),
      stub_20_prompts: await pairedProcesses(runner, { baseUrl: stub20.url, apiKey: many.key }, { baseUrl: stub.url, ...lfCredentials }),
      worker: await pairedProcesses(runner, { baseUrl: w.url, apiKey: key }, { baseUrl: w.url, ...lfCredentials }, { n: 200, warmup: 20 }),
      bytes: {
        bundle: Buffer.byteLength(bundle.body), bundle_gzip: gzipSync(bundle.body).length,
        bundle_20_prompts: Buffer.byteLength(bundle20.body), bundle_20_prompts_gzip: gzipSync(bundle20.body).length,
        langfuse_prompt: Buffer.byteLength(lfPrompt.body), langfuse_prompt_gzip: gzipSync(lfPrompt.body).length,
        worker_encoding: { bundle: bundle.encoding, langfuse_prompt: lfPrompt.encoding },
      },
    };

    // A fresh Node process: import the package, a new client, the first get (the stub above).
    const child = (name, importLine, firstGet) => {
      const file = path.join(pkg.project, `cold-${name}.mjs`);
      writeFileSync(file, `const variables = ${JSON.stringify(variables)};
const t0 = performance.now();
${importLine}
const t1 = performance.now();
const text = await (async () => { ${firstGet} })();
const t2 = performance.now();
if (!text.includes("the X100 kettle")) throw new Error("no render");
console.log(JSON.stringify({ import_ms: t1 - t0, get_ms: t2 - t1 }));
process.exit(0);
`);
      return file;
    };
    results.cold_start.fresh_process = await freshProcesses({
      pvct: child("pvct", 'const { PromptClient } = await import("pvct");',
        `return (await new PromptClient(${JSON.stringify({ apiKey: key, baseUrl: stub.url })}).get("support", { userKey: "u1", variables })).text;`),
      langfuse: child("langfuse", `const { LangfuseClient } = await import(${JSON.stringify(pathToFileURL(peers.resolve("@langfuse/client")).href)});`,
        `return (await new LangfuseClient(${JSON.stringify({ ...lfCredentials, baseUrl: stub.url })}).prompt.get("support")).compile(variables);`),
    });
  } finally {
    await stub.close();
    await stub20.close();
  }
}

function coldRows(results) {
  const c = results.cold_start;
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  const b = c.bytes;
  return [
    [`cold start: new client + first get (bundle fetch + compile + route + render; bundle ${kb(b.bundle)}, ${kb(b.bundle_gzip)} gzipped), local stub replaying the worker's answers`, c.stub.pvct_ns,
      `@langfuse/client new client + prompt.get cache miss + compile (${kb(b.langfuse_prompt)}), same stub`, c.stub.langfuse_ns, 1.1],
    [`same, 20 prompts in the environment (bundle ${kb(b.bundle_20_prompts)}, ${kb(b.bundle_20_prompts_gzip)} gzipped)`, c.stub_20_prompts.pvct_ns,
      "@langfuse/client cache miss (one prompt), same stub", c.stub_20_prompts.langfuse_ns, null],
    ["cold start against the worker itself (workerd, local KV and D1)", c.worker.pvct_ns,
      "@langfuse/client cache miss against the worker's Langfuse-compatible API", c.worker.langfuse_ns, null],
    ["fresh Node process: import + new client + first get (stub)", c.fresh_process.pvct.total_ms * 1e6,
      "@langfuse/client import + new client + prompt.get + compile", c.fresh_process.langfuse.total_ms * 1e6, null],
  ];
}

const us = (ns) => `${(ns / 1000).toFixed(2)} µs`;
function printRows(rows) {
  console.log(`\nnpm SDK vs peers, node ${process.version}, ${os.cpus().length} cores, median of rounds\n`);
  console.log("| measurement | pvct | peer | peer time | ratio (pvct / peer) | target |\n|---|---|---|---|---|---|");
  for (const [name, ours, peer, theirs, target] of rows) {
    const ratio = ours / theirs;
    const verdict = target === null ? "—" : `≤ ${target.toFixed(2)} ${ratio <= target ? "met" : "MISSED"}`;
    console.log(`| ${name} | ${us(ours)} | ${peer} | ${us(theirs)} | ${ratio.toFixed(3)} | ${verdict} |`);
  }
}

if (diffOnly) {
  const pkg = installPackage();
  const results = {};
  try {
    await diffBench(await pkg.esm(), results);
  } finally {
    pkg.remove();
  }
  printRows(diffRows(results));
  mkdirSync(path.join(root, "bench/out"), { recursive: true });
  writeFileSync(path.join(root, "bench/out/sdk-diff.json"), JSON.stringify({ date: new Date().toISOString(), node: process.version, cores: os.cpus().length, results }, null, 2));
  process.exit(0);
}

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

  await coldStartBench({ w, pkg, api, key, results });
  await diffBench(pvct, results);
  const dist = path.join(root, "sdk-wasm/dist");
  const gz = (f) => gzipSync(readFileSync(path.join(dist, f)), { level: 9 }).length;
  results.sizes = { prompts_wasm_gzip_bytes: gz("pvct_bg.wasm"), diff_wasm_gzip_bytes: gz("pvct_diff_bg.wasm"), limit_bytes: 80 * 1024 };
  await client.close();
  stub.close();
} finally {
  pkg.remove();
  await w.stop();
}

printRows([
  ["warm get + route + render (2 KB, 5 vars)", results.get_route_render.pvct_ns, "@langfuse/client get + compile", results.get_route_render.langfuse_ns, 1 / 4],
  ["same, getSync (no await)", results.get_route_render_sync.pvct_ns, "@langfuse/client get + compile", results.get_route_render.langfuse_ns, 1 / 4],
  ["route a user (80/20 experiment)", results.routing.pvct_ns, "@growthbook/growthbook evalFeature", results.routing.growthbook_ns, 1 / 10],
  ...coldRows(results),
  ...diffRows(results),
]);
const cold = results.cold_start;
const spread = (r) => r.rounds.pvct_ns.map((x, i) => (x / r.rounds.langfuse_ns[i]).toFixed(2)).join(", ");
console.log(`\ncold start rows: the round with the median ratio of ${cold.stub.rounds.pvct_ns.length} (each client in its own process); ratios of every round: ` +
  `stub ${spread(cold.stub)}; 20 prompts ${spread(cold.stub_20_prompts)}; worker ${spread(cold.worker)}`);
const fresh = cold.fresh_process;
console.log(`\nfresh process (median of 10): pvct import ${fresh.pvct.import_ms.toFixed(1)} ms + first get ${fresh.pvct.get_ms.toFixed(1)} ms; ` +
  `@langfuse/client import ${fresh.langfuse.import_ms.toFixed(1)} ms + first get ${fresh.langfuse.get_ms.toFixed(1)} ms`);
console.log(`\nSDK WASM gzipped: prompts ${results.sizes.prompts_wasm_gzip_bytes} bytes (limit ${results.sizes.limit_bytes}), diff ${results.sizes.diff_wasm_gzip_bytes} bytes (loaded only by diffWords)`);
mkdirSync(path.join(root, "bench/out"), { recursive: true });
writeFileSync(path.join(root, "bench/out/sdk.json"), JSON.stringify({ date: new Date().toISOString(), node: process.version, cores: os.cpus().length, results }, null, 2));
