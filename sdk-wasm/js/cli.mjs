#!/usr/bin/env node
// `pvct`: PromptVault from the command line, next to wrangler. Configured by
// PVCT_URL and PVCT_API_KEY, or a config file (.pvct.json in the current
// folder or ~/.config/pvct/config.json: {"url": ..., "apiKey": ...}).
// Every command takes --json (the API's answer, for scripts) and --help.
// Exit codes: see EXIT below; CI can branch on them.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { LiveChannel } from "./client.mjs";

export const EXIT = { ok: 0, error: 1, usage: 2, auth: 3, not_found: 4, conflict: 5, gates_failed: 6, network: 7, invalid: 8, test_failed: 9 };

const FILE_SUFFIX = ".prompt.json";

const HELP = {
  ls: ["ls", "List prompts with what is live in each environment."],
  log: ["log <slug>", "Version history, newest first, without content (--json: the API's version summaries; show <slug>@N for one version's content)."],
  show: ["show <slug>[@N]", "One version (the head without @N)."],
  diff: ["diff <slug> A B", "Word diff of versions A and B: side by side when the terminal is wide enough (--inline to force one column)."],
  commit: ["commit <slug> -f <file> [-m <message>]", "Commit a prompt file (or a plain text file for a text prompt) on the current head."],
  push: ["push <dir> [-m <message>]", `Create and commit every <slug>${FILE_SUFFIX} in <dir> whose content differs from the server's head. Re-running changes nothing.`],
  pull: ["pull <dir>", `Write the head of every prompt to <dir>/<slug>${FILE_SUFFIX}.`],
  promote: ["promote <slug> <N> --to <env> [-m <reason>] [--end-experiment]", "Deploy version N. A gate refusal exits 6 and lists each failing gate; an approval requirement answers pending. With a split running, --end-experiment ends it in the same change (else a conflict, exit 5)."],
  approve: ["approve <approval-id> [-m <note>]", "Approve a pending promotion or split (gates are checked again), which applies it; a request made before the environment changed is refused as stale."],
  reject: ["reject <approval-id> [-m <note>]", "Reject a pending promotion or split."],
  rollback: ["rollback <slug> --env <env> [-m <reason>]", "The brake: end a running split, else return the environment to its previous deployment. Never needs an approval."],
  experiment: ["experiment set <slug> --env <env> --variant N:W ... [--salt S] [--name X] | experiment end <slug> --env <env>", "Start or change an A/B split of two or more versions (weights in percent summing to 100; each variant passes the gates; pending approval where required), or end it."],
  metrics: ["metrics <slug> [--env <env>] [--from ISO] [--to ISO]", "Per-version calls, error rate, latency percentiles, cost, score, feedback."],
  status: ["status", "Environments, what is live where, running experiments and pending approvals."],
  watch: [
    "watch [--env <env>]",
    "Follow an environment (default production) live, as the SDK does: one line per change to what it serves as the change "
      + "is committed (`2026-12-05T01:23:45Z production seq 7 greeter`: the time, the environment, its release sequence and "
      + "the prompts it touched) and per approval activity (`2026-12-05T01:23:45Z production approval.requested greeter`). "
      + "Over a WebSocket when the runtime has one (Node ≥ 22), else by long polling (which sees changes, not approval "
      + "activity). A dropped connection is reconnected with backoff; status goes to stderr. Runs until Ctrl-C (exit 0); "
      + "a bad key exits 3, an unknown environment 4, an unreachable worker 7 (--json: one JSON object a line, the message "
      + "as the worker sends it plus its time).",
  ],
  test: [
    "test <slug>[@N] (--exec <command> [--concurrency K] [--timeout S] | --on-provider) [--wait S]",
    "Run the prompt's test suite against version N (the head without @N) and grade it on the server: with --exec, each case is "
      + "rendered locally by the package's WASM core and piped as JSON ({case, prompt, version, rendered: {text} or {messages}, "
      + "model_params, variables}) to <command> run by the shell, K at a time (default 4); its trimmed stdout is the output, its wall "
      + "time the latency, and a non-zero exit or a timeout (default 60 s) fails the case; with --on-provider the workspace's provider "
      + "runs the cases. Waits up to --wait seconds (default 1800) for judge assertions or the provider, prints each case, "
      + "and exits 0 when the run passed, 9 when it failed (--json: the run).",
  ],
  import: [
    "import --from-langfuse <url> --public-key <pk> --secret-key <sk>",
    "Copy every prompt of a Langfuse project (keys default to LANGFUSE_PUBLIC_KEY / LANGFUSE_SECRET_KEY) into this workspace: "
      + "each Langfuse version in order becomes a native commit (config as model_params, the commit message plus "
      + "\"(imported from Langfuse vN by <createdBy>)\"), under the prompt's existing slug when a prompt has that name, else the "
      + "name if it is a slug, else the slugified name plus 8 hex digits of its SHA-256 (as the Langfuse-compatible API does). "
      + "Composed-prompt references (@@@langfusePrompt:...@@@) are imported as text, not pinned. "
      + "Then each label other than latest that names an environment deploys its version there (a promotion: gates and approvals apply); "
      + "labels that are not environments, gate refusals and pending approvals are reported, not fatal. "
      + "Re-running is safe: Langfuse versions are matched in order, by content (text or messages, and config), against the native "
      + "history oldest first, each after the previous match; matched versions are left alone, and the first version without a match "
      + "and every later one are committed on the head (a version identical to the one before it is the same native version). "
      + "So a second run commits nothing and one after new Langfuse versions commits only those. "
      + "Exit 0 when every version is in and every environment label is set or awaiting approval; else the exit code of the first "
      + "failure (a failed prompt, or a refused label: 6 for gates), after the whole import ran.",
  ],
};

