// Environments in promotion order, each with its gate policy
// (core/src/environment.rs GatePolicy): approval, a passing test run, and
// thresholds on what was measured in the environment before it. An admin
// edits a policy in a form (PUT /v1/environments/{name} replaces the whole
// policy, so the form sends every gate) or adds an environment.
import { useState, type FormEvent } from "react";
import type { Environment, GatePolicy } from "../../api";
import { useSession } from "../../session";
import { useLoad } from "../../useLoad";
import { ms, pct } from "../../format";
import { ErrorNote, asError, type Explain } from "../../components/ErrorNote";

const policyOf = (e: Environment) => e.policy as GatePolicy;

/** A policy in words: "approval · a passing test run (≥ 90.0%) · ≥ 100 calls …", or "no gates". */
export function policySummary(p: GatePolicy): string {
  const parts: string[] = [];
  if (p.requires_approval) parts.push("approval");
  if (p.requires_test_run)
    parts.push(`a passing test run${p.min_test_pass_rate != null ? ` (≥ ${pct(p.min_test_pass_rate)})` : ""}`);
  else if (p.min_test_pass_rate != null) parts.push(`test pass rate ≥ ${pct(p.min_test_pass_rate)}`);
  if (p.min_samples != null) parts.push(`≥ ${p.min_samples} calls`);
  if (p.min_score != null) parts.push(`score ≥ ${p.min_score}`);
  if (p.max_error_rate != null) parts.push(`error rate ≤ ${pct(p.max_error_rate)}`);
  if (p.max_p95_ms != null) parts.push(`p95 ≤ ${ms(p.max_p95_ms)}`);
  if (parts.length === 0) return "no gates";
  return parts.join(" · ") + (p.measured_in ? ` (measured in ${p.measured_in})` : "");
}

const INVALID: Explain = {
  invalid_field: (e) => `${e.message}${e.details.field ? ` (${String(e.details.field)})` : ""}`,
  quota_exceeded: "The workspace has as many environments as it may.",
};

export function Environments() {
  const { api } = useSession();
  const loaded = useLoad(() => api.environments(), [api]);
  const [editing, setEditing] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const saved = (text: string) => {
    setNotice(text);
    setEditing(null);
    loaded.reload();
  };

  if (loaded.error) return <ErrorNote error={loaded.error} />;
  if (!loaded.data) return <p className="muted">Loading environments…</p>;
  const envs = [...loaded.data].sort((a, b) => a.position - b.position);
  return (
    <section>
      <h1>Environments</h1>
      <p className="muted">
        In promotion order. A version must pass an environment's gates to be promoted into it; thresholds read what was measured in the
        environment before it, unless the policy names another.
      </p>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {envs.map((e) => (
        <div className="card" key={e.name} data-testid={`environment-${e.name}`}>
          <div className="row">
            <h2 className="inline">{e.name}</h2>
            <span className="muted">position {e.position}</span>
            <span data-testid="policy-summary">{policySummary(policyOf(e))}</span>
            <span className="spacer" />
            {editing !== e.name && (
              <button type="button" aria-label={`Edit the gates of ${e.name}`} onClick={() => (setEditing(e.name), setNotice(null))}>
                Edit gates
              </button>
            )}
          </div>
          {editing === e.name && (
            <PolicyForm env={e} others={envs.filter((o) => o.name !== e.name).map((o) => o.name)} onSaved={saved} onCancel={() => setEditing(null)} />
          )}
        </div>
      ))}
      <AddEnvironment existing={envs.map((e) => e.name)} nextPosition={envs.length ? envs[envs.length - 1].position + 1 : 0} onAdded={saved} />
    </section>
  );
}

/** A number field's text: "" for unset. Rates show as percentages. */
const text = (v: number | undefined, percent = false) => (v == null ? "" : String(percent ? Number((v * 100).toPrecision(10)) : v));
const numberOr = (s: string, percent = false): number | undefined => {
  if (s.trim() === "") return undefined;
  const n = Number(s);
  return percent ? Number((n / 100).toPrecision(12)) : n;
};

