/** A sparkline of requests per second over the kept intervals, drawn by uPlot. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { Point } from './api.js';
import { perSecond } from './format.js';

export function Sparkline({ points, label }: { points: readonly Point[]; label: string }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const host = el.current;
    if (host === null || points.length < 2) return undefined;
    const data: uPlot.AlignedData = [points.map((p) => p.t / 1000), points.map((p) => p.rps)];
    const plot = new uPlot({
      width: 120, height: 28, pxAlign: 0, legend: { show: false }, cursor: { show: false }, select: { show: false, left: 0, top: 0, width: 0, height: 0 },
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), Math.max(max, 0.001)] } },
      axes: [{ show: false }, { show: false }],
      series: [{}, { stroke: '#2563eb', width: 1.5, fill: 'rgba(37,99,235,0.12)' }],
    }, data, host);
    return () => plot.destroy();
  }, [points]);
  const rps = points.map((p) => p.rps);
  const summary = points.length < 2 ? `${label}: not enough intervals yet`
    : `${label}: ${points.length} intervals, from ${perSecond(rps[0] ?? 0)} to ${perSecond(rps.at(-1) ?? 0)}, peak ${perSecond(Math.max(...rps))}`;
  return <div class="spark" ref={el} role="img" aria-label={summary} title={summary} />;
}
