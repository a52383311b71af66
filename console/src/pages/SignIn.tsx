import { useState, type FormEvent } from "react";
import { ApiError } from "../api";

/** The API key prompt; `note` says why it shows when Cloudflare Access was tried first. */
export function SignIn({ onSignIn, note }: { onSignIn: (key: string) => Promise<void>; note?: string }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const trimmed = key.trim();
    if (!/^pvct_[0-9a-f]{48}$/.test(trimmed)) {
      setError("An API key is pvct_ followed by 48 hexadecimal characters.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await onSignIn(trimmed);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? "This key is unknown or revoked."
          : err instanceof ApiError
            ? err.message
            : "Could not sign in.",
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="center">
      <form className="card signin" onSubmit={submit}>
        <h1>PromptVault</h1>
        {note && (
          <p className="notice" role="status">
            {note}
          </p>
        )}
        <p className="muted">Sign in with an API key of your workspace. It stays in this tab only.</p>
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          autoFocus
          value={key}
          onChange={(e) => setKey(e.target.value)}
          placeholder="pvct_…"
        />
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}

/** Signed in through Cloudflare Access, but the workspace has no membership for this person. */
export function NotAMember({
  email,
  workspace,
  logoutUrl,
  onUseKey,
  onOtherWorkspace,
}: {
  email: string | null;
  /** The workspace the person named, if they did. */
  workspace?: string | null;
  logoutUrl: string;
  onUseKey?: () => void;
  onOtherWorkspace?: () => void;
}) {
  return (
    <main className="center">
      <section className="card signin" aria-labelledby="not-member-title" data-testid="not-a-member">
        <h1 id="not-member-title">Not a member of this workspace</h1>
        <p>
          You are signed in as {email ? <strong data-testid="signed-in-email">{email}</strong> : "someone"} but not a member of{" "}
          {workspace ? <strong>{workspace}</strong> : "this workspace"}. Ask an admin of the workspace to invite you.
        </p>
        <div className="row">
          <a className="button" href={logoutUrl}>
            Sign out
          </a>
          {onOtherWorkspace && (
            <button type="button" className="ghost" onClick={onOtherWorkspace}>
              Choose another workspace
            </button>
          )}
          {onUseKey && (
            <button type="button" className="ghost" onClick={onUseKey}>
              Sign in with an API key instead
            </button>
          )}
        </div>
      </section>
    </main>
  );
}

/** A person who is a member of several workspaces names the one to open (it is kept for this tab). */
export function ChooseWorkspace({ onChoose }: { onChoose: (name: string) => Promise<void> }) {
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    try {
      await onChoose(name.trim());
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="center">
      <form className="card signin" onSubmit={submit} aria-labelledby="choose-workspace-title">
        <h1 id="choose-workspace-title">Which workspace?</h1>
        <p className="muted">You are a member of several workspaces. Name the one to open (its short name, such as demo).</p>
        <label htmlFor="workspace-name">Workspace</label>
        <input
          id="workspace-name"
          required
          autoFocus
          pattern="[a-z0-9\-]{1,64}"
          title="the workspace's short name: lowercase letters, digits and -"
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder="demo"
        />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Opening…" : "Open"}
        </button>
      </form>
    </main>
  );
}

/** Cloudflare Access did not sign the user in, and API keys may not: only Access can let them in. */
export function AccessSignInFailed({ reason, logoutUrl }: { reason: string; logoutUrl: string | null }) {
  return (
    <main className="center">
      <section className="card signin" aria-labelledby="access-failed-title" data-testid="access-sign-in-failed">
        <h1 id="access-failed-title">Not signed in</h1>
        <p role="alert">{reason}</p>
        <div className="row">
          {/* Loading the console again goes through Cloudflare Access, which asks who you are. */}
          <a className="button" href={location.pathname + location.search}>
            Sign in again
          </a>
          {logoutUrl && (
            <a className="button ghost" href={logoutUrl}>
              Sign out
            </a>
          )}
        </div>
      </section>
    </main>
  );
}
