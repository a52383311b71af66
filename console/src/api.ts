// A typed client for the PromptVault API (same origin). Every failure is an
// ApiError carrying the API's stable code, so pages branch on codes, never on
// message text.

export type Kind = "text" | "chat" | "snippet";
export type Message = { role: "system" | "user" | "assistant"; content: string };
export type Placeholder = { role: "placeholder"; name: string };
export type Entry = Message | Placeholder;
export type Content = { text: string } | { messages: Entry[] };
export type ModelParams = Record<string, unknown> | null;

export interface Me {
  key_id: string;
  workspace_id: string;
  actor: string;
  role: "reader" | "editor" | "approver" | "admin";
  permissions: Permission[];
}
export type Permission = "read" | "write" | "approve" | "administer";

export interface Prompt {
  id: string;
  slug: string;
  name: string;
  description: string;
  kind: Kind;
  created_by: string | null;
  created_at: string;
}
export interface LiveDeployment {
  version: number;
  version_id: string;
  deployment_id: string;
  deployed_at: string;
}
export interface VariableDecl {
  name: string;
  required?: boolean;
  default?: unknown;
  description?: string;
}
/** A version without its content: what the versions list answers. */
export interface VersionSummary {
  id: string;
  prompt: string;
  number: number;
  parent_version: number | null;
  model_params: ModelParams;
  variables: string[];
  variable_declarations: VariableDecl[];
  snippet_pins: Record<string, number>;
  content_hash: string;
  author: string;
  message: string;
  created_at: string;
}
/** A version with its content: one version's own answer, and a prompt's head. */
export interface Version extends VersionSummary {
  content: Content;
  resolved_content: Content;
}
export interface PromptDetail extends Prompt {
  head: Version | null;
  deployments: Record<string, LiveDeployment>;
}
export interface Environment {
  name: string;
  position: number;
  policy: Record<string, unknown>;
}
export interface Deployment {
  id: string;
  environment: string;
  version: number;
  version_id: string;
  action: "promote" | "rollback";
  reason: string;
  actor: string;
  created_at: string;
}
/** One arm of an A/B split: a version and its share of traffic in percent. */
export interface Variant {
  version: number;
  weight: number;
}
export interface Experiment {
  id: string;
  prompt: string;
  environment: string;
  name: string;
  salt: string;
  variants: Variant[];
  status: "running" | "ended";
  started_by: string;
  started_at: string;
  updated_at?: string;
  ended_by?: string | null;
  ended_at: string | null;
}
export type ApprovalStatus = "pending" | "approved" | "rejected" | "superseded";
interface ApprovalBase {
  id: string;
  prompt: string;
  environment: string;
  reason: string;
  status: ApprovalStatus;
  requested_by: string;
  decided_by: string | null;
  decision_note?: string | null;
  created_at: string;
  decided_at?: string | null;
  /** For each version the request asks for, its latest run of the prompt's current suite (none when never run). */
  test_runs: ApprovalTestRun[];
}
/** A version's latest test run, as an approval shows it. */
export interface ApprovalTestRun {
  version: number;
  run_id: string;
  status: "running" | "passed" | "failed";
  pass_rate: number | null;
}
/** A request waiting for (or decided by) an approver: a promotion or a split. */
export type Approval =
  | (ApprovalBase & { kind: "promote"; version: number; end_experiment?: boolean })
  | (ApprovalBase & { kind: "experiment"; variants: Variant[]; name?: string | null });
export interface BundlePrompt {
  slug: string;
  version: number;
  experiment?: { id: string; name: string; variants: Variant[] };
}
export interface VersionMetrics {
  calls: number;
  errors: number;
  error_rate: number | null;
  cost_per_call_usd: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  mean_score: number | null;
  feedback_rate: number | null;
}
export interface MetricsItem {
  version: number;
  version_id: string;
  metrics: VersionMetrics;
}
export interface GateFailure {
  gate: string;
  measured: number | null;
  threshold: number | boolean | null;
  message?: string;
}

/** One assertion of a test case, as PUT /v1/prompts/{slug}/tests takes it. */
export type Assertion =
  | { type: "contains" | "not_contains"; value: string; case_sensitive?: boolean }
  | { type: "regex"; pattern: string }
  | { type: "json_valid"; schema?: unknown }
  | { type: "similarity"; reference?: string | null; threshold?: number }
  | { type: "judge"; criteria: string; threshold?: number }
  | { type: "max_latency_ms"; value: number };
