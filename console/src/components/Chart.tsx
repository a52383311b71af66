// A line chart (uPlot: small, from npm) of one metric over time, one line
// per version.
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

const COLORS = ["#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#57606a"];

export function Chart({
  title,
  times,
  series,
  format,
}: {
  title: string;
  times: number[];
  series: { label: string; values: (number | null)[] }[];
  format: (v: number | null) => string;
}) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current!;
    const plot = new uPlot(
      {
        title,
        width: Math.max(el.clientWidth, 320),
        height: 200,
        series: [
          {},
          ...series.map((s, i) => ({
            label: s.label,
            stroke: COLORS[i % COLORS.length],
            width: 2,
            spanGaps: true,
            value: (_u: uPlot, v: number | null) => format(v),
          })),
        ],
        axes: [{}, { values: (_u: uPlot, ticks: number[]) => ticks.map((t) => format(t)), size: 70 }],
      },
      [times, ...series.map((s) => s.values)] as uPlot.AlignedData,
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(el.clientWidth, 320), height: 200 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [title, times, series, format]);
  return <div className="chart" ref={host} role="img" aria-label={`${title} over time`} />;
}
