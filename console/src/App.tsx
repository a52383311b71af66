// The shell: sign-in gate, top bar, and the page for the current route.
import { useCallback, useEffect, useMemo, useState } from "react";
import { Api, ApiError, type Me } from "./api";
import { SessionContext, forgetKey, storeKey, storedKey, type Session } from "./session";
import { linkProps, navigate, useRoute } from "./router";
import { SignIn } from "./pages/SignIn";
import { PromptList } from "./pages/PromptList";
import { PromptPage } from "./pages/PromptPage";
import { Approvals } from "./pages/Approvals";
import { Shortcuts } from "./components/Shortcuts";

export function App() {
  const [signedIn, setSignedIn] = useState<{ key: string; me: Me } | null>(null);
  const [checking, setChecking] = useState(() => storedKey() !== null);
  const route = useRoute();

  const signIn = useCallback(async (key: string) => {
    const me = await new Api(key).me();
    storeKey(key);
    setSignedIn({ key, me });
  }, []);

  // A key kept in this tab's sessionStorage signs in again after a reload.
  useEffect(() => {
    const key = storedKey();
    if (!key) return;
    signIn(key)
      .catch((e) => {
        if (e instanceof ApiError && (e.status === 401 || e.status === 403)) forgetKey();
      })
      .finally(() => setChecking(false));
  }, [signIn]);

  const session = useMemo<Session | null>(() => {
    if (!signedIn) return null;
    return {
      api: new Api(signedIn.key),
      me: signedIn.me,
      can: (p) => signedIn.me.permissions.includes(p),
      signOut: () => {
        forgetKey();
        setSignedIn(null);
        navigate("/");
      },
    };
  }, [signedIn]);

  if (checking && !session) return <main className="center muted">Signing in…</main>;
  if (!session) return <SignIn onSignIn={signIn} />;

  return (
    <SessionContext.Provider value={session}>
      <header className="topbar">
        <a className="brand" {...linkProps("/")}>
          PromptVault
        </a>
        <nav aria-label="Main">
          <a {...linkProps("/")} aria-current={route.page === "prompts" ? "page" : undefined}>
            Prompts
          </a>
          <a {...linkProps("/approvals")} aria-current={route.page === "approvals" ? "page" : undefined}>
            Approvals
          </a>
        </nav>
        <span className="spacer" />
        <span className="who" title={session.me.workspace_id}>
          {session.me.actor} · <span className="role">{session.me.role}</span>
        </span>
        <button className="ghost" onClick={session.signOut}>
          Sign out
        </button>
      </header>
      <main className="page">
        {route.page === "prompts" && <PromptList />}
        {route.page === "approvals" && <Approvals />}
        {route.page === "prompt" && <PromptPage key={route.slug} slug={route.slug} tab={route.tab} params={route.params} />}
        {route.page === "not-found" && (
          <p>
            Nothing here. <a {...linkProps("/")}>Back to prompts</a>
          </p>
        )}
      </main>
      <Shortcuts />
    </SessionContext.Provider>
  );
}
