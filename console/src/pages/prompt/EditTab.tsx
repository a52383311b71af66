// The editor: a Monaco editor for a text prompt or for each chat message,
// model parameters, and commit. A 409 (someone committed first) shows their
// change and lets the user rebase onto it.
import { lazy, Suspense, useMemo, useState } from "react";
import { ApiError, type Content, type Entry, type Version } from "../../api";
import { useSession } from "../../session";
import { navigate } from "../../router";
import { diffVersions, type VersionDiff } from "../../diff";
import { DiffView } from "../../components/DiffView";
import { ErrorNote } from "../../components/ErrorNote";
import type { PromptData } from "../PromptPage";

// Monaco comes with the editor component, in a chunk of its own.
const TemplateEditor = lazy(() => import("../../components/TemplateEditor"));

type Draft = { text: string; entries: Entry[]; params: string; message: string };

const draftOf = (v: Version | null, kind: string): Draft => {
  const c = v?.content as (Content & { text?: string; messages?: Entry[] }) | undefined;
  return {
    text: c?.text ?? "",
    entries: c?.messages ?? (kind === "chat" ? [{ role: "system", content: "" }] : []),
    params: v?.model_params ? JSON.stringify(v.model_params, null, 2) : "{}",
    message: "",
  };
};

interface Conflict {
  theirs: Version;
  theirChange: VersionDiff | null;
  mineVsTheirs: VersionDiff;
}

