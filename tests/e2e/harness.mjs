// Starts the real worker (worker/build, built by `make build`) in workerd via
// Miniflare with local D1, KV and Queue on fresh state, and gives tests an
// HTTP client plus direct handles on the bindings (to prove what is stored).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

// The binding ids in wrangler.toml, so wrangler's local D1 and Miniflare agree.
const wrangler = readFileSync(path.join(root, "wrangler.toml"), "utf8");
const D1_ID = wrangler.match(/database_id = "([^"]+)"/)[1];
const KV_ID = wrangler.match(/\[\[kv_namespaces\]\][^[]*id = "([^"]+)"/)[1];
export const COMPAT = wrangler.match(/compatibility_date = "([^"]+)"/)[1];
// The top-level rate limits, as wrangler.toml sets them: binding → { limit, period }.
export const RATE_LIMITS = Object.fromEntries(
  [...wrangler.split("[env.")[0].matchAll(/\[\[ratelimits\]\]\s*name = "([^"]+)"[^[]*?limit = (\d+), period = (\d+)/g)].map(
    ([, name, limit, period]) => [name, { limit: Number(limit), period: Number(period) }],
  ),
);

/** The queues of background work (core/src/jobs.rs, wrangler.toml). */
export const QUEUES = ["telemetry", "evaluations", "deliveries", "publish"];

/** The KV key of the bundle shard holding `slug`'s document (core resolved::shard_of: FNV-1a 32 over UTF-16 units, mod 64). */
export function shardKey(workspaceId, environment, slug) {
  let h = 0x811c9dc5;
  for (let i = 0; i < slug.length; i++) h = Math.imul(h ^ slug.charCodeAt(i), 0x01000193) >>> 0;
  return `bundle/${workspaceId}/${environment}/${h % 64}`;
}

export function newKey() {
  return `pvct_${randomBytes(24).toString("hex")}`;
}

// Fault injection for KV, outside our code: with `kvFaults`, the worker's KV
// binding is the real local namespace wrapped by this tiny binding, which
// fails an operation on a key prefix while the FAULTS namespace holds
// "<op>:<prefix>" (e.g. "put:bundle"). Tests flip faults through `faults`.
const KV_FAULTS = `
export default function (env) {
  const fail = async (op, key) => (await env.FAULTS.get(op + ":" + String(key).split("/")[0])) !== null;
  const guard = (op, f) => async (key, ...rest) => {
    if (await fail(op, key)) throw new Error("injected KV " + op + " failure");
    return f(key, ...rest);
  };
  return {
    get: (...a) => env.INNER.get(...a),
    getWithMetadata: (...a) => env.INNER.getWithMetadata(...a),
    list: (...a) => env.INNER.list(...a),
    put: guard("put", (...a) => env.INNER.put(...a)),
    delete: guard("delete", (...a) => env.INNER.delete(...a)),
  };
}`;

// Fault injection for the deliveries queue, the same way: with
// `queueFaults`, sends fail while FAULTS holds "send:deliveries". The class
// is named as the runtime's, which workers-rs checks a queue binding by.
const QUEUE_FAULTS = `
class WorkerQueue {
  constructor(env) { this.env = env; }
  async fail() {
    if ((await this.env.FAULTS.get("send:deliveries")) !== null) throw new Error("injected queue send failure");
  }
  async send(...a) { await this.fail(); return this.env.INNER.send(...a); }
  async sendBatch(...a) { await this.fail(); return this.env.INNER.sendBatch(...a); }
}
export default function (env) { return new WorkerQueue(env); }`;

