// The PromptVault client: one bundle per environment fetched with ETag
// revalidation, routing and rendering in the WASM core, live updates (a
// WebSocket, else a long poll) that revalidate as soon as the worker
// commits a change, and buffered, batched execution logging. Platform entry
// points (node.mjs, node.cjs, workerd.mjs, browser.mjs) load the WASM and
// pass its exports in, with what their platform needs for the live channel.

import { bucketAfter, chooseVariant, fnv1a32, renderPlan } from "./plan.mjs";

const DEFAULTS = {
  baseUrl: "http://127.0.0.1:8787",
  environment: "production",
  cacheTtlMs: 60_000,
  timeoutMs: 5_000,
  flushIntervalMs: 1_000,
  maxBatchSize: 100,
  maxBufferSize: 10_000,
  maxRetries: 3,
  maxResponseBytes: 32 * 1024 * 1024,
  live: true,
  livePingMs: 30_000,
};

/** An error with the stable machine code the API and the core use. */
export class PvctError extends Error {
  constructor(code, message, details) {
    super(message);
    this.name = "PvctError";
    this.code = code;
    if (details !== undefined) this.details = details;
  }
}

const asPvctError = (e) =>
  e instanceof PvctError ? e : new PvctError(e && typeof e.code === "string" ? e.code : "internal", String(e?.message ?? e));

const makeError = (code, message, details) => new PvctError(code, message, details);

/** Bytes of records per POST /v1/executions, under the API's 512 KB limit (UTF-16 length × 2 bounds UTF-8 size). */
const MAX_BATCH_BYTES = 400 * 1024;
const MAX_TEXT_CHARS = 8192;
/** setTimeout clamps longer delays to 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A Retry-After longer than this is shortened to it (a hostile or broken server cannot silence the client for days). */
const MAX_RETRY_AFTER_MS = 5 * 60_000;
/** Telemetry held back by a 429/503 waits at least this long (Retry-After counts in whole seconds; "0" must not spin). */
const MIN_TELEMETRY_BACKOFF_MS = 1_000;
/**
 * Executions whose version and environment a client remembers (those it
 * logged most recently), so that feedback on them needs only their id.
 */
const REMEMBERED_EXECUTIONS = 10_000;

const NOT_RENDERED = Object.freeze({ messages: null, text: null });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Web Crypto: global in browsers, Workers and Node ≥ 19; Node 18's entry points install node:crypto's. */
let webCrypto = globalThis.crypto;
export function useCrypto(c) {
  webCrypto ??= c;
}

function randomId() {
  const c = webCrypto;
  if (c?.randomUUID) return c.randomUUID();
  const b = new Uint8Array(16);
  c.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function randomU32() {
  const b = new Uint32Array(1);
  webCrypto.getRandomValues(b);
  return b[0];
}

/**
 * Milliseconds a `Retry-After` header asks for (delay-seconds or an
 * HTTP-date), capped at MAX_RETRY_AFTER_MS; null when absent or unreadable.
 */
function retryAfterMs(value, now = Date.now()) {
  if (value === null || value === undefined) return null;
  const v = String(value).trim();
  let ms;
  if (/^\d+(\.\d+)?$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return null;
    ms = at - now;
  }
  return Math.min(Math.max(0, Math.ceil(ms)), MAX_RETRY_AFTER_MS);
}

/** Timers must never keep a Node process alive for telemetry's sake. */
function unref(timer) {
  if (timer && typeof timer.unref === "function") timer.unref();
  return timer;
}

/**
 * A bundle body parsed in JS (the list of prompts and their documents); the
 * core's own parser says what is wrong with a body that is not a bundle.
 */
function parseBundle(engine, text) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    doc = null;
  }
  const ok = doc && typeof doc === "object" && typeof doc.environment === "string" && doc.prompts && typeof doc.prompts === "object" && !Array.isArray(doc.prompts);
  if (!ok) {
    new engine.Bundle(text).free?.(); // throws the core's malformed_json
    throw new PvctError("malformed_json", "not a PromptVault bundle");
  }
  return doc;
}

/**
 * One environment's bundle: its documents, its ETag, when it was last
 * confirmed fresh, and per prompt the compiled versions (deployed first,
 * then each experiment variant), described once by the core.
 *
 * Prompts are compiled by the core when first asked for, each on its own
 * (a cold start compiles the one prompt it serves, not the environment's
 * every prompt), and a refreshed bundle takes over the compiled prompts
 * whose documents did not change.
 */
class BundleState {
  constructor(engine, text, etag, source) {
    this.engine = engine;
    this.doc = parseBundle(engine, text);
    // A one-prompt body is compiled as it came, without serialising it again.
    this.text = Object.keys(this.doc.prompts).length === 1 ? text : null;
    this.etag = etag;
    /** The release sequence the worker said this bundle is at (x-pvct-seq), when it said. */
    this.seq = null;
    this.source = source;
    this.fresh = false;
    this._timer = null;
    this._missing = null;
    this.loadedAt = Date.now();
    this.prompts = new Map(); // slug -> { bundle, source, routing, versions }
  }

  /**
   * Marks the bundle fresh for `ms`: a timer, not a clock read per call,
   * tells the hot path when to revalidate.
   */
  freshFor(ms) {
    if (this._timer) clearTimeout(this._timer);
    this.fresh = ms > 0;
    this._timer = ms > 0 ? unref(setTimeout(() => (this.fresh = false), Math.min(ms, MAX_TIMER_MS))) : null;
  }

  /** The JSON the core compiles for one prompt: the body itself when it holds only that prompt. */
  _source(slug) {
    if (this.text !== null) return this.text;
    return JSON.stringify({ environment: this.doc.environment, prompts: { [slug]: this.doc.prompts[slug] } });
  }

  /** { routing, versions } of a prompt; throws not_deployed for unknown slugs. */
  prompt(slug) {
    let entry = this.prompts.get(slug);
    if (!entry) {
      if (!Object.hasOwn(this.doc.prompts, slug)) {
        // The core words the refusal (not_deployed), from an empty bundle of this environment.
        this._missing ??= new this.engine.Bundle(JSON.stringify({ environment: this.doc.environment, prompts: {} }));
        this._missing.info(slug, -1);
        throw new PvctError("not_deployed", `no version of '${slug}' is deployed in ${this.doc.environment}`);
      }
      entry = this._compile(slug, this._source(slug));
    }
    return entry;
  }

  _compile(slug, source) {
    const bundle = new this.engine.Bundle(source);
    try {
      const deployed = Object.freeze(JSON.parse(bundle.info(slug, -1)));
      const routing = deployed.routing && { ...deployed.routing, saltHash: fnv1a32(deployed.routing.salt) };
      const entry = { bundle, source, routing, versions: [deployed] };
      this.prompts.set(slug, entry);
      return entry;
    } catch (e) {
      bundle.free?.();
      throw e;
    }
  }

