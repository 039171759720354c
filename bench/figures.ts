/**
 * Pure helpers shared by the benchmarks: reading wrk's summary, and the medians and ranges the
 * tables print. No I/O: the text and the numbers are passed in (unit tests in ./figures.test.ts).
 */

export interface WrkResult {
  /** Requests wrk completed. */
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  /** Socket errors of every kind (connect, read, write, timeout). */
  readonly errors: number;
  readonly non2xx: number;
}

/** wrk's summary as numbers; `seconds` is used when the elapsed time is missing from the text. */
export function parseWrk(out: string, seconds: number): WrkResult {
  const m = /(\d+) requests in ([\d.]+)(ms|us|s|m|h)\b/.exec(out);
  if (m === null) throw new Error(`wrk printed no request count: ${out.slice(0, 200)}`);
  const unit = { us: 1e-6, ms: 0.001, s: 1, m: 60, h: 3600 }[m[3] as 'us' | 'ms' | 's' | 'm' | 'h'];
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const requests = Number(m[1]);
  const secs = Number(m[2]) * unit || seconds;
  return {
    requests, seconds: secs, rps: requests / secs,
    errors: errs === null ? 0 : errs.slice(1).reduce((a, b) => a + Number(b), 0),
    non2xx: Number(non2xx?.[1] ?? 0),
  };
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** `min-max` of `xs` with `digits` decimals ('-' when empty). */
export function range(xs: readonly number[], digits = 2): string {
  if (xs.length === 0) return '-';
  return `${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)}`;
}

/** Per-round ratios a[i] / b[i] of two series measured in the same rounds. */
export function ratios(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new Error(`ratios of series of different lengths (${a.length}, ${b.length})`);
  return a.map((x, i) => x / b[i]!);
}

/** Sum of a Prometheus counter's samples whose labels include every `labels` pair. */
export function counterSum(metricsText: string, name: string, labels: Readonly<Record<string, string>>): number {
  let sum = 0;
  for (const line of metricsText.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const got = new Map([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    if (Object.entries(labels).every(([k, v]) => got.get(k) === v)) sum += Number(m[3]);
  }
  return sum;
}

export interface TlsSummary { readonly protocol: string; readonly cipher: string; readonly keyExchange?: string }

/** The negotiated protocol, cipher and key exchange from `openssl s_client` output; undefined without a session. */
export function parseTlsSummary(out: string): TlsSummary | undefined {
  const m = /^New, (TLSv[\d.]+), Cipher is (\S+)/m.exec(out);
  if (m === null || m[2] === '(NONE)') return undefined;
  const kx = /^(?:Server Temp Key|Negotiated TLS1\.3 group): (.+)$/m.exec(out);
  return { protocol: m[1]!, cipher: m[2]!, ...(kx === null ? {} : { keyExchange: kx[1]!.trim() }) };
}
