// The suite's cases: list them, add, edit and remove one, set the pass
// threshold, save (a new revision of the suite). Variables get a field for
// each variable the picked version declares; anything else is free JSON.
import { useMemo, useState } from "react";
import { ApiError, type AssertionType, type TestCase, type TestSuite, type VariableDecl, type VersionSummary } from "../../../api";
import { useSession } from "../../../session";
import { when } from "../../../format";
import { ErrorNote } from "../../../components/ErrorNote";
import { VersionSelect } from "../../../components/VersionSelect";
import {
  ASSERTION_TYPES,
  blankAssertion,
  blankCase,
  caseToDraft,
  declaredVariables,
  DraftError,
  draftToCase,
  resplit,
  type AssertionDraft,
  type CaseDraft,
} from "./drafts";

/** A threshold (0–1) as the percent field shows it. */
const percentText = (t: number) => String(Number((t * 100).toFixed(2)));

export function SuiteEditor({
  slug,
  chat,
  versions,
  suite: initial,
  onSaved,
  onDirty,
}: {
  slug: string;
  chat: boolean;
  versions: VersionSummary[];
  suite: TestSuite;
  onSaved: (s: TestSuite) => void;
  onDirty: (dirty: boolean) => void;
}) {
  const { api, can } = useSession();
  const editor = can("write");
  const [saved, setSaved] = useState(initial);
  const [varsOf, setVarsOf] = useState(versions[0]?.number ?? 0);
  const declared = useMemo(() => declaredVariables(versions.find((v) => v.number === varsOf)), [versions, varsOf]);
  const names = declared.map((d) => d.name);
  const [drafts, setDrafts] = useState<CaseDraft[]>(() => initial.cases.map((c) => caseToDraft(c, names)));
  const [threshold, setThreshold] = useState(() => percentText(initial.pass_threshold));
  const [autoRun, setAutoRun] = useState(initial.auto_run);
  const [open, setOpen] = useState<number | null>(null);
  const [dirty, setDirtyState] = useState(false);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);

  const setDirty = (d: boolean) => {
    setDirtyState(d);
    onDirty(d);
  };
  const edit = (next: CaseDraft[]) => {
    setDrafts(next);
    setDirty(true);
    setNotice(null);
  };

  // What would be sent, or what is wrong with it, checked as the user types.
  const checked = useMemo(() => {
    const cases: TestCase[] = [];
    const problems = new Map<number, DraftError>();
    for (const d of drafts) {
      try {
        cases.push(draftToCase(d));
      } catch (e) {
        problems.set(d.id, e instanceof DraftError ? e : new DraftError("cases", String(e)));
      }
    }
    const t = Number(threshold);
    const thresholdProblem = threshold.trim() === "" || !(t >= 0 && t <= 100) ? "the pass threshold is a percentage from 0 to 100" : null;
    return { cases, problems, thresholdProblem, passThreshold: t / 100 };
  }, [drafts, threshold]);
  const blocked = checked.problems.size > 0 || checked.thresholdProblem !== null;

  const reset = (s: TestSuite, keepIds: CaseDraft[] = []) => {
    setDrafts(s.cases.map((c, i) => caseToDraft(c, names, keepIds[i]?.id)));
    setThreshold(percentText(s.pass_threshold));
    setAutoRun(s.auto_run);
    setDirty(false);
  };

  async function save() {
    if (blocked || busy) return;
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const res = await api.put<TestSuite>(`/v1/prompts/${slug}/tests`, {
        cases: checked.cases,
        pass_threshold: checked.passThreshold,
        auto_run: autoRun,
      });
      const s = res.body;
      setNotice(
        s.revision === saved.revision
          ? `Nothing to save: revision ${s.revision} already has these cases.`
          : `Saved revision ${s.revision} of the suite (${s.cases.length} case${s.cases.length === 1 ? "" : "s"}).`,
      );
      setSaved(s);
      // The API's answer is what is stored; cases keep their place and form.
      reset(s, drafts);
      onSaved(s);
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      setBusy(false);
    }
  }

  const pickVersion = (n: number) => {
    setVarsOf(n);
    const next = declaredVariables(versions.find((v) => v.number === n)).map((d) => d.name);
    setDrafts((ds) => ds.map((d) => resplit(d, next)));
  };
  const add = () => {
    const d = blankCase();
    edit([...drafts, d]);
    setOpen(d.id);
  };
  const remove = (id: number) => {
    edit(drafts.filter((d) => d.id !== id));
    if (open === id) setOpen(null);
  };
  // Closing the form puts the keyboard back on the case's Edit button.
  const close = (id: number) => {
    setOpen(null);
    requestAnimationFrame(() => document.querySelector<HTMLElement>(`[data-edit-case="${id}"]`)?.focus());
  };
  const opened = drafts.find((d) => d.id === open);

  return (
    <>
      <div className="row">
        <p className="muted">
          {saved.revision === 0
            ? "No suite yet: add cases and save."
            : `Revision ${saved.revision}${saved.author ? ` by ${saved.author}` : ""}${saved.created_at ? `, ${when(saved.created_at)}` : ""}.`}
        </p>
        <span className="spacer" />
        {versions.length > 0 && (
          <label>
            Variables as declared by <VersionSelect label="variables of version" value={varsOf} numbers={versions.map((v) => v.number)} onChange={pickVersion} />
          </label>
        )}
      </div>

      {drafts.length === 0 ? (
        <p className="muted">No cases.</p>
      ) : (
        <table className="grid" aria-label="Cases">
          <thead>
            <tr>
              <th>Case</th>
              <th>Variables</th>
              <th>Assertions</th>
              {editor && <th aria-label="Actions" />}
            </tr>
          </thead>
          <tbody>
            {drafts.map((d) => (
              <tr key={d.id} data-testid={`case-${d.name}`} className={checked.problems.has(d.id) ? "invalid" : undefined}>
                <td>
                  <code>{d.name || "(unnamed)"}</code>
                  {d.reference && <div className="muted">reference: {clip(d.reference, 60)}</div>}
                </td>
                <td className="mono">{variablesText(d)}</td>
                <td>
                  {d.assert.map((a, i) => (
                    <span key={i} className="badge">
                      {a.type}
                    </span>
                  ))}
                </td>
                {editor && (
                  <td>
                    <div className="row tight">
                      <button
                        data-edit-case={d.id}
                        aria-expanded={open === d.id}
                        aria-label={`Edit case ${d.name || "(unnamed)"}`}
                        onClick={() => setOpen(open === d.id ? null : d.id)}
                      >
                        Edit
                      </button>
                      <button className="ghost" aria-label={`Remove case ${d.name || "(unnamed)"}`} onClick={() => remove(d.id)}>
                        Remove
                      </button>
                    </div>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}

      {opened && editor && (
        <CaseForm
          key={opened.id}
          draft={opened}
          declared={declared}
          varsOf={varsOf}
          chat={chat}
          problem={checked.problems.get(opened.id)?.message ?? null}
          onChange={(next) => edit(drafts.map((d) => (d.id === next.id ? next : d)))}
          onClose={() => close(opened.id)}
        />
      )}

      {editor ? (
        <div className="row commit-row">
          <button onClick={add}>Add case</button>
          <label>
            Pass threshold
            <input
              type="number"
              min={0}
              max={100}
              step={1}
              aria-label="Pass threshold (% of cases)"
              value={threshold}
              onChange={(e) => {
                setThreshold(e.target.value);
                setDirty(true);
              }}
              aria-invalid={checked.thresholdProblem ? true : undefined}
            />
            % of cases
          </label>
          <label title="Start a run on the workspace's provider for every new version">
            <input
              type="checkbox"
              checked={autoRun}
              onChange={(e) => {
                setAutoRun(e.target.checked);
                setDirty(true);
              }}
            />{" "}
            run on every commit
          </label>
          <span className="spacer" />
          {dirty && <span className="muted">unsaved changes</span>}
          {dirty && (
            <button className="ghost" onClick={() => (reset(saved), setOpen(null), setError(null))}>
              Discard
            </button>
          )}
          <button className="primary" onClick={save} disabled={busy || blocked}>
            {busy ? "Saving…" : "Save suite"}
          </button>
        </div>
      ) : (
        <p className="muted">
          Pass threshold {percentText(saved.pass_threshold)}% of cases. Your key is a reader key: it cannot change the suite.
        </p>
      )}
      {checked.thresholdProblem && <p className="error">{checked.thresholdProblem}</p>}
      {checked.problems.size > 0 && !opened && (
        <p className="error">
          {[...checked.problems.values()][0].message}
          {checked.problems.size > 1 ? ` (and ${checked.problems.size - 1} more)` : ""}
        </p>
      )}
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {error && <SaveError error={error} />}
    </>
  );
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function variablesText(d: CaseDraft): string {
  const set = Object.entries(d.vars).filter(([, v]) => v !== "");
  const shown = set.map(([k, v]) => `${k}=${JSON.stringify(clip(v, 40))}`);
  if (d.extra.trim()) shown.push(clip(d.extra.replace(/\s+/g, " "), 60));
  return shown.join(" ") || "—";
}

/** The API's refusal of the suite, with the field it names. */
function SaveError({ error }: { error: Error }) {
  const field = error instanceof ApiError ? error.details.field : undefined;
  return (
    <div data-testid="save-error">
      <ErrorNote error={error} />
      {typeof field === "string" && (
        <p className="muted">
          in field <code>{field}</code>
        </p>
      )}
    </div>
  );
}

function CaseForm({
  draft,
  declared,
  varsOf,
  chat,
  problem,
  onChange,
  onClose,
}: {
  draft: CaseDraft;
  declared: VariableDecl[];
  varsOf: number;
  chat: boolean;
  problem: string | null;
  onChange: (d: CaseDraft) => void;
  onClose: () => void;
}) {
  const set = (patch: Partial<CaseDraft>) => onChange({ ...draft, ...patch });
  const setAssertion = (i: number, a: AssertionDraft) => set({ assert: draft.assert.map((x, j) => (j === i ? a : x)) });
  const title = draft.name || "new case";
  const warning = renderWarning(draft, declared, varsOf);

  return (
    <section
      className="card case-form"
      aria-label={`Case ${title}`}
      data-testid="case-form"
      onKeyDown={(e) => e.key === "Escape" && (e.preventDefault(), onClose())}
    >
      <div className="row">
        <h3>Case {draft.name ? <code>{draft.name}</code> : "(new)"}</h3>
        <span className="spacer" />
        <button onClick={onClose} title="Close the case (Esc); Save suite stores it">
          Done
        </button>
      </div>
      <label>
        Name
        <input
          aria-label="Case name"
          className="mono"
          value={draft.name}
          placeholder="refund-question"
          autoFocus={draft.name === ""}
          onChange={(e) => set({ name: e.target.value })}
        />
        <span className="muted">a-z, 0-9, - _ .</span>
      </label>

      <fieldset>
        <legend>Variables (as v{varsOf} declares them)</legend>
        {declared.length === 0 && <p className="muted">v{varsOf} declares no variables.</p>}
        <div className="vars">
          {declared.map((d) => (
            <label key={d.name} title={d.description || undefined}>
              <code>{d.name}</code>
              {d.required ? <span aria-label="required"> *</span> : null}
              <input
                aria-label={`variable ${d.name}`}
                value={draft.vars[d.name] ?? ""}
                placeholder={d.default !== undefined ? `default: ${typeof d.default === "string" ? d.default : JSON.stringify(d.default)}` : ""}
                onChange={(e) => set({ vars: { ...draft.vars, [d.name]: e.target.value } })}
              />
            </label>
          ))}
        </div>
        <label className="block">
          Other variables (a JSON object: values that are not text, variables the version does not declare)
          <textarea
            className="mono"
            rows={2}
            aria-label="Other variables (JSON)"
            placeholder='{"items": [1, 2]}'
            value={draft.extra}
            onChange={(e) => set({ extra: e.target.value })}
          />
        </label>
        {warning && (
          <p className="muted" data-testid="variables-warning">
            ⚠ {warning}
          </p>
        )}
      </fieldset>

      {(chat || draft.history) && (
        <label className="block">
          History for placeholders (JSON: a list of messages, or lists by placeholder name)
          <textarea className="mono" rows={2} aria-label="History (JSON)" value={draft.history} onChange={(e) => set({ history: e.target.value })} />
        </label>
      )}
      <label className="block">
        Reference (the expected answer, for similarity and judge; optional)
        <textarea rows={2} aria-label="Reference" value={draft.reference} onChange={(e) => set({ reference: e.target.value })} />
      </label>

      <fieldset>
        <legend>Assertions</legend>
        <ol className="assertions">
          {draft.assert.map((a, i) => (
            <li key={i} className="row" data-testid={`assertion-${i + 1}`}>
              <span className="muted">{i + 1}.</span>
              <select
                aria-label={`assertion ${i + 1} type`}
                value={a.type}
                title={ASSERTION_TYPES.find((t) => t.type === a.type)?.hint}
                onChange={(e) => setAssertion(i, blankAssertion(e.target.value as AssertionType))}
              >
                {ASSERTION_TYPES.map((t) => (
                  <option key={t.type} value={t.type} title={t.hint}>
                    {t.type}
                  </option>
                ))}
              </select>
              <AssertionFields n={i + 1} a={a} onChange={(x) => setAssertion(i, x)} />
              <button className="ghost" aria-label={`remove assertion ${i + 1}`} onClick={() => set({ assert: draft.assert.filter((_, j) => j !== i) })}>
                ✕
              </button>
            </li>
          ))}
        </ol>
        <button onClick={() => set({ assert: [...draft.assert, blankAssertion()] })}>Add assertion</button>
      </fieldset>
      {problem && <p className="error">{problem}</p>}
    </section>
  );
}

/**
 * What rendering the picked version with this case's variables would refuse
 * (a run on the provider renders strictly): required variables not set,
 * variables it does not take. Null when it renders, or the JSON is invalid.
 */
function renderWarning(draft: CaseDraft, declared: VariableDecl[], varsOf: number): string | null {
  let extra: Record<string, unknown> = {};
  try {
    if (draft.extra.trim()) extra = JSON.parse(draft.extra);
  } catch {
    return null;
  }
  if (extra === null || typeof extra !== "object" || Array.isArray(extra)) return null;
  const set = new Set([...Object.keys(extra), ...Object.entries(draft.vars).filter(([, v]) => v !== "").map(([k]) => k)]);
  const missing = declared.filter((d) => (d.required ?? d.default === undefined) && d.default === undefined && !set.has(d.name)).map((d) => d.name);
  const unknown = [...set].filter((k) => !declared.some((d) => d.name === k));
  const parts = [
    missing.length ? `${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} required` : "",
    unknown.length ? `v${varsOf} does not take ${unknown.join(", ")}` : "",
  ].filter(Boolean);
  return parts.length ? `${parts.join("; ")}: rendering v${varsOf} for this case fails.` : null;
}

function AssertionFields({ n, a, onChange }: { n: number; a: AssertionDraft; onChange: (a: AssertionDraft) => void }) {
  const set = (patch: Partial<AssertionDraft>) => onChange({ ...a, ...patch });
  const threshold = (
    <label>
      at least
      <input
        type="number"
        min={0}
        max={1}
        step={0.05}
        className="narrow"
        aria-label={`assertion ${n} threshold`}
        value={a.threshold}
        onChange={(e) => set({ threshold: e.target.value })}
      />
    </label>
  );
  switch (a.type) {
    case "contains":
    case "not_contains":
      return (
        <>
          <input className="grow" aria-label={`assertion ${n} text`} placeholder="text" value={a.value} onChange={(e) => set({ value: e.target.value })} />
          <label>
            <input type="checkbox" checked={a.case_sensitive} onChange={(e) => set({ case_sensitive: e.target.checked })} /> case sensitive
          </label>
        </>
      );
    case "regex":
      return (
        <input
          className="grow mono"
          aria-label={`assertion ${n} pattern`}
          placeholder="\d+ days"
          value={a.pattern}
          onChange={(e) => set({ pattern: e.target.value })}
        />
      );
    case "json_valid":
      return (
        <textarea
          className="grow mono"
          rows={1}
          aria-label={`assertion ${n} schema`}
          placeholder="JSON schema (optional)"
          value={a.schema}
          onChange={(e) => set({ schema: e.target.value })}
        />
      );
    case "similarity":
      return (
        <>
          <input
            className="grow"
            aria-label={`assertion ${n} reference`}
            placeholder="reference (empty: the case's)"
            value={a.reference}
            onChange={(e) => set({ reference: e.target.value })}
          />
          {threshold}
        </>
      );
    case "judge":
      return (
        <>
          <input
            className="grow"
            aria-label={`assertion ${n} criteria`}
            placeholder="Is the answer polite and correct?"
            value={a.criteria}
            onChange={(e) => set({ criteria: e.target.value })}
          />
          {threshold}
        </>
      );
    case "max_latency_ms":
      return (
        <label>
          at most
          <input
            type="number"
            min={1}
            className="narrow"
            aria-label={`assertion ${n} milliseconds`}
            value={a.value}
            onChange={(e) => set({ value: e.target.value })}
          />
          ms
        </label>
      );
  }
}
