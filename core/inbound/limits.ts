/**
 * Inbound protection: an InboundLimitPolicy (policy.weft.dev) puts a local rate limit (a token bucket)
 * and a concurrency limit (requests in flight) on a Server, or on an HTTPRoute / GRPCRoute whose parent
 * is a Server. Each proxy enforces its own limits: a limit of 50/s on a Server of a Deployment with
 * three replicas admits up to 150/s in all (docs/proxy.md "Inbound limits").
 *
 * Model:  InboundLimitPolicy --targetRef--> Server | HTTPRoute | GRPCRoute (same namespace)
 *   - a Server's limit counts every HTTP request on the port the Server governs;
 *   - a route's limit counts the requests that route selects, after the Server's limit;
 *   - an opaque connection is not a request: limits apply to HTTP/1.1, HTTP/2 and gRPC only.
 * Several policies on one target: the oldest applies (creationTimestamp, then name), the others are
 * reported Conflicted. A policy with a bad field applies nowhere and is reported naming the field.
 *
 * Decisions, pure and deterministic (the clock is passed in):
 *   TokenBucket.take(now)   -> admitted, or refused with how long until a token is there (Retry-After)
 *   InFlight.acquire()      -> admitted (release() when the exchange is over), or refused
 * Refusals are Reasons (core/reasons.ts): RATE_LIMITED (429) and CONCURRENCY_LIMITED (503).
 */
import { GATEWAY_API_GROUP, POLICY_API_GROUP } from '../contract.js';
import type { InboundLimitPolicy } from '../kube-policy.js';

// --- the resource ---------------------------------------------------------------------------------

export const INBOUND_LIMIT_POLICY_KIND = 'InboundLimitPolicy';

/** Upper bounds that keep a typo from meaning "unlimited" in disguise and keep the arithmetic exact. */
export const MAX_REQUESTS_PER_SECOND = 1_000_000;
export const MAX_BURST = 1_000_000;
export const MAX_IN_FLIGHT = 1_000_000;

export type LimitTargetKind = 'Server' | 'HTTPRoute' | 'GRPCRoute';

/** A validated policy: what the proxy enforces. */
export interface CompiledLimits {
  /** The InboundLimitPolicy (for metrics, `weft authz` and explanations). */
  readonly namespace: string;
  readonly name: string;
  readonly target: { readonly kind: LimitTargetKind; readonly name: string };
  readonly rate?: { readonly requestsPerSecond: number; readonly burst: number };
  readonly concurrency?: { readonly maxInFlight: number };
}

const SPEC_FIELDS = new Set(['targetRef', 'rateLimit', 'concurrency']);
const TARGET_FIELDS = new Set(['group', 'kind', 'name']);
const RATE_FIELDS = new Set(['requestsPerSecond', 'burst']);
const CONCURRENCY_FIELDS = new Set(['maxInFlight']);

function unknownField(obj: object, known: ReadonlySet<string>): string | undefined {
  return Object.keys(obj).find((k) => !known.has(k));
}

