// The signed-in key lives in sessionStorage (gone when the tab closes, never
// in the URL), with what GET /v1/me says it may do. A person signed in
// through Cloudflare Access has no key here at all: the browser sends
// Access's cookie, and signing out is Access's logout.
import { createContext, useContext } from "react";
import { Api, type Me, type Permission } from "./api";

const STORAGE_KEY = "pvct.apiKey";

export const storedKey = (): string | null => sessionStorage.getItem(STORAGE_KEY);
export const storeKey = (key: string) => sessionStorage.setItem(STORAGE_KEY, key);
export const forgetKey = () => sessionStorage.removeItem(STORAGE_KEY);

// A person who is a member of several workspaces names one (by its short
// name) for this tab.
const WORKSPACE_KEY = "pvct.workspace";
export const storedWorkspace = (): string | null => sessionStorage.getItem(WORKSPACE_KEY);
export const storeWorkspace = (name: string) => sessionStorage.setItem(WORKSPACE_KEY, name);
export const forgetWorkspace = () => sessionStorage.removeItem(WORKSPACE_KEY);

export interface Session {
  api: Api;
  me: Me;
  can: (p: Permission) => boolean;
  /** Signed in through Cloudflare Access: where signing out goes (Access's logout). Null with an API key. */
  logoutUrl: string | null;
  signOut: () => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside a signed-in page");
  return s;
}
