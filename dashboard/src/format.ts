/** How the page writes figures: the same forms as the CLI's tables (cli/observe/table.ts). */
export function percent(x: number | null): string {
  return x === null ? '-' : `${(x * 100).toFixed(2)}%`;
}

export function perSecond(x: number): string {
  if (x === 0) return '0';
  return x >= 10 ? `${x.toFixed(1)}rps` : x >= 1 ? `${x.toFixed(2)}rps` : `${x.toFixed(3)}rps`;
}

export function latency(seconds: number | null): string {
  if (seconds === null) return '-';
  const ms = seconds * 1000;
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)}s` : ms >= 10 ? `${ms.toFixed(0)}ms` : `${ms.toFixed(2)}ms`;
}

export function share(x: number | null): string {
  return x === null ? '-' : `${(x * 100).toFixed(1)}%`;
}
