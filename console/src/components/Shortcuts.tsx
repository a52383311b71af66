// Keyboard shortcuts: "/" filters the prompt list, "g p" / "g a" go to the
// prompts and approvals, "?" lists them. Typing in a field never triggers one.
import { useEffect, useState } from "react";
import { navigate } from "../router";

export function Shortcuts() {
  const [open, setOpen] = useState(false);
  useEffect(() => {
    let pendingG = false;
    const on = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (t.closest("input, textarea, select, [contenteditable], .monaco-editor") || e.metaKey || e.ctrlKey || e.altKey) return;
      if (e.key === "Escape") setOpen(false);
      if (e.key === "?") setOpen((o) => !o);
      if (e.key === "/") {
        const f = document.getElementById("filter");
        if (f) {
          e.preventDefault();
          f.focus();
        }
      }
      if (pendingG && e.key === "p") navigate("/");
      if (pendingG && e.key === "a") navigate("/approvals");
      pendingG = e.key === "g";
    };
    addEventListener("keydown", on);
    return () => removeEventListener("keydown", on);
  }, []);
  if (!open) return null;
  return (
    <div className="shortcuts card" role="dialog" aria-label="Keyboard shortcuts">
      <h2>Keyboard</h2>
      <dl>
        <dt>/</dt>
        <dd>filter prompts</dd>
        <dt>g p · g a</dt>
        <dd>prompts · approvals</dd>
        <dt>Ctrl/⌘ Enter</dt>
        <dd>commit (in the editor)</dd>
        <dt>?</dt>
        <dd>this help</dd>
      </dl>
    </div>
  );
}
