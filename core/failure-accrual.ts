/**
 * Circuit breaking per endpoint: consecutive-failure accrual with ejection, exponential back-off and
 * probing back (Linkerd's `consecutive` failure accrual, configured the same way, by Service
 * annotation).
 *
 * Model, per endpoint:  ready --maxFailures failures in a row--> ejected (penalty)
 *                       ejected --penalty over--> probing: one request may go
 *                       probing --success--> ready (counts cleared) | --failure--> ejected, penalty x2
 * The penalty starts at minPenaltyMs and doubles with each ejection in a row, up to maxPenaltyMs.
 * A failure is a connection error, an attempt timeout or a 5xx response from the endpoint; any other
 * answer is a success. Time is passed in: the state machine is deterministic.
 *
 * Annotations (on the Service; docs/proxy.md "Circuit breaking"):
 *   config.weft.dev/failure-accrual: consecutive            (absent: off)
 *   config.weft.dev/failure-accrual-max-failures: 7         (1-1000)
 *   config.weft.dev/failure-accrual-min-penalty: 1s         (a duration, 1ms-1h)
 *   config.weft.dev/failure-accrual-max-penalty: 1m         (a duration, 1ms-1h, >= min-penalty)
 */
import { CONFIG_ANNOTATIONS } from './contract.js';
import { parseDuration } from './duration.js';

export interface FailureAccrualConfig {
  readonly maxFailures: number;
  readonly minPenaltyMs: number;
  readonly maxPenaltyMs: number;
}

/** Linkerd's defaults for `consecutive` accrual. */
export const DEFAULT_FAILURE_ACCRUAL: FailureAccrualConfig = Object.freeze({ maxFailures: 7, minPenaltyMs: 1000, maxPenaltyMs: 60_000 });

const HOUR_MS = 3_600_000;

/**
 * The failure accrual a Service's annotations ask for: undefined when off; the problems (each naming
 * its annotation) when a value is bad, in which case nothing is applied.
 */
export function failureAccrualOf(annotations: Readonly<Record<string, string>> | undefined): { ok: true; config: FailureAccrualConfig | undefined } | { ok: false; problems: string[] } {
  const a = annotations ?? {};
  const mode = a[CONFIG_ANNOTATIONS.failureAccrual];
  const tuning = [CONFIG_ANNOTATIONS.failureAccrualMaxFailures, CONFIG_ANNOTATIONS.failureAccrualMinPenalty, CONFIG_ANNOTATIONS.failureAccrualMaxPenalty].filter((k) => a[k] !== undefined);
  if (mode === undefined) {
    return tuning.length === 0 ? { ok: true, config: undefined } : { ok: false, problems: [`${tuning.join(', ')} set without ${CONFIG_ANNOTATIONS.failureAccrual}: consecutive`] };
  }
  const problems: string[] = [];
  if (mode !== 'consecutive') problems.push(`${CONFIG_ANNOTATIONS.failureAccrual}: ${JSON.stringify(mode)} is not a failure accrual; the one kind is "consecutive"`);
  let maxFailures = DEFAULT_FAILURE_ACCRUAL.maxFailures;
  const mf = a[CONFIG_ANNOTATIONS.failureAccrualMaxFailures];
  if (mf !== undefined) {
    maxFailures = /^\d{1,4}$/.test(mf) ? Number(mf) : Number.NaN;
    if (!(maxFailures >= 1 && maxFailures <= 1000)) problems.push(`${CONFIG_ANNOTATIONS.failureAccrualMaxFailures}: ${JSON.stringify(mf)} must be an integer from 1 to 1000`);
  }
  const penalty = (key: string, fallback: number): number => {
    const v = a[key];
    if (v === undefined) return fallback;
    const d = parseDuration(v);
    if (!d.ok) {
      problems.push(`${key}: ${JSON.stringify(v)}: ${d.why}`);
      return fallback;
    }
    if (d.ms < 1 || d.ms > HOUR_MS) problems.push(`${key}: ${JSON.stringify(v)} must be from 1ms to 1h`);
    return d.ms;
  };
  const minPenaltyMs = penalty(CONFIG_ANNOTATIONS.failureAccrualMinPenalty, DEFAULT_FAILURE_ACCRUAL.minPenaltyMs);
  const maxPenaltyMs = penalty(CONFIG_ANNOTATIONS.failureAccrualMaxPenalty, Math.max(DEFAULT_FAILURE_ACCRUAL.maxPenaltyMs, minPenaltyMs));
  if (maxPenaltyMs < minPenaltyMs) problems.push(`${CONFIG_ANNOTATIONS.failureAccrualMaxPenalty} must not be below ${CONFIG_ANNOTATIONS.failureAccrualMinPenalty}`);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, config: { maxFailures, minPenaltyMs, maxPenaltyMs } };
}

export type AccrualState = 'ready' | 'ejected' | 'probing';

export class EndpointAccrual {
  private consecutive = 0;
  /** Ejections in a row (cleared by a success). */
  private ejections = 0;
  private until = 0;
  private probeOut = false;
  state: AccrualState = 'ready';

  constructor(readonly config: FailureAccrualConfig) {}

  /** Whether a request may go to the endpoint now; an ejection that is over lets one probe through. */
  available(now: number): boolean {
    if (this.state === 'ready') return true;
    if (this.state === 'ejected' && now >= this.until) {
      this.state = 'probing';
      this.probeOut = false;
    }
    return this.state === 'probing' && !this.probeOut;
  }

  /** A request was sent (the probe, while probing). */
  sent(): void {
    if (this.state === 'probing') this.probeOut = true;
  }

  success(): void {
    this.consecutive = 0;
    this.ejections = 0;
    this.state = 'ready';
  }

  /** Counts a failure; true when it ejected the endpoint. */
  failure(now: number): boolean {
    this.consecutive++;
    if (this.state === 'ejected') return false;
    if (this.state === 'probing' || this.consecutive >= this.config.maxFailures) {
      this.ejections++;
      const penalty = Math.min(this.config.maxPenaltyMs, this.config.minPenaltyMs * 2 ** Math.min(this.ejections - 1, 30));
      this.until = now + penalty;
      this.state = 'ejected';
      return true;
    }
    return false;
  }

  /** When the current ejection ends (ms, the clock passed in). */
  get ejectedUntil(): number {
    return this.until;
  }
}
