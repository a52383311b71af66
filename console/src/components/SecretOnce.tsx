// A secret the API shows only once (a new API key, a webhook's signing
// secret): in a box with a Copy button, until the user is done with it.
import { useState, type ReactNode } from "react";

export function SecretOnce({ title, secret, onDone, children }: { title: string; secret: string; onDone: () => void; children?: ReactNode }) {
  const [copied, setCopied] = useState<"no" | "yes" | "failed">("no");

  async function copy() {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied("yes");
    } catch {
      // No clipboard (an insecure origin) or the browser refused.
      setCopied("failed");
    }
  }

  return (
    <div className="card secret-once" role="region" aria-label={title} data-testid="secret-once">
      <strong>{title}</strong>
      <p className="muted">Copy it now: it is shown only this once.</p>
      <div className="row">
        <code className="secret" data-testid="secret">
          {secret}
        </code>
        <button type="button" className="primary" onClick={copy} autoFocus aria-live="polite">
          {copied === "yes" ? "Copied" : "Copy"}
        </button>
        <button type="button" className="ghost" onClick={onDone}>
          Done
        </button>
      </div>
      {copied === "failed" && (
        <p className="error" role="alert">
          The browser did not let the console copy it: select the text and copy it yourself.
        </p>
      )}
      {children}
    </div>
  );
}
