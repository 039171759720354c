/**
 * Fault injection as a route filter: an HTTPRoute ExtensionRef filter naming a Weft FaultInjection
 * (policy.weft.dev/v1alpha1) in the route's namespace.
 *
 * Model:  FaultInjection {abort: {httpStatus, percentage}, delay: {duration, percentage}}
 *           -> FaultSpec (validated, ms)  -> per request: decideFaults(faults, rand) -> {delayMs, abortStatus?}
 * Each fault draws on its own: a request is delayed with probability delay.percentage/100 and aborted
 * with probability abort.percentage/100. Filters apply in order (rule-level, then backend-level):
 * delays add up, the first abort drawn answers. An aborted request is answered at once (no delay,
 * no backend); a delayed one waits before it is sent, before the route's timeouts start (as Envoy's
 * fault filter runs before its router). Randomness is passed in: the decision is deterministic.
 *
 * Bounds: httpStatus 200-599, percentages 0-100 (integers, as Gateway API's RequestMirror percent),
 * a delay from 1ms to MAX_DELAY_MS.
 */
import type { FaultInjection, LocalObjectReference } from '../kube.js';
import { POLICY_API_GROUP } from '../contract.js';

export const FAULT_INJECTION_KIND = 'FaultInjection';
/** A delay longer than this is refused: past it a fault is an outage, not a test. */
export const MAX_DELAY_MS = 60_000;

export interface FaultSpec {
  /** `<namespace>/<name>` of the FaultInjection, for messages. */
  readonly ref: string;
  readonly abort?: { readonly status: number; readonly percentage: number };
  readonly delay?: { readonly ms: number; readonly percentage: number };
}

export interface FaultOutcome {
  /** Milliseconds to wait before the request is sent (0: none). */
  readonly delayMs: number;
  /** The status to answer instead of forwarding; absent: forward. */
  readonly abortStatus?: number;
}

export const NO_FAULT: FaultOutcome = Object.freeze({ delayMs: 0 });

const DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;

function durationMs(text: unknown): number | undefined {
  if (typeof text !== 'string' || !DURATION.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(/([0-9]+)(h|ms|m|s)/g)) {
    const n = Number(m[1]);
    ms += m[2] === 'h' ? n * 3_600_000 : m[2] === 'm' ? n * 60_000 : m[2] === 's' ? n * 1000 : n;
  }
  return ms;
}

const percentageOk = (p: unknown): p is number => typeof p === 'number' && Number.isInteger(p) && p >= 0 && p <= 100;

/** Validates a FaultInjection; every problem names its field. */
export function compileFaultInjection(obj: FaultInjection): { ok: true; fault: FaultSpec } | { ok: false; problems: string[] } {
  const ref = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
  const spec = obj.spec ?? {};
  const problems: string[] = [];
  for (const key of Object.keys(spec)) if (key !== 'abort' && key !== 'delay') problems.push(`spec.${key} is not a FaultInjection field`);
  if (spec.abort === undefined && spec.delay === undefined) problems.push('spec needs abort, delay or both');
  let abort: FaultSpec['abort'];
  if (spec.abort !== undefined) {
    const { httpStatus, percentage } = spec.abort;
    if (typeof httpStatus !== 'number' || !Number.isInteger(httpStatus) || httpStatus < 200 || httpStatus > 599) {
      problems.push(`spec.abort.httpStatus ${JSON.stringify(httpStatus)} must be a status from 200 to 599`);
    }
    if (!percentageOk(percentage)) problems.push(`spec.abort.percentage ${JSON.stringify(percentage)} must be an integer from 0 to 100`);
    abort = { status: Number(httpStatus), percentage: Number(percentage) };
  }
  let delay: FaultSpec['delay'];
  if (spec.delay !== undefined) {
    const { duration, percentage } = spec.delay;
    const ms = durationMs(duration);
    if (ms === undefined || ms < 1 || ms > MAX_DELAY_MS) problems.push(`spec.delay.duration ${JSON.stringify(duration)} must be a duration from 1ms to ${MAX_DELAY_MS / 1000}s`);
    if (!percentageOk(percentage)) problems.push(`spec.delay.percentage ${JSON.stringify(percentage)} must be an integer from 0 to 100`);
    delay = { ms: ms ?? 0, percentage: Number(percentage) };
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, fault: { ref, ...(abort !== undefined ? { abort } : {}), ...(delay !== undefined ? { delay } : {}) } };
}

/** Whether an ExtensionRef names Weft's FaultInjection kind (group policy.weft.dev). */
export function isFaultInjectionRef(ref: LocalObjectReference): boolean {
  return ref.group === POLICY_API_GROUP && ref.kind === FAULT_INJECTION_KIND;
}

/**
 * What a request's fault filters do to it, with `rand()` in [0, 1) drawn once per fault that has a
 * percentage strictly between 0 and 100 (0 never fires, 100 always does, without a draw).
 */
export function decideFaults(faults: readonly FaultSpec[], rand: () => number): FaultOutcome {
  if (faults.length === 0) return NO_FAULT;
  const fires = (percentage: number): boolean => percentage >= 100 || (percentage > 0 && rand() * 100 < percentage);
  let delayMs = 0;
  for (const f of faults) {
    if (f.delay !== undefined && fires(f.delay.percentage)) delayMs += f.delay.ms;
    if (f.abort !== undefined && fires(f.abort.percentage)) return { delayMs: 0, abortStatus: f.abort.status };
  }
  return delayMs === 0 ? NO_FAULT : { delayMs };
}