/** `rateLimits`: limits to use instead of wrangler.toml's, by binding (e.g. { RATE_LIMIT_KEY: 30 }). */
/** `encryption`: bindings that replace the generated PVCT_ENCRYPTION_KEY (e.g. a rotation's two keys). */
/** `vars`: more of the worker's vars (e.g. ACCESS_TEAM_DOMAIN and ACCESS_AUD, for sign-in through Access). */
export async function startWorker({ kvFaults = false, queueFaults = false, rateLimits = {}, encryption = {}, vars = {}, onLog = null } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), "pvct-e2e-"));
  const adminKey = newKey();
  // The same script `make dev` uses: schema.sql, then the demo seed.
  execFileSync(path.join(root, "scripts/local-db.sh"), [adminKey, dir], { cwd: root, stdio: "pipe" });
  const worker = {
    name: "pvct",
    rootPath: root,
    scriptPath: "worker/build/index.js",
    modules: true,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: COMPAT,
    d1Databases: { DB: D1_ID },
    durableObjects: { LIVE: { className: "LiveHub", useSQLite: true } },
    r2Buckets: { TELEMETRY_LOG: "pvct-telemetry" },
    ...(kvFaults ? {} : { kvNamespaces: { KV: KV_ID } }),
    wrappedBindings: {
      ...(kvFaults ? { KV: { scriptName: "kv-faults" } } : {}),
      ...(queueFaults ? { QUEUE_DELIVERIES: { scriptName: "queue-faults" } } : {}),
    },
    queueProducers: Object.fromEntries(
      QUEUES.filter((q) => !(queueFaults && q === "deliveries")).map((q) => [`QUEUE_${q.toUpperCase()}`, `pvct-${q}`]),
    ),
    // As wrangler.toml configures them: one queue per kind of work, each
    // with the dead-letter queue, whose consumer stores what reaches it.
    queueConsumers: {
      ...Object.fromEntries(
        QUEUES.map((q) => [`pvct-${q}`, { maxBatchTimeout: 1, maxRetries: 3, retryDelay: 1, deadLetterQueue: "pvct-dead-letters" }]),
      ),
      "pvct-dead-letters": { maxBatchTimeout: 1, maxRetries: 10, retryDelay: 1 },
    },
    bindings: { PVCT_ADMIN_KEY: adminKey, PVCT_ENCRYPTION_KEY: randomBytes(32).toString("base64"), ...encryption, ...vars },
    ratelimits: Object.fromEntries(
      Object.entries(RATE_LIMITS).map(([name, { limit, period }]) => [name, { simple: { limit: rateLimits[name] ?? limit, period } }]),
    ),
  };
  const shared = {
    d1Persist: path.join(dir, "v3", "d1"),
    kvPersist: path.join(dir, "v3", "kv"),
    r2Persist: path.join(dir, "v3", "r2"),
    durableObjectsPersist: path.join(dir, "v3", "do"),
    host: "127.0.0.1",
    port: 0,
    ...(onLog ? logLines(onLog) : runtimeLog()),
  };
  const faultWorkers = [
    ...(kvFaults ? [{ name: "kv-faults", modules: true, script: KV_FAULTS, kvNamespaces: { INNER: KV_ID, FAULTS: "faults" } }] : []),
    ...(queueFaults
      ? [{ name: "queue-faults", modules: true, script: QUEUE_FAULTS, kvNamespaces: { FAULTS: "faults" }, queueProducers: { INNER: "pvct-deliveries" } }]
      : []),
  ];
  const options = faultWorkers.length ? { ...shared, workers: [worker, ...faultWorkers] } : { ...shared, ...worker };
  let mf = new Miniflare(options);
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const db = await mf.getD1Database("DB");
  const rawLog = await mf.getR2Bucket("TELEMETRY_LOG", faultWorkers.length ? "pvct" : undefined);
  const kv = kvFaults ? await mf.getKVNamespace("INNER", "kv-faults") : await mf.getKVNamespace("KV");
  const faults = faultWorkers.length ? await mf.getKVNamespace("FAULTS", faultWorkers[0].name) : null;
  return {
    url,
    adminKey,
    db,
    kv,
    /** The raw telemetry log (R2), as the worker writes it. */
    rawLog,
    /** With kvFaults: fail KV `op` ("put" | "delete") on keys under `prefix` until cleared;
     * with queueFaults: `fault("send", "deliveries")` fails sends to the deliveries queue. */
    async fault(op, prefix, on = true) {
      if (on) await faults.put(`${op}:${prefix}`, "1");
      else await faults.delete(`${op}:${prefix}`);
    },
    client: (key) => client(url, key),
    /** A producer on one of the worker's queues (QUEUE_TELEMETRY, …), to send what our code would not. */
    queue: (binding) => mf.getQueueProducer(binding, faultWorkers.length ? "pvct" : undefined),
    /** Stops the worker and starts it again on the same port and state, as
     * a deploy or a crash does: open connections (live subscribers) drop. */
    async restart({ downMs = 0 } = {}) {
      await mf.dispose();
      if (downMs) await new Promise((r) => setTimeout(r, downMs));
      mf = new Miniflare({ ...options, port: Number(new URL(url).port) });
      await mf.ready;
      this.db = await mf.getD1Database("DB");
      this.kv = kvFaults ? await mf.getKVNamespace("INNER", "kv-faults") : await mf.getKVNamespace("KV");
    },
    /** Fires the worker's cron handler, as the daily trigger would. */
    async scheduled(cron = "17 3 * * *") {
      const worker = await mf.getWorker();
      return worker.scheduled({ cron, scheduledTime: new Date() });
    },
    async stop() {
      await mf.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// PVCT_WORKERD_LOG=file: workerd's own stdout and stderr, verbose, go to
// that file (to see why workerd drops a connection; off by default).
function runtimeLog() {
  const file = process.env.PVCT_WORKERD_LOG;
  if (!file) return {};
  const out = createWriteStream(file, { flags: "a" });
  return {
    verbose: true,
    handleRuntimeStdio(stdout, stderr) {
      stdout.pipe(out, { end: false });
      stderr.pipe(out, { end: false });
    },
  };
}

/** The worker's console output, line by line, to `onLog` (what the bench
 * reads the consumer's `telemetry_ingest … rows_written=N` lines from). */
function logLines(onLog) {
  return {
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) {
        let rest = "";
        stream.on("data", (chunk) => {
          const lines = (rest + chunk).split("\n");
          rest = lines.pop();
          lines.forEach(onLog);
        });
      }
    },
  };
}

