// A typed client for the PromptVault API (same origin). Every failure is an
// ApiError carrying the API's stable code, so pages branch on codes, never on
// message text.

export type Kind = "text" | "chat" | "snippet";
export type Message = { role: "system" | "user" | "assistant"; content: string };
export type Placeholder = { role: "placeholder"; name: string };
export type Entry = Message | Placeholder;
export type Content = { text: string } | { messages: Entry[] };
export type ModelParams = Record<string, unknown> | null;

export type Role = "reader" | "editor" | "approver" | "admin";
export const ROLES: Role[] = ["reader", "editor", "approver", "admin"];
/** A person as the API names one: signed in through Cloudflare Access. */
export interface Person {
  email: string;
  /** Their display name (the email when none is known). */
  name: string | null;
}
export interface Me {
  /** "person": signed in through Cloudflare Access; "key": an API key. (Older workers: absent, a key.) */
  kind?: "person" | "key";
  key_id: string | null;
  workspace_id: string;
  actor: string;
  role: Role;
  permissions: Permission[];
  /** The person signed in; for a key, the person who created it (null for keys no person created). */
  person?: Person | null;
}
export type Permission = "read" | "write" | "approve" | "administer";

/** `GET /v1/auth/config` (public): how this console signs people in. */
export interface AuthConfig {
  access: { team_domain: string; logout_url: string } | null;
  key_sign_in: boolean;
}
/** What a worker without `GET /v1/auth/config` does: API keys only. */
export const KEY_ONLY: AuthConfig = { access: null, key_sign_in: true };

/** A member of the workspace: a person by email, or an Access group. */
export interface Member {
  id: string;
  email: string | null;
  group: string | null;
  display_name: string;
  role: Role;
  subscribed: boolean;
  created_by: string;
  created_at: string;
  updated_at: string;
}
export interface NewMember {
  email?: string;
  group?: string;
  role: Role;
  display_name?: string;
  subscribed?: boolean;
}
export interface ApiKey {
  id: string;
  name: string;
  role: Role;
  public_key: string;
  key_prefix: string;
  created_by: string | null;
  /** The email of the person who created it, when a person did. */
  created_by_person?: string | null;
  created_at: string;
  revoked_at: string | null;
}
/** The gates a version must pass to be promoted into an environment (core/src/environment.rs). */
export interface GatePolicy {
  min_samples?: number;
  min_score?: number;
  max_error_rate?: number;
  max_p95_ms?: number;
  requires_approval?: boolean;
  requires_test_run?: boolean;
  min_test_pass_rate?: number;
  measured_in?: string;
}
/** Events a webhook can subscribe to (core/src/webhook.rs EVENTS); "*" is all of them. */
export const WEBHOOK_EVENTS = [
  "version.created",
  "deployment.created",
  "deployment.rolled_back",
  "approval.requested",
  "approval.decided",
  "experiment.started",
  "experiment.updated",
  "experiment.ended",
] as const;
export interface Webhook {
  id: string;
  url: string;
  events: string[];
  created_by: string;
  created_at: string;
}
export type DeliveryStatus = "pending" | "delivered" | "failed";
export interface WebhookDelivery {
  id: string;
  event: string;
  status: DeliveryStatus;
  attempts: number;
  response_status: number | null;
  last_error: string | null;
  payload?: unknown;
  created_at: string;
  updated_at: string;
}
/** An endpoint as settings show it: its key is write-only. */
export interface EndpointView {
  url: string;
  model: string | null;
  api_key_set: boolean;
}
export interface Settings {
  retention_days: number;
  judge: EndpointView | null;
  provider: EndpointView | null;
  /** Older workers: absent. */
  default_role?: Role | null;
  notifications?: {
    slack: { url: string } | null;
    email: { from: string; api_url: string; api_key_set: boolean } | null;
  };
  updated_at: string;
}
/** `PUT /v1/settings`: fields left out keep their value, null removes. */
export interface SettingsUpdate {
  retention_days?: number;
  judge?: { url: string; model: string; api_key?: string } | null;
  provider?: { url: string; model: string; api_key?: string } | null;
  default_role?: Role | null;
  notifications?: {
    slack?: { url: string } | null;
    email?: { from: string; api_url?: string; api_key?: string } | null;
  };
}
export interface NotificationDelivery {
  id: string;
  channel: "slack" | "email";
  event: string;
  recipients: string[];
  status: DeliveryStatus;
  attempts: number;
  response_status: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}
/** Audit actions (core/src/audit.rs); the page adds any other name it meets. */
export const AUDIT_ACTIONS = [
  "workspace.create",
  "key.create",
  "key.revoke",
  "prompt.create",
  "version.create",
  "deployment.promote",
  "deployment.rollback",
  "environment.put",
  "experiment.start",
  "experiment.update",
  "experiment.end",
  "approval.request",
  "approval.approve",
  "approval.reject",
  "approval.supersede",
  "price.put",
  "evaluators.put",
  "tests.put",
  "test_run.start",
  "settings.put",
  "webhook.create",
  "webhook.delete",
  "dead_letter.replay",
  "member.add",
  "member.update",
  "member.remove",
  "webhook.redeliver",
];
export interface AuditEntry {
  id: string;
  actor: string;
  /** The person who made the change, when a person signed in through Access did. */
  person?: Person | null;
  action: string;
  prompt: string | null;
  target: string;
  details: unknown;
  created_at: string;
}
export interface AuditFilter {
  prompt?: string;
  actor?: string;
  person?: string;
  action?: string;
  /** ISO 8601 instants. */
  since?: string;
  until?: string;
}

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

