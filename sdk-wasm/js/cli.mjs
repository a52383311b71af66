#!/usr/bin/env node
// `pvct`: PromptVault from the command line, next to wrangler. Configured by
// PVCT_URL and PVCT_API_KEY, or a config file (.pvct.json in the current
// folder or ~/.config/pvct/config.json: {"url": ..., "apiKey": ...}).
// Every command takes --json (the API's answer, for scripts) and --help.
// Exit codes: see EXIT below; CI can branch on them.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

export const EXIT = { ok: 0, error: 1, usage: 2, auth: 3, not_found: 4, conflict: 5, gates_failed: 6, network: 7, invalid: 8 };

const FILE_SUFFIX = ".prompt.json";

const HELP = {
  ls: ["ls", "List prompts with what is live in each environment."],
  log: ["log <slug>", "Version history, newest first."],
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
  if (["stale_parent", "conflict", "already_exists", "variables_changed", "nothing_to_roll_back", "experiment_running", "stale_approval"].includes(e.code)) return EXIT.conflict;
  if (e.code === "gates_failed") return EXIT.gates_failed;
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

async function allPages(call, pathname) {
  const items = [];
  let cursor = null;
  do {
    const sep = pathname.includes("?") ? "&" : "?";
    const page = (await call("GET", `${pathname}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`)).body;
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

async function run(command, positionals, values, call, out, c) {
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
    await run(command, rest, values, api(config(env)), out, c);
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
