/**
 * The upstream mesh conformance transcription (../shared/gateway-api/v1.6.1/conformance/mesh-cases.yaml)
 * as typed data, and the pure checks the runner applies to the echo client's output. No I/O here, so
 * the rules are unit-tested (mesh-cases.test.ts) without a cluster.
 *
 * What is checked per response (the upstream mesh harness's checks, plus what it leaves out and the
 * transcription lists under notCheckedByUpstreamMeshHarness):
 *   status; response header exact value (first value) and absence; request headers seen by the backend
 *   (values joined by ','), and their absence; backend pod hostname prefix; redirect Location; the
 *   path the backend saw (after a rewrite).
 * Eventual consistency: a case passes after 3 consecutive passing responses, within 30 s.
 * Weight tests: N requests, each backend's share within a tolerance of the expected fraction.
 */
import { parse } from 'yaml';

import type { ParsedResponse } from '../../examples/echo/echo-client.js';

export interface MeshCase {
  readonly name?: string;
  readonly client: { readonly namespace: string; readonly selector: string };
  readonly request: { readonly url: string; readonly method?: string; readonly headers?: Readonly<Record<string, string>> };
  readonly expect: {
    readonly status: number;
    readonly backendPodPrefix?: string;
    readonly responseHeaders?: Readonly<Record<string, string>>;
    readonly responseHeadersAbsent?: readonly string[];
    readonly requestHeadersAtBackend?: Readonly<Record<string, string>>;
    readonly requestHeadersAbsentAtBackend?: readonly string[];
  };
  readonly notCheckedByUpstreamMeshHarness?: {
    readonly pathAtBackend?: string;
    readonly location?: string;
    readonly redirect?: Readonly<Record<string, string>>;
  };
}

export interface WeightCheck {
  readonly request: string;
  readonly expected: Readonly<Record<string, number>>;
  readonly totalRequests: number;
  readonly tolerance: string;
  readonly retries: number;
}

export interface MeshTest {
  readonly shortName: string;
  readonly description: string;
  readonly manifests: readonly string[];
  readonly features: readonly string[];
  readonly provisional?: boolean;
  readonly cases: readonly MeshCase[];
  readonly weightCheck?: WeightCheck;
}

export interface MeshCases {
  readonly source: { readonly repo: string; readonly tag: string; readonly commit: string };
  readonly tests: readonly MeshTest[];
}

/** Upstream's TimeoutConfig: RequiredConsecutiveSuccesses and MaxTimeToConsistency. */
export const REQUIRED_CONSECUTIVE_PASSES = 3;
export const MAX_TIME_TO_CONSISTENCY_MS = 30_000;

export function parseMeshCases(text: string): MeshCases {
  const doc = parse(text) as MeshCases;
  if (!Array.isArray(doc?.tests) || doc.tests.length === 0) throw new Error('mesh-cases.yaml: no tests');
  for (const t of doc.tests) {
    if (typeof t.shortName !== 'string' || !Array.isArray(t.cases)) throw new Error(`mesh-cases.yaml: malformed test ${JSON.stringify(t.shortName)}`);
    for (const c of t.cases) {
      if (typeof c.request?.url !== 'string' || typeof c.expect?.status !== 'number' || typeof c.client?.selector !== 'string') {
        throw new Error(`mesh-cases.yaml: ${t.shortName}: malformed case ${JSON.stringify(c)}`);
      }
    }
  }
  return doc;
}

/** A readable one-line name for a case: its own name, else method, URL and headers. */
export function caseTitle(c: MeshCase, index: number): string {
  const headers = Object.entries(c.request.headers ?? {}).map(([k, v]) => ` -H ${k}:${v}`).join('');
  const what = c.name ?? `${c.request.method ?? 'GET'} ${c.request.url}${headers}`;
  return `#${index + 1} ${what}`;
}