/** Query parameters from the set fields of `o`. */
const query = (o: Record<string, string | number | undefined | null>) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
};

export class Api {
  /**
   * `key`: an API key, sent as the bearer token; null: no Authorization
   * header, so the API reads the person from Cloudflare Access's
   * CF_Authorization cookie, which the browser sends itself (same origin).
   */
  constructor(
    private readonly key: string | null,
    /** Without a key: the workspace a person who is a member of several names (the Pvct-Workspace header). */
    private readonly workspace: string | null = null,
  ) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = {};
    if (this.key !== null) headers.authorization = `Bearer ${this.key}`;
    else if (this.workspace) headers["pvct-workspace"] = this.workspace;
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
  patch = <T>(path: string, body: unknown) => this.call<T>("PATCH", path, body);
  del = <T>(path: string) => this.call<T>("DELETE", path);

  /** Public: whether Access signs people in, and whether API keys may. A worker without the route answers KEY_ONLY. */
  authConfig = () =>
    this.get<AuthConfig>("/v1/auth/config").catch((e) => {
      if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return KEY_ONLY;
      throw e;
    });

  me = () => this.get<Me>("/v1/me");
  environments = () => this.get<{ items: Environment[] }>("/v1/environments").then((r) => r.items);
  prompt = (slug: string) => this.get<PromptDetail>(`/v1/prompts/${slug}`);
  version = (slug: string, n: number) => this.get<Version>(`/v1/prompts/${slug}/versions/${n}`);
  /** Every version of a prompt, newest first, without content (200 a page, the API's most). */
  versions = (slug: string) => this.all<VersionSummary>(`/v1/prompts/${slug}/versions?limit=200`);
  /**
   * What an environment serves. `minSeq`: the last release sequence the live
   * channel heard of there; the answer is never older (KV may lag a change).
   */
  bundle = (env: string, minSeq = 0) =>
    this.get<{ prompts: Record<string, BundlePrompt> }>(
      `/v1/bundle?environment=${encodeURIComponent(env)}${minSeq > 0 ? `&min_seq=${minSeq}` : ""}`,
    );
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


  // Administration (admins only).
  members = () => this.get<{ items: Member[] }>("/v1/members").then((r) => r.items);
  invite = (m: NewMember) => this.post<Member>("/v1/members", m).then((r) => r.body);
  updateMember = (id: string, change: Partial<Pick<Member, "role" | "display_name" | "subscribed">>) =>
    this.patch<Member>(`/v1/members/${encodeURIComponent(id)}`, change).then((r) => r.body);
  removeMember = (id: string) => this.del<{ id: string; removed_at: string }>(`/v1/members/${encodeURIComponent(id)}`).then((r) => r.body);
  keys = () => this.get<{ items: ApiKey[] }>("/v1/keys").then((r) => r.items);
  /** The new key's fields and, this once, the key itself. */
  createKey = (name: string, role: Role) =>
    this.post<(ApiKey & { key: string }) | { api_key: ApiKey; key: string }>("/v1/keys", { name, role }).then(({ body }) => ({
      apiKey: "api_key" in body ? body.api_key : (body as ApiKey),
      key: body.key,
    }));
  revokeKey = (id: string) => this.del<{ id: string; revoked_at: string }>(`/v1/keys/${encodeURIComponent(id)}`).then((r) => r.body);
  putEnvironment = (name: string, env: { position?: number; policy: GatePolicy }) =>
    this.put<Environment>(`/v1/environments/${encodeURIComponent(name)}`, env).then((r) => r.body);
  webhooks = () => this.get<{ items: Webhook[] }>("/v1/webhooks").then((r) => r.items);
  /** The webhook and, this once, its signing secret. */
  createWebhook = (url: string, events: string[]) =>
    this.post<Webhook & { secret: string }>("/v1/webhooks", { url, events }).then((r) => r.body);
  deleteWebhook = (id: string) => this.del<{ id: string; deleted_at: string }>(`/v1/webhooks/${encodeURIComponent(id)}`);
  /** A webhook's newest deliveries (the API answers up to 200). */
  deliveries = (id: string) =>
    this.get<{ items: WebhookDelivery[] }>(`/v1/webhooks/${encodeURIComponent(id)}/deliveries`).then((r) => r.items);
  /** Sends a delivery's payload again, as a new delivery. */
  redeliver = (id: string, deliveryId: string) =>
    this.call<{ id: string; status: DeliveryStatus }>(
      "POST",
      `/v1/webhooks/${encodeURIComponent(id)}/deliveries/${encodeURIComponent(deliveryId)}/redeliver`,
    ).then((r) => r.body);
  settings = () => this.get<Settings>("/v1/settings");
  putSettings = (update: SettingsUpdate) => this.put<Settings>("/v1/settings", update).then((r) => r.body);
  notificationDeliveries = () =>
    this.get<{ items: NotificationDelivery[] }>("/v1/notifications/deliveries").then((r) => r.items);
  /** One page of the audit trail, newest first. */
  audit = (filter: AuditFilter, cursor?: string | null, limit = 50) =>
    this.get<{ items: AuditEntry[]; next_cursor?: string | null }>(`/v1/audit${query({ ...filter, limit, cursor })}`);

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
