/**
 * The policy enforcement point as the transport sees it: per request, the outbound side asks
 * `route` and the inbound side asks `authorize`; each answers with an action (forward / allow, a
 * synthetic answer, or a reason not to). proxy/policy/hook.ts implements it over core's decisions
 * (routeOutbound, authorizeInbound); tests give their own. An action names no error status: a Reason
 * is answered through core/reasons.ts by the protocol's responder.
 *
 * Invariant: `route` and `authorize` are synchronous and cheap.
 */
import type { RetryPolicy } from '../core/retry.js';
import type { Reason } from '../core/reasons.js';
import type { HeaderOps as CoreHeaderOps } from '../core/routes/types.js';
import type { ServicePort } from './io.js';

export type Protocol = 'http1' | 'http2' | 'grpc' | 'opaque';

/** A request as the hook sees it: header names lower-case; values as received. */
export interface HookRequest {
  readonly method: string;
  readonly authority: string;
  /** The request target as received (origin-form, query included); the hook normalises it. */
  readonly path: string;
  readonly protocol: Protocol;
  readonly header: (name: string) => string | readonly string[] | undefined;
  /**
   * Every forwarded header with every value in arrival order, flat `[name, value, ...]`, hop-by-hop and
   * client-sent `weft-*` headers already removed (security cases 16, 17). Absent: use `header`.
   */
  readonly rawHeaders?: readonly string[];
}

/** Core's header operations; a hook may leave out the empty lists. */
export type HeaderOps = Partial<CoreHeaderOps>;

/** What the transport reports once an exchange the hook decided is over: the per-route metrics. */
export interface ExchangeOutcome {
  /** HTTP status answered downstream (0 when the exchange was reset before any answer). */
  readonly status: number;
  /** grpc-status of a gRPC exchange (headers or trailers); undefined otherwise. */
  readonly grpcStatus: number | undefined;
  /** The proxy's error, when the proxy produced the failure. */
  readonly error: Reason | undefined;
  readonly durationMs: number;
  /** Outbound: what resilience did for this exchange (per-route metrics; absent: nothing). */
  readonly resilience?: ExchangeResilience | undefined;
}

/** Outbound, per exchange: retries sent, a retry not made and why, endpoints it ejected, a peer's limit. */
export interface ExchangeResilience {
  readonly retries: number;
  readonly retrySkipped: 'body_too_large' | 'budget_exhausted' | undefined;
  readonly ejections: number;
  /** The server proxy's `weft-proxy-error` when an InboundLimitPolicy refused the request. */
  readonly peerLimited: 'rate' | 'concurrency' | undefined;
}

export type ExchangeObserver = (outcome: ExchangeOutcome) => void;

/** A fire-and-forget copy of the request (RequestMirror); its response is discarded. */
export interface MirrorTarget {
  readonly backend: ServicePort;
}

export type OutboundAction =
  | {
      readonly kind: 'forward';
      readonly backend: ServicePort;
      /** Applied in order; within one: set, add, remove. */
      readonly requestHeaders?: HeaderOps | readonly HeaderOps[];
      /** Applied to the upstream's response headers, in order. */
      readonly responseHeaders?: readonly HeaderOps[];
      /** The target to send upstream (normalised, rewritten; query included). Absent: as received. */
      readonly path?: string;
      /** The Host / :authority to send upstream (URLRewrite hostname). Absent: as received. */
      readonly authority?: string;
      /** Bounds the whole exchange, every attempt and backoff included; expiry answers UPSTREAM_TIMEOUT. */
      readonly timeoutMs?: number;
      /** Bounds each attempt (`timeouts.backendRequest`); an attempt that hits it is retried if the policy allows. */
      readonly attemptTimeoutMs?: number;
      /** The route rule's retry policy (HTTPRoute `retry`). */
      readonly retry?: RetryPolicy;
      readonly mirrors?: readonly MirrorTarget[];
      /** A FaultInjection delay: wait this long before sending the request (before its timeouts start). */
      readonly delayMs?: number;
      readonly observe?: ExchangeObserver;
    }
  | {
      readonly kind: 'respond';
      readonly status: number;
      readonly headers?: readonly (readonly [string, string])[];
      readonly body?: string;
      readonly observe?: ExchangeObserver;
    }
  /** The proxy answers for a reason; core/reasons.ts says with what (HTTP status, gRPC status, weft-proxy-error). */
  | { readonly kind: 'error'; readonly code: Reason; readonly message?: string; readonly observe?: ExchangeObserver };

