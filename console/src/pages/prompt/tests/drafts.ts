// The suite editor's form state: a case as the user edits it (text in
// inputs) and back to what PUT /v1/prompts/{slug}/tests takes. Declared
// variables get a field each; any other variable, and any value that is not
// text, lives in the case's free JSON.
import type { Assertion, AssertionType, TestCase, VariableDecl, VersionSummary } from "../../../api";

export const ASSERTION_TYPES: { type: AssertionType; hint: string }[] = [
  { type: "contains", hint: "the output contains a text" },
  { type: "not_contains", hint: "the output does not contain a text" },
  { type: "regex", hint: "the output matches a regular expression" },
  { type: "json_valid", hint: "the output is JSON (optionally matching a schema)" },
  { type: "similarity", hint: "token F1 against the reference, at least the threshold" },
  { type: "judge", hint: "the workspace's LLM judge scores the criteria, at least the threshold" },
  { type: "max_latency_ms", hint: "the call took at most this many milliseconds" },
];

export interface AssertionDraft {
  type: AssertionType;
  /** contains / not_contains: the text; max_latency_ms: the milliseconds. */
  value: string;
  case_sensitive: boolean;
  pattern: string;
  /** json_valid: a JSON schema, or empty. */
  schema: string;
  /** similarity: its own reference, or empty for the case's. */
  reference: string;
  /** similarity / judge: 0 to 1. */
  threshold: string;
  criteria: string;
}

export interface CaseDraft {
  /** A key for React, stable while the case is edited. */
  id: number;
  name: string;
  /** Values of the declared variables typed in their fields (empty: not set). */
  vars: Record<string, string>;
  /** Every other variable, as a JSON object (empty: none). */
  extra: string;
  /** Chat history for placeholders, as JSON (empty: none). */
  history: string;
  reference: string;
  assert: AssertionDraft[];
}

/** A problem in a draft, found before anything is sent. */
export class DraftError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

let nextId = 1;
export const newId = () => nextId++;

export const blankAssertion = (type: AssertionType = "contains"): AssertionDraft => ({
  type,
  value: "",
  case_sensitive: false,
  pattern: "",
  schema: "",
  reference: "",
  threshold: type === "similarity" || type === "judge" ? "0.5" : "",
  criteria: "",
});

export const blankCase = (): CaseDraft => ({
  id: newId(),
  name: "",
  vars: {},
  extra: "",
  history: "",
  reference: "",
  assert: [blankAssertion()],
});

/** The variables a version takes: its declarations, then any other it uses. */
export function declaredVariables(v: VersionSummary | undefined): VariableDecl[] {
  if (!v) return [];
  const decls = [...(v.variable_declarations ?? [])];
  for (const name of v.variables ?? []) if (!decls.some((d) => d.name === name)) decls.push({ name });
  return decls;
}

const json = (v: unknown) => JSON.stringify(v, null, 2);

function assertionToDraft(a: Assertion): AssertionDraft {
  const d = blankAssertion(a.type);
  switch (a.type) {
    case "contains":
    case "not_contains":
      return { ...d, value: a.value, case_sensitive: a.case_sensitive === true };
    case "regex":
      return { ...d, pattern: a.pattern };
    case "json_valid":
      return { ...d, schema: a.schema == null ? "" : json(a.schema) };
    case "similarity":
      return { ...d, reference: a.reference ?? "", threshold: String(a.threshold ?? 0.5) };
    case "judge":
      return { ...d, criteria: a.criteria, threshold: String(a.threshold ?? 0.5) };
    case "max_latency_ms":
      return { ...d, value: String(a.value) };
  }
}

/** Text values of declared variables go to their fields, the rest to the JSON. */
function splitVariables(variables: Record<string, unknown>, declared: string[]): { vars: Record<string, string>; extra: string } {
  const vars: Record<string, string> = {};
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(variables)) {
    if (declared.includes(k) && typeof v === "string" && v !== "") vars[k] = v;
    else rest[k] = v;
  }
  return { vars, extra: Object.keys(rest).length ? json(rest) : "" };
}

