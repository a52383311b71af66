// How the serving path grows with the number of prompts in an environment
// (100, 1,000, 5,000 prompts of 2-5 KB), on the real worker (workerd, local
// D1 and KV): promote latency (each promote republishes the environment),
// the bundle's bytes, an SDK's cold start (fetch + compile of the whole
// bundle, and of a bundle of the 10 prompts it uses, `?prompts=`), and the
// SDK process's heap after it. Ratios are against the 100-prompt row,
// measured in the same run.
//
// Prompts and versions are made through the API; their deployments are
// written straight into D1 (one promote through the API per prompt would
// republish the environment each time, which is the cost measured here,
// not the setup), then one promote through the API publishes.
//
// Usage: node bench/scale.mjs [sizes...]   (default 100 1000 5000)
// Writes bench/out/scale.json.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { startWorker, newWorkspace, root } from "../tests/e2e/harness.mjs";

const sizes = process.argv.slice(2).map(Number).filter(Boolean);
const SIZES = sizes.length ? sizes : [100, 1000, 5000];
const PROMOTES = 9;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A support-style prompt of 2-5 KB with a few variables. */
function text(i, v) {
  const words = "answer the customer politely cite the policy section when relevant never promise refunds escalate angry customers".split(" ");
  const size = 2000 + ((i * 7919) % 3000);
  let body = `You are the assistant for {{company}} (prompt ${i}, version ${v}). Question: {{question}}\n`;
  for (let k = 0; body.length < size; k++) body += words[(i + k) % words.length] + (k % 17 === 16 ? ".\n" : " ");
  return body;
}

async function pool(items, limit, run) {
  let next = 0;
  const workers = Array.from({ length: limit }, async () => {
    while (next < items.length) await run(items[next++]);
  });
  await Promise.all(workers);
}

/** A fresh Node process: import the SDK, a client, the first get (the bundle fetched and compiled). */
function coldStart(baseUrl, apiKey, slugs) {
  const script = `
    const started = performance.now();
    const { PromptClient } = await import(${JSON.stringify(path.join(root, "sdk-wasm/dist/node.mjs"))});
    const client = new PromptClient({ apiKey: ${JSON.stringify(apiKey)}, baseUrl: ${JSON.stringify(baseUrl)}, live: false${slugs ? `, prompts: ${JSON.stringify(slugs)}` : ""} });
    const before = performance.now();
    const res = await fetch(${JSON.stringify(baseUrl)} + "/v1/bundle?environment=production" + ${JSON.stringify(slugs ? `&prompts=${slugs.join(",")}` : "")}, { headers: { authorization: "Bearer " + ${JSON.stringify(apiKey)} } });
    const bytes = (await res.text()).length;
    const got = await client.get(${JSON.stringify(slugs ? slugs[0] : "p0")}, { variables: { company: "Acme", question: "hi" } });
    const after = performance.now();
    globalThis.gc?.();
    // RSS: the JS heap and the WASM memory the compiled bundle lives in.
    process.stdout.write(JSON.stringify({ get_ms: after - before, heap_mb: process.memoryUsage().rss / 1048576, bytes, version: got.version }));
    client.close?.();
    process.exit(0);
  `;
  const out = execFileSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], { encoding: "utf8", maxBuffer: 1 << 26 });
  return JSON.parse(out);
}

