// The top bar's pill: whether pages update by themselves right now. A
// polite live region, so a screen reader hears when the channel drops and
// comes back.
import { useLiveState } from "../useLive";
import type { LiveState } from "../liveUpdates";

/** What the pill shows, what a screen reader says, and the tooltip. */
const SHOWN: Record<LiveState, { label: string; spoken: string; title: string }> = {
  connecting: { label: "Connecting…", spoken: "Connecting to live updates", title: "Connecting to live updates." },
  live: { label: "Live", spoken: "Live updates on", title: "Live: pages update by themselves when something changes." },
  reconnecting: {
    label: "Reconnecting…",
    spoken: "Live updates reconnecting",
    title: "Live updates dropped and are reconnecting: until then, reload to see changes others make.",
  },
  unavailable: {
    label: "Not live",
    spoken: "Live updates not available",
    title: "Live updates are not available with this sign-in (a member of several workspaces): reload to see changes others make.",
  },
};

export function LiveIndicator() {
  const state = useLiveState();
  const { label, spoken, title } = SHOWN[state];
  return (
    <span className="live-pill" data-state={state} data-testid="live-state" title={title} aria-live="polite">
      <span aria-hidden="true">{label}</span>
      <span className="sr-only">{spoken}</span>
    </span>
  );
}
