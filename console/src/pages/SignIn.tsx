import { useState, type FormEvent } from "react";
import { ApiError } from "../api";

export function SignIn({ onSignIn }: { onSignIn: (key: string) => Promise<void> }) {
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
