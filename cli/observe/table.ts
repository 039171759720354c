/**
 * Tables in kubectl's style: upper-case headers, columns left-aligned and separated by three spaces,
 * no borders; and the number formats every observability verb shares.
 */

export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('   ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** `97.50%`; `-` when there were no requests to judge. */
export function formatPercent(ratio: number | undefined): string {
  return ratio === undefined ? '-' : `${(ratio * 100).toFixed(2)}%`;
}

/** `1.3rps`, `0.03rps`, `12rps`. */
export function formatRps(value: number): string {
  if (value === 0) return '0rps';
  if (value >= 10) return `${Math.round(value)}rps`;
  if (value >= 1) return `${value.toFixed(1)}rps`;
  return `${Number(value.toFixed(2)) === 0 ? value.toPrecision(1) : value.toFixed(2)}rps`;
}

/** Seconds -> `12ms`, `2.5ms`, `0.75ms`, `1.2s`; `-` without observations. */
export function formatLatency(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '-';
  const ms = seconds * 1000;
  if (ms >= 1000) return `${Number((ms / 1000).toFixed(2))}s`;
  if (ms >= 10) return `${Math.round(ms)}ms`;
  return `${Number(ms.toFixed(2))}ms`;
}

/** Rounds for JSON output: ratios and rates to 4 decimals, seconds to the microsecond. */
export function round(value: number | undefined, digits: number): number | null {
  if (value === undefined || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