function intIn(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

/**
 * Validates one policy. Every problem names the field (`spec.rateLimit.burst: ...`); with any problem
 * the policy applies nowhere.
 */
export function compileInboundLimitPolicy(p: InboundLimitPolicy): { ok: true; value: CompiledLimits } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const spec = p.spec;
  if (spec === undefined) return { ok: false, problems: ['spec: missing'] };
  const extra = unknownField(spec, SPEC_FIELDS);
  if (extra !== undefined) problems.push(`spec.${extra}: not a field of InboundLimitPolicy`);

  let target: CompiledLimits['target'] | undefined;
  const t = spec.targetRef;
  if (t === undefined) problems.push('spec.targetRef: missing');
  else {
    const e = unknownField(t, TARGET_FIELDS);
    if (e !== undefined) problems.push(`spec.targetRef.${e}: not a field of a targetRef`);
    if (typeof t.name !== 'string' || t.name === '') problems.push('spec.targetRef.name: missing');
    if (t.kind === 'Server') {
      if (t.group !== undefined && t.group !== POLICY_API_GROUP) problems.push(`spec.targetRef.group: ${JSON.stringify(t.group)} is not ${POLICY_API_GROUP}, the group of Server`);
    } else if (t.kind === 'HTTPRoute' || t.kind === 'GRPCRoute') {
      if (t.group !== undefined && t.group !== GATEWAY_API_GROUP) problems.push(`spec.targetRef.group: ${JSON.stringify(t.group)} is not ${GATEWAY_API_GROUP}, the group of ${t.kind}`);
    } else {
      problems.push(`spec.targetRef.kind: ${JSON.stringify(t.kind)} is not Server, HTTPRoute or GRPCRoute`);
    }
    if (typeof t.name === 'string' && t.name !== '' && (t.kind === 'Server' || t.kind === 'HTTPRoute' || t.kind === 'GRPCRoute')) {
      target = { kind: t.kind, name: t.name };
    }
  }

  let rate: CompiledLimits['rate'];
  const r = spec.rateLimit;
  if (r !== undefined) {
    const e = unknownField(r, RATE_FIELDS);
    if (e !== undefined) problems.push(`spec.rateLimit.${e}: not a field of rateLimit`);
    const rps = r.requestsPerSecond;
    const okRps = intIn(rps, 1, MAX_REQUESTS_PER_SECOND);
    if (!okRps) problems.push(`spec.rateLimit.requestsPerSecond: ${JSON.stringify(rps ?? null)} must be an integer from 1 to ${MAX_REQUESTS_PER_SECOND}`);
    const burst = r.burst ?? rps;
    const okBurst = intIn(burst, 1, MAX_BURST);
    if (r.burst !== undefined && !okBurst) problems.push(`spec.rateLimit.burst: ${JSON.stringify(r.burst)} must be an integer from 1 to ${MAX_BURST}`);
    if (okRps && okBurst) rate = { requestsPerSecond: rps, burst };
  }

  let concurrency: CompiledLimits['concurrency'];
  const c = spec.concurrency;
  if (c !== undefined) {
    const e = unknownField(c, CONCURRENCY_FIELDS);
    if (e !== undefined) problems.push(`spec.concurrency.${e}: not a field of concurrency`);
    if (!intIn(c.maxInFlight, 1, MAX_IN_FLIGHT)) problems.push(`spec.concurrency.maxInFlight: ${JSON.stringify(c.maxInFlight ?? null)} must be an integer from 1 to ${MAX_IN_FLIGHT}`);
    else concurrency = { maxInFlight: c.maxInFlight };
  }
  if (r === undefined && c === undefined) problems.push('spec: sets neither rateLimit nor concurrency');

  if (problems.length > 0 || target === undefined) return { ok: false, problems };
  return {
    ok: true,
    value: {
      namespace: p.metadata.namespace ?? '',
      name: p.metadata.name,
      target,
      ...(rate !== undefined ? { rate } : {}),
      ...(concurrency !== undefined ? { concurrency } : {}),
    },
  };
}

/** What the controller writes to an InboundLimitPolicy's status (condition Accepted). */
export interface LimitPolicyStatus {
  readonly namespace: string;
  readonly name: string;
  readonly accepted: boolean;
  /** Accepted; or Invalid (a bad field), Conflicted (an older policy has the target), TargetNotFound. */
  readonly reason: 'Accepted' | 'Invalid' | 'Conflicted' | 'TargetNotFound';
  readonly message: string;
}