/** `<podIP of first pod app=echo,version=v2 in gateway-conformance-mesh>`: what a URL needs resolved. */
export interface PodIpPlaceholder {
  readonly text: string;
  readonly selector: string;
  readonly namespace: string;
}

export function podIpPlaceholder(url: string): PodIpPlaceholder | undefined {
  const m = /<podIP of first pod (\S+) in (\S+)>/.exec(url);
  return m ? { text: m[0], selector: m[1] as string, namespace: m[2] as string } : undefined;
}

/** The echo client's argv for a case (`client <url> [--method=M] [-H k:v]... --count=N`). */
export function clientArgv(url: string, c: MeshCase, count: number): string[] {
  const argv = ['client', url];
  if (!url.startsWith('grpc://')) argv.push(`--method=${c.request.method ?? 'GET'}`);
  for (const [k, v] of Object.entries(c.request.headers ?? {})) argv.push('-H', `${k}:${v}`);
  argv.push(`--count=${count}`);
  return argv;
}

const lower = (s: string): string => s.toLowerCase();

function headerValues(pairs: ReadonlyArray<readonly [string, string]>, name: string): string[] {
  return pairs.filter(([n]) => lower(n) === lower(name)).map(([, v]) => v);
}

/** The backend's `RequestHeader=Name:value` lines as pairs. */
function backendHeaders(r: ParsedResponse): Array<[string, string]> {
  return r.fields.flatMap(([k, v]) => {
    if (k !== 'RequestHeader') return [];
    const colon = v.indexOf(':');
    return colon < 0 ? [] : [[v.slice(0, colon), v.slice(colon + 1)] as [string, string]];
  });
}

export const field = (r: ParsedResponse, key: string): string | undefined => r.fields.find(([k]) => k === key)?.[1];

