/**
 * The policy (InboundPolicy, OutboundPolicy) and discovery (Discovery) gRPC services: each Watch
 * authenticates the caller, subscribes to one index view and streams full snapshots.
 *
 * Access rules:
 * - Every call needs a verified client certificate from the mesh (UNAUTHENTICATED otherwise).
 * - Policy streams name the caller's pod: that pod must run as the certificate's ServiceAccount
 *   in the certificate's namespace (PERMISSION_DENIED otherwise; NOT_FOUND while the pod is
 *   unknown). The check is repeated on every snapshot, so a pod replaced under another
 *   ServiceAccount ends the stream.
 * - Discovery targets name a Service, not a pod: any workload of the mesh may watch endpoints
 *   (its own outbound policy sent it there), so the certificate alone is checked.
 *
 * Watch and Follow: OutboundPolicy and Discovery serve each target two ways. Watch (the target as the
 * request, a server stream) ends when the client cancels; Follow (a bidirectional stream: the target
 * as its one message) also ends when the client half-closes. Proxies use Follow: they forget
 * destinations faster than an HTTP/2 server accepts resets (Node.js's sends GOAWAY past a burst of
 * 1,000 and then 33 a second), which would drop every stream of that proxy's connection.
 *
 * Sharing: the conversion to wire messages is memoised per view object, and the index shares one
 * view object between all subscribers of a key, so N subscribers of one view cost one conversion.
 */