  version(entry, slug, variant) {
    return (entry.versions[variant + 1] ??= Object.freeze(JSON.parse(entry.bundle.info(slug, variant))));
  }

  /**
   * Called on the bundle that replaces `previous`: prompts compiled there
   * are ready here too (taken over when their document is unchanged,
   * compiled now otherwise), so serving them after a change compiles nothing.
   */
  adopt(previous) {
    for (const [slug, entry] of previous.prompts) {
      if (!Object.hasOwn(this.doc.prompts, slug)) continue;
      const source = this._source(slug);
      if (source === entry.source) {
        previous.prompts.delete(slug);
        this.prompts.set(slug, entry);
      } else {
        try {
          this._compile(slug, source);
        } catch {
          // Compiled (and refused) again when asked for.
        }
      }
    }
  }

  free() {
    if (this._timer) clearTimeout(this._timer);
    for (const entry of this.prompts.values()) entry.bundle.free?.();
    this.prompts.clear();
    this._missing?.free?.();
    this._missing = null;
  }
}

// ---- live updates -------------------------------------------------------------

/** The live channel's WebSocket subprotocol; the API key goes beside it (browsers cannot set headers on a WebSocket). */
const LIVE_PROTOCOL = "pvct.v1";
/** Seconds a long poll is held by the worker (it accepts 1 to 30). */
const LIVE_WAIT_S = 25;
/** Reconnect backoff: from 0.5 s doubling to 30 s, ±50 % jitter, back to the start after a successful connect. */
const LIVE_BACKOFF_MIN_MS = 500;
const LIVE_BACKOFF_MAX_MS = 30_000;
/** A channel refused with a 4xx (a proxy that blocks it, an unknown environment) is retried at most this rarely. */
const LIVE_REFUSED_MAX_MS = 5 * 60_000;
/** A WebSocket that fails this many times in a row while the worker answers plain HTTP is blocked on the way: long-poll instead. */
const LIVE_UPGRADE_FAILURES = 3;

/** "ws://host/v1/live?environment=E" for a base URL "http://host". */
function liveUrl(baseUrl, environment) {
  return `${baseUrl.replace(/^http/i, "ws")}/v1/live?environment=${encodeURIComponent(environment)}`;
}

