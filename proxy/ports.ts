/**
 * What the transport depends on, as small interfaces: discovery (Destinations, Endpoints), the proxy's
 * own certificate (CertificateProvider) and the policy enforcement point (PolicyHook). The gRPC clients
 * of api/ implement them in production; tests feed them directly.
 *
 *   app -> outbound -> Destinations.resolve(origDst) -> PolicyHook.outbound.route -> Endpoints.watch
 *       -> balancer -> peer pool (mTLS, identity checked) -> inbound -> PolicyHook.inbound.authorize -> app
 *
 * Invariant: every method called per request (route, authorize, the endpoint list) is synchronous and
 * cheap; anything slow (lookups, watches) happens once per connection or in the background.
 */
import type { ProxyErrorCode } from './errors.js';

export interface ServicePort {
  readonly namespace: string;
  readonly name: string;
  readonly port: number;
}

export type ProtocolHint = 'detect' | 'http1' | 'http2' | 'opaque';

export type Destination =
  | { readonly kind: 'service'; readonly service: ServicePort; readonly protocolHint: ProtocolHint }
  | { readonly kind: 'endpoint'; readonly meshed: boolean; readonly identity?: string; readonly protocolHint: ProtocolHint }
  | { readonly kind: 'unknown' }
  /** The control plane cannot describe it (or never answered): the connection is refused, never guessed. */
  | { readonly kind: 'refused'; readonly reason: string };

export interface Destinations {
  /**
   * What an original destination (ClusterIP:port or pod IP:port) is. Called once per connection, which
   * holds the destination until it calls `release` (when it closes).
   */
  resolve(ip: string, port: number): Promise<Destination> | Destination;
  /** The connection that resolved `ip:port` is closed: once none holds it, it may be forgotten when idle. */
  release?(ip: string, port: number): void;
  /** How many destinations are remembered now (for the live-destinations metric). */
  size?(): number;
}

export interface Endpoint {
  readonly ip: string;
  readonly port: number;
  readonly meshed: boolean;
  /** The SPIFFE ID the endpoint's proxy must present (meshed endpoints). */
  readonly identity?: string;
  /** The local address to connect from (the inbound side's connections to its app). */
  readonly source?: string;
}

export interface Endpoints {
  /**
   * Watches the ready endpoints of a Service port: `onUpdate` is called with the full set, at once if
   * known, then on every change. Returns the function that stops the watch.
   */
  watch(service: ServicePort, onUpdate: (endpoints: readonly Endpoint[]) => void): () => void;
}

export interface Certificate {
  readonly keyPem: string;
  /** The leaf followed by its intermediates. */
  readonly certChainPem: string;
  readonly trustAnchorsPem: string;
  /** The proxy's own SPIFFE ID. */
  readonly identity: string;
}

export interface CertificateProvider {
  current(): Certificate | undefined;
  /** Called after every new certificate (first issuance and rotations). Returns an unsubscribe. */
  onChange(listener: (cert: Certificate) => void): () => void;
}

// --- policy hook ------------------------------------------------------------------------------------

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

export interface HeaderOps {
  readonly set?: readonly (readonly [string, string])[];
  readonly add?: readonly (readonly [string, string])[];
  readonly remove?: readonly string[];
}

/** What the transport reports once an exchange the hook decided is over: the per-route metrics. */
export interface ExchangeOutcome {
  /** HTTP status answered downstream (0 when the exchange was reset before any answer). */
  readonly status: number;
  /** grpc-status of a gRPC exchange (headers or trailers); undefined otherwise. */
  readonly grpcStatus: number | undefined;
  /** The proxy's error, when the proxy produced the failure. */
  readonly error: ProxyErrorCode | undefined;
  readonly durationMs: number;
}

export type ExchangeObserver = (outcome: ExchangeOutcome) => void;

/** A fire-and-forget copy of the request (RequestMirror); its response is discarded. */
export interface MirrorTarget {
  readonly backend: ServicePort;
}

export type OutboundDecision =
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
      /** Bounds the whole exchange; expiry answers UPSTREAM_TIMEOUT and closes the upstream exchange. */
      readonly timeoutMs?: number;
      readonly mirrors?: readonly MirrorTarget[];
      readonly observe?: ExchangeObserver;
    }
  | {
      readonly kind: 'respond';
      readonly status: number;
      readonly headers?: readonly (readonly [string, string])[];
      readonly body?: string;
      readonly observe?: ExchangeObserver;
    }
  /** The proxy answers with one of its errors through ERROR_TABLE (HTTP status, gRPC status, weft-proxy-error). */
  | { readonly kind: 'error'; readonly code: ProxyErrorCode; readonly message?: string; readonly observe?: ExchangeObserver };

export interface OutboundContext {
  /** The Service port the app dialled (its ClusterIP). */
  readonly target: ServicePort;
}

export type InboundDecision =
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
      readonly observe?: ExchangeObserver;
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
      /** HTTP status to answer (403 unless the policy says otherwise). */
      readonly status: number;
      /** The error written through ERROR_TABLE (default FORBIDDEN). */
      readonly code?: ProxyErrorCode;
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

export interface PolicyHook {
  readonly outbound: {
    route(ctx: OutboundContext, req: HookRequest): OutboundDecision;
  };
  readonly inbound: {
    /** `req` is null for an opaque connection: the decision is per connection. */
    authorize(ctx: InboundContext, req: HookRequest | null): InboundDecision;
    /**
     * Whether the app port's Server says `proxyProtocol: opaque`: its plaintext connections are then
     * passed through as bytes, never parsed as HTTP. Absent (test doubles): only the configured ports.
     */
    opaque?(port: number): boolean;
  };
}

/** Whether each source of state has delivered at least once (the admin /ready answer). */
export interface ReadinessSource {
  isReady(): boolean;
}