import { status } from '@grpc/grpc-js';
import type { sendUnaryData, ServerDuplexStream, ServerUnaryCall, ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { Endpoints as EndpointsMsg, type EndpointAddress, type LookupResponse, type ServicePortTarget } from '../../api/gen/weft/discovery/v1/discovery.js';
import { PortPolicy, type InboundTarget } from '../../api/gen/weft/inbound/v1/inbound.js';
import { DestinationPolicy, type OutboundTarget } from '../../api/gen/weft/outbound/v1/outbound.js';
import type { PolicyIndex } from '../index/index.js';
import type { ViewKey } from '../index/views.js';
import { destinationPolicy, endpoint, endpoints, portPolicy, type ConvertOptions } from './convert.js';
import type { StreamMetrics, StreamService } from './metrics.js';
import { peerIdentity, type PeerResult } from './peer.js';
import { SnapshotStream, type ServerStream, type Snapshot } from './snapshot-stream.js';

/** How long a Follow may stay open before its target arrives. */
export const FOLLOW_TARGET_MS = 10_000;

export interface ServiceDeps {
  readonly index: PolicyIndex;
  readonly trustDomain: string;
  readonly convert: ConvertOptions;
  readonly metrics: StreamMetrics;
  readonly log: Logger;
}

type Denial = { readonly end: status; readonly message: string };

function podAccess(index: PolicyIndex, peer: Extract<PeerResult, { ok: true }>, ns: string, pod: string): Denial | undefined {
  const who = `${peer.identity.namespace}/${peer.identity.serviceAccount}`;
  if (ns === '' || pod === '') return { end: status.INVALID_ARGUMENT, message: 'the target must name the caller\'s pod (namespace and pod)' };
  if (peer.identity.namespace !== ns) {
    return { end: status.PERMISSION_DENIED, message: `the certificate is for ServiceAccount ${who}; pod ${ns}/${pod} is in another namespace` };
  }
  const sa = index.podServiceAccount(ns, pod);
  if (sa === undefined) return { end: status.NOT_FOUND, message: `pod ${ns}/${pod} is not known to the controller (yet); retry` };
  if (sa !== peer.identity.serviceAccount) {
    return { end: status.PERMISSION_DENIED, message: `pod ${ns}/${pod} runs as ServiceAccount ${sa}, not as ${who} of the certificate` };
  }
  return undefined;
}

function memo<V extends object, B>(cache: WeakMap<V, Snapshot<B>>, view: V, make: () => Snapshot<B>): Snapshot<B> {
  let hit = cache.get(view);
  if (hit === undefined) {
    hit = make();
    cache.set(view, hit);
  }
  return hit;
}

export class PolicyServices {
  private readonly inboundCache = new WeakMap<object, Snapshot<Omit<PortPolicy, 'version' | 'generatedAt'>>>();
  private readonly outboundCache = new WeakMap<object, Snapshot<Omit<DestinationPolicy, 'version' | 'generatedAt'>>>();
  private readonly endpointsCache = new WeakMap<object, Snapshot<Omit<EndpointsMsg, 'version' | 'generatedAt'>>>();

  constructor(private readonly deps: ServiceDeps) {}

  private refuse(service: StreamService, call: ServerStream<unknown>, d: Denial): void {
    this.deps.metrics.refusals.inc({ service, code: status[d.end] });
    this.deps.log.info({ service, code: status[d.end], reason: d.message }, 'stream refused');
    call.emit('error', { code: d.end, details: d.message });
  }

  private open<B, M>(
    service: StreamService,
    call: ServerStream<M>,
    key: ViewKey,
    compute: () => Snapshot<B>,
    message: (body: B, version: number, generatedAt: Date) => M,
  ): void {
    const { index, metrics } = this.deps;
    metrics.subscribers.inc({ service });
    let closed = false;
    const holder: { sub?: { close(): void } } = {};
    const stream = new SnapshotStream<B, M>({
      service,
      call,
      compute,
      message,
      metrics,
      onEnd: () => {
        if (closed) return;
        closed = true;
        holder.sub?.close();
        metrics.subscribers.dec({ service });
      },
    });
    holder.sub = index.subscribe(key, (since) => stream.offer(since));
    if (closed) holder.sub.close();
    stream.offer();
  }

  private authenticate(service: StreamService, call: ServerStream<unknown>): Extract<PeerResult, { ok: true }> | undefined {
    const peer = peerIdentity(call, this.deps.trustDomain);
    if (!peer.ok) {
      this.refuse(service, call, { end: peer.code, message: peer.message });
      return undefined;
    }
    return peer;
  }

  /**
   * A Follow: its first message is the target, served as a Watch of it would be; the client's
   * half-close then ends it with OK (SnapshotStream). A second target, or none in time, is refused.
   */
  private follow<T>(service: StreamService, call: ServerDuplexStream<T, unknown>, serve: (call: ServerStream<unknown>, target: T) => void): void {
    let target: T | undefined;
    const timer = setTimeout(() => this.refuse(service, call, { end: status.INVALID_ARGUMENT, message: `no target within ${FOLLOW_TARGET_MS / 1000} s of opening the stream` }), FOLLOW_TARGET_MS);
    const stop = (): void => clearTimeout(timer);
    call.on('close', stop);
    call.on('error', stop);
    call.on('cancelled', stop);
    call.on('end', () => {
      stop();
      if (target === undefined && !call.writableEnded) call.end();
    });
    call.on('data', (m: T) => {
      if (target !== undefined) {
        this.refuse(service, call, { end: status.INVALID_ARGUMENT, message: 'one target per stream; open another stream for another target' });
        return;
      }
      stop();
      target = m;
      serve(call, m);
    });
  }

  inboundHandlers(): UntypedServiceImplementation {
    return {
      watch: (call: ServerWritableStream<InboundTarget, PortPolicy>) => {
        const t = call.request;
        const peer = this.authenticate('inbound', call);
        if (peer === undefined) return;
        const denied = podAccess(this.deps.index, peer, t.namespace, t.pod);
        if (denied !== undefined) return this.refuse('inbound', call, denied);
        const key = { kind: 'inbound', namespace: t.namespace, pod: t.pod, port: t.port } as const;
        this.open(
          'inbound',
          call,
          key,
          () => {
            const again = podAccess(this.deps.index, peer, t.namespace, t.pod);
            if (again !== undefined) return again;
            const view = this.deps.index.view(key);
            if (view === undefined) return { end: status.NOT_FOUND, message: `pod ${t.namespace}/${t.pod} no longer exists` };
            return memo(this.inboundCache, view, () => {
              const body = portPolicy(view, this.deps.convert);
              return { body, bytes: PortPolicy.encode({ ...body, version: 0 }).finish() };
            });
          },
          (body, version, generatedAt) => ({ ...body, version, generatedAt }),
        );
      },
    };
  }

  private outbound(call: ServerStream<unknown>, t: OutboundTarget): void {
    const peer = this.authenticate('outbound', call);
    if (peer === undefined) return;
    const denied = podAccess(this.deps.index, peer, t.namespace, t.pod);
    if (denied !== undefined) return this.refuse('outbound', call, denied);
    const key = { kind: 'destination', clientNamespace: t.namespace, ip: t.ip, port: t.port } as const;
    this.open(
      'outbound',
      call as ServerStream<DestinationPolicy>,
      key,
      () => {
        const again = podAccess(this.deps.index, peer, t.namespace, t.pod);
        if (again !== undefined) return again;
        const view = this.deps.index.view(key);
        return memo(this.outboundCache, view, () => {
          const body = destinationPolicy(view, this.deps.convert);
          return { body, bytes: DestinationPolicy.encode({ ...body, version: 0 }).finish() };
        });
      },
      (body, version, generatedAt) => ({ ...body, version, generatedAt }),
    );
  }

  outboundHandlers(): UntypedServiceImplementation {
    return {
      watch: (call: ServerWritableStream<OutboundTarget, DestinationPolicy>) => this.outbound(call as ServerStream<unknown>, call.request),
      follow: (call: ServerDuplexStream<OutboundTarget, DestinationPolicy>) => this.follow('outbound', call, (c, t) => this.outbound(c, t)),
    };
  }

  private discovery(call: ServerStream<unknown>, t: ServicePortTarget): void {
    if (this.authenticate('discovery', call) === undefined) return;
    const key = { kind: 'endpoints', namespace: t.namespace, name: t.name, port: t.port } as const;
    this.open(
      'discovery',
      call as ServerStream<EndpointsMsg>,
      key,
      () => {
        const view = this.deps.index.view(key);
        return memo(this.endpointsCache, view, () => {
          const body = endpoints(view);
          return { body, bytes: EndpointsMsg.encode({ ...body, version: 0 }).finish() };
        });
      },
      (body, version, generatedAt) => ({ ...body, version, generatedAt }),
    );
  }

  discoveryHandlers(): UntypedServiceImplementation {
    return {
      watch: (call: ServerWritableStream<ServicePortTarget, EndpointsMsg>) => this.discovery(call as ServerStream<unknown>, call.request),
      follow: (call: ServerDuplexStream<ServicePortTarget, EndpointsMsg>) => this.follow('discovery', call, (c, t) => this.discovery(c, t)),
      lookup: (call: ServerUnaryCall<EndpointAddress, LookupResponse>, callback: sendUnaryData<LookupResponse>) => {
        const peer = peerIdentity(call, this.deps.trustDomain);
        if (!peer.ok) {
          this.deps.metrics.refusals.inc({ service: 'discovery', code: status[peer.code] });
          callback({ code: peer.code, details: peer.message });
          return;
        }
        const ep = this.deps.index.lookup(call.request.ip, call.request.port);
        callback(null, { result: ep === undefined ? { $case: 'notFound', value: {} } : { $case: 'endpoint', value: endpoint(ep) } });
      },
    };
  }
}