const sameEtag = (a, b) => typeof a === "string" && typeof b === "string" && a.replace(/^W\//, "") === b.replace(/^W\//, "");

/**
 * One environment's live channel: a WebSocket to `GET /v1/live` when a
 * WebSocket constructor is given, else a loop of long polls
 * (`GET /v1/bundle?wait=25` with If-None-Match). It reconnects with
 * exponential backoff and jitter, and tells its owner what it hears; it
 * never fetches a bundle itself except as the long poll's answer. Used by
 * PromptClient (one per subscribed environment) and by `pvct watch`.
 *
 * Options: baseUrl, apiKey, environment, WebSocket (a constructor or null),
 * pingMs, request(path, headers, { timeoutMs, signal }) → { status, etag,
 * seq, retryAfterMs, text } (throws on network failures), etag() → the ETag
 * a long poll names, notBefore() → epoch ms before which no bundle request
 * may go (Retry-After), onHello(seq, previousSeq), onChanged(message),
 * onActivity(message), onBundle(answer) → whether a long poll's answer (200
 * or 304) brought a new bundle, onDown(error), onWebSocket(ws) (a platform
 * hook, e.g. Node's unref), timer(t) (unref).
 */
export class LiveChannel {
  constructor(o) {
    this.o = o;
    this.environment = o.environment;
    this.transport = o.WebSocket ? "websocket" : "long-poll";
    this.state = "connecting";
    this.lastSeq = null;
    this.changes = 0;
    this.reconnects = 0;
    this._attempt = 0;
    this._timer = null;
    this._heartbeat = null;
    this._ws = null;
    this._abort = null;
    this._stopped = false;
    this._upgradeFailures = 0;
    this._quickChanges = 0;
    this._timerHook = o.timer ?? unref;
    this._connect();
  }

  stats() {
    return { state: this.state, transport: this.transport, lastSeq: this.lastSeq, changes: this.changes, reconnects: this.reconnects };
  }

  /** Closes the socket or abandons the poll; nothing is retried after. */
  stop() {
    this._stopped = true;
    this.state = "off";
    if (this._timer) clearTimeout(this._timer);
    this._timer = null;
    this._stopHeartbeat();
    const ws = this._ws;
    this._ws = null;
    try {
      ws?.close(1000, "closed");
    } catch {
      // Already closed, or owned by another context (Workers).
    }
    this._abort?.abort();
    this._abort = null;
  }

  _connect() {
    if (this._stopped) return;
    if (this.transport === "websocket") this._connectWebSocket();
    else this._poll().catch((e) => this._failed(e, LIVE_BACKOFF_MAX_MS));
  }

  _opened() {
    this.state = "open";
    this._attempt = 0;
  }

  /**
   * The channel failed (`error` says why): "down" until it works again, and
   * another attempt after the backoff (at most `capMs`, at least `minMs`).
   */
  _failed(error, capMs, minMs = 0) {
    if (this._stopped) return;
    const wasDown = this.state === "down";
    this.state = "down";
    // Told once per outage, not on every retry.
    if (!wasDown && error) this.o.onDown?.(error);
    if (this._timer) clearTimeout(this._timer);
    const base = Math.min(capMs, LIVE_BACKOFF_MIN_MS * 2 ** this._attempt);
    this._attempt = Math.min(this._attempt + 1, 30);
    const delay = Math.min(capMs, Math.max(minMs, base * (0.5 + Math.random())));
    this._timer = this._timerHook(setTimeout(() => {
      this._timer = null;
      this.reconnects++;
      this._connect();
    }, Math.min(delay, MAX_TIMER_MS)));
  }

  _connectWebSocket() {
    let ws;
    try {
      ws = new this.o.WebSocket(liveUrl(this.o.baseUrl, this.environment), [LIVE_PROTOCOL, this.o.apiKey]);
    } catch (e) {
      // A URL or constructor the runtime refuses: long polls need neither.
      this.transport = "long-poll";
      this._failed(new PvctError("live_unavailable", `cannot open a WebSocket: ${e?.message ?? e}; long polling instead`), LIVE_BACKOFF_MAX_MS);
      return;
    }
    this._ws = ws;
    try {
      this.o.onWebSocket?.(ws);
    } catch {
      // A platform hook is an optimisation.
    }
    let open = false;
    let done = false;
    let lastHeard = Date.now();
    const end = (why) => {
      if (done) return;
      done = true;
      if (this._ws === ws) this._ws = null;
      this._stopHeartbeat();
      try {
        ws.close();
      } catch {
        // Closed already.
      }
      if (this._stopped) return;
      if (open) this._failed(new PvctError("network", `the live channel for ${this.environment} dropped (${why}); reconnecting`, { environment: this.environment }), LIVE_BACKOFF_MAX_MS);
      else this._refusedWebSocket().catch((e) => this._failed(e, LIVE_BACKOFF_MAX_MS));
    };
    ws.addEventListener("open", () => {
      if (done || this._stopped) return;
      open = true;
      lastHeard = Date.now();
      this._upgradeFailures = 0;
      this._opened();
      const ping = this.o.pingMs;
      this._heartbeat = this._timerHook(setInterval(() => {
        // Nothing heard for two intervals (not even the pong): the connection is gone.
        if (Date.now() - lastHeard > 2 * ping) return end("no answer to ping");
        try {
          ws.send("ping");
        } catch {
          end("ping failed");
        }
      }, Math.min(ping, MAX_TIMER_MS)));
    });
    ws.addEventListener("message", (event) => {
      if (done) return;
      lastHeard = Date.now();
      const data = event?.data;
      if (typeof data !== "string" || data === "pong") return;
      let message;
      try {
        message = JSON.parse(data);
      } catch {
        return; // Not ours to understand.
      }
      this._message(message);
    });
    ws.addEventListener("close", (e) => end(`closed${e?.code ? ` ${e.code}` : ""}`));
    ws.addEventListener("error", () => end("error"));
  }

  /**
   * The WebSocket did not open. A browser says no more than that, so a plain
   * request to the same route tells a refusal (a 4xx: retried rarely) from
   * a worker that is down (retried soon); a worker that answers 426 while
   * upgrades keep failing sits behind something that drops them, and is
   * long-polled instead.
   */
  async _refusedWebSocket() {
    let res;
    try {
      res = await this.o.request(`/v1/live?environment=${encodeURIComponent(this.environment)}`, {}, {});
    } catch (e) {
      return this._failed(new PvctError("network", `the live channel for ${this.environment} is unreachable: ${e?.message ?? e}`, { environment: this.environment }), LIVE_BACKOFF_MAX_MS);
    }
    if (this._stopped) return;
    const details = { environment: this.environment, status: res.status };
    if (res.status === 426 && ++this._upgradeFailures >= LIVE_UPGRADE_FAILURES) {
      this.transport = "long-poll";
      return this._failed(new PvctError("live_unavailable", `WebSocket upgrades to ${this.o.baseUrl} keep failing; long polling instead`, details), LIVE_BACKOFF_MAX_MS);
    }
    if (res.status === 426 || res.status === 429 || res.status >= 500 || res.status < 400) {
      return this._failed(new PvctError("live_unavailable", `the live channel for ${this.environment} did not open (the route answers ${res.status})`, details),
        LIVE_BACKOFF_MAX_MS, res.retryAfterMs ?? 0);
    }
    this._failed(refusal(res, this.environment), LIVE_REFUSED_MAX_MS);
  }

  _stopHeartbeat() {
    if (this._heartbeat) clearInterval(this._heartbeat);
    this._heartbeat = null;
  }

  _message(m) {
    if (!m || typeof m !== "object" || (m.environment !== undefined && m.environment !== this.environment)) return;
    if (m.type === "hello") {
      const seq = Number(m.seq);
      if (!Number.isSafeInteger(seq)) return;
      const previous = this.lastSeq;
      // The hub's word is taken even when lower (it never is, unless its state was lost).
      this.lastSeq = seq;
      this.o.onHello?.(seq, previous);
    } else if (m.type === "changed") {
      const seq = Number(m.seq);
      if (!Number.isSafeInteger(seq) || (this.lastSeq !== null && seq <= this.lastSeq)) return;
      this.lastSeq = seq;
      this.changes++;
      this.o.onChanged?.(m);
    } else if (m.type === "activity") {
      this.o.onActivity?.(m);
    }
  }

  /** Long polls, one after the other, until stopped or one fails. */
  async _poll() {
    while (!this._stopped) {
      const notBefore = (this.o.notBefore?.() ?? 0) - Date.now();
      if (notBefore > 0) {
        // A Retry-After the worker gave: no bundle request before then.
        return this._failed(null, LIVE_REFUSED_MAX_MS, notBefore);
      }
      // The first poll is short: it says soon whether the channel works.
      const wait = this.state === "open" ? LIVE_WAIT_S : 1;
      const etag = this.o.etag();
      const abort = typeof AbortController === "function" ? new AbortController() : undefined;
      this._abort = abort;
      const started = Date.now();
      let res;
      try {
        res = await this.o.request(`/v1/bundle?environment=${encodeURIComponent(this.environment)}${this.o.query ?? ""}&wait=${wait}`,
          etag ? { "if-none-match": etag } : {}, { timeoutMs: (wait + 10) * 1000, signal: abort?.signal });
      } catch (e) {
        if (this._stopped) return;
        return this._failed(new PvctError("network", `the live long poll for ${this.environment} failed: ${e?.message ?? e}`, { environment: this.environment }), LIVE_BACKOFF_MAX_MS);
      } finally {
        if (this._abort === abort) this._abort = null;
      }
      if (this._stopped) return;
      if (res.status !== 200 && res.status !== 304) {
        const details = { environment: this.environment, status: res.status };
        if (res.status === 429 || res.status >= 500) {
          if (res.retryAfterMs !== null && res.retryAfterMs !== undefined) details.retryAfterMs = res.retryAfterMs;
          return this._failed(new PvctError(res.status === 429 ? "rate_limited" : "server_error", `the live long poll for ${this.environment} answered ${res.status}`, details),
            LIVE_BACKOFF_MAX_MS, res.retryAfterMs ?? 0);
        }
        return this._failed(refusal(res, this.environment), LIVE_REFUSED_MAX_MS);
      }
      const seq = Number(res.seq);
      // A release sequence past the last one heard: a real change, however quick.
      const advanced = res.seq !== null && res.seq !== undefined && Number.isSafeInteger(seq) && (this.lastSeq === null || seq > this.lastSeq);
      if (res.seq !== null && res.seq !== undefined && Number.isSafeInteger(seq)) this.lastSeq = seq;
      const changed = await this.o.onBundle(res);
      if (this._stopped) return;
      const quick = Date.now() - started < wait * 500;
      if (changed) this.changes++;
      else if (quick) {
        // Answered at once with nothing new: this server does not hold polls
        // (an older worker, a proxy). Asking again at once would spin.
        return this._failed(new PvctError("live_unavailable", `the worker does not hold long polls for ${this.environment}; TTL revalidation continues`, { environment: this.environment, status: res.status }),
          LIVE_REFUSED_MAX_MS);
      }
      this._opened();
      // New bundles answered at once, again and again, without the release
      // sequence moving (a server that makes every answer new): the next poll
      // waits a little longer each time, so nothing spins. A burst of real
      // changes (the sequence advancing) is followed at full speed.
      this._quickChanges = changed && quick && !advanced ? this._quickChanges + 1 : 0;
      if (this._quickChanges > 1) {
        const pause = Math.min(LIVE_BACKOFF_MAX_MS, LIVE_BACKOFF_MIN_MS * 2 ** (this._quickChanges - 2));
        await new Promise((resolve) => {
          this._timer = this._timerHook(setTimeout(resolve, pause));
        });
        this._timer = null;
        if (this._stopped) return;
      }
    }
  }
}

/** The PvctError for a live channel refused with a 4xx: the API's code when it gave one. */
function refusal(res, environment) {
  let code = null;
  let message = null;
  try {
    const error = JSON.parse(res.text)?.error;
    if (typeof error?.code === "string") code = error.code;
    if (typeof error?.message === "string") message = error.message;
  } catch {
    // A proxy's page: only the status is known.
  }
  return new PvctError(code ?? "live_unavailable", `the live channel for ${environment} was refused (${res.status}${message ? `: ${message}` : ""}); ` +
    "TTL revalidation continues and the channel is tried again later", { environment, status: res.status });
}

/**
 * Node specifics for the live channel, built from the modules node.mjs and
 * node.cjs import (this file imports nothing of Node's): a long poll whose
 * socket is unref'd, and a hook that unrefs an undici WebSocket's socket, so
 * an idle client never keeps the process alive.
 */
export function nodeLive({ http, https, Readable, diagnosticsChannel }) {
  let agents = null;
  function backgroundFetch(url, init = {}) {
    agents ??= { "http:": new http.Agent({ keepAlive: true }), "https:": new https.Agent({ keepAlive: true }) };
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      const request = (u.protocol === "https:" ? https : http).request(u, { method: init.method ?? "GET", headers: init.headers, agent: agents[u.protocol] }, (res) => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(", ") : String(v));
        const empty = [204, 205, 304].includes(res.statusCode) || init.method === "HEAD";
        if (empty) res.resume();
        resolve(new Response(empty ? null : Readable.toWeb(res), { status: res.statusCode, headers }));
      });
      // A reused keep-alive socket is ref'd again by the agent: unref it per request.
      request.on("socket", (socket) => socket.unref());
      request.on("error", reject);
      if (init.signal) {
        if (init.signal.aborted) request.destroy(new Error("aborted"));
        else init.signal.addEventListener("abort", () => request.destroy(new Error("aborted")), { once: true });
      }
      request.end(init.body);
    });
  }

  // undici (Node ≥ 22's WebSocket, or one passed in, which shares Node's
  // connection pool) announces each connection it opens and each WebSocket
  // that opens on diagnostics channels: the connection under one of ours,
  // found by its local address, is unref'd. A WebSocket may go over a
  // connection a fetch opened, so connections are followed from the start.
  const sockets = new Map(); // local "address:port" -> WeakRef(socket), undici's open connections
  const ours = new WeakSet(); // our WebSockets
  let connecting = 0; // ours not yet open (for an undici that does not say which WebSocket opened)
  const key = (a) => (a && typeof a === "object" && a.port ? `${a.address}:${a.port}` : null);
  if (typeof diagnosticsChannel?.subscribe === "function" && typeof WeakRef === "function") {
    diagnosticsChannel.subscribe("undici:client:connected", ({ socket }) => {
      const k = key(socket?.address?.());
      if (!k || typeof socket.once !== "function") return;
      if (sockets.size >= 1024) for (const [x, ref] of sockets) if (!ref.deref() || ref.deref().destroyed) sockets.delete(x);
      sockets.set(k, new WeakRef(socket));
      socket.once("close", () => {
        if (sockets.get(k)?.deref() === socket) sockets.delete(k);
      });
    });
    diagnosticsChannel.subscribe("undici:websocket:open", ({ address, websocket }) => {
      if (websocket ? !ours.has(websocket) : connecting === 0) return;
      const k = key(address);
      const socket = sockets.get(k)?.deref();
      sockets.delete(k);
      socket?.unref?.();
    });
  }
  function onWebSocket(ws) {
    ours.add(ws);
    connecting++;
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      // After the open event: undici announces the open right after it.
      queueMicrotask(() => connecting--);
    };
    ws.addEventListener("open", settle);
    ws.addEventListener("close", settle);
  }
  return { backgroundFetch, onWebSocket };
}