function byAge(a: InboundLimitPolicy, b: InboundLimitPolicy): number {
  const t = (p: InboundLimitPolicy) => {
    const ms = Date.parse(p.metadata.creationTimestamp ?? '');
    return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
  };
  const d = t(a) - t(b);
  if (d !== 0 && !Number.isNaN(d)) return d < 0 ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

/**
 * The policies that apply, per target key `namespace/Kind/name` (the oldest valid one per target), and
 * the status of every policy. `targetExists(kind, namespace, name)` says whether a target is there (a
 * route must have a Server parent); absent: every target is taken to exist.
 */
export function selectInboundLimits(
  policies: readonly InboundLimitPolicy[],
  targetExists?: (kind: LimitTargetKind, namespace: string, name: string) => boolean,
): { readonly applied: ReadonlyMap<string, CompiledLimits>; readonly statuses: readonly LimitPolicyStatus[] } {
  const applied = new Map<string, CompiledLimits>();
  const statuses: LimitPolicyStatus[] = [];
  for (const p of [...policies].sort(byAge)) {
    const id = { namespace: p.metadata.namespace ?? '', name: p.metadata.name };
    const c = compileInboundLimitPolicy(p);
    if (!c.ok) {
      statuses.push({ ...id, accepted: false, reason: 'Invalid', message: `${c.problems.join('; ')}; it applies nowhere` });
      continue;
    }
    const t = c.value.target;
    const key = `${c.value.namespace}/${t.kind}/${t.name}`;
    const first = applied.get(key);
    if (first !== undefined) {
      statuses.push({ ...id, accepted: false, reason: 'Conflicted', message: `${t.kind} ${t.name} already has the older InboundLimitPolicy ${first.name}; this one applies nowhere` });
      continue;
    }
    applied.set(key, c.value);
    if (targetExists !== undefined && !targetExists(t.kind, c.value.namespace, t.name)) {
      const what = t.kind === 'Server' ? `Server ${t.name} not found` : `${t.kind} ${t.name} not found, or it has no Server parent`;
      statuses.push({ ...id, accepted: false, reason: 'TargetNotFound', message: `${what} in namespace ${c.value.namespace}; the limits apply once it exists` });
      continue;
    }
    statuses.push({ ...id, accepted: true, reason: 'Accepted', message: `${describeLimits(c.value)} on ${t.kind} ${t.name}, per proxy` });
  }
  return { applied, statuses };
}

/** How a compiled limit reads in `weft authz` and explanations: `50/s burst 100, 20 in flight`. */
export function describeLimits(l: Pick<CompiledLimits, 'rate' | 'concurrency'>): string {
  const parts: string[] = [];
  if (l.rate !== undefined) parts.push(`${l.rate.requestsPerSecond}/s burst ${l.rate.burst}`);
  if (l.concurrency !== undefined) parts.push(`${l.concurrency.maxInFlight} in flight`);
  return parts.join(', ');
}

// --- the decisions --------------------------------------------------------------------------------

/**
 * A token bucket: `burst` tokens at most, refilled at `requestsPerSecond`; a request takes one.
 * Starts full. Time is in milliseconds from any monotonic clock the caller passes in.
 */
export class TokenBucket {
  private tokens: number;
  private last: number | undefined;

  constructor(readonly requestsPerSecond: number, readonly burst: number) {
    this.tokens = burst;
  }

  private refill(now: number): void {
    if (this.last !== undefined && now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.requestsPerSecond) / 1000);
    }
    if (this.last === undefined || now > this.last) this.last = now;
  }

  /** Whether a request may go now (and takes its token); refused: milliseconds until one is there. */
  take(now: number): { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number } {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil(((1 - this.tokens) * 1000) / this.requestsPerSecond) };
  }

  /** Whether take(now) would admit, without taking. */
  ready(now: number): boolean {
    this.refill(now);
    return this.tokens >= 1;
  }
}

/** The `Retry-After` value (delta-seconds, RFC 9110 10.2.3) of a wait: whole seconds, at least 1. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** Requests in flight against a maximum. */
export class InFlight {
  private n = 0;
  constructor(readonly max: number) {}

  get current(): number {
    return this.n;
  }

  /** Admits one more when under the maximum; the caller releases it once, when its exchange is over. */
  acquire(): boolean {
    if (this.n >= this.max) return false;
    this.n++;
    return true;
  }

  release(): void {
    if (this.n > 0) this.n--;
  }
}

/** The state of one compiled limit in one proxy. */
export interface Limiter {
  readonly limits: CompiledLimits;
  readonly bucket?: TokenBucket;
  readonly inFlight?: InFlight;
}

export type Admission =
  | { readonly ok: true; readonly release: (() => void) | undefined }
  | { readonly ok: false; readonly code: 'RATE_LIMITED' | 'CONCURRENCY_LIMITED'; readonly limiter: Limiter; readonly retryAfterMs?: number };

/**
 * Admits one request against the limits that apply to it, in order (the Server's, then the route's):
 * every bucket must hold a token and every in-flight count must have room. A refusal takes nothing;
 * an admission takes a token from each bucket and a slot from each count (`release` gives the slots back).
 */
export function admit(limiters: readonly Limiter[], now: number): Admission {
  for (const l of limiters) {
    if (l.inFlight !== undefined && l.inFlight.current >= l.inFlight.max) return { ok: false, code: 'CONCURRENCY_LIMITED', limiter: l };
  }
  for (const l of limiters) {
    if (l.bucket !== undefined && !l.bucket.ready(now)) {
      const t = l.bucket.take(now);
      return { ok: false, code: 'RATE_LIMITED', limiter: l, retryAfterMs: t.ok ? 0 : t.retryAfterMs };
    }
  }
  const held: InFlight[] = [];
  for (const l of limiters) {
    l.bucket?.take(now);
    if (l.inFlight !== undefined && l.inFlight.acquire()) held.push(l.inFlight);
  }
  if (held.length === 0) return { ok: true, release: undefined };
  let released = false;
  return {
    ok: true,
    release: () => {
      if (released) return;
      released = true;
      for (const f of held) f.release();
    },
  };
}