/** A tiny JSON client: every call resolves to { status, body, headers }. */
export function client(url, key) {
  async function call(method, pathname, body, headers = {}) {
    const init = { method, headers: { ...headers } };
    if (key) init.headers.authorization = `Bearer ${key}`;
    if (body !== undefined) {
      init.headers["content-type"] ??= "application/json";
      init.body = typeof body === "string" ? body : JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(url + pathname, init);
    } catch (e) {
      // A pooled keep-alive socket that workerd closed while it sat idle
      // fails before the request is sent ("other side closed"); undici only
      // retries idempotent methods itself, so the harness retries once.
      if (!["UND_ERR_SOCKET", "ECONNRESET", "EPIPE"].includes(e?.cause?.code)) throw e;
      res = await fetch(url + pathname, init);
    }
    const text = await res.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed, text, headers: res.headers };
  }
  return {
    get: (p, headers) => call("GET", p, undefined, headers),
    post: (p, body, headers) => call("POST", p, body, headers),
    put: (p, body, headers) => call("PUT", p, body, headers),
    del: (p, headers) => call("DELETE", p, undefined, headers),
    call,
  };
}

let counter = 0;
/** A fresh workspace with an admin client, so tests never share state. */
export async function newWorkspace(w, name = `ws-${process.pid}-${++counter}`) {
  const res = await w.client(w.adminKey).post("/v1/workspaces", { name });
  if (res.status !== 201) throw new Error(`workspace: ${res.status} ${JSON.stringify(res.body)}`);
  return { name, id: res.body.workspace.id, key: res.body.api_key.key, api: w.client(res.body.api_key.key) };
}

