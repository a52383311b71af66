// Types of the npm package `pvct`.

/** A message of a chat prompt, as rendered. */
export interface Message {
  role: "system" | "user" | "assistant";
  content: string;
}

/** Messages for chat placeholders: a list fills `history`; an object fills placeholders by name. */
export type History = Message[] | Record<string, Message[]>;

/** A bundle as `GET /v1/bundle` serves it (for `fallback`). */
export interface BundleDocument {
  environment?: string;
  prompts: Record<string, unknown>;
}

export interface PromptClientOptions {
  apiKey: string;
  /** The worker's URL, e.g. https://pvct.example.workers.dev (default http://127.0.0.1:8787). */
  baseUrl?: string;
  /** Default environment for get, log and feedback (default "production"). */
  environment?: string;
  /** How long a bundle is served before it is revalidated in the background (default 60,000). */
  cacheTtlMs?: number;
  /** Served when the worker cannot be reached on a cold start: a bundle, bundles by environment, or (Node) a JSON file path. */
  fallback?: BundleDocument | Record<string, BundleDocument> | string;
  /** Told about every problem the client absorbs (network, telemetry); never required. */
  onError?: (error: PvctError) => void;
  /** Per-request timeout (default 5,000). */
  timeoutMs?: number;
  /** Buffered logs are sent at least this often (default 1,000). */
  flushIntervalMs?: number;
  /** Records per POST /v1/executions (default 100, at most 1,000). */
  maxBatchSize?: number;
  /** Records kept while the worker is unreachable; older ones are dropped and counted (default 10,000). */
  maxBufferSize?: number;
  /** Retries of a failed batch, with exponential backoff (default 3). A 429 or 503 with Retry-After is not a failure: the batch waits and is sent after it. */
  maxRetries?: number;
  /**
   * The largest answer read, in bytes after decompression (default 33,554,432 = 32 MiB).
   * A larger one is abandoned as it streams in (error code "response_too_large"); the
   * cached bundle or the fallback keeps serving.
   */
  maxResponseBytes?: number;
  /** A fetch implementation (default globalThis.fetch). */
  fetch?: typeof fetch;
  /**
   * Live updates (default true; in Cloudflare Workers false, see below): once an environment's bundle
   * has come from the worker, the client subscribes to that environment and revalidates in the
   * background as soon as a change is committed (promote, rollback, experiment, approval), instead of
   * waiting for cacheTtlMs. Over a WebSocket when there is a constructor (`WebSocket`, else
   * globalThis.WebSocket: browsers, Workers, Node ≥ 22), else by long polling
   * `GET /v1/bundle?wait=25`. get never waits for it; TTL revalidation goes on as before, so a channel
   * that is down or refused (stats().live.state "down") costs nothing but speed. In Node the channel
   * never keeps the process alive (unless `fetch` is given: long polls then go through it). false: no
   * live request is ever sent. In a Worker a connection belongs to the request that opened it, so the
   * workerd build defaults to false; pass true where the client lives on (a Durable Object).
   */
  live?: boolean;
  /** The live WebSocket's heartbeat: a ping this often; nothing heard for two intervals reconnects (default 30,000). */
  livePingMs?: number;
  /**
   * The only prompts this app uses (at most 100): the client fetches, compiles and follows a bundle of
   * only those (`GET /v1/bundle?prompts=`), however many the environment holds; get of any other
   * prompt is `not_deployed`.
   */
  prompts?: string[];
  /**
   * The WebSocket constructor for the live channel (e.g. undici's in Node 20); default
   * globalThis.WebSocket. null: long polling even where the runtime has WebSockets.
   */
  WebSocket?: WebSocketConstructor | null;
}

/** What the live channel needs of a WebSocket (the WHATWG API: browsers, Workers, undici, ws). */
export interface WebSocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: any) => void): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface GetOptions {
  /** Routes the caller deterministically; without one, the variant is random. */
  userKey?: string | number;
  /** Renders the prompt now (text or messages are null otherwise, unless it needs no variables). */
  variables?: Record<string, unknown>;
  history?: History;
  /** Refuse variables the version does not use or declare (default true). */
  strict?: boolean;
  environment?: string;
}

export interface Prompt {
  slug: string;
  environment: string;
  versionId: string;
  version: number;
  /** The experiment variant serving this caller, or null for the deployed version. */
  variant: number | null;
  experimentId: string | null;
  kind: "text" | "chat" | "snippet";
  /** The first system message's template (chat). */
  system: string | null;
  /** The last user message's template (chat), or the text template. */
  userTemplate: string | null;
  requiredVariables: string[];
  modelParams: Record<string, unknown>;
  /** Rendered messages (chat prompts, when rendered). */
  messages: Message[] | null;
  /** Rendered text (text prompts, when rendered). */
  text: string | null;
  /** Where the bundle came from: the worker, or the configured fallback. */
  source: "network" | "fallback";
  /** Renders this version with other variables: text for text prompts, messages for chat. */
  render(variables?: Record<string, unknown>, history?: History): string | Message[];
}

