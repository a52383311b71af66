// The shell: sign-in gate, top bar, and the page for the current route.
//
// Signing in: GET /v1/auth/config (public) says whether Cloudflare Access
// signs people in and whether API keys may. A key kept in this tab's
// sessionStorage (the user chose it here) signs in again after a reload.
// Otherwise, with Access, GET /v1/me without an Authorization header (the
// browser sends Access's CF_Authorization cookie): 200 is the person, 403
// not_a_member is a person the workspace does not know, a member of several
// workspaces names one (kept for the tab, sent as Pvct-Workspace), 401 falls
// back to the key prompt where keys may sign in. Without Access: the key
// prompt.
import { lazy, Suspense, useCallback, useEffect, useMemo, useState } from "react";
import { Api, ApiError, KEY_ONLY, type AuthConfig, type Me } from "./api";
import {
  SessionContext,
  forgetKey,
  forgetWorkspace,
  storeKey,
  storeWorkspace,
  storedKey,
  storedWorkspace,
  type Session,
} from "./session";
import { linkProps, navigate, useRoute } from "./router";
import { AccessSignInFailed, ChooseWorkspace, NotAMember, SignIn } from "./pages/SignIn";
import { PromptList } from "./pages/PromptList";
import { PromptPage } from "./pages/PromptPage";
import { Approvals } from "./pages/Approvals";
import { Shortcuts } from "./components/Shortcuts";
import { LiveIndicator } from "./components/LiveIndicator";
import { LiveProvider } from "./useLive";

// Only admins open these: they load when first opened.
const AdminPage = lazy(() => import("./pages/admin/AdminPage"));

type Gate =
  | { state: "checking" }
  /** The API key prompt, with why it shows when Access was tried. */
  | { state: "key"; note?: string }
  /** Signed in through Access as someone the workspace has no membership for. */
  | { state: "not-member"; email: string | null }
  /** Signed in through Access as a member of several workspaces: which one? */
  | { state: "workspace" }
  /** Access did not sign the user in and keys may not. */
  | { state: "access-failed"; reason: string }
  | { state: "in"; key: string | null; me: Me };

/** What GET /v1/me without a key says about the person Access signed in (in `workspace`, when they named one). */
async function accessSignIn(config: AuthConfig, workspace: string | null): Promise<Gate> {
  try {
    return { state: "in", key: null, me: await new Api(null, workspace).me() };
  } catch (e) {
    if (e instanceof ApiError && e.code === "not_a_member") {
      return { state: "not-member", email: typeof e.details.email === "string" ? e.details.email : null };
    }
    // A member of several workspaces names one (the API says which header).
    if (e instanceof ApiError && e.details.header === "pvct-workspace") return { state: "workspace" };
    const reason =
      e instanceof ApiError && e.status === 401
        ? "Cloudflare Access did not sign you in, or your sign-in has expired."
        : e instanceof Error
          ? e.message
          : "Could not sign in.";
    return config.key_sign_in ? { state: "key", note: reason } : { state: "access-failed", reason };
  }
}

