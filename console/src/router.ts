// A small history router: the console has a handful of pages, so a path
// matcher and pushState are all it needs (no router dependency).
import { useEffect, useState } from "react";

export type Route =
  | { page: "prompts" }
  | { page: "approvals" }
  | { page: "prompt"; slug: string; tab: PromptTab; params: URLSearchParams }
  | { page: "admin"; section: AdminSection; params: URLSearchParams }
  | { page: "not-found" };
export type PromptTab = "history" | "diff" | "edit" | "deploy" | "experiments" | "metrics" | "tests";
const TABS: PromptTab[] = ["history", "diff", "edit", "deploy", "experiments", "metrics", "tests"];
/** The admin pages, in the order their tabs show. */
export type AdminSection = "members" | "keys" | "environments" | "webhooks" | "settings" | "audit";
export const ADMIN_SECTIONS: AdminSection[] = ["members", "keys", "environments", "webhooks", "settings", "audit"];

export function parseRoute(pathname: string, search: string): Route {
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0 || (parts.length === 1 && parts[0] === "prompts")) return { page: "prompts" };
  if (parts.length === 1 && parts[0] === "approvals") return { page: "approvals" };
  if (parts[0] === "admin" && parts.length <= 2) {
    const section = (parts[1] ?? "members") as AdminSection;
    if (ADMIN_SECTIONS.includes(section)) return { page: "admin", section, params: new URLSearchParams(search) };
  }
  if (parts[0] === "prompts" && parts.length <= 3) {
    const tab = (parts[2] ?? "history") as PromptTab;
    if (TABS.includes(tab)) return { page: "prompt", slug: parts[1], tab, params: new URLSearchParams(search) };
  }
  return { page: "not-found" };
}

export function navigate(to: string) {
  if (to === location.pathname + location.search) return;
  history.pushState(null, "", to);
  dispatchEvent(new PopStateEvent("popstate"));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname, location.search));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.pathname, location.search));
    addEventListener("popstate", on);
    return () => removeEventListener("popstate", on);
  }, []);
  return route;
}

/** An anchor that navigates without a reload (and still opens in a new tab). */
export function linkProps(to: string) {
  return {
    href: to,
    onClick: (e: { preventDefault(): void; metaKey: boolean; ctrlKey: boolean; shiftKey: boolean; button: number }) => {
      if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
      e.preventDefault();
      navigate(to);
    },
  };
}
