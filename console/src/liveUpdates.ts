// Live updates: one WebSocket per environment of the workspace to
// GET /v1/live?environment=E on the console's own origin (the protocol:
// core/src/live.rs). With an API key the key rides as a subprotocol
// (["pvct.v1", key]); a person signed in through Cloudflare Access offers
// ["pvct.v1"] alone and the browser sends Access's cookie itself.
//
// The hub says `changed` when what an environment serves moves (promote,
// rollback, a split set or ended, an approval that deploys) and `activity`
// when an approval is requested or decided. Pages listen and reload what
// they show. The console pings every 30 s; two pings without an answer
// count the socket as dead. A dropped socket reconnects with backoff and
// jitter (0.5 s doubling to 30 s), and once back says `resync`: whatever
// changed while it was down was not heard of, so pages reload.
//
// One LiveUpdates serves the whole app (useLive.tsx provides it); nothing
// here depends on the live channel to be right, only to be prompt.
import type { Api } from "./api";

export const SUBPROTOCOL = "pvct.v1";
export const PING_MS = 30_000;
/** Unanswered pings in a row after which a socket counts as dead. */
const MISSED_PINGS = 2;
const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;

export type LiveEvent =
  | { type: "changed"; environment: string; seq: number; etag: string | null; prompts: string[] }
  | { type: "activity"; environment: string; event: string; prompt: string }
  /** The channel came back after a drop: what changed meanwhile was not heard of. */
  | { type: "resync"; environment: string };

/**
 * The channel as the top bar shows it: `live` when every environment's
 * socket is up; `reconnecting` while any is down; `unavailable` when this
 * sign-in cannot open one at all (see `LiveUpdates`).
 */
export type LiveState = "connecting" | "live" | "reconnecting" | "unavailable";

/** The wait before reconnect attempt `attempt` (0-based): 0.5 s doubling to 30 s, ±50 % jitter, never over 30 s. */
export function backoff(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** Math.min(attempt, 16));
  return Math.min(MAX_DELAY_MS, Math.round(base * (0.5 + random())));
}