export type AssertionType = Assertion["type"];
export interface TestCase {
  name: string;
  variables?: Record<string, unknown>;
  /** Chat history for placeholders: a list of messages, or lists by placeholder. */
  history?: unknown;
  reference?: string | null;
  assert: Assertion[];
}
/** A prompt's suite at its current revision (0: none saved yet). */
export interface TestSuite {
  prompt: string;
  revision: number;
  cases: TestCase[];
  pass_threshold: number;
  auto_run: boolean;
  author: string | null;
  created_at: string | null;
}
export interface TestResult {
  case: string;
  /** null while a judge assertion waits for its answer. */
  passed: boolean | null;
  output: string;
  error: string | null;
  latency_ms: number | null;
  cost_usd: number | null;
  assertions: { type: AssertionType; passed: boolean | null; score: number | null }[];
}
export interface TestRun {
  id: string;
  prompt: string;
  version: number;
  suite_revision: number;
  mode: "provider" | "client";
  status: "running" | "passed" | "failed";
  total: number;
  passed: number;
  failed: number;
  pending: number;
  pass_rate: number | null;
  pass_threshold: number;
  started_by: string;
  started_at: string;
  /** Only on one run's own answer, not in lists. */
  results?: TestResult[];
}
export type CaseChangeKind = "regressed" | "improved" | "output_changed" | "added" | "removed" | "unchanged";
export interface TestRunComparison {
  a: TestRun;
  b: TestRun;
  /** Every case of either run, regressions first. */
  cases: {
    case: string;
    change: CaseChangeKind;
    a: boolean | null;
    b: boolean | null;
    /** The word diff of the two outputs, when they differ. */
    diff: { op: "equal" | "insert" | "delete"; text: string }[] | null;
  }[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export class Api {
  constructor(private readonly key: string) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.key}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, "network", "The PromptVault API did not answer.");
    }
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      throw new ApiError(res.status, "bad_response", `Unexpected answer (${res.status}).`);
    }
    if (!res.ok) {
      const e = (parsed as { error?: { code: string; message: string; details?: Record<string, unknown> } })?.error;
      throw new ApiError(res.status, e?.code ?? "unknown", e?.message ?? `HTTP ${res.status}`, e?.details ?? {});
    }
    return { status: res.status, body: parsed as T };
  }

  get = <T>(path: string) => this.call<T>("GET", path).then((r) => r.body);
  post = <T>(path: string, body: unknown) => this.call<T>("POST", path, body);
  put = <T>(path: string, body: unknown) => this.call<T>("PUT", path, body);
  del = <T>(path: string) => this.call<T>("DELETE", path);

  me = () => this.get<Me>("/v1/me");
  environments = () => this.get<{ items: Environment[] }>("/v1/environments").then((r) => r.items);
  prompt = (slug: string) => this.get<PromptDetail>(`/v1/prompts/${slug}`);
  version = (slug: string, n: number) => this.get<Version>(`/v1/prompts/${slug}/versions/${n}`);
  /** Every version of a prompt, newest first, without content (200 a page, the API's most). */
  versions = (slug: string) => this.all<VersionSummary>(`/v1/prompts/${slug}/versions?limit=200`);
  bundle = (env: string) =>
    this.get<{ prompts: Record<string, BundlePrompt> }>(`/v1/bundle?environment=${encodeURIComponent(env)}`);
  pendingApprovals = () => this.get<{ items: Approval[] }>("/v1/approvals?status=pending").then((r) => r.items);
  /** The newest requests of every status (the API answers up to 200). */
  approvals = () => this.get<{ items: Approval[] }>("/v1/approvals").then((r) => r.items);
  experiments = (slug: string) => this.get<{ items: Experiment[] }>(`/v1/prompts/${slug}/experiments`).then((r) => r.items);
  /** The first page of a prompt's deployments, newest first. */
  deployments = (slug: string) => this.get<{ items: Deployment[] }>(`/v1/prompts/${slug}/deployments`).then((r) => r.items);
  /** Every deployment of a prompt in one environment, newest first. */
  deploymentsIn = (slug: string, env: string) =>
    this.all<Deployment>(`/v1/prompts/${slug}/deployments?environment=${encodeURIComponent(env)}&limit=100`);
  testSuite = (slug: string) => this.get<TestSuite>(`/v1/prompts/${slug}/tests`);
  /** A prompt's newest test runs (the API answers up to 100), without results. */
  testRuns = (slug: string, version?: number) =>
    this.get<{ items: TestRun[] }>(`/v1/prompts/${slug}/test-runs${version ? `?version=${version}` : ""}`).then((r) => r.items);
  testRun = (slug: string, id: string) => this.get<TestRun>(`/v1/prompts/${slug}/test-runs/${encodeURIComponent(id)}`);
  compareTestRuns = (slug: string, a: string, b: string) =>
    this.get<TestRunComparison>(`/v1/prompts/${slug}/test-runs/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);

  /** Every page of a cursor-paged list. */
  async all<T>(path: string): Promise<T[]> {
    const out: T[] = [];
    let cursor: string | null = null;
    do {
      const sep = path.includes("?") ? "&" : "?";
      const page: { items: T[]; next_cursor: string | null } = await this.get(
        cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path,
      );
      out.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    return out;
  }
}
