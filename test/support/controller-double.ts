/**
 * A controller double speaking the real api/ contracts over TLS (Identity.Certify, OutboundPolicy.Watch,
 * Discovery.Watch), for proxy tests that run the real control-plane adapter. It answers each outbound
 * lookup with `describe(ip, port)` and each discovery watch with `endpointsOf(service)`, and counts the
 * watch streams open now, so a test can see the proxy end them.
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
): Promise<ControllerDouble> {
  const open = { outbound: 0, discovery: 0 };
  const lookups = { count: 0 };
  const track = (which: 'outbound' | 'discovery', call: grpc.ServerWritableStream<unknown, unknown>): void => {
    open[which]++;
    let done = false;
    const end = (): void => {
      if (done) return;
      done = true;
      open[which]--;
    };
    call.on('cancelled', end);
    call.on('close', end);
    call.on('error', end);
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
  server.addService(OutboundPolicyService, {
    watch: (call: grpc.ServerWritableStream<OutboundTarget, DestinationPolicy>) => {
      lookups.count++;
      track('outbound', call as grpc.ServerWritableStream<unknown, unknown>);
      const d = describe(call.request.ip, call.request.port);
      if (d.kind === 'service') {
        call.write({ version: 1, destination: { $case: 'service', value: { service: { namespace: d.namespace, name: d.name, port: d.port, authority: `${d.name}.${d.namespace}.svc.cluster.local:${d.port}` }, protocol: 'PROTOCOL_HINT_UNSPECIFIED', routes: { $case: 'passthrough', value: {} } } } });
      } else if (d.kind === 'pod') {
        call.write({ version: 1, destination: { $case: 'pod', value: wireEndpoint(call.request.ip, call.request.port, d.name) } });
      } else if (d.kind === 'unknown') {
        call.write({ version: 1, destination: { $case: 'unknown', value: {} } });
      }
    },
  });
  server.addService(DiscoveryService, {
    watch: (call: grpc.ServerWritableStream<ServicePortTarget, WireEndpoints>) => {
      track('discovery', call as grpc.ServerWritableStream<unknown, unknown>);
      call.write({ version: 1, serviceExists: true, endpoints: endpointsOf(call.request) });
    },
    lookup: (_call: unknown, cb: grpc.sendUnaryData<never>) => cb({ code: grpc.status.UNIMPLEMENTED }),
  });
  const ctl = await pki.serving(controllerSpiffeId('cluster.local'), ['weft-controller.weft-system.svc']);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0',
    grpc.ServerCredentials.createSsl(Buffer.from(pki.anchorsPem), [{ private_key: Buffer.from(ctl.keyPem), cert_chain: Buffer.from(ctl.certChainPem) }], false),
    (e, p) => (e ? reject(e) : resolve(p))));
  return { port, open, lookups, close: () => server.forceShutdown() };
}
