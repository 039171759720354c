/**
 * GatewayPolicy.Watch: streams one Gateway's view (core/gateway/view.ts: its valid listeners and the
 * routes attached to them, compiled as for the mesh) to that Gateway's proxy (`weft gateway`).
 *
 *   index watch event of a gateway input kind -> one debounced recomputation of every Gateway's view
 *   (the status writer's decision, computeIndexGateways) -> subscribers of a Gateway whose view changed
 *   are offered a snapshot; SnapshotStream skips a snapshot equal to the last one sent.
 *
 * Access: the caller's verified certificate must be the Gateway's own ServiceAccount,
 * `spiffe://<td>/ns/<gateway namespace>/sa/<gatewayWorkloadName(gateway)>` (PERMISSION_DENIED
 * otherwise), the identity the CA issues to the gateway pods the controller deploys.
 *
 * Every replica serves it (not only the status leader): the views come from the index each replica
 * keeps. A Gateway that does not exist, or is not of an accepted Weft class, is a valid snapshot with
 * `served: false`: the proxy then serves nothing, and the stream stays open.
 */
import { status } from '@grpc/grpc-js';
import type { ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { GatewayView as GatewayViewMsg, type BackendTls, type GatewayTarget } from '../../api/gen/weft/gateway/v1/gateway.js';
import { decisionPolicyKey, type BackendTlsDecision } from '../../core/gateway/backend-tls.js';
import { gatewayWorkloadName } from '../../core/gateway/render.js';
import type { GatewayView } from '../../core/gateway/view.js';
import type { PolicyIndex } from '../index/index.js';
import type { ResourceKind } from '../index/kinds.js';
import { computeIndexGateways, GATEWAY_INPUT_KINDS } from '../status/gateway-writer.js';
import { backend, grpcRoute, httpRoute, sortRoutes, type ConvertOptions } from './convert.js';
import type { StreamMetrics } from './metrics.js';
import { peerIdentity } from './peer.js';
import { SnapshotStream, type Snapshot } from './snapshot-stream.js';

type Body = Omit<GatewayViewMsg, 'version' | 'generatedAt'>;

export interface GatewayServiceDeps {
  readonly index: PolicyIndex;
  readonly trustDomain: string;
  readonly convert: ConvertOptions;
  readonly metrics: StreamMetrics;
  readonly log: Logger;
  /** Debounce between a watch event and the recomputation (default 100 ms). */
  readonly delayMs?: number;
}

/**
 * The wire form of a Gateway's view; `served: false` without one. HTTPRoutes are sent for HTTP and
 * HTTPS listeners, TLSRoutes for TLS ones; an HTTPS listener carries its certificates' PEM (private keys included: the stream
 * goes only to the Gateway's own identity).
 */
export function gatewayViewMessage(target: { namespace: string; name: string }, view: GatewayView | undefined, convert: ConvertOptions): Body {
  if (view === undefined) return { namespace: target.namespace, name: target.name, served: false, ports: [], backendTls: [] };
  return {
    namespace: view.namespace,
    name: view.name,
    served: true,
    ports: view.ports.map((p) => ({
      port: p.port,
      listeners: p.listeners.map((l) => ({
        name: l.name,
        protocol: l.protocol,
        hostname: l.hostname,
        certificates: l.certificates.map((c) => ({ certChainPem: c.certPem, keyPem: c.keyPem })),
        tlsRoutes: l.tlsRoutes.map((r) => ({
          namespace: r.namespace, name: r.name, hostnames: [...r.hostnames], hostnameOrigins: [...(r.origins ?? [])],
          backends: r.backends.map((b) => ({ backend: backend(b.target, convert), weight: b.weight, filters: [] })),
        })),
        hosts: l.hosts.map((h) => ({
          hostname: h.hostname,
          httpRoutes: sortRoutes(h.routes.filter((r) => r.kind === 'http')).map((r) => httpRoute(r, convert)),
          grpcRoutes: sortRoutes(h.routes.filter((r) => r.kind === 'grpc')).map((r) => grpcRoute(r, convert)),
        })),
      })),
    })),
    backendTls: [...(view.backendTls ?? [])].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, d]) => backendTlsMessage(key, d)),
    ...(view.backendClientCertificate !== undefined ? { backendClientCertificate: { certChainPem: view.backendClientCertificate.certPem, keyPem: view.backendClientCertificate.keyPem } } : {}),
  };
}