export function App() {
  const [config, setConfig] = useState<AuthConfig>(KEY_ONLY);
  const [gate, setGate] = useState<Gate>({ state: "checking" });
  const route = useRoute();

  const signIn = useCallback(async (key: string) => {
    const me = await new Api(key).me();
    storeKey(key);
    setGate({ state: "in", key, me });
  }, []);

  useEffect(() => {
    let live = true;
    const settle = (g: Gate) => live && setGate(g);
    (async () => {
      // A worker that cannot say (an older one, or no answer) signs in with keys only.
      const cfg = await new Api(null).authConfig().catch(() => KEY_ONLY);
      if (!live) return;
      setConfig(cfg);
      const key = storedKey();
      if (key && cfg.key_sign_in) {
        try {
          return settle({ state: "in", key, me: await new Api(key).me() });
        } catch (e) {
          if (e instanceof ApiError && (e.status === 401 || e.status === 403)) forgetKey();
        }
      }
      if (cfg.access) return settle(await accessSignIn(cfg, storedWorkspace()));
      settle(
        cfg.key_sign_in
          ? { state: "key" }
          : { state: "access-failed", reason: "This console has no way to sign in configured: ask an admin." },
      );
    })();
    return () => {
      live = false;
    };
  }, []);

  const session = useMemo<Session | null>(() => {
    if (gate.state !== "in") return null;
    const { key, me } = gate;
    const logoutUrl = key === null ? (config.access?.logout_url ?? "/cdn-cgi/access/logout") : null;
    return {
      api: new Api(key, key === null ? storedWorkspace() : null),
      me,
      can: (p) => me.permissions.includes(p),
      logoutUrl,
      signOut: () => {
        if (logoutUrl) {
          forgetWorkspace();
          location.assign(logoutUrl);
          return;
        }
        forgetKey();
        setGate({ state: "key" });
        navigate("/");
      },
    };
  }, [gate, config]);

  if (gate.state === "checking") return <main className="center muted">Signing in…</main>;
  if (gate.state === "not-member")
    return (
      <NotAMember
        email={gate.email}
        workspace={storedWorkspace()}
        logoutUrl={config.access?.logout_url ?? "/cdn-cgi/access/logout"}
        onUseKey={config.key_sign_in ? () => setGate({ state: "key" }) : undefined}
        onOtherWorkspace={
          storedWorkspace()
            ? () => {
                forgetWorkspace();
                setGate({ state: "workspace" });
              }
            : undefined
        }
      />
    );
  if (gate.state === "workspace")
    return (
      <ChooseWorkspace
        onChoose={async (name) => {
          storeWorkspace(name);
          const next = await accessSignIn(config, name);
          if (next.state !== "in" && next.state !== "not-member") forgetWorkspace();
          setGate(next);
        }}
      />
    );
  if (gate.state === "access-failed")
    return <AccessSignInFailed reason={gate.reason} logoutUrl={config.access?.logout_url ?? null} />;
  if (!session) return <SignIn onSignIn={signIn} note={gate.state === "key" ? gate.note : undefined} />;

  // A key's `person` is who created it: the top bar names the key then.
  const person = session.me.kind === "person" ? (session.me.person ?? null) : null;
  const isAdmin = session.can("administer");
  const key = gate.state === "in" ? gate.key : null;
  return (
    <SessionContext.Provider value={session}>
      {/* One set of live sockets for the whole app, closed on sign-out. A
          person who named one of several workspaces cannot open them: a
          browser's WebSocket sends no Pvct-Workspace header. */}
      <LiveProvider api={session.api} apiKey={key} available={key !== null || storedWorkspace() === null}>
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
            {isAdmin && (
              <a {...linkProps("/admin/members")} aria-current={route.page === "admin" ? "page" : undefined}>
                Admin
              </a>
            )}
          </nav>
          <span className="spacer" />
          <LiveIndicator />
          <span className="who" data-testid="who" title={person ? `${person.email} · ${session.me.workspace_id}` : session.me.workspace_id}>
            {person ? (
              <>
                {person.name && person.name !== person.email ? `${person.name} ` : ""}
                <span className="email">{person.email}</span>
              </>
            ) : (
              session.me.actor
            )}{" "}
            · <span className="role">{session.me.role}</span>
          </span>
          {session.logoutUrl ? (
            <a className="button ghost" href={session.logoutUrl} onClick={forgetWorkspace}>
              Sign out
            </a>
          ) : (
            <button className="ghost" onClick={session.signOut}>
              Sign out
            </button>
          )}
        </header>
        <main className="page">
          {route.page === "prompts" && <PromptList />}
          {route.page === "approvals" && <Approvals />}
          {route.page === "prompt" && <PromptPage key={route.slug} slug={route.slug} tab={route.tab} params={route.params} />}
          {route.page === "admin" &&
            (isAdmin ? (
              <Suspense fallback={<p className="muted">Loading…</p>}>
                <AdminPage section={route.section} params={route.params} />
              </Suspense>
            ) : (
              <p role="alert">
                Only admins of the workspace see this page. <a {...linkProps("/")}>Back to prompts</a>
              </p>
            ))}
          {route.page === "not-found" && (
            <p>
              Nothing here. <a {...linkProps("/")}>Back to prompts</a>
            </p>
          )}
        </main>
        <Shortcuts />
      </LiveProvider>
    </SessionContext.Provider>
  );
}