function PolicyForm({
  env,
  others,
  onSaved,
  onCancel,
}: {
  env: Environment;
  others: string[];
  onSaved: (text: string) => void;
  onCancel: () => void;
}) {
  const { api } = useSession();
  const p = policyOf(env);
  const [position, setPosition] = useState(String(env.position));
  const [approval, setApproval] = useState(!!p.requires_approval);
  const [testRun, setTestRun] = useState(!!p.requires_test_run);
  const [passRate, setPassRate] = useState(text(p.min_test_pass_rate, true));
  const [samples, setSamples] = useState(text(p.min_samples));
  const [score, setScore] = useState(text(p.min_score));
  const [errorRate, setErrorRate] = useState(text(p.max_error_rate, true));
  const [p95, setP95] = useState(text(p.max_p95_ms));
  const [measuredIn, setMeasuredIn] = useState(p.measured_in ?? "");
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const id = (f: string) => `${env.name}-${f}`;

  async function submit(e: FormEvent) {
    e.preventDefault();
    // Every gate, set or not: the PUT replaces the policy.
    const policy: GatePolicy = {
      requires_approval: approval,
      requires_test_run: testRun,
      min_test_pass_rate: numberOr(passRate, true),
      min_samples: numberOr(samples),
      min_score: numberOr(score),
      max_error_rate: numberOr(errorRate, true),
      max_p95_ms: numberOr(p95),
      measured_in: measuredIn || undefined,
    };
    setBusy(true);
    setError(null);
    try {
      const saved = await api.putEnvironment(env.name, { position: Number(position), policy: JSON.parse(JSON.stringify(policy)) });
      onSaved(`The gates of ${env.name} are saved: ${policySummary(policyOf(saved))}.`);
    } catch (err) {
      setError(asError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="policy-form" onSubmit={submit} aria-label={`Gates of ${env.name}`}>
      <div className="fields">
        <label htmlFor={id("position")}>Position</label>
        <input id={id("position")} type="number" min={0} max={1000} step={1} required value={position} onChange={(e) => setPosition(e.target.value)} />
        <label htmlFor={id("approval")}>Requires approval</label>
        <input id={id("approval")} type="checkbox" checked={approval} onChange={(e) => setApproval(e.target.checked)} />
        <label htmlFor={id("test-run")}>Requires a passing test run</label>
        <input id={id("test-run")} type="checkbox" checked={testRun} onChange={(e) => setTestRun(e.target.checked)} />
        <label htmlFor={id("pass-rate")}>Minimum test pass rate (%)</label>
        <input
          id={id("pass-rate")}
          type="number"
          min={0}
          max={100}
          step="any"
          placeholder="the suite's own threshold"
          value={passRate}
          onChange={(e) => setPassRate(e.target.value)}
        />
        <label htmlFor={id("samples")}>Minimum calls measured</label>
        <input id={id("samples")} type="number" min={0} step={1} placeholder="no minimum" value={samples} onChange={(e) => setSamples(e.target.value)} />
        <label htmlFor={id("score")}>Minimum mean score (0–1)</label>
        <input id={id("score")} type="number" min={0} max={1} step="any" placeholder="no gate" value={score} onChange={(e) => setScore(e.target.value)} />
        <label htmlFor={id("error-rate")}>Maximum error rate (%)</label>
        <input
          id={id("error-rate")}
          type="number"
          min={0}
          max={100}
          step="any"
          placeholder="no gate"
          value={errorRate}
          onChange={(e) => setErrorRate(e.target.value)}
        />
        <label htmlFor={id("p95")}>Maximum p95 latency (ms)</label>
        <input id={id("p95")} type="number" min={1} step="any" placeholder="no gate" value={p95} onChange={(e) => setP95(e.target.value)} />
        <label htmlFor={id("measured-in")}>Measured in</label>
        <select id={id("measured-in")} value={measuredIn} onChange={(e) => setMeasuredIn(e.target.value)}>
          <option value="">the environment before it</option>
          {others.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      </div>
      <div className="row">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Saving…" : "Save gates"}
        </button>
        <button type="button" className="ghost" onClick={onCancel}>
          Cancel
        </button>
      </div>
      {error && <ErrorNote error={error} explain={INVALID} />}
    </form>
  );
}

function AddEnvironment({ existing, nextPosition, onAdded }: { existing: string[]; nextPosition: number; onAdded: (text: string) => void }) {
  const { api } = useSession();
  const [name, setName] = useState("");
  const [position, setPosition] = useState("");
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const n = name.trim();
    // A PUT on an existing name would replace its gates with none.
    if (existing.includes(n)) {
      setError(new Error(`${n} already exists: edit its gates above.`));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const made = await api.putEnvironment(n, { policy: {}, ...(position.trim() ? { position: Number(position) } : {}) });
      setName("");
      setPosition("");
      onAdded(`${made.name} was added at position ${made.position}, without gates.`);
    } catch (err) {
      setError(asError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card" onSubmit={submit} aria-label="Add an environment">
      <h2>Add an environment</h2>
      <div className="inline-form">
        <label>
          Environment name
          <input
            name="name"
            required
            pattern="[a-z0-9\-]{1,32}"
            title="1 to 32 lowercase letters, digits and -"
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="qa"
          />
        </label>
        <label>
          Position
          <input
            name="position"
            type="number"
            min={0}
            max={1000}
            step={1}
            value={position}
            onChange={(e) => setPosition(e.target.value)}
            placeholder={String(nextPosition)}
          />
        </label>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Adding…" : "Add environment"}
        </button>
      </div>
      {error && <ErrorNote error={error} explain={INVALID} />}
    </form>
  );
}