/** The live channel of `environment` on the console's own origin, ws: or wss: as the page is. */
export function liveUrl(environment: string, loc: Pick<Location, "protocol" | "host"> = location): string {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}/v1/live?environment=${encodeURIComponent(environment)}`;
}

/** A message as the hub sends it, checked; null for pongs, unknown types and anything malformed. */
function parse(data: unknown): { type: "hello"; seq: number } | LiveEvent | null {
  if (typeof data !== "string" || data === "pong") return null;
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(data);
  } catch {
    return null;
  }
  if (!m || typeof m !== "object" || typeof m.environment !== "string") return null;
  const seq = typeof m.seq === "number" ? m.seq : 0;
  switch (m.type) {
    case "hello":
      return { type: "hello", seq };
    case "changed":
      return {
        type: "changed",
        environment: m.environment,
        seq,
        etag: typeof m.etag === "string" ? m.etag : null,
        prompts: Array.isArray(m.prompts) ? m.prompts.filter((p): p is string => typeof p === "string") : [],
      };
    case "activity":
      return typeof m.prompt === "string"
        ? { type: "activity", environment: m.environment, event: String(m.event ?? ""), prompt: m.prompt }
        : null;
    default:
      return null;
  }
}

type ChannelState = "connecting" | "live" | "down";

/** One environment's socket, kept open until closed. */
class Channel {
  state: ChannelState = "connecting";
  /** The last release sequence heard of for the environment (0: none yet). */
  seq = 0;
  private ws: WebSocket | null = null;
  private attempt = 0;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  /** A ping went out and nothing came back since. */
  private awaiting = false;
  private missed = 0;
  /** Was live before: a hello after a drop means a resync. */
  private wasLive = false;
  private closed = false;

  constructor(
    readonly environment: string,
    private readonly protocols: string[],
    private readonly onEvent: (e: LiveEvent) => void,
    private readonly onState: () => void,
  ) {
    this.connect();
  }

  private setState(s: ChannelState) {
    if (this.state === s) return;
    this.state = s;
    this.onState();
  }

  private connect() {
    this.retry = undefined;
    if (this.closed) return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(liveUrl(this.environment), this.protocols);
    } catch {
      this.drop();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.awaiting = false;
      this.missed = 0;
      this.heartbeat = setInterval(() => this.beat(), PING_MS);
    };
    ws.onmessage = (e) => this.heard(e.data);
    // An error is always followed by a close.
    ws.onclose = () => this.ws === ws && this.drop();
  }

  /** Every PING_MS: a ping, unless the ones before went unanswered (then the socket is dead). */
  private beat() {
    if (!this.ws) return;
    if (this.awaiting && ++this.missed >= MISSED_PINGS) {
      this.drop();
      return;
    }
    this.awaiting = true;
    try {
      this.ws.send("ping");
    } catch {
      this.drop();
    }
  }

  private heard(data: unknown) {
    // Anything heard (a pong included) shows the socket is alive.
    this.awaiting = false;
    this.missed = 0;
    const m = parse(data);
    if (!m) return;
    if (m.type === "hello") {
      this.seq = m.seq;
      this.attempt = 0;
      this.setState("live");
      if (this.wasLive) this.onEvent({ type: "resync", environment: this.environment });
      this.wasLive = true;
      return;
    }
    if (m.type === "changed") this.seq = Math.max(this.seq, m.seq);
    this.onEvent(m);
  }

  /** Forgets the socket; unless closed, tries again after the backoff. */
  private drop() {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      try {
        ws.close();
      } catch {
        // Already closing.
      }
    }
    if (this.closed) return;
    this.setState("down");
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.connect(), backoff(this.attempt++));
  }

  /** The network is back: a socket waiting to reconnect tries now. */
  retryNow() {
    if (this.closed || this.ws || this.retry === undefined) return;
    clearTimeout(this.retry);
    this.attempt = 0;
    this.connect();
  }

  close() {
    this.closed = true;
    clearTimeout(this.retry);
    this.retry = undefined;
    this.drop();
  }
}

type Listener = (e: LiveEvent) => void;

export class LiveUpdates {
  private channels = new Map<string, Channel>();
  private listeners = new Set<Listener>();
  private stateListeners = new Set<() => void>();
  private state: LiveState;
  private running = false;
  private envRetry: ReturnType<typeof setTimeout> | undefined;
  private envAttempt = 0;

  /**
   * `key`: the API key the console signed in with, or null for a person
   * signed in through Access. `available` false: this sign-in cannot open
   * the channel (a person who is a member of several workspaces names one
   * in a header, which a browser's WebSocket cannot send), so nothing is
   * opened and the state says so.
   */
  constructor(
    private readonly api: Api,
    private readonly key: string | null,
    private readonly available = true,
  ) {
    this.state = available ? "connecting" : "unavailable";
  }

  /** Opens a socket per environment (the list from GET /v1/environments). Again after stop(): reopens. */
  start() {
    if (this.running || !this.available) return;
    this.running = true;
    addEventListener("online", this.onOnline);
    void this.openChannels();
  }

  /** Closes every socket and stops reconnecting (sign-out, unmount). */
  stop() {
    this.running = false;
    removeEventListener("online", this.onOnline);
    clearTimeout(this.envRetry);
    for (const c of this.channels.values()) c.close();
    this.channels.clear();
    this.update();
  }

  /** Calls `listener` with every change and activity heard; returns the unsubscribe. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** For useSyncExternalStore. */
  onStateChange = (listener: () => void): (() => void) => {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  };
  getState = (): LiveState => this.state;

  /** The last release sequence heard of for `environment` (0: none), for GET /v1/bundle?min_seq=. */
  seq(environment: string): number {
    return this.channels.get(environment)?.seq ?? 0;
  }

  private onOnline = () => {
    for (const c of this.channels.values()) c.retryNow();
  };

  private async openChannels() {
    let names: string[];
    try {
      names = (await this.api.environments()).map((e) => e.name);
    } catch {
      if (!this.running) return;
      this.state = "reconnecting";
      this.notify();
      this.envRetry = setTimeout(() => this.openChannels(), backoff(this.envAttempt++));
      return;
    }
    if (!this.running) return;
    const protocols = this.key === null ? [SUBPROTOCOL] : [SUBPROTOCOL, this.key];
    for (const name of names)
      if (!this.channels.has(name))
        this.channels.set(name, new Channel(name, protocols, (e) => this.emit(e), () => this.update()));
    this.update();
  }

  private emit(e: LiveEvent) {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch (err) {
        console.error(err);
      }
    }
  }

  private update() {
    const states = [...this.channels.values()].map((c) => c.state);
    const next: LiveState = !this.available
      ? "unavailable"
      : states.includes("down")
        ? "reconnecting"
        : states.length > 0 && states.every((s) => s === "live")
          ? "live"
          : "connecting";
    if (next === this.state) return;
    this.state = next;
    this.notify();
  }

  private notify() {
    for (const l of [...this.stateListeners]) l();
  }
}