/** One Service port's BackendTLSPolicy decision on the wire (key: backendPortKey). */
function backendTlsMessage(key: string, d: BackendTlsDecision): BackendTls {
  const [namespace = '', name = '', port = '0'] = key.split('/');
  const base = { namespace, name, port: Number(port), policy: decisionPolicyKey(d) };
  if (!d.ok) return { ...base, hostname: '', caPem: '', systemCa: false, subjectAltNames: [], invalid: d.message };
  const c = d.config;
  return {
    ...base, hostname: c.hostname, caPem: c.ca.kind === 'pem' ? c.ca.pem : '', systemCa: c.ca.kind === 'system',
    subjectAltNames: c.subjectAltNames.map((s) => ({ type: s.type, value: s.value })), invalid: '',
  };
}

export class GatewayViewService {
  private views = new Map<string, GatewayView>();
  private readonly subscribers = new Map<string, Set<(since: number) => void>>();
  private readonly cache = new WeakMap<GatewayView, Snapshot<Body>>();
  private timer: NodeJS.Timeout | undefined;
  private pendingSince: number | undefined;
  private stopped = false;

  constructor(private readonly deps: GatewayServiceDeps) {}

  /** A watch event: recompute (debounced) when the kind is one the views read. */
  changed(kind: ResourceKind): void {
    if (!GATEWAY_INPUT_KINDS.has(kind) || this.stopped) return;
    this.pendingSince ??= performance.now();
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.recompute();
    }, this.deps.delayMs ?? 100);
    this.timer.unref();
  }

  /** Recomputes every view now and offers a snapshot to the subscribers of each view that changed. */
  recompute(): void {
    const since = this.pendingSince ?? performance.now();
    this.pendingSince = undefined;
    let next: Map<string, GatewayView>;
    try {
      next = new Map(computeIndexGateways(this.deps.index, () => ({ ready: false })).views);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'computing gateway views failed; keeping the last ones');
      return;
    }
    this.views = next;
    for (const subs of this.subscribers.values()) for (const s of subs) s(since);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  view(namespace: string, name: string): GatewayView | undefined {
    return this.views.get(`${namespace}/${name}`);
  }

  private refuse(call: ServerWritableStream<unknown, unknown>, code: status, message: string): void {
    this.deps.metrics.refusals.inc({ service: 'gateway', code: status[code] });
    this.deps.log.info({ service: 'gateway', code: status[code], reason: message }, 'stream refused');
    call.emit('error', { code, details: message });
  }

  handlers(): UntypedServiceImplementation {
    return {
      watch: (call: ServerWritableStream<GatewayTarget, GatewayViewMsg>) => {
        const t = call.request;
        const peer = peerIdentity(call, this.deps.trustDomain);
        if (!peer.ok) return this.refuse(call, peer.code, peer.message);
        if (t.namespace === '' || t.name === '') return this.refuse(call, status.INVALID_ARGUMENT, 'the target must name a Gateway (namespace and name)');
        const sa = gatewayWorkloadName(t.name);
        if (peer.identity.namespace !== t.namespace || peer.identity.serviceAccount !== sa) {
          return this.refuse(call, status.PERMISSION_DENIED,
            `only ServiceAccount ${t.namespace}/${sa} may watch Gateway ${t.namespace}/${t.name}; the certificate is for ${peer.identity.namespace}/${peer.identity.serviceAccount}`);
        }
        const key = `${t.namespace}/${t.name}`;
        const { metrics } = this.deps;
        metrics.subscribers.inc({ service: 'gateway' });
        let closed = false;
        const unserved: Snapshot<Body> = (() => {
          const body = gatewayViewMessage(t, undefined, this.deps.convert);
          return { body, bytes: GatewayViewMsg.encode({ ...body, version: 0 }).finish() };
        })();
        const stream = new SnapshotStream<Body, GatewayViewMsg>({
          service: 'gateway',
          call,
          compute: () => {
            const view = this.views.get(key);
            if (view === undefined) return unserved;
            let hit = this.cache.get(view);
            if (hit === undefined) {
              const body = gatewayViewMessage(t, view, this.deps.convert);
              hit = { body, bytes: GatewayViewMsg.encode({ ...body, version: 0 }).finish() };
              this.cache.set(view, hit);
            }
            return hit;
          },
          message: (body, version, generatedAt) => ({ ...body, version, generatedAt }),
          metrics,
          onEnd: () => {
            if (closed) return;
            closed = true;
            const subs = this.subscribers.get(key);
            subs?.delete(offer);
            if (subs?.size === 0) this.subscribers.delete(key);
            metrics.subscribers.dec({ service: 'gateway' });
          },
        });
        const offer = (since: number) => stream.offer(since);
        if (!closed) {
          const subs = this.subscribers.get(key) ?? new Set();
          subs.add(offer);
          this.subscribers.set(key, subs);
        }
        stream.offer();
      },
    };
  }
}
