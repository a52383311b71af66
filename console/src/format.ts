// How values read in the console.
export const when = (iso: string) => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
};
export const ms = (v: number | null | undefined) => (v == null ? "—" : v < 1000 ? `${v.toFixed(0)} ms` : `${(v / 1000).toFixed(2)} s`);
/** A rate (0–1) as a percentage: one decimal, two below 1 %. */
export const pct = (v: number | null | undefined) =>
  v == null ? "—" : `${(v * 100).toFixed(v !== 0 && Math.abs(v) < 0.01 ? 2 : 1)}%`;
/** Dollars: cents above $1, else three significant digits ($0.00123). */
export const usd = (v: number | null | undefined) =>
  v == null ? "—" : v === 0 ? "$0" : v >= 1 ? `$${v.toFixed(2)}` : `$${v.toLocaleString("en-US", { maximumSignificantDigits: 3 })}`;
export const num = (v: number | null | undefined, digits = 2) => (v == null ? "—" : v.toFixed(digits));
/** A p-value as a reader wants it: `p < 0.0001`, `p = 0.0032`, `p = 0.41`. */
export const pValue = (p: number) =>
  p < 0.0001 ? "p < 0.0001" : p < 0.01 ? `p = ${p.toFixed(4)}` : `p = ${Number(p.toPrecision(2))}`;

/** Digits after the point that tell ticks `step` apart (2.5 needs one, 0.0002 four). */
const digitsFor = (step: number) => {
  for (let d = 0; d < 10; d++) {
    const x = step * 10 ** d;
    if (Math.round(x) >= 1 && Math.abs(x - Math.round(x)) < 1e-6 * x) return d;
  }
  return 10;
};

/** A chart's unit: how a value reads, how an axis tick reads, and its natural range. */
export interface Unit {
  value: (v: number | null) => string;
  tick: (v: number, step: number) => string;
  /** The axis top when every value is 0. */
  emptyTop: number;
  /** Values never exceed this (rates: 100 %). */
  ceiling?: number;
}

export const UNITS = {
  ms: {
    value: ms,
    tick: (v, step) => (step >= 500 || v >= 10_000 ? `${(v / 1000).toFixed(digitsFor(step / 1000))} s` : `${v.toFixed(digitsFor(step))} ms`),
    emptyTop: 100,
  },
  usd: { value: usd, tick: (v, step) => (v === 0 ? "$0" : `$${v.toFixed(digitsFor(step))}`), emptyTop: 0.001 },
  pct: { value: pct, tick: (v, step) => `${(v * 100).toFixed(digitsFor(step * 100))}%`, emptyTop: 0.04, ceiling: 1 },
  score: { value: (v) => num(v), tick: (v, step) => v.toFixed(digitsFor(step)), emptyTop: 1, ceiling: 1 },
} satisfies Record<string, Unit>;

/** Axis ticks from 0: about `target` round steps up to at least `max`. */
export function niceTicks(max: number, unit: Unit, target = 4): { top: number; step: number; ticks: number[] } {
  let top = max > 0 && Number.isFinite(max) ? max : unit.emptyTop;
  const rough = top / target;
  const mag = 10 ** Math.floor(Math.log10(rough));
  const norm = rough / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
  top = Math.ceil(top / step - 1e-9) * step;
  if (unit.ceiling !== undefined && top > unit.ceiling) top = unit.ceiling;
  const ticks: number[] = [];
  for (let i = 0; i * step <= top + step * 1e-9; i++) ticks.push(Number((i * step).toPrecision(12)));
  return { top: Math.max(top, step), step, ticks };
}