export interface OutboundContext {
  /** The Service port the app dialled (its ClusterIP). */
  readonly target: ServicePort;
}

export type InboundAction =
  | {
      readonly kind: 'allow';
      readonly setHeaders?: readonly (readonly [string, string])[];
      /** The target to send to the app (the normalised one that was authorized, rewritten). Absent: as received. */
      readonly path?: string;
      /** The Server route rule's RequestHeaderModifiers, in order. */
      readonly requestHeaders?: readonly HeaderOps[];
      /** The Server route rule's ResponseHeaderModifiers, applied to the app's response. */
      readonly responseHeaders?: readonly HeaderOps[];
      /** The Host / :authority to send (URLRewrite hostname). Absent: as received. */
      readonly authority?: string;
      /** The Server route rule's `timeouts.request`: bounds the whole exchange with the app. */
      readonly timeoutMs?: number;
      /** The Server route rule's `timeouts.backendRequest`: bounds each attempt. */
      readonly attemptTimeoutMs?: number;
      /** The Server route rule's `retry`, bounded by the app port's retry budget. */
      readonly retry?: RetryPolicy;
      readonly observe?: ExchangeObserver;
      /** Gives back what the request holds of a concurrency limit; the transport calls it once the exchange is over. */
      readonly release?: () => void;
    }
  /** The proxy answers itself (a Server route's RequestRedirect). */
  | {
      readonly kind: 'respond';
      readonly status: number;
      readonly headers: readonly (readonly [string, string])[];
      readonly observe?: ExchangeObserver;
    }
  | {
      readonly kind: 'deny';
      /** Why (default FORBIDDEN); the responder answers it through core/reasons.ts. */
      readonly code?: Reason;
      /** Headers added to the answer (RATE_LIMITED: Retry-After). */
      readonly headers?: readonly (readonly [string, string])[];
      readonly observe?: ExchangeObserver;
    };

export interface InboundContext {
  /** The client's verified SPIFFE ID (mesh mTLS only). */
  readonly peerIdentity?: string;
  /** True when the connection was mesh mTLS. */
  readonly tls: boolean;
  readonly clientIp: string;
  /** The app port the connection was for. */
  readonly port: number;
}

/** What the gateway does with a TLS connection it passes through (TLSRoute). */
/**
 * A TLS passthrough connection's route decision. `observe` is told once the connection is over (its
 * duration, and the proxy's error when it could not be forwarded): the per-route series with
 * `route_kind` `tls`, one count per connection.
 */
export type GatewayPassthroughAction =
  | { readonly kind: 'forward'; readonly backend: ServicePort; readonly observe?: ExchangeObserver }
  | { readonly kind: 'error'; readonly code: Reason; readonly message: string; readonly observe?: ExchangeObserver };

export interface PolicyHook {
  readonly outbound: {
    route(ctx: OutboundContext, req: HookRequest): OutboundAction;
  };
  /**
   * `weft gateway` only: routes a request that arrived on a Gateway listener's `port`; `tlsListener`:
   * the HTTPS listener the connection's TLS SNI selected (absent for plaintext HTTP).
   */
  readonly gateway?: {
    route(port: number, req: HookRequest, tlsListener?: string): OutboundAction;
    /**
     * A TLS connection whose ClientHello names `sni`: the backend when its listener is a TLS
     * (Passthrough) one, an error when that listener cannot serve it, undefined when the SNI's
     * listener is not a TLS one (an HTTPS listener terminates it, or none serves it).
     */
    passthrough?(port: number, sni: string | undefined): GatewayPassthroughAction | undefined;
  };
  readonly inbound: {
    /** `req` is null for an opaque connection: the decision is per connection. */
    authorize(ctx: InboundContext, req: HookRequest | null): InboundAction;
    /**
     * Whether the app port's Server says `proxyProtocol: opaque`: its plaintext connections are then
     * passed through as bytes, never parsed as HTTP. Absent (test doubles): only the configured ports.
     */
    opaque?(port: number): boolean;
  };
}
