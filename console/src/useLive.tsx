// The app's one set of live sockets (liveUpdates.ts), and the hooks pages
// use: useLiveRefresh reloads what a page shows when a change or approval
// activity it cares about is heard, useLiveState is what the top bar shows.
import { createContext, useContext, useEffect, useMemo, useRef, useSyncExternalStore, type ReactNode } from "react";
import type { Api } from "./api";
import { LiveUpdates, type LiveEvent, type LiveState } from "./liveUpdates";

const LiveContext = createContext<LiveUpdates | null>(null);

/**
 * Opens the sockets while signed in: rendered inside the signed-in shell,
 * so signing out (or another sign-in) closes them.
 */
export function LiveProvider({
  api,
  apiKey,
  available,
  children,
}: {
  api: Api;
  apiKey: string | null;
  available: boolean;
  children: ReactNode;
}) {
  const live = useMemo(() => new LiveUpdates(api, apiKey, available), [api, apiKey, available]);
  useEffect(() => {
    live.start();
    return () => live.stop();
  }, [live]);
  return <LiveContext.Provider value={live}>{children}</LiveContext.Provider>;
}

/** The app's LiveUpdates (null outside the signed-in shell). */
export const useLive = () => useContext(LiveContext);

const NO_STATE = () => () => {};
/** The live channel's state, re-rendering when it changes. */
export function useLiveState(): LiveState {
  const live = useLive();
  return useSyncExternalStore(live?.onStateChange ?? NO_STATE, live ? live.getState : () => "unavailable");
}

/**
 * Calls `refresh` when an event `wants` accepts is heard. Events arriving
 * together fold into one refresh, `delayMs` after the first (the page's
 * request then sees all of them).
 */
export function useLiveRefresh(refresh: () => void, wants: (e: LiveEvent) => boolean, delayMs = 200) {
  const live = useLive();
  const latest = useRef({ refresh, wants });
  latest.current = { refresh, wants };
  useEffect(() => {
    if (!live) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = live.subscribe((e) => {
      if (timer !== undefined || !latest.current.wants(e)) return;
      timer = setTimeout(() => {
        timer = undefined;
        latest.current.refresh();
      }, delayMs);
    });
    return () => {
      off();
      clearTimeout(timer);
    };
  }, [live, delayMs]);
}

/** Any change or activity at all (the prompt list, the approval queue). */
export const anyEvent = () => true;

/** What concerns one prompt: a change naming it, activity on it, or a resync. */
export const concerns = (slug: string) => (e: LiveEvent) =>
  e.type === "resync" || (e.type === "changed" ? e.prompts.includes(slug) : e.prompt === slug);