/** Every way a response misses the case's expectations; empty when it passes. */
export function checkResponse(c: MeshCase, r: ParsedResponse): string[] {
  const e = c.expect;
  const extra = c.notCheckedByUpstreamMeshHarness ?? {};
  const problems: string[] = [];
  if (r.statusCode !== e.status) problems.push(`status ${r.statusCode}, want ${e.status}`);
  for (const [name, want] of Object.entries(e.responseHeaders ?? {})) {
    const got = headerValues(r.responseHeaders, name)[0];
    if (got !== want) problems.push(`response header ${name}: ${got === undefined ? 'absent' : JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
  for (const name of e.responseHeadersAbsent ?? []) {
    const got = headerValues(r.responseHeaders, name);
    if (got.length > 0) problems.push(`response header ${name} present (${JSON.stringify(got.join(','))}), want absent`);
  }
  const seen = backendHeaders(r);
  for (const [name, want] of Object.entries(e.requestHeadersAtBackend ?? {})) {
    const got = headerValues(seen, name);
    if (got.join(',') !== want) problems.push(`backend saw ${name}: ${got.length === 0 ? 'nothing' : JSON.stringify(got.join(','))}, want ${JSON.stringify(want)}`);
  }
  for (const name of e.requestHeadersAbsentAtBackend ?? []) {
    const got = headerValues(seen, name);
    if (got.length > 0) problems.push(`backend saw ${name}: ${JSON.stringify(got.join(','))}, want absent`);
  }
  if (e.backendPodPrefix !== undefined) {
    const host = field(r, 'Hostname');
    if (host === undefined || !host.startsWith(e.backendPodPrefix)) problems.push(`answered by ${host ?? 'no echo backend'}, want a pod ${e.backendPodPrefix}*`);
  }
  if (extra.location !== undefined) {
    const got = headerValues(r.responseHeaders, 'Location')[0];
    if (got !== extra.location) problems.push(`Location ${got === undefined ? 'absent' : JSON.stringify(got)}, want ${JSON.stringify(extra.location)}`);
  }
  if (extra.pathAtBackend !== undefined) {
    const url = field(r, 'URL');
    const path = url?.split('?')[0];
    if (path !== extra.pathAtBackend) problems.push(`backend saw path ${path === undefined ? '(no echo answer)' : JSON.stringify(path)}, want ${JSON.stringify(extra.pathAtBackend)}`);
  }
  return problems;
}

/**
 * Upstream's eventual-consistency rule as a state machine: feed it each response's problems in order;
 * it passes after REQUIRED_CONSECUTIVE_PASSES passing responses in a row; any failure resets the streak.
 */
export class ConsistencyTracker {
  private streak = 0;
  private lastProblems: string[] = [];
  /** Responses evaluated, passing or not. */
  checked = 0;

  constructor(private readonly required = REQUIRED_CONSECUTIVE_PASSES) {}

  record(problems: readonly string[]): void {
    this.checked++;
    if (problems.length === 0) this.streak++;
    else {
      this.streak = 0;
      this.lastProblems = [...problems];
    }
  }

  /** A request that got no response at all also breaks the streak. */
  recordNoResponse(reason: string): void {
    this.streak = 0;
    this.lastProblems = [`no response: ${reason}`];
  }

  get passed(): boolean {
    return this.streak >= this.required;
  }

  get streakLength(): number {
    return this.streak;
  }

  get why(): string {
    return this.lastProblems.join('; ') || 'no response evaluated';
  }
}

/** `+/-0.05 absolute fraction per backend` -> 0.05. */
export function parseTolerance(text: string): number {
  const m = /([0-9]*\.?[0-9]+)/.exec(text);
  const n = m ? Number(m[1]) : Number.NaN;
  if (!Number.isFinite(n) || n <= 0 || n >= 1) throw new Error(`weightCheck tolerance ${JSON.stringify(text)}: want a fraction`);
  return n;
}

/** `http://echo/ (client --count=500)` -> `http://echo/`. */
export function weightRequestUrl(w: WeightCheck): string {
  const url = w.request.split(/\s+/)[0] ?? '';
  if (!/^(http|grpc):\/\//.test(url)) throw new Error(`weightCheck request ${JSON.stringify(w.request)}: no URL`);
  return url;
}

export interface WeightResult {
  readonly ok: boolean;
  /** Fraction of answered requests per backend pod prefix (or the hostname when none matches). */
  readonly observed: Readonly<Record<string, number>>;
  readonly answered: number;
  readonly problems: readonly string[];
}

/**
 * Shares by backend: every expected backend within tolerance of its fraction, nothing answered by a
 * backend outside the expectation (a weight-0 backend never receives traffic), every request answered
 * with success.
 */
export function evaluateWeights(w: WeightCheck, responses: readonly ParsedResponse[]): WeightResult {
  const tolerance = parseTolerance(w.tolerance);
  const prefixes = Object.keys(w.expected);
  const counts: Record<string, number> = {};
  const problems: string[] = [];
  let answered = 0;
  let failed = 0;
  for (const r of responses) {
    if (r.statusCode !== 200) {
      failed++;
      continue;
    }
    answered++;
    const host = field(r, 'Hostname') ?? '(no hostname)';
    const key = prefixes.find((p) => host.startsWith(p)) ?? host;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  if (responses.length < w.totalRequests) problems.push(`${responses.length} of ${w.totalRequests} requests got a response`);
  if (failed > 0) problems.push(`${failed} responses were not successful`);
  const observed: Record<string, number> = {};
  for (const [k, n] of Object.entries(counts)) observed[k] = answered === 0 ? 0 : n / answered;
  for (const [prefix, want] of Object.entries(w.expected)) {
    const got = observed[prefix] ?? 0;
    if (Math.abs(got - want) > tolerance) problems.push(`${prefix}: ${got.toFixed(3)} of requests, want ${want} +/- ${tolerance}`);
  }
  for (const k of Object.keys(observed)) if (!prefixes.includes(k)) problems.push(`${k} answered ${counts[k]} requests, want none`);
  return { ok: problems.length === 0, observed, answered, problems };
}