/**
 * `platform` (optional, from the entry point): defaults (options that
 * differ on the platform), backgroundFetch (a fetch for the long poll that
 * does not keep the process alive), onWebSocket(ws) (a hook called with each
 * live WebSocket).
 */
export function createClientClass(loadEngine, platform = {}) {
  return class PromptClient {
    /**
     * @param {object} options apiKey, baseUrl, environment, cacheTtlMs,
     *   fallback (a bundle object, or in Node a path to a JSON file),
     *   onError, timeoutMs, flushIntervalMs, maxBatchSize, maxBufferSize,
     *   maxRetries, maxResponseBytes, fetch, live, livePingMs, WebSocket.
     */
    constructor(options = {}) {
      // An option given as undefined takes its default.
      const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
      this.options = { ...DEFAULTS, ...platform.defaults, ...given };
      if (!this.options.apiKey) throw new PvctError("invalid_options", "PromptClient needs an apiKey");
      this.baseUrl = String(this.options.baseUrl).replace(/\/+$/, "");
      // `prompts`: the only prompts this app uses; bundles of only those (GET /v1/bundle?prompts=).
      const only = Array.isArray(this.options.prompts) ? [...new Set(this.options.prompts.map(String))].sort() : [];
      this._only = only.length ? new Set(only) : null;
      this._promptsQuery = only.length ? `&prompts=${only.map(encodeURIComponent).join(",")}` : "";
      this._fetch = this.options.fetch ?? globalThis.fetch.bind(globalThis);
      // The long poll goes through the platform's own fetch only when the app gave none.
      this._backgroundFetch = this.options.fetch ? this._fetch : platform.backgroundFetch ?? this._fetch;
      this._channels = new Map(); // environment -> LiveChannel
      this._liveClosed = false;
      this._states = new Map(); // environment -> BundleState
      this._inflight = new Map(); // environment -> Promise<BundleState | undefined>
      this._fallbacks = new Map(); // environment -> Promise<BundleState | undefined>
      this._bundleNotBefore = new Map(); // environment -> epoch ms before which no bundle fetch is sent (Retry-After)
      this._telemetryNotBefore = 0; // epoch ms before which no telemetry is sent (Retry-After)
      this._buffer = [];
      this._executions = new Map(); // execution id -> { promptVersionId, environment }, oldest first
      this._sending = null;
      this._timer = null;
      this._closed = false;
      this._stats = { sent: 0, feedbackSent: 0, dropped: 0, rejected: 0, failedBatches: 0, bundleFetches: 0, notModified: 0, staleServes: 0, rateLimited: 0 };
      this._enginePromise = null;
    }

    async _engine() {
      if (!this._engineValue) {
        this._enginePromise ??= Promise.resolve(loadEngine());
        this._engineValue = await this._enginePromise;
      }
      return this._engineValue;
    }

    _report(error) {
      try {
        this.options.onError?.(asPvctError(error));
      } catch {
        // An onError that throws must not break the caller either.
      }
    }

    /**
     * One HTTP exchange, body included, within `timeoutMs` and
     * `maxResponseBytes`: { status, etag, retryAfterMs, text }.
     */
    async _request(method, path, body, headers = {}, { timeoutMs = this.options.timeoutMs, signal, background = false } = {}) {
      const controller = typeof AbortController === "function" ? new AbortController() : undefined;
      const timer = controller ? unref(setTimeout(() => controller.abort(), Math.min(timeoutMs, MAX_TIMER_MS))) : undefined;
      const stop = () => controller?.abort();
      if (signal?.aborted) stop();
      signal?.addEventListener?.("abort", stop, { once: true });
      try {
        const res = await (background ? this._backgroundFetch : this._fetch)(this.baseUrl + path, {
          method,
          headers: { authorization: `Bearer ${this.options.apiKey}`, ...(body ? { "content-type": "application/json" } : {}), ...headers },
          body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
          signal: controller?.signal,
        });
        const text = await this._readBody(res, controller, `${method} ${path.split("?")[0]}`);
        return {
          status: res.status,
          etag: res.headers.get("etag"),
          seq: res.headers.get("x-pvct-seq"),
          retryAfterMs: retryAfterMs(res.headers.get("retry-after")),
          text,
        };
      } finally {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener?.("abort", stop);
      }
    }

    /**
     * The body as text, read as a stream and abandoned once it passes
     * `maxResponseBytes`: the bytes counted are those fetch hands over,
     * after it decompressed them, so a small gzip answer that inflates to
     * gigabytes is cut at the cap too. Nothing past the cap is kept.
     */
    async _readBody(res, controller, what) {
      const limit = this.options.maxResponseBytes;
      const tooLarge = () => {
        controller?.abort();
        return new PvctError("response_too_large", `the answer to ${what} is larger than maxResponseBytes (${limit} bytes); it was not read further`, {
          status: res.status,
          limit,
        });
      };
      const stream = res.body;
      if (!stream || typeof stream.getReader !== "function") {
        // No body, or a fetch without streams: read whole, then checked.
        const text = typeof res.text === "function" ? await res.text() : "";
        if (text.length > limit) throw tooLarge();
        return text;
      }
      const declared = res.headers.get("content-encoding") ? NaN : Number(res.headers.get("content-length"));
      if (declared > limit) {
        stream.cancel().catch(() => {});
        throw tooLarge();
      }
      const reader = stream.getReader();
      const chunks = [];
      let size = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > limit) {
          reader.cancel().catch(() => {});
          throw tooLarge();
        }
        chunks.push(value);
      }
      let bytes = chunks[0] ?? new Uint8Array(0);
      if (chunks.length > 1) {
        bytes = new Uint8Array(size);
        let at = 0;
        for (const c of chunks) {
          bytes.set(c, at);
          at += c.byteLength;
        }
      }
      return new TextDecoder().decode(bytes);
    }

    /**
     * Fetches (or revalidates) an environment's bundle; shares concurrent
     * calls. With `minSeq` (a change the live channel heard of) the answer is
     * at release sequence `minSeq` or later: a load in flight is shared when
     * it asked as much, else awaited and followed by one that does.
     */
    _load(environment, minSeq = 0) {
      let inflight = this._inflight.get(environment);
      if (inflight && inflight.minSeq >= minSeq) return inflight;
      if (inflight) {
        return inflight.catch(() => {}).then(() => {
          const state = this._states.get(environment);
          return state && state.seq !== null && state.seq >= minSeq ? state : this._load(environment, minSeq);
        });
      }
      const wait = (this._bundleNotBefore.get(environment) ?? 0) - Date.now();
      if (wait > 0) {
        // The worker answered 429/503 with Retry-After: nothing is sent before then.
        return Promise.reject(new PvctError("rate_limited", `the worker asked for no ${environment} bundle fetch for another ${Math.ceil(wait / 1000)} s`, { retryAfterMs: wait }));
      }
      inflight = this._fetchBundle(environment, minSeq).finally(() => this._inflight.delete(environment));
      inflight.minSeq = minSeq;
      this._inflight.set(environment, inflight);
      return inflight;
    }

    async _fetchBundle(environment, minSeq = 0) {
      await this._engine();
      const current = this._states.get(environment);
      this._stats.bundleFetches++;
      let res;
      try {
        res = await this._request("GET", `/v1/bundle?environment=${encodeURIComponent(environment)}${this._promptsQuery}${minSeq > 0 ? `&min_seq=${minSeq}` : ""}`, undefined,
          current?.etag ? { "if-none-match": current.etag } : {});
      } catch (e) {
        if (e instanceof PvctError) throw e;
        throw new PvctError("network", `bundle fetch failed: ${e?.message ?? e}`);
      }
      const state = this._accept(environment, res, true);
      this._subscribe(environment);
      return state;
    }

    /**
     * Takes a bundle answer (a fetch's, or the long poll's): a 304 keeps the
     * current bundle fresh, a 200 replaces it (taking over its compiled
     * prompts), anything else throws. `counted`: a fetch (in stats(), and
     * the time get's retry for an unknown prompt counts from).
     */
    _accept(environment, res, counted) {
      const engine = this._engineValue;
      const current = this._states.get(environment);
      const seq = res.seq === null || res.seq === undefined || !/^\d+$/.test(res.seq) ? null : Number(res.seq);
      if (res.status === 304 && current) {
        current.freshFor(this.options.cacheTtlMs);
        // A long poll's 304 is not a fetch: get still revalidates for a prompt it does not know.
        if (counted) current.loadedAt = Date.now();
        if (seq !== null) current.seq = Math.max(current.seq ?? 0, seq);
        if (counted) this._stats.notModified++;
        return current;
      }
      if (res.status !== 200) {
        let body = null;
        try {
          body = JSON.parse(res.text);
        } catch {
          // Not JSON: only the status is known.
        }
        const details = { status: res.status };
        if ((res.status === 429 || res.status === 503) && res.retryAfterMs !== null) {
          // Keep serving what is cached; the next fetch waits at least as long as asked.
          details.retryAfterMs = res.retryAfterMs;
          this._stats.rateLimited++;
          this._bundleNotBefore.set(environment, Date.now() + res.retryAfterMs);
          current?.freshFor(res.retryAfterMs);
        }
        throw new PvctError(body?.error?.code ?? (res.status === 429 ? "rate_limited" : res.status >= 500 ? "server_error" : "http_error"),
          body?.error?.message ?? `bundle fetch answered ${res.status}`, details);
      }
      this._bundleNotBefore.delete(environment);
      const state = new BundleState(engine, res.text, res.etag, "network");
      state.seq = seq;
      state.freshFor(this.options.cacheTtlMs);
      const previous = this._states.get(environment);
      if (previous) {
        state.adopt(previous);
        previous.free();
      }
      this._states.set(environment, state);
      return state;
    }

    /** Subscribes to an environment's live channel once its bundle first came from the worker (unless `live: false`). */
    _subscribe(environment) {
      if (!this.options.live || this._liveClosed || this._channels.has(environment)) return;
      // `WebSocket: null` long-polls even where the runtime has WebSockets.
      const WebSocketClass = this.options.WebSocket === null ? null
        : this.options.WebSocket ?? (typeof globalThis.WebSocket === "function" ? globalThis.WebSocket : null);
      const channel = new LiveChannel({
        baseUrl: this.baseUrl,
        apiKey: this.options.apiKey,
        environment,
        query: this._promptsQuery,
        WebSocket: WebSocketClass,
        pingMs: this.options.livePingMs,
        request: (path, headers, { timeoutMs, signal }) => this._request("GET", path, undefined, headers, { timeoutMs, signal, background: true }),
        etag: () => this._states.get(environment)?.etag ?? null,
        notBefore: () => this._bundleNotBefore.get(environment) ?? 0,
        onHello: (seq, previous) => {
          // After a reconnect, changes missed meanwhile; on the first connect, one between the load and the subscription.
          if (previous === null ? seq > 0 : seq !== previous) this._catchUp(environment, seq, null);
        },
        onChanged: (m) => {
          // A client of some prompts skips changes to others.
          if (this._only && Array.isArray(m.prompts) && !m.prompts.some((p) => this._only.has(p))) return;
          this._catchUp(environment, Number(m.seq), typeof m.etag === "string" ? m.etag : null);
        },
        onBundle: async (res) => {
          await this._engine();
          const current = this._states.get(environment);
          if (this._liveClosed || !current) return false;
          // Without an ETag an answer cannot be told from the last (nor a poll held): not a change.
          const changed = res.status === 200 && typeof res.etag === "string" && !sameEtag(res.etag, current.etag);
          this._accept(environment, changed ? res : { ...res, status: 304 }, false);
          return changed;
        },
        onDown: (e) => this._report(e),
        onWebSocket: platform.onWebSocket,
      });
      this._channels.set(environment, channel);
    }

    /**
     * The live channel heard of change `seq`: revalidate in the background
     * (never awaited by get, which keeps serving the current bundle) with
     * min_seq, unless the bundle served already is that one (`etag`).
     */
    _catchUp(environment, seq, etag) {
      if (!Number.isSafeInteger(seq) || this._liveClosed) return;
      const state = this._states.get(environment);
      if (!state) return;
      if (etag !== null && sameEtag(etag, state.etag)) {
        state.seq = Math.max(state.seq ?? 0, seq);
        return;
      }
      if (state.seq !== null && state.seq >= seq) return;
      this._load(environment, seq).catch((e) => {
        // Retried soon by the next call (stale), as any failed revalidation.
        const current = this._states.get(environment);
        if (current) this._retrySoon(current, environment);
        this._report(e);
      });
    }

    async _fallbackState(environment) {
      let fallback = this.options.fallback;
      if (fallback === undefined || fallback === null) return undefined;
      const engine = await this._engine();
      if (typeof fallback === "string") {
        if (!engine.readTextFile) throw new PvctError("invalid_options", "a fallback path needs Node; pass the bundle object");
        fallback = JSON.parse(await engine.readTextFile(fallback));
      }
      // One bundle, or an object of bundles by environment.
      const bundle = fallback.prompts ? fallback : fallback[environment];
      if (!bundle || (bundle.environment && bundle.environment !== environment)) return undefined;
      return new BundleState(engine, JSON.stringify({ environment, ...bundle }), null, "fallback");
    }

    /**
     * After a failed fetch, the next attempt comes after at most 5 s, not on
     * every call, and never before a Retry-After the worker gave.
     */
    _retrySoon(state, environment) {
      const asked = (this._bundleNotBefore.get(environment) ?? 0) - Date.now();
      state.freshFor(Math.max(Math.min(this.options.cacheTtlMs, 5_000), asked));
    }

    /** The bundle to serve from: fresh, or stale while it revalidates. */
    async _state(environment) {
      const state = this._states.get(environment);
      if (state) {
        if (!state.fresh) {
          // Stale-while-revalidate; on failure keep serving (stale-if-error).
          if (!this._inflight.has(environment)) {
            this._load(environment).catch((e) => {
              this._retrySoon(state, environment);
              this._report(e);
            });
          }
          this._stats.staleServes++;
        }
        return state;
      }
      try {
        return await this._load(environment);
      } catch (e) {
        // Concurrent cold starts share one fallback; a network bundle that
        // arrived meanwhile wins over it.
        let pending = this._fallbacks.get(environment);
        if (!pending) {
          pending = this._fallbackState(environment).finally(() => this._fallbacks.delete(environment));
          this._fallbacks.set(environment, pending);
        }
        const fallback = await pending;
        if (!fallback) throw asPvctError(e);
        this._report(e);
        const current = this._states.get(environment);
        if (current && current !== fallback) {
          if (current.source === "network") return current;
        }
        if (current !== fallback) {
          current?.free();
          this._retrySoon(fallback, environment);
          this._states.set(environment, fallback);
        }
        return fallback;
      }
    }

    /**
     * The prompt as it serves this caller: routed by `userKey` exactly as the
     * worker's resolve routes, and rendered when `variables` are given (or
     * the prompt needs none).
     */
    async get(slug, options = {}) {
      const environment = options.environment ?? this.options.environment;
      const state = await this._state(environment);
      try {
        return this._serve(state, slug, options);
      } catch (e) {
        // A prompt missing from a bundle older than a second may have been
        // deployed since: revalidate once (one shared request) and retry.
        if (e.code !== "not_deployed" || state.source !== "network" || Date.now() - state.loadedAt < 1000) throw e;
        try {
          await this._load(environment);
        } catch {
          throw e;
        }
        return this._serve(this._states.get(environment) ?? state, slug, options);
      }
    }

    /** `get` without awaiting: throws `not_loaded` until the bundle is in. */
    getSync(slug, options = {}) {
      return this._serve(this._warmState(options.environment), slug, options);
    }

    /**
     * Which version serves this caller, without rendering: the version's
     * description (slug, environment, version, versionId, variant,
     * experimentId, modelParams...). Synchronous; needs a loaded bundle.
     */
    route(slug, options = {}) {
      return this._route(this._warmState(options.environment), slug, options.userKey);
    }

    _warmState(environment = this.options.environment) {
      const state = this._states.get(environment);
      if (!state) throw new PvctError("not_loaded", `the ${environment} bundle is not loaded yet; await client.get or client.refresh first`);
      if (!state.fresh) this._state(environment).catch(() => {});
      return state;
    }

    /** Routes exactly as the worker's resolve: hashed by user key, else random. */
    _route(state, slug, userKey) {
      try {
        const entry = state.prompt(slug);
        let variant = -1;
        if (entry.routing) {
          const key = userKey == null || userKey === "" ? undefined : String(userKey);
          const n = key === undefined ? (randomU32() % 10000) / 10000 : bucketAfter(entry.routing.saltHash, key);
          variant = chooseVariant(n, entry.routing.ranges);
        }
        return state.version(entry, slug, variant);
      } catch (e) {
        throw asPvctError(e);
      }
    }

    _serve(state, slug, options) {
      const info = this._route(state, slug, options.userKey);
      const engine = this._engineValue;
      const render = (variables = {}, history = options.history, strict = options.strict ?? true) => {
        try {
          return renderPlan(info.plan, variables ?? {}, history, strict, engine.valueText, makeError);
        } catch (e) {
          throw asPvctError(e);
        }
      };
      const rendered =
        options.variables !== undefined || info.requiredVariables.length === 0 ? render(options.variables ?? {}) : NOT_RENDERED;
      return {
        slug,
        environment: info.environment,
        versionId: info.versionId,
        version: info.version,
        variant: info.variant,
        experimentId: info.experimentId,
        kind: info.kind,
        system: info.system,
        userTemplate: info.userTemplate,
        requiredVariables: info.requiredVariables,
        modelParams: info.modelParams,
        messages: rendered.messages,
        text: rendered.text,
        source: state.source,
        render: (variables, history) => {
          const r = render(variables, history);
          return info.kind === "chat" ? r.messages : r.text;
        },
      };
    }

    /** Fetches the bundle now (explicit invalidation); resolves when done. */
    async refresh(environment = this.options.environment) {
      await this._load(environment);
    }

    /**
     * Records one execution; returns its id at once. Never throws: bad
     * records are reported to onError and dropped.
     */
    log(execution) {
      let id = execution?.id;
      try {
        id ??= randomId();
        const prompt = execution.prompt;
        const record = {
          id,
          prompt_version_id: execution.promptVersionId ?? prompt?.versionId,
          environment: execution.environment ?? prompt?.environment ?? this.options.environment,
          latency_ms: Number(execution.latencyMs ?? 0),
          tokens_in: Math.max(0, Math.trunc(Number(execution.tokensIn ?? 0))),
          tokens_out: Math.max(0, Math.trunc(Number(execution.tokensOut ?? 0))),
        };
        const variant = execution.variant ?? prompt?.variant;
        if (variant !== undefined && variant !== null) record.variant = variant;
        for (const [from, to] of [["costUsd", "cost_usd"], ["score", "score"], ["error", "error"], ["model", "model"], ["output", "output"], ["reference", "reference"]]) {
          if (execution[from] === undefined || execution[from] === null) continue;
          const value = from === "error" ? String(execution[from]?.message ?? execution[from]) : execution[from];
          // The API keeps 8,192 characters of output and reference; sending more only risks the batch.
          record[to] = typeof value === "string" ? value.slice(0, from === "error" ? 2000 : MAX_TEXT_CHARS) : value;
        }
        if (!record.prompt_version_id) throw new PvctError("invalid_field", "log needs promptVersionId or the prompt get returned");
        this._enqueue({ kind: "execution", record, bytes: JSON.stringify(record).length * 2 });
        this._remember(id, record.prompt_version_id, record.environment);
      } catch (e) {
        this._report(e);
      }
      return id;
    }

    /** Keeps the attribution of a logged execution for feedback: the most recent REMEMBERED_EXECUTIONS. */
    _remember(id, promptVersionId, environment) {
      const known = this._executions;
      known.delete(id); // logged again: now the most recent
      known.set(id, { promptVersionId, environment });
      if (known.size > REMEMBERED_EXECUTIONS) known.delete(known.keys().next().value);
    }

    /**
     * Thumbs up (+1) or down (−1) for an execution; never throws. It counts
     * on the version and environment the execution ran on: those this
     * client logged it with (it remembers its 10,000 most recent), or, for
     * an execution logged elsewhere, `options.prompt` (what get returned)
     * or `options.promptVersionId` and `options.environment` (default: the
     * client's). The third argument may also be the comment itself.
     */
    feedback(executionId, value, options) {
      try {
        if (value !== 1 && value !== -1) throw new PvctError("invalid_field", "feedback is +1 or -1");
        if (options !== undefined && options !== null && typeof options !== "string" && typeof options !== "object") {
          throw new PvctError("invalid_field", "the third argument of feedback is a comment or { comment, prompt, promptVersionId, environment }");
        }
        const o = typeof options === "string" ? { comment: options } : options ?? {};
        const prompt = o.prompt;
        const known = this._executions.get(executionId);
        // What the caller names wins over what this client remembers.
        const promptVersionId = o.promptVersionId ?? prompt?.versionId ?? known?.promptVersionId;
        const environment = o.environment ?? prompt?.environment ?? known?.environment ?? this.options.environment;
        if (!promptVersionId) {
          throw new PvctError("invalid_field",
            `feedback on execution '${executionId}' needs the version it ran: pass the prompt get returned ({ prompt }), or promptVersionId and environment, ` +
            "or log the execution through this client first (it remembers the 10,000 it logged last)",
            { field: "prompt_version_id", executionId });
        }
        const record = { execution_id: executionId, value, ...(o.comment ? { comment: o.comment } : {}), prompt_version_id: promptVersionId, environment };
        this._enqueue({ kind: "feedback", record, bytes: JSON.stringify(record).length * 2 });
      } catch (e) {
        this._report(e);
      }
    }

    _enqueue(item) {
      if (this._closed) {
        this._stats.dropped++;
        return;
      }
      if (this._buffer.length >= this.options.maxBufferSize) {
        // Bounded memory: the oldest record goes, and is counted.
        this._buffer.shift();
        this._stats.dropped++;
      }
      this._buffer.push(item);
      const wait = this._telemetryNotBefore === 0 ? 0 : this._telemetryNotBefore - Date.now();
      if (wait > 0) {
        // Held back by a Retry-After: one timer sends when it ends.
        if (!this._timer) this._flushIn(wait);
      } else if (this._buffer.length >= this.options.maxBatchSize && !this._sending) {
        // A running drain picks up what is added meanwhile: start one only if none runs.
        this.flush().catch(() => {});
      } else if (!this._timer) {
        this._flushIn(this.options.flushIntervalMs);
      }
    }

    _flushIn(ms) {
      if (this._timer) clearTimeout(this._timer);
      this._timer = unref(setTimeout(() => {
        this._timer = null;
        this.flush().catch(() => {});
      }, Math.min(ms, MAX_TIMER_MS)));
    }

    /**
     * Sends everything buffered; resolves when done. Never rejects. While
     * the worker's Retry-After runs nothing is sent: the records stay
     * buffered and a timer sends them once it ends.
     */
    async flush() {
      if (this._timer) {
        clearTimeout(this._timer);
        this._timer = null;
      }
      // One sender at a time; a flush during a send waits for it, then sends the rest.
      while (this._sending) await this._sending;
      if (this._buffer.length === 0) return;
      if (this._telemetryNotBefore <= Date.now()) {
        this._sending = this._drain().finally(() => (this._sending = null));
        await this._sending;
      }
      const wait = this._telemetryNotBefore - Date.now();
      if (this._buffer.length > 0 && wait > 0 && !this._timer) this._flushIn(wait);
    }

    async _drain() {
      while (this._buffer.length > 0 && this._telemetryNotBefore <= Date.now()) {
        // At most maxBatchSize records and MAX_BATCH_BYTES of JSON per request
        // (the API refuses bodies over 512 KB).
        let size = 0;
        let n = 0;
        while (n < this._buffer.length && n < Math.min(this.options.maxBatchSize, 1000)) {
          size += this._buffer[n].bytes;
          if (n > 0 && size > MAX_BATCH_BYTES) break;
          n++;
        }
        const batch = this._buffer.splice(0, n);
        const executions = batch.filter((i) => i.kind === "execution");
        const feedback = batch.filter((i) => i.kind === "feedback");
        // Items a 429/503 with Retry-After held back, to send again later.
        let kept = executions.length ? await this._send("/v1/executions", executions) : [];
        if (kept.length) kept.push(...feedback);
        for (let k = 0; k < feedback.length && !kept.length; k++) {
          kept = await this._send("/v1/feedback", [feedback[k]]);
          if (kept.length) kept.push(...feedback.slice(k + 1));
        }
        if (kept.length) {
          this._keep(kept);
          return;
        }
      }
    }

    /** Puts held-back items in front of the buffer, still bounded (the oldest go first, counted). */
    _keep(items) {
      this._buffer.unshift(...items);
      const over = this._buffer.length - this.options.maxBufferSize;
      if (over > 0) {
        this._buffer.splice(0, over);
        this._stats.dropped += over;
      }
    }

    /**
     * One telemetry request for `items` (executions, or one feedback), with
     * retries. Returns the items to keep for later: all of them when the
     * worker answered 429/503 with Retry-After, none otherwise (sent,
     * rejected, or dropped and counted).
     */
    async _send(path, items) {
      const executions = items[0].kind === "execution";
      const body = executions ? { executions: items.map((i) => i.record) } : items[0].record;
      const count = items.length;
      const counter = executions ? "sent" : "feedbackSent";
      for (let attempt = 0; ; attempt++) {
        try {
          const res = await this._request("POST", path, body);
          if (res.status < 300) {
            let answer = {};
            try {
              answer = JSON.parse(res.text);
            } catch {
              // An empty or non-JSON 2xx: counted as all accepted.
            }
            const rejected = answer?.rejected?.length ?? 0;
            this._stats[counter] += count - rejected;
            if (rejected) {
              this._stats.rejected += rejected;
              this._report(new PvctError("invalid_field", `${rejected} execution records were rejected`, answer.rejected));
            }
            return [];
          }
          if ((res.status === 429 || res.status === 503) && res.retryAfterMs !== null) {
            // The worker says when: nothing is sent before then, and the records wait.
            const wait = Math.max(res.retryAfterMs, MIN_TELEMETRY_BACKOFF_MS);
            this._telemetryNotBefore = Math.max(this._telemetryNotBefore, Date.now() + wait);
            this._stats.rateLimited++;
            let answer = null;
            try {
              answer = JSON.parse(res.text);
            } catch {
              // Not JSON: only the status is known.
            }
            this._report(new PvctError(answer?.error?.code ?? (res.status === 429 ? "rate_limited" : "server_error"),
              `${path} answered ${res.status}; ${count} records wait ${wait} ms as Retry-After asks`, { status: res.status, retryAfterMs: wait }));
            return items;
          }
          if (res.status === 413 && executions && count > 1) {
            // Too large after all: send each half on its own.
            const half = Math.ceil(count / 2);
            const first = await this._send(path, items.slice(0, half));
            if (first.length) return items;
            return this._send(path, items.slice(half));
          }
          if (res.status < 500 && res.status !== 429) {
            // A client error will not get better by retrying. The API's code and
            // details pass through (e.g. invalid_field with details.field).
            this._stats.rejected += count;
            let error = null;
            try {
              error = JSON.parse(res.text)?.error;
            } catch {
              // Not JSON: only the status is known.
            }
            const code = typeof error?.code === "string" ? error.code : "http_error";
            const details = error?.details && typeof error.details === "object" && !Array.isArray(error.details) ? error.details : {};
            this._report(new PvctError(code, `${path} answered ${res.status}${typeof error?.message === "string" ? `: ${error.message}` : ""}`,
              { ...details, status: res.status }));
            return [];
          }
          throw new PvctError("server_error", `${path} answered ${res.status}`);
        } catch (e) {
          // An answer over maxResponseBytes is not retried: it would come again.
          if (attempt >= this.options.maxRetries || this._closed || e?.code === "response_too_large") {
            this._stats.failedBatches++;
            this._stats.dropped += count;
            this._report(e);
            return [];
          }
          await sleep(Math.min(2_000, 100 * 2 ** attempt) * (0.5 + Math.random()));
        }
      }
    }

    /**
     * Counters: executions sent, feedback sent, dropped, rejected, failed
     * batches, buffered, bundle fetches, 429/503 answers with Retry-After;
     * `live`: the default environment's live channel, and under
     * `live.environments` every subscribed environment's.
     */
    stats() {
      const environments = {};
      for (const [name, channel] of this._channels) environments[name] = channel.stats();
      const top = environments[this.options.environment] ?? { state: "off", transport: null, lastSeq: null, changes: 0, reconnects: 0 };
      return { ...this._stats, buffered: this._buffer.length, live: { ...top, environments } };
    }

    /**
     * Flushes and stops; later logs are dropped (and counted). Records held
     * back by a Retry-After that ends within `timeoutMs` are sent after it;
     * a longer one leaves them buffered (stats().buffered).
     */
    async close() {
      // The live channels first: nothing is subscribed again after this.
      this._liveClosed = true;
      for (const channel of this._channels.values()) channel.stop();
      await this.flush();
      const wait = this._telemetryNotBefore - Date.now();
      if (this._buffer.length > 0 && wait > 0 && wait <= this.options.timeoutMs) {
        await sleep(wait);
        await this.flush();
      }
      this._closed = true;
      for (const s of this._states.values()) s.free();
      this._states.clear();
    }
  };
}

export function createDiffWords(getEngine) {
  return function diffWords(a, b) {
    return JSON.parse(getEngine().diffWords(String(a), String(b)));
  };
}

/** diffWords over a diff module compiled synchronously on first use (Node, Workers). */
export function lazyDiffWords(diffWasm, loadModule) {
  let loaded = false;
  return createDiffWords(() => {
    if (!loaded) {
      diffWasm.initSync({ module: loadModule() });
      loaded = true;
    }
    return diffWasm;
  });
}