export default function EditTab({ data, reload }: { data: PromptData; reload: () => void }) {
  const { api, can } = useSession();
  const { prompt } = data;
  const chat = prompt.kind === "chat";
  // The version this draft is based on: the head when editing started, or
  // the version the user rebased onto.
  const [base, setBase] = useState<Version | null>(prompt.head);
  const [draft, setDraft] = useState<Draft>(() => draftOf(prompt.head, prompt.kind));
  const [error, setError] = useState<Error | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [busy, setBusy] = useState(false);
  // Bumped when the draft is replaced from outside, to remount the editors.
  const [generation, setGeneration] = useState(0);

  const paramsError = useMemo(() => {
    try {
      const p = JSON.parse(draft.params || "{}");
      return p === null || (typeof p === "object" && !Array.isArray(p)) ? null : "model parameters must be a JSON object";
    } catch {
      return "model parameters are not valid JSON";
    }
  }, [draft.params]);

  if (!can("write")) return <p className="muted">Your key is a reader key: it cannot commit.</p>;

  const content = (): Content => (chat ? { messages: draft.entries } : { text: draft.text });
  const set = (patch: Partial<Draft>) => setDraft((d) => ({ ...d, ...patch }));
  const setEntry = (i: number, e: Entry) => set({ entries: draft.entries.map((x, j) => (j === i ? e : x)) });
  const move = (i: number, by: number) => {
    const next = [...draft.entries];
    const [e] = next.splice(i, 1);
    next.splice(i + by, 0, e);
    set({ entries: next });
    setGeneration((g) => g + 1);
  };
  const remove = (i: number) => {
    set({ entries: draft.entries.filter((_, j) => j !== i) });
    setGeneration((g) => g + 1);
  };

  async function commit() {
    if (paramsError || busy) return;
    setBusy(true);
    setError(null);
    setNotice(null);
    const body = {
      content: content(),
      model_params: JSON.parse(draft.params || "{}"),
      parent_version: base?.number ?? null,
      message: draft.message,
      // Declared variables carry over from the version this is based on.
      variables: base?.variable_declarations ?? [],
    };
    try {
      const res = await api.post<{ created: boolean; version: Version }>(`/v1/prompts/${prompt.slug}/versions`, body);
      setConflict(null);
      if (!res.body.created) {
        setNotice(`Nothing to commit: this is identical to v${res.body.version.number}.`);
        return;
      }
      reload();
      const v = res.body.version;
      navigate(v.parent_version ? `/prompts/${prompt.slug}/diff?from=${v.parent_version}&to=${v.number}` : `/prompts/${prompt.slug}/history`);
    } catch (e) {
      if (e instanceof ApiError && e.code === "stale_parent" && typeof e.details.head_version === "number") {
        const theirs = await api.version(prompt.slug, e.details.head_version);
        const mine = { content: body.content, model_params: body.model_params };
        setConflict({
          theirs,
          theirChange: base ? await diffVersions(prompt.kind, base, theirs) : null,
          mineVsTheirs: await diffVersions(prompt.kind, theirs, mine),
        });
      } else setError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Suspense fallback={<p className="muted">Loading the editor…</p>}>
      <div className="editor-page">
        <p className="muted">
          {base ? `Editing on top of v${base.number}` : "First version"} ·{" "}
          <span className="tok-var">{"{{variable}}"}</span> · <span className="tok-inc">{"{{> snippet}}"}</span> ·{" "}
          <code>{"\\{{"}</code> for literal braces · Ctrl/⌘ Enter commits
        </p>

        {conflict && (
          <section className="card conflict" role="alert" data-testid="conflict">
            <h2>
              {conflict.theirs.author} committed v{conflict.theirs.number} while you were editing
            </h2>
            <p>“{conflict.theirs.message || "no message"}”</p>
            {conflict.theirChange && (
              <>
                <h3>Their change (v{base?.number} → v{conflict.theirs.number})</h3>
                <DiffView diff={conflict.theirChange} left={`v${base?.number}`} right={`v${conflict.theirs.number}`} />
              </>
            )}
            <h3>Your draft against theirs</h3>
            <DiffView diff={conflict.mineVsTheirs} left={`v${conflict.theirs.number}`} right="your draft" />
            <div className="row">
              <button
                className="primary"
                onClick={() => {
                  setBase(conflict.theirs);
                  setConflict(null);
                  setNotice(`Rebased onto v${conflict.theirs.number}: your draft is kept; commit when it reads right.`);
                }}
              >
                Rebase my draft onto v{conflict.theirs.number}
              </button>
              <button
                className="ghost"
                onClick={() => {
                  setBase(conflict.theirs);
                  setDraft(draftOf(conflict.theirs, prompt.kind));
                  setGeneration((g) => g + 1);
                  setConflict(null);
                }}
              >
                Discard my draft, load v{conflict.theirs.number}
              </button>
            </div>
          </section>
        )}

        {chat ? (
          <ol className="messages">
            {draft.entries.map((e, i) => (
              <li key={`${generation}-${i}`} className="message card">
                <div className="row">
                  <select
                    aria-label={`message ${i + 1} role`}
                    value={e.role}
                    onChange={(ev) => {
                      const role = ev.target.value;
                      setEntry(i, role === "placeholder" ? { role: "placeholder", name: "history" } : { role: role as "system", content: "content" in e ? e.content : "" });
                    }}
                  >
                    <option value="system">system</option>
                    <option value="user">user</option>
                    <option value="assistant">assistant</option>
                    <option value="placeholder">placeholder (caller's history)</option>
                  </select>
                  <span className="spacer" />
                  <button className="ghost" disabled={i === 0} onClick={() => move(i, -1)} aria-label={`move message ${i + 1} up`}>
                    ↑
                  </button>
                  <button className="ghost" disabled={i === draft.entries.length - 1} onClick={() => move(i, 1)} aria-label={`move message ${i + 1} down`}>
                    ↓
                  </button>
                  <button className="ghost" onClick={() => remove(i)} aria-label={`remove message ${i + 1}`}>
                    ✕
                  </button>
                </div>
                {e.role === "placeholder" ? (
                  <label>
                    Placeholder name <input value={e.name} onChange={(ev) => setEntry(i, { role: "placeholder", name: ev.target.value })} />
                  </label>
                ) : (
                  <TemplateEditor
                    label={`message-${i + 1}`}
                    value={e.content}
                    onChange={(v) => setEntry(i, { role: e.role, content: v })}
                    onSubmit={commit}
                  />
                )}
              </li>
            ))}
            <li className="row">
              <button onClick={() => set({ entries: [...draft.entries, { role: "user", content: "" }] })}>Add message</button>
              <button className="ghost" onClick={() => set({ entries: [...draft.entries, { role: "placeholder", name: "history" }] })}>
                Add history placeholder
              </button>
            </li>
          </ol>
        ) : (
          <TemplateEditor key={generation} label="text" value={draft.text} onChange={(v) => set({ text: v })} onSubmit={commit} />
        )}

        <label className="block">
          Model parameters (JSON)
          <textarea
            className="mono"
            rows={4}
            value={draft.params}
            onChange={(e) => set({ params: e.target.value })}
            aria-invalid={paramsError ? true : undefined}
          />
        </label>
        {paramsError && <p className="error">{paramsError}</p>}
        <div className="row commit-row">
          <input
            className="grow"
            aria-label="Commit message"
            placeholder="What changed and why"
            value={draft.message}
            onChange={(e) => set({ message: e.target.value })}
            onKeyDown={(e) => e.key === "Enter" && commit()}
          />
          <button className="primary" onClick={commit} disabled={busy || !!paramsError}>
            {busy ? "Committing…" : "Commit"}
          </button>
        </div>
        {notice && <p className="notice">{notice}</p>}
        {error && <TemplateErrorNote error={error} />}
      </div>
    </Suspense>
  );
}

function TemplateErrorNote({ error }: { error: Error }) {
  const d = error instanceof ApiError ? error.details : {};
  return (
    <div>
      <ErrorNote error={error} />
      {typeof d.line === "number" && (
        <p className="muted">
          in <code>{String(d.field ?? "")}</code> at line {String(d.line)}, column {String(d.column)}
        </p>
      )}
    </div>
  );
}
