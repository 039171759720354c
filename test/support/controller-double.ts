/**
 * A controller double speaking the real api/ contracts over TLS (Identity.Certify, OutboundPolicy.Watch
 * and Follow, Discovery.Watch and Follow), for proxy tests that run the real control-plane adapter. It
 * answers each outbound lookup with `describe(ip, port)` and each discovery watch with
 * `endpointsOf(service)`, counts the streams open now, so a test can see the proxy end them, and counts
 * how each ended (cleanly, as a Follow the proxy half-closed, or by a reset). Without `follow` it serves
 * only Watch, as a controller older than the proxy does.
 */
import * as grpc from '@grpc/grpc-js';
import { DiscoveryService } from '../../api/gen/weft/discovery/v1/discovery.js';
import type { Endpoint as WireEndpoint, Endpoints as WireEndpoints, ServicePortTarget } from '../../api/gen/weft/discovery/v1/discovery.js';
import { IdentityService } from '../../api/gen/weft/identity/v1/identity.js';
import type { CertifyRequest, CertifyResponse } from '../../api/gen/weft/identity/v1/identity.js';
import { OutboundPolicyService } from '../../api/gen/weft/outbound/v1/outbound.js';
import type { DestinationPolicy, OutboundTarget } from '../../api/gen/weft/outbound/v1/outbound.js';
import { controllerSpiffeId } from '../../identity/spiffe.js';
import type { TestPki } from './proxy-fixtures.js';

export type Described =
  | { readonly kind: 'unknown' }
  | { readonly kind: 'service'; readonly namespace: string; readonly name: string; readonly port: number }
  | { readonly kind: 'pod'; readonly namespace: string; readonly name: string }
  /** The stream is held open and never answered (a stalled controller). */
  | { readonly kind: 'silent' };

export interface ControllerDouble {
  readonly port: number;
  /** Outbound policy and discovery watch streams open now. */
  readonly open: { outbound: number; discovery: number };
  /** Every outbound lookup ever opened. */
  readonly lookups: { count: number };
  /** How streams ended: cleanly (a Follow the client half-closed), or reset (a cancel, a GOAWAY). */
  readonly ended: { clean: number; reset: number };
  close(): void;
}

export const DOUBLE_TOKEN = 'the-token';

export function wireEndpoint(ip: string, port: number, name: string): WireEndpoint {
  return { ip, port, ready: true, serving: true, terminating: false, podNamespace: 'demo', podName: name, zone: '', node: '', meshed: false, identity: '', protocol: 'PROTOCOL_HINT_UNSPECIFIED' };
}

export async function startControllerDouble(
  pki: TestPki,
  describe: (ip: string, port: number) => Described,
  endpointsOf: (service: ServicePortTarget) => WireEndpoint[],
  o: { readonly follow?: boolean } = {},
): Promise<ControllerDouble> {
  const open = { outbound: 0, discovery: 0 };
  const lookups = { count: 0 };
  const ended = { clean: 0, reset: 0 };
  type Call = grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>;
  const track = (which: 'outbound' | 'discovery', call: Call): void => {
    open[which]++;
    let done = false;
    const end = (): void => {
      if (done) return;
      done = true;
      open[which]--;
    };
    // grpc-js reports every stream's close as 'cancelled' (and ends a reset stream's reading side as
    // if half-closed); the HTTP/2 stream's RST_STREAM code, read from grpc-js's call internals, tells
    // a stream closed cleanly (0) from one the client reset or a GOAWAY tore down.
    call.on('cancelled', () => {
      const rst = (call as unknown as { call?: { stream?: { rstCode?: number } } }).call?.stream?.rstCode;
      if (rst === 0) ended.clean++;
      else ended.reset++;
      end();
    });
    call.on('close', end);
    call.on('error', end);
  };
  /** A Follow: the first message is the target; the client's half-close ends the stream with OK. */
  const following = <T>(serve: (call: Call, target: T) => void) => (call: grpc.ServerDuplexStream<T, unknown>): void => {
    let first = true;
    call.on('data', (m: T) => {
      if (!first) return;
      first = false;
      serve(call as Call, m);
    });
    call.on('end', () => call.end());
  };
  const server = new grpc.Server();
  server.addService(IdentityService, {
    certify: (call: grpc.ServerUnaryCall<CertifyRequest, CertifyResponse>, cb: grpc.sendUnaryData<CertifyResponse>) => {
      if (call.request.token !== DOUBLE_TOKEN) {
        cb({ code: grpc.status.UNAUTHENTICATED, details: 'bad token' });
        return;
      }
      const s = pki.signCsr(call.request.csrPem, call.request.identity);
      cb(null, { leafPem: s.leafPem, chainPem: s.chainPem, validUntil: s.notAfter });
    },
  });
  const outbound = (call: Call, target: OutboundTarget): void => {
    lookups.count++;
    track('outbound', call);
    const d = describe(target.ip, target.port);
    if (d.kind === 'service') {
      call.write({ version: 1, destination: { $case: 'service', value: { service: { namespace: d.namespace, name: d.name, port: d.port, authority: `${d.name}.${d.namespace}.svc.cluster.local:${d.port}` }, protocol: 'PROTOCOL_HINT_UNSPECIFIED', routes: { $case: 'passthrough', value: {} } } } } satisfies DestinationPolicy);
    } else if (d.kind === 'pod') {
      call.write({ version: 1, destination: { $case: 'pod', value: wireEndpoint(target.ip, target.port, d.name) } } satisfies DestinationPolicy);
    } else if (d.kind === 'unknown') {
      call.write({ version: 1, destination: { $case: 'unknown', value: {} } } satisfies DestinationPolicy);
    }
  };
  const discovery = (call: Call, target: ServicePortTarget): void => {
    track('discovery', call);
    call.write({ version: 1, serviceExists: true, endpoints: endpointsOf(target) } satisfies WireEndpoints);
  };
  const withFollow = o.follow ?? true;
  server.addService(OutboundPolicyService, {
    watch: (call: grpc.ServerWritableStream<OutboundTarget, DestinationPolicy>) => outbound(call as Call, call.request),
    ...(withFollow ? { follow: following<OutboundTarget>(outbound) } : {}),
  });
  server.addService(DiscoveryService, {
    watch: (call: grpc.ServerWritableStream<ServicePortTarget, WireEndpoints>) => discovery(call as Call, call.request),
    ...(withFollow ? { follow: following<ServicePortTarget>(discovery) } : {}),
    lookup: (_call: unknown, cb: grpc.sendUnaryData<never>) => cb({ code: grpc.status.UNIMPLEMENTED }),
  });
  const ctl = await pki.serving(controllerSpiffeId('cluster.local'), ['weft-controller.weft-system.svc']);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0',
    grpc.ServerCredentials.createSsl(Buffer.from(pki.anchorsPem), [{ private_key: Buffer.from(ctl.keyPem), cert_chain: Buffer.from(ctl.certChainPem) }], false),
    (e, p) => (e ? reject(e) : resolve(p))));
  return { port, open, lookups, ended, close: () => server.forceShutdown() };
}