/** The version serving a caller, as route returns it. */
export interface RoutedVersion {
  slug: string;
  environment: string;
  version: number;
  versionId: string;
  variant: number | null;
  experimentId: string | null;
  kind: "text" | "chat" | "snippet";
  modelParams: Record<string, unknown>;
  requiredVariables: string[];
}

export interface Execution {
  /** Defaults to a random UUID; the returned id. */
  id?: string;
  /** The object get returned (gives version, environment and variant)... */
  prompt?: Pick<Prompt, "versionId" | "environment" | "variant">;
  /** ...or the version id directly. */
  promptVersionId?: string;
  environment?: string;
  variant?: number | null;
  latencyMs: number;
  tokensIn?: number;
  tokensOut?: number;
  costUsd?: number;
  /** A quality score in [0, 1]. */
  score?: number;
  error?: string | Error;
  model?: string;
  output?: string;
  /** Expected answer, for similarity and judge evaluators. */
  reference?: string;
}

/**
 * Where feedback counts, for an execution this client did not log (e.g. a
 * thumbs-up handled in another process): the prompt get returned, or the
 * version id (and environment; default: the client's). Named values win
 * over what the client remembers of executions it logged.
 */
export interface FeedbackOptions {
  comment?: string;
  /** The object get returned (gives version and environment)... */
  prompt?: Pick<Prompt, "versionId" | "environment">;
  /** ...or the version id directly. */
  promptVersionId?: string;
  environment?: string;
}

export interface ClientStats {
  /** Execution records the worker accepted. */
  sent: number;
  feedbackSent: number;
  dropped: number;
  rejected: number;
  failedBatches: number;
  buffered: number;
  bundleFetches: number;
  notModified: number;
  staleServes: number;
  /** Answers 429 or 503 with Retry-After (bundle fetches and telemetry): nothing was sent again before the time they gave. */
  rateLimited: number;
  /** The live channel of the client's environment; every subscribed environment's under `environments`. */
  live: LiveStats;
}

/** One environment's live channel. */
export interface LiveChannelStats {
  /**
   * "off": not subscribed (live: false, no bundle from the worker yet, or closed); "connecting": the
   * first attempt; "open": working; "down": dropped or refused, retried with backoff (TTL revalidation
   * serves meanwhile).
   */
  state: "off" | "connecting" | "open" | "down";
  transport: "websocket" | "long-poll" | null;
  /** The last release sequence heard of for the environment (null before the first). */
  lastSeq: number | null;
  /** Changes heard of (each revalidated at once). */
  changes: number;
  /** Connection attempts after the first (after a drop or a refusal). */
  reconnects: number;
}

export interface LiveStats extends LiveChannelStats {
  /** Every subscribed environment's channel, by name. */
  environments: Record<string, LiveChannelStats>;
}

export declare class PromptClient {
  constructor(options: PromptClientOptions);
  get(slug: string, options?: GetOptions): Promise<Prompt>;
  /** Like get, without awaiting; throws code "not_loaded" before the first bundle arrives. */
  getSync(slug: string, options?: GetOptions): Prompt;
  /** Which version serves this caller, without rendering; throws "not_loaded" before the first bundle arrives. */
  route(slug: string, options?: { userKey?: string | number; environment?: string }): RoutedVersion;
  refresh(environment?: string): Promise<void>;
  log(execution: Execution): string;
  /**
   * Thumbs up (1) or down (-1) for an execution; never throws. For an
   * execution this client logged (its 10,000 most recent) the id is enough;
   * otherwise pass `{ prompt }` or `{ promptVersionId, environment }`, or the
   * feedback is not sent and onError gets code "invalid_field". The third
   * argument may also be the comment itself.
   */
  feedback(executionId: string, value: 1 | -1, options?: string | FeedbackOptions): void;
  flush(): Promise<void>;
  /** Stops the live channels, flushes, and frees the bundles. */
  close(): Promise<void>;
  stats(): ClientStats;
}

export declare class PvctError extends Error {
  /**
   * A stable machine code, e.g. "not_deployed", "missing_variables", "network",
   * "rate_limited" (details.retryAfterMs: how long the client waits before asking again),
   * "response_too_large" (details.limit: the maxResponseBytes that was passed),
   * "live_unavailable" (the live channel cannot work: details.environment, details.status).
   */
  code: string;
  details?: unknown;
}

export interface DiffOp {
  op: "equal" | "insert" | "delete";
  text: string;
}

/** Word-level diff: runs that rebuild the old text (equal + delete) and the new (equal + insert). */
export declare function diffWords(a: string, b: string): DiffOp[];
/** The routing hash in [0, 1) of key under seed (GrowthBook v2 bucketing), as the client routes. */
export declare function bucket(seed: string, key: string): number;
/** Resolves when the WASM is compiled (at once in Node and Workers; browsers compile asynchronously). */
export declare const ready: Promise<void>;
