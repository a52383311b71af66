// A chart of one metric over time windows, one series per version, drawn as
// SVG (no chart library): lines through the windows that have data, or bars
// when only one window has any (a lone dot tells nothing). The y axis starts
// at 0 with round ticks in the metric's unit, and is as wide as its widest
// label, so no label is cut off. The legend under the chart always shows
// values: the hovered window's, else the latest window with data.
import { useLayoutEffect, useRef, useState, type MouseEvent } from "react";
import { niceTicks, type Unit } from "../format";

export const COLORS = ["#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#57606a"];
const FONT = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const HEIGHT = 180;
const PAD_TOP = 14;
const PAD_BOTTOM = 24;
const PAD_RIGHT = 10;
const HOUR = 3_600_000;

let ctx: CanvasRenderingContext2D | null = null;
/** The width of `text` in the chart's font (what SVG will draw). */
function textWidth(text: string): number {
  ctx ??= document.createElement("canvas").getContext("2d");
  if (!ctx) return text.length * 7;
  ctx.font = FONT;
  return Math.ceil(ctx.measureText(text).width);
}

const timeLabel = (t: number, windowMs: number) =>
  windowMs < 24 * HOUR
    ? new Date(t).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
    : new Date(t).toLocaleDateString(undefined, { month: "short", day: "numeric" });
const windowLabel = (t: number, windowMs: number) => {
  const f = (x: number) => new Date(x).toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  return `${f(t)} – ${f(t + windowMs)}`;
};

export interface ChartSeries {
  label: string;
  values: (number | null)[];
}

export function Chart({
  id,
  title,
  times,
  windowMs,
  series,
  unit,
}: {
  id: string;
  title: string;
  /** Each window's start (ms since the epoch). */
  times: number[];
  windowMs: number;
  series: ChartSeries[];
  unit: Unit;
}) {
  const host = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);
  const [hover, setHover] = useState<number | null>(null);
  useLayoutEffect(() => {
    const el = host.current!;
    const measure = () => setWidth(Math.max(el.clientWidth, 240));
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const withData = times.map((_, i) => i).filter((i) => series.some((s) => s.values[i] != null));
  const bars = withData.length === 1;
  const shown = hover ?? withData[withData.length - 1] ?? null;

  let body = null;
  if (width > 0 && withData.length > 0) {
    const values = series.flatMap((s) => s.values.filter((v): v is number => v != null));
    const { top, step, ticks } = niceTicks(Math.max(...values), unit);
    const tickText = ticks.map((t) => unit.tick(t, step));
    const left = Math.max(...tickText.map(textWidth)) + 12;
    const plotW = width - left - PAD_RIGHT;
    const plotH = HEIGHT - PAD_TOP - PAD_BOTTOM;
    const y = (v: number) => PAD_TOP + plotH * (1 - Math.min(v, top) / top);
    // Keeps a centred label of width w inside the chart.
    const clampX = (x: number, w: number) => Math.min(Math.max(x, w / 2 + 1), width - w / 2 - 1);

    const grid = ticks.map((t, i) => (
      <g key={`y${i}`}>
        <line x1={left} x2={width - PAD_RIGHT} y1={y(t)} y2={y(t)} className={t === 0 ? "axis" : "gridline"} />
        <text x={left - 6} y={y(t)} textAnchor="end" dominantBaseline="middle" className="tick y-tick">
          {tickText[i]}
        </text>
      </g>
    ));

    if (bars) {
      const at = withData[0];
      const band = plotW / series.length;
      const barW = Math.min(56, band * 0.6);
      body = (
        <>
          {grid}
          {series.map((s, j) => {
            const v = s.values[at];
            const cx = left + band * (j + 0.5);
            const valueText = unit.value(v);
            return (
              <g key={s.label} className="bar">
                {v != null && (
                  <rect x={cx - barW / 2} y={y(v)} width={barW} height={Math.max(y(0) - y(v), 1)} fill={COLORS[j % COLORS.length]} rx={2} />
                )}
                <text x={clampX(cx, textWidth(valueText))} y={Math.max((v == null ? y(0) : y(v)) - 5, 11)} textAnchor="middle" className="tick value">
                  {valueText}
                </text>
                <text x={clampX(cx, textWidth(s.label))} y={HEIGHT - 8} textAnchor="middle" className="tick x-tick">
                  {s.label}
                </text>
              </g>
            );
          })}
        </>
      );
    } else {
      const n = times.length;
      const band = plotW / n;
      const x = (i: number) => left + band * (i + 0.5);
      const labels = times.map((t) => timeLabel(t, windowMs));
      const labelW = Math.max(...labels.map(textWidth)) + 14;
      const every = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(plotW / labelW))));
      const move = (e: MouseEvent<SVGRectElement>) => {
        const box = e.currentTarget.getBoundingClientRect();
        const i = Math.min(n - 1, Math.max(0, Math.floor((e.clientX - box.left) / band)));
        // The nearest window that has data: the legend never shows a gap.
        setHover(withData.reduce((best, j) => (Math.abs(j - i) < Math.abs(best - i) ? j : best), withData[0]));
      };
      body = (
        <>
          {grid}
          {labels.map((l, i) =>
            i % every === 0 ? (
              <text key={`x${i}`} x={clampX(x(i), textWidth(l))} y={HEIGHT - 8} textAnchor="middle" className="tick x-tick">
                {l}
              </text>
            ) : null,
          )}
          {hover != null && <line x1={x(hover)} x2={x(hover)} y1={PAD_TOP} y2={y(0)} className="cursor" />}
          {series.map((s, j) => {
            const points = s.values.flatMap((v, i) => (v == null ? [] : [[x(i), y(v), i] as const]));
            return (
              <g key={s.label} stroke={COLORS[j % COLORS.length]} fill={COLORS[j % COLORS.length]}>
                <path d={points.map(([px, py], k) => `${k ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`).join("")} fill="none" strokeWidth={2} />
                {points.map(([px, py, i]) => (
                  <circle key={i} cx={px} cy={py} r={i === hover ? 4 : 2.5} />
                ))}
              </g>
            );
          })}
          <rect
            x={left}
            y={PAD_TOP}
            width={plotW}
            height={plotH}
            fill="transparent"
            data-testid={`hover-${id}`}
            onMouseMove={move}
            onMouseLeave={() => setHover(null)}
          />
        </>
      );
    }
  }

  return (
    <figure className="chart" data-testid={`chart-${id}`} data-mode={withData.length === 0 ? "empty" : bars ? "bars" : "lines"}>
      <figcaption className="chart-title">{title}</figcaption>
      <div ref={host}>
        {withData.length === 0 ? (
          <p className="muted chart-empty">No values in this range.</p>
        ) : (
          <svg width={width} height={HEIGHT} role="img" aria-label={`${title} by version`} style={{ font: FONT }}>
            {body}
          </svg>
        )}
      </div>
      {shown != null && (
        <div className="legend" data-testid={`legend-${id}`}>
          <span className="legend-time">
            {bars ? "only window with data: " : hover == null ? "latest: " : ""}
            {windowLabel(times[shown], windowMs)}
          </span>
          {series.map((s, j) => (
            <span key={s.label} className="legend-item">
              <i style={{ background: COLORS[j % COLORS.length] }} />
              {s.label} <strong>{unit.value(s.values[shown])}</strong>
            </span>
          ))}
        </div>
      )}
    </figure>
  );
}
