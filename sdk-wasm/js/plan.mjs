// Executes what the WASM core compiled: experiment routing (GrowthBook v2
// bucketing over the bucket ranges the core computed) and render plans
// (literals and variable slots, binding rules). A WASM call costs more than
// this work, so the per-call path stays in JS; how a non-plain value (a
// float, an object) renders is still asked of the core. The shared vectors
// (tests/vectors/routing.json, rendering.json) hold this to the core's
// results, and the SDK tests compare it with the worker's resolve and render.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a 32 over UTF-16 code units, as GrowthBook and the core define it, continuing from `h`. */
export function fnv1a32(s, h = FNV_OFFSET) {
  // int32 arithmetic in the loop (imul wraps like u32 multiplication); unsigned at the end.
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

/** The bucket in [0, 1) of `key` under `seed`. */
export function bucket(seed, key) {
  return bucketAfter(fnv1a32(seed), key);
}

/**
 * The bucket of `key` under a seed whose hash is `seedHash` (FNV is a
 * stream: hashing seed + key is hashing key after the seed), so routers
 * hash each experiment's salt once.
 */
export function bucketAfter(seedHash, key) {
  return (fnv1a32(String(fnv1a32(key, seedHash))) % 10000) / 10000;
}

/** The variant index for a bucket, or -1 (the deployed version). */
export function chooseVariant(n, ranges) {
  for (let i = 0; i < ranges.length; i++) if (n >= ranges[i][0] && n < ranges[i][1]) return i;
  return -1;
}

const ROLES = new Set(["system", "user", "assistant"]);

/** A variable's text: plain values here, the rest as the core formats them. */
function textOf(v, valueText) {
  if (typeof v === "string") return v;
  if (v === null) return "";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number" && Number.isSafeInteger(v)) return String(v);
  // What the worker would receive: the value as JSON (NaN becomes null).
  return valueText(JSON.stringify(v));
}

function fill(template, values) {
  const { literals, slots } = template;
  let out = literals[0];
  for (let i = 0; i < slots.length; i++) out += values[slots[i]] + literals[i + 1];
  return out;
}

/** Caller messages by placeholder name, checked as the core checks them. */
function historyOf(history, makeError) {
  // No prototype: placeholder names such as "constructor" must find nothing.
  const out = Object.create(null);
  if (history == null) return out;
  const list = (value, name) => {
    if (!Array.isArray(value)) throw makeError("invalid_field", `history.${name}: expected a list of messages`, { field: "history" });
    return value.map((m, i) => {
      const keys = m !== null && typeof m === "object" && !Array.isArray(m) ? Object.keys(m) : null;
      if (!keys || keys.length !== 2 || !ROLES.has(m.role) || typeof m.content !== "string") {
        throw makeError("invalid_field", `history.${name}[${i}]: a message is {"role": "system" | "user" | "assistant", "content": "..."}`, {
          field: "history",
        });
      }
      return { role: m.role, content: m.content };
    });
  };
  if (Array.isArray(history)) {
    out.history = list(history, "history");
    return out;
  }
  if (typeof history === "object") {
    for (const name of Object.keys(history)) out[name] = list(history[name], name);
    return out;
  }
  throw makeError("invalid_field", "history is a list of {role, content} messages, or an object of such lists", { field: "history" });
}

/**
 * Renders `plan` as the core's PreparedBundle::render does: `{ text }` or
 * `{ messages }`; throws `makeError(code, message, details)` for missing or
 * unknown variables and bad history, with the core's codes.
 */
export function renderPlan(plan, given, history, strict, valueText, makeError) {
  const byName = historyOf(history, makeError);
  const { names } = plan;
  const values = new Array(names.length);
  let missing;
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const v = Object.prototype.hasOwnProperty.call(given, name) ? given[name] : undefined;
    if (v !== undefined) {
      values[i] = textOf(v, valueText);
    } else if (Object.prototype.hasOwnProperty.call(plan.defaults, name)) {
      values[i] = plan.defaults[name];
    } else {
      (missing ??= []).push(name);
    }
  }
  let unknown;
  for (const key in given) {
    if (!Object.prototype.hasOwnProperty.call(given, key) || given[key] === undefined) continue;
    if (!names.includes(key) && !plan.declared.includes(key)) (unknown ??= []).push(key);
  }
  unknown?.sort();
  if (missing) {
    let message = `missing variables: ${missing.join(", ")}`;
    if (strict && unknown) message += `; unknown variables: ${unknown.join(", ")}`;
    throw makeError("missing_variables", message, { missing, unknown: strict ? unknown ?? [] : [] });
  }
  if (strict && unknown) {
    throw makeError("unknown_variables", `unknown variables: ${unknown.join(", ")} (render with strict: false to ignore them)`, {
      missing: [],
      unknown,
    });
  }
  if (plan.text) return { text: fill(plan.text, values), messages: null };
  const messages = [];
  for (const m of plan.messages) {
    if (m.template) messages.push({ role: m.role, content: fill(m.template, values) });
    else if (byName[m.placeholder]) messages.push(...byName[m.placeholder]);
  }
  return { text: null, messages };
}