/** Creates a prompt and commits `versions` in order; returns the slug. */
export async function promptWithVersions(api, slug, texts, kind = "text") {
  const created = await api.post("/v1/prompts", { slug, name: slug, kind });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
  let parent = null;
  for (const text of texts) {
    const content = kind === "chat" ? { messages: [{ role: "system", content: text }] } : { text };
    const res = await api.post(`/v1/prompts/${slug}/versions`, { content, parent_version: parent, message: text });
    if (res.status !== 201) throw new Error(`commit: ${res.status} ${JSON.stringify(res.body)}`);
    parent = res.body.version.number;
  }
  return slug;
}

/** Version number → version id of a prompt. */
export async function versionIds(api, slug) {
  const items = (await api.get(`/v1/prompts/${slug}/versions`)).body.items;
  return Object.fromEntries(items.map((v) => [v.number, v.id]));
}

export async function rowCount(db, table) {
  return (await db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).first()).n;
}

export const TABLES = [
  "workspaces", "api_keys", "environments", "prompts", "prompt_versions", "deployments", "audit_log", "experiments", "approvals",
  "model_prices", "workspace_settings", "prompt_evaluators", "telemetry_ledger", "test_suites", "test_runs", "test_results", "webhooks",
  "webhook_deliveries", "dead_letters",
];

/** Every (method, path template) of the native API the worker documents in its OpenAPI, for sweeps that must
 * not miss one. The Langfuse-compatible routes (/api/public/…) answer in Langfuse's shape and are swept by tests/compat. */
export function documentedRoutes() {
  const doc = JSON.parse(readFileSync(path.join(root, "worker/openapi.json"), "utf8"));
  const out = [];
  for (const [p, item] of Object.entries(doc.paths).filter(([p]) => !p.startsWith("/api/public/"))) {
    for (const [m, op] of Object.entries(item)) {
      if (m !== "parameters") out.push({ key: `${m.toUpperCase()} ${p}`, role: op.description, hasBody: Boolean(op.requestBody) });
    }
  }
  return out;
}

/** `/v1/prompts/target/versions/1?x=y` → `/v1/prompts/{slug}/versions/{number}` for matching against the OpenAPI paths. */
export function templateOf(method, concrete, templates) {
  const parts = concrete.split("?")[0].split("/");
  const match = templates.find((t) => {
    const [m, p] = t.split(" ");
    const tp = p.split("/");
    return m === method && tp.length === parts.length && tp.every((seg, i) => seg.startsWith("{") || seg === parts[i]);
  });
  return match ?? `${method} ${concrete}`;
}

export async function counts(db) {
  const out = {};
  for (const t of TABLES) out[t] = await rowCount(db, t);
  return out;
}

/** Polls `check` (every 100 ms, 30 s at most) until it gives a truthy value, which it returns. */
export async function until(check, what, tries = 300) {
  for (let i = 0; i < tries; i++) {
    const v = await check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Polls a prompt's metrics until `done(items)` holds (queue delivery is async). */
export async function metricsWhen(api, slug, done, env = "production") {
  for (let i = 0; i < 300; i++) {
    const res = await api.get(`/v1/prompts/${slug}/metrics?environment=${env}`);
    if (res.status !== 200) throw new Error(`metrics: ${res.status} ${JSON.stringify(res.body)}`);
    if (done(res.body.items)) return res.body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the queue did not deliver in time");
}

/** Every record of a workspace's raw telemetry log for `day` (default today) of `kind`, through the API
 * (`GET /v1/telemetry/log`, paged, then each object's NDJSON); `api` must be an admin client. */
export async function rawRecords(api, kind, day = new Date().toISOString().slice(0, 10)) {
  const records = [];
  let cursor = "";
  do {
    const page = await api.get(`/v1/telemetry/log?day=${day}&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    if (page.status !== 200) throw new Error(`log: ${page.status} ${JSON.stringify(page.body)}`);
    for (const item of page.body.items.filter((i) => i.kind === kind)) {
      const object = await api.get(`/v1/telemetry/log/${item.id}`);
      if (object.status !== 200) throw new Error(`log object: ${object.status}`);
      records.push(...object.text.trim().split("\n").map((line) => JSON.parse(line)));
    }
    cursor = page.body.next_cursor ?? "";
  } while (cursor);
  return records;
}
