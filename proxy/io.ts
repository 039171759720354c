/**
 * The proxy's I/O seams, as small interfaces: discovery (Destinations, Endpoints), the proxy's own
 * certificate (CertificateProvider) and readiness. The gRPC clients of api/ implement them in
 * production; tests feed them directly. The policy seam is proxy/policy-hook.ts; decisions are core's.
 *
 *   app -> outbound -> Destinations.resolve(origDst) -> plan (PolicyHook) -> Endpoints.watch
 *       -> endpoint picker -> peer pool (mTLS, identity checked) -> inbound -> plan (PolicyHook) -> app
 *
 * Invariant: every method called per request (the endpoint list) is synchronous and cheap; anything
 * slow (lookups, watches) happens once per connection or in the background.
 */
import type { RetryBudgetConfig } from '../core/retry-budget.js';
import type { FailureAccrualConfig } from '../core/failure-accrual.js';
import type { OriginateTls } from './backend-tls.js';

export interface ServicePort {
  readonly namespace: string;
  readonly name: string;
  readonly port: number;
  /** The Service's retry budget (XBackendTrafficPolicy); absent: the default. Not part of its identity. */
  readonly retryBudget?: RetryBudgetConfig | undefined;
  /** The Service's circuit breaking; absent: off. Not part of its identity. */
  readonly failureAccrual?: FailureAccrualConfig | undefined;
  /** An ExternalName Service's DNS name: its endpoints are the name's addresses (proxy/external-name.ts). */
  readonly externalName?: string | undefined;
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
  /** The Service port's appProtocol as the controller hints it (absent: detect); a gateway picks the HTTP version to the backend by it. */
  readonly protocol?: ProtocolHint;
  /** The local address to connect from (the inbound side's connections to its app). */
  readonly source?: string;
  /** TLS to originate to a backend outside the mesh (the gateway's BackendTLSPolicy); never with `meshed`. */
  readonly tls?: OriginateTls;
  /** originateKey(tls): part of the endpoint's pooling key. */
  readonly tlsKey?: string;
}

export interface Endpoints {
  /**
   * Watches the ready endpoints of a Service port: `onUpdate` is called with the full set, at once if
   * known, then on every change. Returns the function that stops the watch.
   */
  watch(service: ServicePort, onUpdate: (endpoints: readonly Endpoint[]) => void): () => void;
  /** Why a watched Service port has no endpoint, when that is a failure (an ExternalName that does not resolve). */
  failure?(service: ServicePort): string | undefined;
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

/** Whether each source of state has delivered at least once (the admin /ready answer). */
export interface ReadinessSource {
  isReady(): boolean;
}