/** A saved case as form state, its text variables in the fields `declared` names. */
export function caseToDraft(c: TestCase, declared: string[], id = newId()): CaseDraft {
  return {
    id,
    name: c.name,
    ...splitVariables(c.variables ?? {}, declared),
    history: c.history == null ? "" : json(c.history),
    reference: c.reference ?? "",
    assert: c.assert.map(assertionToDraft),
  };
}

function parseJson(text: string, field: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new DraftError(field, `${what} is not valid JSON`);
  }
}

function unit(text: string, field: string, what: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) throw new DraftError(field, `${what} is a number from 0 to 1`);
  return n;
}

function draftToAssertion(d: AssertionDraft, at: string): Assertion {
  switch (d.type) {
    case "contains":
    case "not_contains":
      if (d.value === "") throw new DraftError("value", `${at}: the text to look for is empty`);
      return { type: d.type, value: d.value, ...(d.case_sensitive ? { case_sensitive: true } : {}) };
    case "regex":
      if (d.pattern === "") throw new DraftError("pattern", `${at}: the pattern is empty`);
      return { type: "regex", pattern: d.pattern };
    case "json_valid":
      return d.schema.trim() ? { type: "json_valid", schema: parseJson(d.schema, "schema", `${at}: the schema`) } : { type: "json_valid" };
    case "similarity":
      return {
        type: "similarity",
        ...(d.reference ? { reference: d.reference } : {}),
        threshold: unit(d.threshold, "threshold", `${at}: the threshold`),
      };
    case "judge":
      if (d.criteria.trim() === "") throw new DraftError("criteria", `${at}: the judge needs criteria`);
      return { type: "judge", criteria: d.criteria, threshold: unit(d.threshold, "threshold", `${at}: the threshold`) };
    case "max_latency_ms": {
      const n = Number(d.value);
      if (d.value.trim() === "" || !Number.isFinite(n) || n <= 0)
        throw new DraftError("value", `${at}: max_latency_ms is a positive number of milliseconds`);
      return { type: "max_latency_ms", value: n };
    }
  }
}

/** The case as the API takes it; a DraftError says what is wrong. */
export function draftToCase(d: CaseDraft): TestCase {
  const who = d.name ? `case '${d.name}'` : "a case";
  if (!/^[a-z0-9._-]{1,64}$/.test(d.name))
    throw new DraftError("name", `${who}: a case name is 1 to 64 characters of a-z, 0-9, '-', '_', '.'`);
  let variables: Record<string, unknown> = {};
  if (d.extra.trim()) {
    const extra = parseJson(d.extra, "variables", `${who}: the other variables`);
    if (extra === null || typeof extra !== "object" || Array.isArray(extra))
      throw new DraftError("variables", `${who}: the other variables are a JSON object`);
    variables = { ...(extra as Record<string, unknown>) };
  }
  for (const [k, v] of Object.entries(d.vars)) {
    if (v === "") continue;
    if (k in variables) throw new DraftError("variables", `${who}: '${k}' is set both in its field and in the JSON`);
    variables[k] = v;
  }
  const out: TestCase = { name: d.name, assert: [] };
  if (Object.keys(variables).length) out.variables = variables;
  if (d.history.trim()) {
    const h = parseJson(d.history, "history", `${who}: the history`);
    if (h === null || typeof h !== "object")
      throw new DraftError("history", `${who}: the history is a list of messages, or an object of them by placeholder`);
    out.history = h;
  }
  if (d.reference) out.reference = d.reference;
  if (d.assert.length === 0) throw new DraftError("assert", `${who} needs at least one assertion`);
  out.assert = d.assert.map((a, i) => draftToAssertion(a, `${who}, assertion ${i + 1}`));
  return out;
}

/** Re-splits a draft's variables for another version's declarations (unchanged while its JSON is invalid). */
export function resplit(d: CaseDraft, declared: string[]): CaseDraft {
  let variables: Record<string, unknown> = {};
  if (d.extra.trim()) {
    try {
      const extra = JSON.parse(d.extra);
      if (extra === null || typeof extra !== "object" || Array.isArray(extra)) return d;
      variables = extra;
    } catch {
      return d;
    }
  }
  for (const [k, v] of Object.entries(d.vars)) if (v !== "") variables[k] = v;
  return { ...d, ...splitVariables(variables, declared) };
}
