// The signed-in key lives in sessionStorage (gone when the tab closes, never
// in the URL), with what GET /v1/me says it may do.
import { createContext, useContext } from "react";
import { Api, type Me, type Permission } from "./api";

const STORAGE_KEY = "pvct.apiKey";

export const storedKey = (): string | null => sessionStorage.getItem(STORAGE_KEY);
export const storeKey = (key: string) => sessionStorage.setItem(STORAGE_KEY, key);
export const forgetKey = () => sessionStorage.removeItem(STORAGE_KEY);

export interface Session {
  api: Api;
  me: Me;
  can: (p: Permission) => boolean;
  signOut: () => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside a signed-in page");
  return s;
}