class CliError extends Error {
  constructor(code, message, details) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

function exitCodeOf(e) {
  if (e.code === "usage") return EXIT.usage;
  if (e.code === "unauthenticated" || e.code === "forbidden") return EXIT.auth;
  if (e.code === "not_found" || e.code === "not_deployed" || e.code === "route_not_found") return EXIT.not_found;
  if (["stale_parent", "conflict", "already_exists", "variables_changed", "nothing_to_roll_back", "experiment_running", "stale_approval",
    "provider_not_configured", "no_test_suite"].includes(e.code)) return EXIT.conflict;
  if (e.code === "gates_failed") return EXIT.gates_failed;
  if (e.code === "test_failed") return EXIT.test_failed;
  if (e.code === "network") return EXIT.network;
  if (["invalid_field", "malformed_json", "template_syntax", "invalid_query", "missing_variables", "unknown_include"].includes(e.code)) return EXIT.invalid;
  return EXIT.error;
}

/**
 * The URL and the key always come from the same place (the environment, or
 * one config file): a key from the environment is never sent to a URL that
 * a cloned repository's .pvct.json names.
 */
function config(env) {
  let source;
  if (env.PVCT_API_KEY) {
    source = { url: env.PVCT_URL, apiKey: env.PVCT_API_KEY };
  } else {
    const files = [path.resolve(".pvct.json"), path.join(os.homedir(), ".config/pvct/config.json")];
    const file = files.find((f) => existsSync(f));
    try {
      source = file ? JSON.parse(readFileSync(file, "utf8")) : {};
    } catch (e) {
      throw new CliError("usage", `${file}: not JSON (${e.message})`);
    }
  }
  if (!source.apiKey) throw new CliError("usage", "no API key: set PVCT_API_KEY (and PVCT_URL) or write .pvct.json ({\"url\": ..., \"apiKey\": ...})");
  return { url: String(source.url ?? "http://127.0.0.1:8787").replace(/\/+$/, ""), apiKey: source.apiKey };
}

function api({ url, apiKey }) {
  return async function call(method, pathname, body) {
    let res;
    try {
      res = await fetch(url + pathname, {
        method,
        headers: { authorization: `Bearer ${apiKey}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new CliError("network", `cannot reach ${url}: ${e.cause?.code ?? e.message}`);
    }
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON (a proxy's error page): only the status is known.
      if (res.status < 400) throw new CliError("error", `${method} ${pathname}: the answer is not JSON (HTTP ${res.status})`);
    }
    if (res.status >= 400) throw new CliError(json?.error?.code ?? "error", json?.error?.message ?? `HTTP ${res.status}`, json?.error?.details);
    return { status: res.status, body: json };
  };
}

/** Every item of a cursor-paged list, `limit` a page (200, the API's most; version pages with content hold 20 at most). */
async function allPages(call, pathname, limit = 200) {
  const items = [];
  let cursor = null;
  do {
    const sep = pathname.includes("?") ? "&" : "?";
    const page = (await call("GET", `${pathname}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`)).body;
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

const color = (enabled) => {
  const wrap = (code, end) => (s) => (enabled ? `\x1b[${code}m${s}\x1b[${end}m` : s);
  return { green: wrap(32, 39), red: wrap(31, 39), strike: wrap(9, 29), bold: wrap(1, 22), dim: wrap(2, 22) };
};

/** A prompt file: what push commits and pull writes. */
export function promptFile(prompt, version) {
  return {
    name: prompt.name,
    kind: prompt.kind,
    ...(prompt.description ? { description: prompt.description } : {}),
    model_params: version?.model_params ?? {},
    variables: version?.variable_declarations ?? [],
    ...(version?.content ?? (prompt.kind === "chat" ? { messages: [] } : { text: "" })),
  };
}

function readPromptFile(file) {
  const text = readFileSync(file, "utf8");
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new CliError("invalid_field", `${file}: not JSON (${e.message})`);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw new CliError("invalid_field", `${file}: a prompt file is a JSON object`);
  const content = doc.messages !== undefined ? { messages: doc.messages } : { text: doc.text };
  return { name: doc.name, kind: doc.kind ?? (doc.messages ? "chat" : "text"), description: doc.description, model_params: doc.model_params ?? {}, variables: doc.variables ?? [], content };
}

const slugOfFile = (file) => path.basename(file).slice(0, -FILE_SUFFIX.length);

/** Ensures the prompt exists, then commits `doc` on its head; identical content writes nothing. */
async function commitDoc(call, slug, doc, message) {
  try {
    await call("POST", "/v1/prompts", { slug, name: doc.name ?? slug, kind: doc.kind, ...(doc.description ? { description: doc.description } : {}) });
  } catch (e) {
    if (e.code !== "already_exists") throw e;
  }
  const res = await call("POST", `/v1/prompts/${slug}/versions`, {
    content: doc.content, model_params: doc.model_params, variables: doc.variables, message: message ?? null, rebase: true,
  });
  return res.body;
}

function splitSlug(arg) {
  const [slug, n] = String(arg ?? "").split("@");
  if (!slug) throw new CliError("usage", "a prompt slug is required");
  return { slug, number: n === undefined ? undefined : Number(n) };
}

// ---- import --from-langfuse ---------------------------------------------------

/** The slug the Langfuse-compatible API gives a name (core/src/langfuse.rs `slug_for`). */
export function slugForName(name) {
  if (/^[a-z0-9-]{1,64}$/.test(name)) return name;
  let readable = "";
  for (const ch of name) {
    for (const c of ch.toLowerCase()) {
      if (/^[a-z0-9]$/.test(c)) readable += c;
      else if (!readable.endsWith("-")) readable += "-";
    }
  }
  readable = readable.replace(/^-+|-+$/g, "").slice(0, 40).replace(/-+$/, "");
  const hash = createHash("sha256").update(name, "utf8").digest("hex").slice(0, 8);
  return readable ? `${readable}-${hash}` : `prompt-${hash}`;
}

/** A GET client for a Langfuse server (Basic auth); retries 429 and 5xx a few times. */
function langfuseClient(base, publicKey, secretKey) {
  const authorization = `Basic ${Buffer.from(`${publicKey}:${secretKey}`).toString("base64")}`;
  return async function get(pathname) {
    for (let attempt = 0; ; attempt++) {
      let res;
      try {
        res = await fetch(base + pathname, { headers: { authorization, accept: "application/json" }, signal: AbortSignal.timeout(60_000) });
      } catch (e) {
        throw new CliError("network", `cannot reach Langfuse at ${base}: ${e.cause?.code ?? e.message}`);
      }
      const text = await res.text();
      if ((res.status === 429 || res.status >= 500) && attempt < 3) {
        const after = Number(res.headers.get("retry-after"));
        await new Promise((r) => setTimeout(r, Math.min(after > 0 ? after * 1000 : 1000 * 2 ** attempt, 10_000)));
        continue;
      }
      let json = null;
      try {
        json = text ? JSON.parse(text) : null;
      } catch {
        // reported below
      }
      if (res.status >= 400) {
        const code = { 401: "unauthenticated", 403: "forbidden", 404: "not_found" }[res.status] ?? "error";
        throw new CliError(code, `Langfuse: GET ${pathname}: HTTP ${res.status}${json?.message ? `: ${json.message}` : ""}`);
      }
      if (json === null || typeof json !== "object") throw new CliError("error", `Langfuse: GET ${pathname}: the answer is not a JSON object (HTTP ${res.status})`);
      return json;
    }
  };
}

async function mapLimit(items, limit, f) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Every prompt of the Langfuse project (pages of 50, as its list answers them). */
async function langfusePrompts(lf) {
  const seen = new Map();
  for (let page = 1; page <= 10_000; page++) {
    const body = await lf(`/api/public/v2/prompts?page=${page}&limit=50`);
    if (!Array.isArray(body.data)) throw new CliError("error", "Langfuse: the prompt list has no data array");
    for (const p of body.data) if (p && typeof p.name === "string" && !seen.has(p.name)) seen.set(p.name, p);
    const pages = Number(body.meta?.totalPages);
    if (body.data.length === 0 || (Number.isFinite(pages) ? page >= pages : body.data.length < 50)) break;
  }
  return [...seen.values()];
}

/** A Langfuse version's content in PromptVault's form. */
function langfuseContent(v) {
  if (v.type === "chat") {
    if (!Array.isArray(v.prompt)) throw new CliError("invalid_field", `Langfuse v${v.version}: a chat prompt's prompt is not a list`);
    return {
      messages: v.prompt.map((m) => (m?.type === "placeholder" ? { role: "placeholder", name: m.name } : { role: m?.role, content: m?.content })),
    };
  }
  if (v.type !== "text" || typeof v.prompt !== "string") throw new CliError("invalid_field", `Langfuse v${v.version}: not a text or chat prompt`);
  return { text: v.prompt };
}

const canonical = (v) => (Array.isArray(v)
  ? `[${v.map(canonical).join(",")}]`
  : v && typeof v === "object"
    ? `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`
    : JSON.stringify(v ?? null));

/** What identifies a version's substance (the server's content hash covers the same: content and parameters). */
function substance(content, params) {
  const p = { ...(params && typeof params === "object" && !Array.isArray(params) ? params : {}) };
  for (const k of ["model", "temperature", "top_p", "max_tokens"]) if (p[k] === null) delete p[k];
  return canonical({ content, model_params: p });
}

function importMessage(v) {
  const note = `(imported from Langfuse v${v.version} by ${v.createdBy ?? "unknown"})`;
  const own = typeof v.commitMessage === "string" ? v.commitMessage.trim() : "";
  return own ? `${own.slice(0, 2000 - note.length - 1)} ${note}` : note;
}

/** Imports one Langfuse prompt; never throws for its own failures (they land in `result.error`). */
async function importPrompt(lf, call, entry, ctx) {
  const name = entry.name;
  const result = { name, slug: null, kind: null, prompt_created: false, versions_created: 0, versions_unchanged: 0, versions: [], labels: [] };
  try {
    const numbers = [...new Set(entry.versions ?? [])].filter((n) => Number.isInteger(n) && n > 0).sort((a, b) => a - b);
    const fetched = await mapLimit(numbers, 4, (n) => lf(`/api/public/v2/prompts/${encodeURIComponent(name)}?version=${n}&resolve=false`));
    if (fetched.length === 0) return result;
    for (const [i, v] of fetched.entries()) {
      if (v.version !== numbers[i]) throw new CliError("error", `Langfuse answered version ${v.version} for version ${numbers[i]}`);
      if (v.type !== fetched[0].type) throw new CliError("invalid_field", `Langfuse v${v.version} is a ${v.type} prompt, v${fetched[0].version} a ${fetched[0].type} prompt`);
    }
    const kind = fetched[0].type === "chat" ? "chat" : "text";
    result.kind = kind;
    const wanted = slugForName(name);
    let native = ctx.natives.find((p) => p.name === name && p.slug === wanted) ?? ctx.natives.find((p) => p.name === name) ?? ctx.natives.find((p) => p.slug === wanted);
    if (!native) {
      try {
        native = (await call("POST", "/v1/prompts", { slug: wanted, name, kind })).body;
        result.prompt_created = true;
      } catch (e) {
        if (e.code !== "already_exists") throw e;
        native = (await call("GET", `/v1/prompts/${wanted}`)).body;
      }
      ctx.natives.push(native);
    }
    result.slug = native.slug;
    if (native.kind !== kind) throw new CliError("invalid_field", `${native.slug} is a ${native.kind} prompt; Langfuse's ${JSON.stringify(name)} is a ${kind} prompt`);
    // Matching compares content, which version lists carry only when asked (20 a page).
    const history = result.prompt_created ? [] : (await allPages(call, `/v1/prompts/${native.slug}/versions?include=content`, 20)).reverse();

    // Match in order by content; commit from the first version without a match on.
    let matching = true;
    let at = -1;
    let previous = null;
    const mapped = [];
    for (const v of fetched) {
      const content = langfuseContent(v);
      const params = v.config && typeof v.config === "object" && !Array.isArray(v.config) ? v.config : {};
      const key = substance(content, params);
      let number;
      let status = "unchanged";
      if (previous && previous.key === key) {
        number = previous.number;
      } else {
        const found = matching ? history.findIndex((h, j) => j > at && substance(h.content, h.model_params) === key) : -1;
        if (found >= 0) {
          at = found;
          number = history[found].number;
        } else {
          matching = false;
          const res = (await call("POST", `/v1/prompts/${native.slug}/versions`, { content, model_params: params, message: importMessage(v), rebase: true })).body;
          number = res.version.number;
          if (res.created) status = "created";
        }
      }
      previous = { key, number };
      mapped.push(number);
      result.versions.push({ langfuse_version: v.version, version: number, status });
      if (status === "created") result.versions_created++;
      else result.versions_unchanged++;
    }

    // Labels: each environment label deploys its version, in promotion order.
    const labels = fetched.flatMap((v, i) => (Array.isArray(v.labels) ? v.labels : []).filter((l) => l !== "latest").map((label) => ({ label, langfuse_version: v.version, version: mapped[i] })));
    const order = (l) => (ctx.environments.includes(l.label) ? ctx.environments.indexOf(l.label) : Infinity);
    labels.sort((a, b) => order(a) - order(b));
    const deployments = labels.some((l) => ctx.environments.includes(l.label)) ? (await call("GET", `/v1/prompts/${native.slug}`)).body.deployments ?? {} : {};
    for (const l of labels) {
      const row = { ...l };
      result.labels.push(row);
      if (!ctx.environments.includes(l.label)) {
        Object.assign(row, { status: "skipped", reason: "not_an_environment", message: `no environment ${l.label} in this workspace (${ctx.environments.join(", ")})` });
        continue;
      }
      if (deployments[l.label]?.version === l.version) {
        row.status = "unchanged";
        continue;
      }
      const waiting = ctx.pending.find((a) => a.prompt === native.slug && a.environment === l.label && a.version === l.version && (a.kind ?? "promote") === "promote");
      if (waiting) {
        Object.assign(row, { status: "pending_approval", approval_id: waiting.id });
        continue;
      }
      try {
        const res = await call("POST", `/v1/prompts/${native.slug}/promote`, {
          version: l.version, environment: l.label, reason: `imported from Langfuse: label ${l.label} on v${l.langfuse_version}`,
        });
        if (res.status === 202) Object.assign(row, { status: "pending_approval", approval_id: res.body.approval_id ?? res.body.id });
        else row.status = res.body.status === "unchanged" ? "unchanged" : "set";
      } catch (e) {
        if (!(e instanceof CliError) || e.code === "network") throw e;
        Object.assign(row, { status: "skipped", reason: e.code, message: e.message, ...(e.details?.failures ? { failures: e.details.failures } : {}) });
      }
    }
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    result.error = { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) };
  }
  return result;
}

async function importFromLangfuse(values, env, call, out, c) {
  const base = values["from-langfuse"];
  const publicKey = values["public-key"] ?? env.LANGFUSE_PUBLIC_KEY;
  const secretKey = values["secret-key"] ?? env.LANGFUSE_SECRET_KEY;
  if (!base || !publicKey || !secretKey) throw new CliError("usage", "import needs --from-langfuse <url>, --public-key <pk> and --secret-key <sk>");
  if (!/^https?:\/\//.test(base)) throw new CliError("usage", `--from-langfuse takes an http(s) URL, got ${base}`);
  const lf = langfuseClient(base.replace(/\/+$/, ""), publicKey, secretKey);
  const entries = await langfusePrompts(lf);
  const [environments, natives, pending] = await Promise.all([
    call("GET", "/v1/environments").then((r) => r.body.items.map((e) => e.name)),
    allPages(call, "/v1/prompts"),
    call("GET", "/v1/approvals?status=pending").then((r) => r.body.items),
  ]);
  const ctx = { environments, natives, pending };
  const results = [];
  for (const [i, entry] of entries.entries()) {
    results.push(await importPrompt(lf, call, entry, ctx));
    if (!values.json && process.stderr.isTTY) process.stderr.write(`\r${i + 1}/${entries.length} ${entry.name}`.slice(0, 70).padEnd(70));
  }
  if (!values.json && process.stderr.isTTY) process.stderr.write("\n");
  const labels = results.flatMap((r) => r.labels);
  const count = (s) => labels.filter((l) => l.status === s).length;
  const totals = {
    prompts: results.length,
    prompts_created: results.filter((r) => r.prompt_created).length,
    versions_created: results.reduce((n, r) => n + r.versions_created, 0),
    versions_unchanged: results.reduce((n, r) => n + r.versions_unchanged, 0),
    labels_set: count("set"), labels_unchanged: count("unchanged"), labels_pending: count("pending_approval"), labels_skipped: count("skipped"),
    failed: results.filter((r) => r.error).length,
  };
  if (values.json) out(JSON.stringify({ source: base, prompts: results, totals }, null, 2));
  else {
    for (const r of results) {
      if (r.error) out(c.red(`${r.name}${r.slug ? ` → ${r.slug}` : ""}: ${r.error.code}: ${r.error.message}${r.versions_created ? ` (after ${r.versions_created} versions created)` : ""}`));
      else out(`${c.bold(r.name)} → ${r.slug ?? "-"}${r.prompt_created ? " (new)" : ""}: ${r.versions_created} versions created, ${r.versions_unchanged} unchanged`);
      for (const l of r.labels) {
        const where = `  ${l.label} → v${l.version} (Langfuse v${l.langfuse_version})`;
        if (l.status === "pending_approval") out(`${where}: pending approval ${l.approval_id}`);
        else if (l.status === "skipped") {
          out(c.dim(`${where}: skipped (${l.reason === "not_an_environment" ? "not an environment" : `${l.reason}: ${l.message}`})`));
          for (const f of l.failures ?? []) out(c.dim(`    ${f.gate}: measured ${f.measured ?? "nothing"}, threshold ${f.threshold}`));
        } else out(`${where}: ${l.status}`);
      }
    }
    out(`${totals.prompts} prompts: ${totals.versions_created} versions created, ${totals.versions_unchanged} unchanged; labels ${totals.labels_set} set, `
      + `${totals.labels_unchanged} unchanged, ${totals.labels_pending} pending approval, ${totals.labels_skipped} skipped; ${totals.failed} failed`);
  }
  const failed = results.find((r) => r.error);
  if (failed) throw new CliError(failed.error.code, `${totals.failed} of ${totals.prompts} prompts failed (first: ${failed.name})`);
  const refused = labels.find((l) => l.status === "skipped" && l.reason !== "not_an_environment");
  if (refused) throw new CliError(refused.reason, `${labels.filter((l) => l.status === "skipped" && l.reason !== "not_an_environment").length} labels not set (first: ${refused.label}: ${refused.message})`);
}

// ---- test -------------------------------------------------------------------

/** The environment name of the one-prompt bundle a version is rendered from locally. */
const TEST_ENV = "pvct-test";
/** An --exec command's stdout is read up to this many bytes. */
const MAX_EXEC_OUTPUT_BYTES = 4 * 1024 * 1024;
/** The server keeps this much of a case's error. */
const MAX_ERROR_CHARS = 2000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function positiveNumber(value, option, fallback, { integer = false, max = Infinity } = {}) {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > max || (integer && !Number.isInteger(n))) {
    throw new CliError("usage", `${option} takes a positive ${integer ? "whole number" : "number"}${max < Infinity ? ` up to ${max}` : ""}, got ${value}`);
  }
  return n;
}

/**
 * A renderer for one version: the package's own client (the WASM core the
 * SDK serves with) over a one-prompt bundle built from the version, so
 * cases render exactly as `client.get` renders them in production, without
 * the server's /render. Imported only here: other commands load no WASM.
 */
async function localRenderer(prompt, version) {
  const { PromptClient } = await import(new URL("./node.mjs", import.meta.url).href);
  const doc = {
    slug: prompt.slug,
    name: prompt.name,
    kind: prompt.kind,
    environment: TEST_ENV,
    version: version.number,
    version_id: version.id,
    content: version.resolved_content ?? version.content,
    model_params: version.model_params ?? {},
    variables: { uses: version.variables ?? [], declares: version.variable_declarations ?? [] },
    content_hash: version.content_hash ?? "",
    deployment_id: "local",
    deployed_at: version.created_at ?? "",
  };
  const bundle = JSON.stringify({ environment: TEST_ENV, prompts: { [prompt.slug]: doc } });
  const client = new PromptClient({
    apiKey: "local",
    environment: TEST_ENV,
    cacheTtlMs: 2 ** 31 - 1,
    // A bundle made here: there is nothing to subscribe to.
    live: false,
    fetch: async () => new Response(bundle, { status: 200, headers: { "content-type": "application/json" } }),
  });
  return async (testCase) => {
    const r = await client.get(prompt.slug, { variables: testCase.variables ?? {}, ...(testCase.history != null ? { history: testCase.history } : {}) });
    return r.kind === "chat" ? { messages: r.messages } : { text: r.text };
  };
}

/** Ends a command and whatever it started (its own process group). */
function killTree(child) {
  try {
    if (process.platform !== "win32") process.kill(-child.pid, "SIGKILL");
    else child.kill("SIGKILL");
  } catch {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
}

/**
 * Runs `command` through the shell with `input` as JSON on stdin:
 * { output, latency_ms } when it exits 0 (stdout trimmed), else { error, latency_ms }.
 */
function execCase(command, input, timeoutMs, live) {
  return new Promise((resolve) => {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    let settled = false;
    const settle = (r) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      live.delete(child);
      resolve(r);
    };
    let child;
    try {
      // Its own process group (not on Windows), so a timeout ends the shell and what it started.
      child = spawn(command, { shell: true, detached: process.platform !== "win32", stdio: ["pipe", "pipe", "pipe"], windowsHide: true });
    } catch (e) {
      resolve({ error: `cannot run ${JSON.stringify(command)}: ${e.message}` });
      return;
    }
    live.add(child);
    const chunks = [];
    let size = 0;
    let stderr = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killTree(child);
    }, timeoutMs);
    child.stdout.on("data", (d) => {
      if (size < MAX_EXEC_OUTPUT_BYTES) chunks.push(d);
      size += d.length;
    });
    child.stderr.on("data", (d) => {
      stderr = (stderr + d.toString("utf8")).slice(-MAX_ERROR_CHARS);
    });
    // A command that does not read its input closes the pipe: not an error.
    child.stdin.on("error", () => {});
    child.stdin.end(`${JSON.stringify(input)}\n`);
    child.on("error", (e) => settle({ error: `cannot run ${JSON.stringify(command)}: ${e.message}`, latency_ms: elapsed() }));
    child.on("close", (code, signal) => {
      const latency_ms = elapsed();
      const tail = stderr.trim() ? `: ${stderr.trim()}` : "";
      if (timedOut) settle({ error: `timed out after ${timeoutMs / 1000} s${tail}`, latency_ms });
      else if (code !== 0) settle({ error: `${code === null ? `killed by ${signal}` : `exit code ${code}`}${tail}`, latency_ms });
      else settle({ output: Buffer.concat(chunks).toString("utf8").slice(0, MAX_EXEC_OUTPUT_BYTES).trim(), latency_ms });
    });
  });
}

/** Polls a running run until it is finished or `deadline` (epoch ms) passes. */
async function waitForRun(call, slug, run, deadline, waitS, progress) {
  let delay = 500;
  while (run.status === "running") {
    progress(`${run.total - run.pending}/${run.total} graded`);
    if (Date.now() >= deadline) {
      const e = new CliError("timeout", `run ${run.id} is still running after ${waitS} s (${run.pending} of ${run.total} cases pending); `
        + `see GET /v1/prompts/${slug}/test-runs/${run.id}`);
      e.run = run;
      throw e;
    }
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
    delay = Math.min(delay * 1.5, 5_000);
    run = (await call("GET", `/v1/prompts/${slug}/test-runs/${run.id}`)).body;
  }
  return run;
}

const percent = (x) => (x === null || x === undefined ? "-" : `${Math.round(x * 1000) / 10}%`);

function printRun(run, out, c) {
  out(c.bold(`${run.prompt} v${run.version} · suite revision ${run.suite_revision} · run ${run.id} (${run.mode})`));
  const rows = (run.results ?? []).map((r) => {
    const failing = [];
    if (!r.error) {
      const counts = new Map();
      for (const a of r.assertions ?? []) if (a.passed === false) counts.set(a.type, (counts.get(a.type) ?? 0) + 1);
      for (const [type, n] of counts) failing.push(n > 1 ? `${type} ×${n}` : type);
    }
    return {
      name: r.case,
      state: r.passed === true ? "pass" : r.passed === false ? "FAIL" : "pending",
      failing: r.error ? "error" : failing.join(", "),
      latency: r.latency_ms === null || r.latency_ms === undefined ? "-" : `${Math.round(r.latency_ms)} ms`,
      error: r.error,
    };
  });
  const w = (key, title) => Math.max(title.length, ...rows.map((r) => r[key].length));
  const [wn, ws, wf] = [w("name", "case"), w("state", "result"), w("failing", "failing")];
  out(c.bold(`${"case".padEnd(wn)}  ${"result".padEnd(ws)}  ${"failing".padEnd(wf)}  latency`));
  for (const r of rows) {
    const state = r.state.padEnd(ws);
    out(`${r.name.padEnd(wn)}  ${r.state === "pass" ? c.green(state) : r.state === "FAIL" ? c.red(state) : c.dim(state)}  ${r.failing.padEnd(wf)}  ${r.latency}`);
    if (r.error) out(c.dim(`  ${r.name}: ${r.error.split("\n")[0].slice(0, 300)}`));
  }
  const verdict = run.status === "passed" ? c.green("passed") : run.status === "failed" ? c.red("failed") : run.status;
  const threshold = run.status === "failed" ? ` (threshold ${percent(run.pass_threshold)})` : "";
  out(`passed ${run.passed}/${run.total} (${percent(run.pass_rate)}) — ${verdict}${threshold}`);
}

async function runTests(positionals, values, call, out, c) {
  const { slug, number } = splitSlug(positionals[0]);
  if (number !== undefined && !(Number.isInteger(number) && number > 0)) throw new CliError("usage", `${positionals[0]}: @N takes a version number`);
  const onProvider = Boolean(values["on-provider"]);
  if (onProvider === (values.exec !== undefined)) throw new CliError("usage", "test needs either --exec <command> or --on-provider");
  if (values.exec !== undefined && !values.exec.trim()) throw new CliError("usage", "--exec needs a command");
  const concurrency = positiveNumber(values.concurrency, "--concurrency", 4, { integer: true, max: 64 });
  const timeoutS = positiveNumber(values.timeout, "--timeout", 60);
  const waitS = positiveNumber(values.wait, "--wait", 1800);
  const progress = (s) => {
    if (!values.json && process.stderr.isTTY) process.stderr.write(`\r${s}`.padEnd(40));
  };
  const endProgress = () => {
    if (!values.json && process.stderr.isTTY) process.stderr.write(`\r${"".padEnd(40)}\r`);
  };

  const prompt = (await call("GET", `/v1/prompts/${slug}`)).body;
  const version = number ? (await call("GET", `/v1/prompts/${slug}/versions/${number}`)).body : prompt.head;
  if (!version) throw new CliError("not_found", `${slug} has no versions yet`);
  const runs = `/v1/prompts/${slug}/versions/${version.number}/test-runs`;

  let run;
  if (onProvider) {
    run = (await call("POST", runs, {})).body;
  } else {
    const suite = (await call("GET", `/v1/prompts/${slug}/tests`)).body;
    if (!suite.cases?.length) throw new CliError("no_test_suite", `${slug} has no test cases (PUT /v1/prompts/${slug}/tests)`);
    const render = await localRenderer(prompt, version);
    const live = new Set();
    const onSignal = (signal) => {
      for (const child of live) killTree(child);
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      process.kill(process.pid, signal);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    let done = 0;
    let outputs;
    try {
      outputs = await mapLimit(suite.cases, concurrency, async (tc) => {
        let rendered;
        try {
          rendered = await render(tc);
        } catch (e) {
          done++;
          return { case: tc.name, error: `render: ${e.code ?? "error"}: ${e.message}`.slice(0, MAX_ERROR_CHARS) };
        }
        const input = { case: tc.name, prompt: slug, version: version.number, rendered, model_params: version.model_params ?? {}, variables: tc.variables ?? {} };
        const r = await execCase(values.exec, input, timeoutS * 1000, live);
        progress(`${++done}/${suite.cases.length} cases`);
        return r.error !== undefined
          ? { case: tc.name, error: r.error.slice(0, MAX_ERROR_CHARS), ...(r.latency_ms !== undefined ? { latency_ms: r.latency_ms } : {}) }
          : { case: tc.name, output: r.output, latency_ms: r.latency_ms };
      });
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      for (const child of live) killTree(child);
    }
    run = (await call("POST", runs, { outputs })).body;
  }
  try {
    run = await waitForRun(call, slug, run, Date.now() + waitS * 1000, waitS, progress);
  } catch (e) {
    endProgress();
    if (e.run) {
      if (values.json) out(JSON.stringify(e.run, null, 2));
      else printRun(e.run.results ? e.run : (await call("GET", `/v1/prompts/${slug}/test-runs/${e.run.id}`)).body, out, c);
    }
    throw e;
  }
  endProgress();
  if (!run.results) run = (await call("GET", `/v1/prompts/${slug}/test-runs/${run.id}`)).body;
  if (values.json) out(JSON.stringify(run, null, 2));
  else printRun(run, out, c);
  if (run.status !== "passed") {
    throw new CliError("test_failed", `${run.failed} of ${run.total} cases failed: pass rate ${percent(run.pass_rate)}, threshold ${percent(run.pass_threshold)}`);
  }
}

// ---- watch ----------------------------------------------------------------------

/** "2026-12-05T01:23:45Z": the time a change was heard, to the second. */
const stamp = (d = new Date()) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/** Slugs whose served document differs between two bundles (added, removed or changed). */
function changedSlugs(before, after) {
  const a = before?.prompts ?? {};
  const b = after?.prompts ?? {};
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((s) => JSON.stringify(a[s]) !== JSON.stringify(b[s])).sort();
}

/**
 * `pvct watch`: the environment's live channel, as the SDK subscribes to it
 * (a WebSocket when the runtime has one, else long polls), one line per
 * change or approval activity, until SIGINT or SIGTERM.
 */
async function watch(values, cfg, call, out, err) {
  const environment = values.env ?? "production";
  // The key and the environment are checked first, with the usual exit codes.
  const envs = (await call("GET", "/v1/environments")).body.items.map((e) => e.name);
  if (!envs.includes(environment)) throw new CliError("not_found", `no environment '${environment}' (there are: ${envs.join(", ")})`);
  const print = (m) => {
    const time = stamp();
    if (values.json) return out(JSON.stringify({ time, ...m }));
    if (m.type === "changed") out(`${time} ${m.environment} seq ${m.seq} ${(m.prompts ?? []).join(",") || "-"}`);
    else out(`${time} ${m.environment} ${m.event} ${m.prompt}`);
  };
  const request = async (pathname, headers, { timeoutMs = 15_000, signal } = {}) => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const stop = () => controller.abort();
    signal?.addEventListener("abort", stop, { once: true });
    try {
      const res = await fetch(cfg.url + pathname, { headers: { authorization: `Bearer ${cfg.apiKey}`, ...headers }, signal: controller.signal });
      const text = await res.text();
      const after = Number(res.headers.get("retry-after"));
      return { status: res.status, etag: res.headers.get("etag"), seq: res.headers.get("x-pvct-seq"), retryAfterMs: after > 0 ? Math.min(after * 1000, 300_000) : null, text };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", stop);
    }
  };
  // The long poll's last bundle: its ETag and documents (to name what changed).
  let bundle = null;
  let etag = null;
  let announced = false;
  const channel = new LiveChannel({
    baseUrl: cfg.url,
    apiKey: cfg.apiKey,
    environment,
    WebSocket: typeof globalThis.WebSocket === "function" ? globalThis.WebSocket : null,
    pingMs: 30_000,
    request,
    etag: () => etag,
    onHello: (seq) => {
      err(`pvct: watching ${environment} (websocket, seq ${seq}); Ctrl-C to stop`);
    },
    onChanged: (m) => print({ type: "changed", environment, seq: m.seq, etag: m.etag ?? null, prompts: m.prompts ?? [] }),
    onActivity: (m) => print({ type: "activity", environment, event: m.event, prompt: m.prompt }),
    onBundle: (res) => {
      if (res.status !== 200 || res.etag === etag) return false;
      let doc;
      try {
        doc = JSON.parse(res.text);
      } catch {
        throw new CliError("malformed_json", "the bundle is not JSON");
      }
      const first = bundle === null;
      const prompts = changedSlugs(bundle, doc);
      bundle = doc;
      etag = res.etag;
      if (!first) print({ type: "changed", environment, seq: res.seq === null ? null : Number(res.seq), etag, prompts });
      return true;
    },
    onDown: (e) => {
      announced = false;
      err(`pvct: ${e.code}: ${e.message}`);
    },
  });
  // Long polls say when they work by answering; announced once per connection.
  const ticker = setInterval(() => {
    if (channel.transport === "long-poll" && channel.state === "open" && !announced) {
      announced = true;
      err(`pvct: watching ${environment} (long poll${channel.lastSeq === null ? "" : `, seq ${channel.lastSeq}`}); Ctrl-C to stop`);
    }
  }, 100);
  await new Promise((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  clearInterval(ticker);
  channel.stop();
}

function renderDiff(result, c, width, inline) {
  const lines = [];
  for (const field of result.fields.filter((f) => f.changed)) {
    lines.push(c.bold(`── ${field.field} (+${field.words_added} −${field.words_removed})`));
    const old = field.ops.filter((o) => o.op !== "insert").map((o) => (o.op === "delete" ? c.red(c.strike(o.text)) : o.text)).join("");
    const neu = field.ops.filter((o) => o.op !== "delete").map((o) => (o.op === "insert" ? c.green(o.text) : o.text)).join("");
    const plainOld = field.ops.filter((o) => o.op !== "insert").map((o) => o.text).join("");
    const plainNew = field.ops.filter((o) => o.op !== "delete").map((o) => o.text).join("");
    const col = Math.floor((width - 3) / 2);
    if (inline || width < 100) {
      lines.push(field.ops.map((o) => (o.op === "insert" ? c.green(`{+${o.text}+}`) : o.op === "delete" ? c.red(`[-${o.text}-]`) : o.text)).join(""));
    } else {
      // Side by side: wrap the plain texts, then colour what each column shows.
      const wrap = (s) => s.split("\n").flatMap((l) => (l.length === 0 ? [""] : l.match(new RegExp(`.{1,${col}}`, "g"))));
      const [l, r] = [wrap(plainOld), wrap(plainNew)];
      const [lc, rc] = [wrap(old), wrap(neu)];
      for (let i = 0; i < Math.max(l.length, r.length); i++) {
        const left = (l[i] ?? "").padEnd(col);
        lines.push(`${c.enabled ? left.replace(l[i] ?? "", lc[i] ?? l[i] ?? "") : left} │ ${c.enabled ? rc[i] ?? r[i] ?? "" : r[i] ?? ""}`);
      }
    }
  }
  if (lines.length === 0) lines.push("no differences");
  return lines.join("\n");
}

async function run(command, positionals, values, call, out, c, env = process.env, cfg = null, err = () => {}) {
  const json = (v) => out(JSON.stringify(v, null, 2));
  switch (command) {
    case "ls": {
      const prompts = await allPages(call, "/v1/prompts");
      const details = await Promise.all(prompts.map((p) => call("GET", `/v1/prompts/${p.slug}`).then((r) => r.body)));
      if (values.json) return json(details.map((d) => ({ slug: d.slug, name: d.name, kind: d.kind, head: d.head?.number ?? null, deployments: d.deployments })));
      for (const d of details) {
        const live = Object.entries(d.deployments).map(([env, dep]) => `${env}@${dep.version}`).join(" ");
        out(`${c.bold(d.slug.padEnd(24))} ${d.kind.padEnd(8)} head ${String(d.head?.number ?? "-").padEnd(4)} ${live}`);
      }
      return;
    }
    case "log": {
      const { slug } = splitSlug(positionals[0]);
      const versions = await allPages(call, `/v1/prompts/${slug}/versions`);
      if (values.json) return json(versions);
      for (const v of versions) out(`${c.bold(`v${v.number}`)}  ${c.dim(v.created_at)}  ${v.author}  ${v.message ?? ""}`);
      return;
    }
    case "show": {
      const { slug, number } = splitSlug(positionals[0]);
      const prompt = (await call("GET", `/v1/prompts/${slug}`)).body;
      const version = number ? (await call("GET", `/v1/prompts/${slug}/versions/${number}`)).body : prompt.head;
      if (values.json) return json(version);
      if (!version) return out(`${slug} has no versions yet`);
      out(`${c.bold(`${slug} v${version.number}`)}  ${version.author}  ${version.created_at}  ${version.message ?? ""}`);
      out(JSON.stringify(promptFile(prompt, version), null, 2));
      return;
    }
    case "diff": {
      const { slug } = splitSlug(positionals[0]);
      const [a, b] = [positionals[1], positionals[2]];
      if (!a || !b) throw new CliError("usage", "diff needs two version numbers");
      const result = (await call("GET", `/v1/prompts/${slug}/diff?from=${a}&to=${b}`)).body;
      if (values.json) return json(result);
      out(renderDiff(result, c, process.stdout.columns ?? 80, values.inline));
      return;
    }
    case "commit": {
      const { slug } = splitSlug(positionals[0]);
      if (!values.file) throw new CliError("usage", "commit needs -f <file>");
      const file = values.file;
      const doc = file.endsWith(".json") ? readPromptFile(file) : { kind: "text", content: { text: readFileSync(file, "utf8") }, model_params: {}, variables: [] };
      const result = await commitDoc(call, slug, doc, values.message);
      if (values.json) return json(result);
      out(result.created ? `${slug}: committed v${result.version.number}` : `${slug}: unchanged (v${result.version.number} is identical)`);
      return;
    }
    case "push": {
      const dir = positionals[0];
      if (!dir) throw new CliError("usage", "push needs a folder");
      const files = readdirSync(dir).filter((f) => f.endsWith(FILE_SUFFIX)).sort();
      const results = [];
      let failed = 0;
      for (const [i, f] of files.entries()) {
        const slug = slugOfFile(f);
        try {
          const r = await commitDoc(call, slug, readPromptFile(path.join(dir, f)), values.message);
          results.push({ slug, created: r.created, version: r.version.number });
        } catch (e) {
          failed++;
          results.push({ slug, error: { code: e.code, message: e.message } });
        }
        if (!values.json && process.stderr.isTTY) process.stderr.write(`\r${i + 1}/${files.length} ${slug}`.padEnd(60));
      }
      if (!values.json && process.stderr.isTTY) process.stderr.write("\n");
      if (values.json) json({ pushed: results.filter((r) => r.created).length, unchanged: results.filter((r) => r.created === false).length, failed, results });
      else {
        for (const r of results) out(r.error ? c.red(`${r.slug}: ${r.error.code}: ${r.error.message}`) : r.created ? `${r.slug}: committed v${r.version}` : c.dim(`${r.slug}: unchanged`));
        out(`${results.filter((r) => r.created).length} committed, ${results.filter((r) => r.created === false).length} unchanged, ${failed} failed`);
      }
      if (failed) throw new CliError(results.find((r) => r.error).error.code, `${failed} of ${files.length} files failed`, undefined, true);
      return;
    }
    case "pull": {
      const dir = positionals[0];
      if (!dir) throw new CliError("usage", "pull needs a folder");
      mkdirSync(dir, { recursive: true });
      const prompts = await allPages(call, "/v1/prompts");
      const written = [];
      for (const p of prompts) {
        // Slugs name files: never trust a server to keep them inside <dir>.
        if (!/^[a-z0-9-]{1,64}$/.test(p.slug)) throw new CliError("invalid_field", `refusing to write a file for slug ${JSON.stringify(p.slug)}`);
        const detail = (await call("GET", `/v1/prompts/${p.slug}`)).body;
        if (!detail.head) continue;
        writeFileSync(path.join(dir, `${p.slug}${FILE_SUFFIX}`), `${JSON.stringify(promptFile(detail, detail.head), null, 2)}\n`);
        written.push({ slug: p.slug, version: detail.head.number });
      }
      if (values.json) return json({ written });
      out(`${written.length} prompt files written to ${dir}`);
      return;
    }
    case "promote": {
      const { slug } = splitSlug(positionals[0]);
      const version = Number(positionals[1]);
      if (!version || !values.to) throw new CliError("usage", "promote needs a version number and --to <env>");
      const res = await call("POST", `/v1/prompts/${slug}/promote`, {
        version, environment: values.to, reason: values.message ?? null, ...(values["end-experiment"] ? { end_experiment: true } : {}),
      });
      if (values.json) return json(res.body);
      if (res.status === 202) out(`${slug} v${version} → ${values.to}: pending approval ${res.body.approval_id}`);
      else out(`${slug} v${version} → ${values.to}: ${res.body.status}`);
      return;
    }
    case "approve":
    case "reject": {
      const id = positionals[0];
      if (!id) throw new CliError("usage", `${command} needs an approval id`);
      const res = await call("POST", `/v1/approvals/${id}/${command}`, { note: values.message ?? null });
      if (values.json) return json(res.body);
      if (command === "reject") out(`rejected ${id}`);
      else if (res.body.variants) out(`approved: split ${res.body.variants.map((v) => `v${v.version} ${v.weight}%`).join(", ")} in ${res.body.environment}`);
      else out(`approved: v${res.body.version} deployed to ${res.body.environment}`);
      return;
    }
    case "rollback": {
      const { slug } = splitSlug(positionals[0]);
      if (!values.env) throw new CliError("usage", "rollback needs --env <env>");
      const res = await call("POST", `/v1/prompts/${slug}/rollback`, { environment: values.env, reason: values.message ?? null });
      if (values.json) return json(res.body);
      out(res.body.status === "experiment_ended"
        ? `${slug} in ${values.env}: split ended, everyone gets v${res.body.version}`
        : `${slug} in ${values.env}: back to v${res.body.version}`);
      return;
    }
    case "experiment": {
      const [action, slugArg] = positionals;
      const { slug } = splitSlug(slugArg);
      if (!values.env) throw new CliError("usage", "experiment needs --env <env>");
      if (action === "end") {
        const res = await call("DELETE", `/v1/prompts/${slug}/experiments/${values.env}`);
        return values.json ? json(res.body) : out(`experiment on ${slug} in ${values.env} ended`);
      }
      if (action !== "set") throw new CliError("usage", "experiment set|end");
      const variants = (values.variant ?? []).map((v) => {
        const [n, wgt] = v.split(":").map(Number);
        if (!n || Number.isNaN(wgt)) throw new CliError("usage", `--variant takes VERSION:WEIGHT, got ${v}`);
        return { version: n, weight: wgt };
      });
      const res = await call("PUT", `/v1/prompts/${slug}/experiments/${values.env}`, { variants, ...(values.salt ? { salt: values.salt } : {}), ...(values.name ? { name: values.name } : {}) });
      if (values.json) return json(res.body);
      const split = res.body.variants.map((v) => `v${v.version} ${v.weight}%`).join(", ");
      if (res.status === 202) out(`${slug} in ${values.env}: ${split}: pending approval ${res.body.approval_id}`);
      else out(`${slug} in ${values.env}: ${split} (${res.status === 201 ? "started" : "changed"})`);
      return;
    }
    case "metrics": {
      const { slug } = splitSlug(positionals[0]);
      const env = values.env ?? "production";
      const q = `environment=${env}${values.from ? `&from=${encodeURIComponent(values.from)}` : ""}${values.to ? `&to=${encodeURIComponent(values.to)}` : ""}`;
      const res = (await call("GET", `/v1/prompts/${slug}/metrics?${q}`)).body;
      if (values.json) return json(res);
      const f = (x, d = 2) => (x === null || x === undefined ? "-" : Number(x).toFixed(d));
      out(c.bold("version  calls    errors  p50 ms   p95 ms   p99 ms   $/call     score  feedback"));
      for (const i of res.items) {
        const m = i.metrics;
        out(`v${String(i.version).padEnd(7)} ${String(m.calls).padEnd(8)} ${f(m.error_rate, 3).padEnd(7)} ${f(m.p50_ms, 1).padEnd(8)} ${f(m.p95_ms, 1).padEnd(8)} ${f(m.p99_ms, 1).padEnd(8)} ${f(m.cost_per_call_usd, 5).padEnd(10)} ${f(m.mean_score).padEnd(6)} ${f(m.feedback_rate)}`);
      }
      return;
    }
    case "status": {
      const [envs, prompts, approvals] = await Promise.all([
        call("GET", "/v1/environments").then((r) => r.body.items),
        allPages(call, "/v1/prompts"),
        call("GET", "/v1/approvals?status=pending").then((r) => r.body.items),
      ]);
      const details = await Promise.all(prompts.map((p) => call("GET", `/v1/prompts/${p.slug}`).then((r) => r.body)));
      const experiments = (await Promise.all(prompts.map((p) => call("GET", `/v1/prompts/${p.slug}/experiments`).then((r) => r.body.items)))).flat().filter((x) => x.status === "running");
      const status = { environments: envs.map((e) => e.name), prompts: details.map((d) => ({ slug: d.slug, head: d.head?.number ?? null, live: Object.fromEntries(Object.entries(d.deployments).map(([k, v]) => [k, v.version])) })), experiments, pending_approvals: approvals };
      if (values.json) return json(status);
      out(c.bold(`${"prompt".padEnd(24)} head  ${status.environments.map((e) => e.padEnd(12)).join("")}`));
      for (const p of status.prompts) out(`${p.slug.padEnd(24)} ${String(p.head ?? "-").padEnd(5)} ${status.environments.map((e) => String(p.live[e] ?? "-").padEnd(12)).join("")}`);
      for (const x of experiments) out(`experiment ${x.prompt} in ${x.environment}: ${x.variants.map((v) => `v${v.version} ${v.weight}%`).join(", ")}`);
      for (const a of approvals) out(`pending approval ${a.id}: ${a.prompt} v${a.version} → ${a.environment} (by ${a.requested_by})`);
      return;
    }
    case "import":
      return importFromLangfuse(values, env, call, out, c);
    case "test":
      return runTests(positionals, values, call, out, c);
    case "watch":
      return watch(values, cfg, call, out, err);
    default:
      throw new CliError("usage", `unknown command '${command}'; see pvct --help`);
  }
}

function usage() {
  const lines = ["pvct: PromptVault from the command line", "", "Usage: pvct <command> [options]   (--json on every command; --help per command)", ""];
  for (const [, [u, d]] of Object.entries(HELP)) lines.push(`  pvct ${u}\n      ${d}`);
  lines.push("", "Configuration: PVCT_URL and PVCT_API_KEY, or .pvct.json / ~/.config/pvct/config.json with {\"url\", \"apiKey\"}.");
  lines.push(`Exit codes: ${Object.entries(EXIT).map(([k, v]) => `${v} ${k}`).join(", ")}.`);
  return lines.join("\n");
}

export async function main(argv, env = process.env, out = (s) => process.stdout.write(`${s}\n`), err = (s) => process.stderr.write(`${s}\n`)) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: "boolean" }, help: { type: "boolean", short: "h" }, inline: { type: "boolean" },
        file: { type: "string", short: "f" }, message: { type: "string", short: "m" },
        to: { type: "string" }, env: { type: "string" }, from: { type: "string" },
        variant: { type: "string", multiple: true }, salt: { type: "string" }, name: { type: "string" },
        "end-experiment": { type: "boolean" },
        "from-langfuse": { type: "string" }, "public-key": { type: "string" }, "secret-key": { type: "string" },
        exec: { type: "string" }, concurrency: { type: "string" }, timeout: { type: "string" }, wait: { type: "string" },
        "on-provider": { type: "boolean" },
      },
    });
  } catch (e) {
    err(e.message);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (!command || (values.help && !HELP[command])) {
    out(usage());
    return command ? EXIT.usage : values.help ? EXIT.ok : EXIT.usage;
  }
  if (values.help) {
    out(`Usage: pvct ${HELP[command][0]}\n\n${HELP[command][1]}\n\nOptions: --json (machine-readable output)`);
    return EXIT.ok;
  }
  const c = { ...color(!values.json && process.stdout.isTTY && !env.NO_COLOR), enabled: !values.json && process.stdout.isTTY && !env.NO_COLOR };
  try {
    const cfg = config(env);
    await run(command, rest, values, api(cfg), out, c, env, cfg, err);
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    if (values.json && e.code !== "usage") err(JSON.stringify({ error: { code: e.code, message: e.message, details: e.details } }));
    else {
      err(`pvct: ${e.code}: ${e.message}`);
      for (const f of e.details?.failures ?? []) err(`  ${f.gate}: measured ${f.measured ?? "nothing"}, threshold ${f.threshold}`);
    }
    return exitCodeOf(e);
  }
}

// Run when executed (npx pvct, node cli.mjs), not when imported by tests.
if (process.argv[1] && /(^|[\\/])(cli\.mjs|pvct)$/.test(process.argv[1])) {
  main(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
