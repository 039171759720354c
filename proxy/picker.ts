/**
 * Endpoint pickers: where the next attempt of a request goes. A picker answers an endpoint, none
 * (the request is answered NO_ENDPOINTS), or `wait` while discovery has not answered for its Service
 * port yet (like grpc-js's QUEUE). `whenPickable` is the one place a request waits.
 *
 *   BalancedPicker  a Service port: the balancer of Balancers (peak EWMA, P2C); up to MAX_ATTEMPTS
 *                   endpoints are tried for a request whose attempts never reached an app
 *   FixedPicker     one endpoint (a pod IP the app dialled, the app behind the inbound listener):
 *                   one attempt, never `wait`
 *
 * Invariants: a picker never answers an endpoint in `tried`; a balanced picker looks its balancer up on
 * every pick, so a balancer the idle sweep forgot is replaced instead of used.
 */
import type { Reason } from '../core/reasons.js';
import type { RetryBudget } from '../core/retry-budget.js';
import type { Balancers } from './deps.js';
import { EndpointState, endpointKey } from './balancer.js';
import type { Endpoint, ServicePort } from './io.js';

/** Up to this many endpoints are tried for one request whose attempts never reached an app. */
export const MAX_ATTEMPTS = 3;

export type PickResult = EndpointState | undefined | 'wait';

export interface EndpointPicker {
  /** How many endpoints one request may try. */
  readonly maxAttempts: number;
  /** The retry budget of the destination (a Service port); undefined: retries are not budgeted. */
  budget(): RetryBudget | undefined;
  /** False while `pick` would answer `wait`. */
  readonly ready: boolean;
  pick(tried?: ReadonlySet<EndpointState>): PickResult;
  /** Resolves once discovery has answered, or after the wait bound (then `pick` still may say `wait`). */
  settled(): Promise<void>;
  /** What a request is answered when no endpoint was picked; absent or undefined: NO_ENDPOINTS. */
  emptyReason?(): Reason | undefined;
}

export class BalancedPicker implements EndpointPicker {
  readonly maxAttempts = MAX_ATTEMPTS;
  constructor(private readonly balancers: Balancers, readonly backend: ServicePort, private readonly waitMs: number) {}

  get ready(): boolean {
    return this.balancers.get(this.backend).known;
  }

  budget(): RetryBudget {
    return this.balancers.get(this.backend).retryBudget(this.backend.retryBudget);
  }

  pick(tried?: ReadonlySet<EndpointState>): PickResult {
    const bal = this.balancers.get(this.backend);
    bal.configureAccrual(this.backend.failureAccrual);
    return bal.known ? bal.pick(tried) : 'wait';
  }

  settled(): Promise<void> {
    return this.balancers.whenKnown(this.backend, this.waitMs);
  }

  emptyReason(): Reason | undefined {
    return this.balancers.failure(this.backend) !== undefined ? 'DNS_FAILED' : undefined;
  }
}

export class FixedPicker implements EndpointPicker {
  readonly maxAttempts = 1;
  readonly ready = true;
  private readonly state: EndpointState;
  /** `retryBudget` bounds route retries to the endpoint (the inbound side's app); absent: not budgeted. */
  constructor(endpoint: Endpoint, private readonly retryBudget?: RetryBudget) {
    this.state = new EndpointState(endpoint, endpointKey(endpoint));
  }

  pick(): PickResult {
    return this.state;
  }

  budget(): RetryBudget | undefined {
    return this.retryBudget;
  }

  settled(): Promise<void> {
    return Promise.resolve();
  }
}

/** Picks once the picker no longer waits; after the wait bound a `wait` counts as no endpoint. */
export type Pick = (tried?: ReadonlySet<EndpointState>) => EndpointState | undefined;

/**
 * THE place a request waits for endpoints: `go` runs at once when the picker can answer, otherwise
 * once discovery has answered (or the wait bound passed), unless `wanted()` says the request is gone.
 */
export function whenPickable(picker: EndpointPicker, go: (pick: Pick) => void, wanted: () => boolean = () => true): void {
  const pick: Pick = (tried) => {
    const p = picker.pick(tried);
    return p === 'wait' ? undefined : p;
  };
  if (picker.ready) {
    go(pick);
    return;
  }
  void picker.settled().then(() => {
    if (wanted()) go(pick);
  });
}
