// How values read in the console.
export const when = (iso: string) => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
};
export const ms = (v: number | null | undefined) => (v == null ? "—" : v < 1000 ? `${v.toFixed(0)} ms` : `${(v / 1000).toFixed(2)} s`);
export const pct = (v: number | null | undefined) => (v == null ? "—" : `${(v * 100).toFixed(1)}%`);
export const usd = (v: number | null | undefined) => (v == null ? "—" : `$${v < 0.01 ? v.toFixed(5) : v.toFixed(4)}`);
export const num = (v: number | null | undefined, digits = 2) => (v == null ? "—" : v.toFixed(digits));