const w = await startWorker({ rateLimits: { RATE_LIMIT_KEY: 1_000_000, RATE_LIMIT_EDGE_READS: 1_000_000 } });
const rows = [];
try {
  for (const n of SIZES) {
    const { api, id: workspaceId, key } = await newWorkspace(w, `bench-scale-${n}`);
    const t0 = performance.now();
    await pool(Array.from({ length: n }, (_, i) => i), 8, async (i) => {
      const slug = `p${i}`;
      const c = await api.post("/v1/prompts", { slug, name: slug, kind: "text" });
      if (c.status !== 201) throw new Error(`create ${slug}: ${c.status} ${JSON.stringify(c.body)}`);
      for (const v of [1, 2]) {
        const r = await api.post(`/v1/prompts/${slug}/versions`, { content: { text: text(i, v) }, parent_version: v === 1 ? null : 1 });
        if (r.status !== 201) throw new Error(`commit ${slug}: ${r.status} ${JSON.stringify(r.body)}`);
      }
    });
    // Every prompt's v1 deployed in production, as n promotes would leave it.
    const env = await w.db.prepare("SELECT id FROM environments WHERE workspace_id = ? AND name = 'production'").bind(workspaceId).first();
    const versions = (
      await w.db
        .prepare("SELECT p.id AS prompt_id, v.id AS version_id FROM prompts p JOIN prompt_versions v ON v.prompt_id = p.id AND v.number = 1 WHERE p.workspace_id = ?")
        .bind(workspaceId)
        .all()
    ).results;
    const at = new Date().toISOString();
    for (let k = 0; k < versions.length; k += 200) {
      const chunk = versions.slice(k, k + 200);
      await w.db.batch(
        chunk.flatMap((r, j) => [
          w.db
            .prepare(
              "INSERT INTO deployments (id, workspace_id, prompt_id, environment_id, version_id, action, reason, actor, created_at, bytes) " +
                "SELECT ?1, ?2, ?3, ?4, ?5, 'promote', 'bench', 'bench', ?6, " +
                "length(COALESCE(v.resolved_content, v.content)) + length(v.model_params) + length(v.variables) FROM prompt_versions v WHERE v.id = ?5",
            )
            .bind(`bench-${n}-${k + j}`, workspaceId, r.prompt_id, env.id, r.version_id, at),
          w.db
            .prepare("INSERT INTO releases (environment_id, seq, workspace_id, prompt_id, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(env.id, k + j + 1, workspaceId, r.prompt_id, at),
        ]),
      );
    }
    const setupS = (performance.now() - t0) / 1000;
    // Promote latency: v2 and back, each a release that republishes production.
    const times = [];
    for (let k = 0; k < PROMOTES; k++) {
      const version = k % 2 === 0 ? 2 : 1;
      const start = performance.now();
      const r = await api.post("/v1/prompts/p0/promote", { version, environment: "production" });
      times.push(performance.now() - start);
      if (r.status !== 201) throw new Error(`promote: ${r.status} ${JSON.stringify(r.body)}`);
    }
    const full = coldStart(w.url, key, null);
    const slugs = Array.from({ length: 10 }, (_, i) => `p${Math.floor((i * n) / 10)}`);
    const some = coldStart(w.url, key, slugs);
    const row = {
      prompts: n,
      promote_ms: median(times),
      bundle_bytes: full.bytes,
      cold_start_ms: full.get_ms,
      heap_mb: full.heap_mb,
      filtered_bytes: some.bytes,
      filtered_cold_start_ms: some.get_ms,
      filtered_heap_mb: some.heap_mb,
      setup_s: setupS,
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
} finally {
  await w.stop();
}

const base = rows[0];
const ratio = (r, k) => (base && base[k] ? r[k] / base[k] : null);
console.log(`\nscaling (ratios against ${base.prompts} prompts, same run):`);
console.log("prompts | promote ms (x) | bundle KB | cold start ms (x) | RSS MB | 10 prompts: KB, cold start ms, RSS MB");
for (const r of rows) {
  console.log(
    `${r.prompts} | ${r.promote_ms.toFixed(1)} (${ratio(r, "promote_ms").toFixed(2)}x) | ${(r.bundle_bytes / 1024).toFixed(0)} | ${r.cold_start_ms.toFixed(0)} (${ratio(r, "cold_start_ms").toFixed(2)}x) | ${r.heap_mb.toFixed(1)} | ${(r.filtered_bytes / 1024).toFixed(1)}, ${r.filtered_cold_start_ms.toFixed(0)}, ${r.filtered_heap_mb.toFixed(1)}`,
  );
}
mkdirSync(path.join(root, "bench/out"), { recursive: true });
writeFileSync(path.join(root, "bench/out/scale.json"), JSON.stringify({ date: new Date().toISOString(), rows }, null, 2));
