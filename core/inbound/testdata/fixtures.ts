/**
 * Fixture builders for inbound policy tests: hand-built plain objects, no cluster. Used by the
 * tests beside it and by core/security-cases.test.ts.
 */
import assert from 'node:assert/strict';
import { CONFIG_ANNOTATIONS, POLICY_API_GROUP, GATEWAY_API_GROUP } from '../../contract.js';
import { EMPTY_SNAPSHOT, type ClusterSnapshot, type Container, type HTTPRoute, type HTTPRouteRule, type Namespace, type Pod } from '../../kube.js';
import type {
  AuthenticationRef,
  AuthorizationPolicy,
  MeshTLSAuthenticationSpec,
  MeshTLSAuthentication,
  NetworkAuthentication,
  Network,
  PolicyTargetRef,
  Server,
  ServerSpec,
} from '../../kube-policy.js';
import { makeRequestInfo, type RequestInfo } from '../../request.js';
import { authorizeInbound, type InboundDecision } from '../authorize.js';
import { compileInboundPolicy, type InboundCompileOptions } from '../compile.js';
import type { InboundPortPolicy } from '../types.js';

export const NS = 'shop';
export const NODE_IP = '192.168.50.10';
export const TD = 'cluster.local';
export const sid = (ns: string, sa: string): string => `spiffe://${TD}/ns/${ns}/sa/${sa}`;

let clock = Date.parse('2026-01-01T00:00:00Z');
/** Monotonic creation timestamps, so "older" is the order objects were built in unless given. */
function ts(at?: string): string {
  if (at !== undefined) return at;
  clock += 1000;
  return new Date(clock).toISOString();
}

export function namespace(name: string, annotations: Record<string, string> = {}): Namespace {
  return { metadata: { name, annotations } };
}

export function defaultPolicyAnnotation(value: string): Record<string, string> {
  return { [CONFIG_ANNOTATIONS.defaultInboundPolicy]: value };
}

export function pod(
  name: string,
  opts: { ns?: string; labels?: Record<string, string>; annotations?: Record<string, string>; containers?: Container[] } = {},
): Pod {
  return {
    metadata: { name, namespace: opts.ns ?? NS, labels: opts.labels ?? { app: 'api' }, annotations: opts.annotations ?? {} },
    spec: {
      containers: opts.containers ?? [
        {
          name: 'app',
          ports: [{ name: 'http', containerPort: 8080 }, { name: 'admin', containerPort: 9000 }],
          livenessProbe: { httpGet: { path: '/healthz', port: 'http' } },
          readinessProbe: { httpGet: { path: '/ready', port: 8080 } },
        },
      ],
    },
    status: { podIP: '10.1.0.5', hostIP: NODE_IP, hostIPs: [{ ip: NODE_IP }] },
  };
}

export function server(name: string, spec: Partial<ServerSpec> & Record<string, unknown> = {}, created?: string, ns = NS): Server {
  return {
    apiVersion: `${POLICY_API_GROUP}/v1alpha1`,
    kind: 'Server',
    metadata: { name, namespace: ns, creationTimestamp: ts(created) },
    spec: { podSelector: { matchLabels: { app: 'api' } }, port: 8080, ...spec },
  };
}

export const toServer = (name: string): PolicyTargetRef => ({ group: POLICY_API_GROUP, kind: 'Server', name });
export const toHttpRoute = (name: string): PolicyTargetRef => ({ group: GATEWAY_API_GROUP, kind: 'HTTPRoute', name });
export const toNamespace = (name: string): PolicyTargetRef => ({ group: '', kind: 'Namespace', name });
export const mtlsRef = (name: string, namespace?: string): AuthenticationRef => ({
  group: POLICY_API_GROUP,
  kind: 'MeshTLSAuthentication',
  name,
  ...(namespace !== undefined ? { namespace } : {}),
});
export const netRef = (name: string): AuthenticationRef => ({ group: POLICY_API_GROUP, kind: 'NetworkAuthentication', name });
export const saRef = (name: string, namespace?: string): AuthenticationRef => ({
  kind: 'ServiceAccount',
  name,
  ...(namespace !== undefined ? { namespace } : {}),
});

export function authz(
  name: string,
  targetRef: PolicyTargetRef,
  refs: AuthenticationRef[],
  ns = NS,
  extra: Record<string, unknown> = {},
): AuthorizationPolicy {
  return { metadata: { name, namespace: ns }, spec: { targetRef, requiredAuthenticationRefs: refs, ...extra } };
}

export function mtls(name: string, spec: MeshTLSAuthenticationSpec, ns = NS): MeshTLSAuthentication {
  return { metadata: { name, namespace: ns }, spec };
}

export function netauthn(name: string, networks: Network[], ns = NS): NetworkAuthentication {
  return { metadata: { name, namespace: ns }, spec: { networks } };
}

export function serverRoute(name: string, serverName: string, rules: HTTPRouteRule[], created?: string, ns = NS): HTTPRoute {
  return {
    metadata: { name, namespace: ns, creationTimestamp: ts(created) },
    spec: { parentRefs: [{ group: POLICY_API_GROUP, kind: 'Server', name: serverName }], rules },
  };
}

export function snapshot(parts: Partial<ClusterSnapshot>): ClusterSnapshot {
  return { ...EMPTY_SNAPSHOT, namespaces: [namespace(NS)], pods: [pod('api-0')], ...parts };
}

export function request(method: string, target: string, headers: Record<string, string> = {}): RequestInfo {
  const r = makeRequestInfo({ method, target, headers: { host: 'api.shop.svc.cluster.local', ...headers } });
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.request;
}

export function policyFor(
  snap: ClusterSnapshot,
  port = 8080,
  options: InboundCompileOptions = {},
  podName = 'api-0',
  ns = NS,
): InboundPortPolicy {
  const p = compileInboundPolicy(snap, { namespace: ns, name: podName }, port, options);
  assert.ok(p !== undefined, `pod ${ns}/${podName} not in snapshot`);
  return p;
}

export interface Client {
  readonly id?: string;
  readonly ip?: string;
  readonly tls?: boolean;
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Record<string, string>;
}

/** Compiles the port and decides one request. */
export function decide(
  snap: ClusterSnapshot,
  client: Client,
  opts: { port?: number; options?: InboundCompileOptions; pod?: string; ns?: string } = {},
): InboundDecision {
  const policy = policyFor(snap, opts.port ?? 8080, opts.options ?? {}, opts.pod ?? 'api-0', opts.ns ?? NS);
  return authorizeInbound(policy, {
    ...(client.id !== undefined ? { clientIdentity: client.id } : {}),
    tls: client.tls ?? client.id !== undefined,
    clientIp: client.ip ?? '10.2.0.7',
    req: request(client.method ?? 'GET', client.path ?? '/api', client.headers ?? {}),
  });
}
