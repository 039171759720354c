/**
 * Gateway API v1.6.1 mesh conformance, checked at the core level: every request case transcribed in
 * ../shared/gateway-api/v1.6.1/conformance/mesh-cases.yaml (81 cases in 22 tests) runs through the
 * outbound compiler and `routeOutbound`, against a ClusterSnapshot built from the upstream
 * manifests with deterministic ClusterIPs, pod IPs and EndpointSlices.
 *
 * What a case checks: the backend pod (name prefix), status, request headers the backend sees
 * (values joined by ','), response headers, redirect Location and the path at the backend, which
 * upstream's mesh harness does not check. Weight cases check the distribution of 5,000 seeded
 * draws against the expected fractions within the upstream tolerance (0.05).
 *
 * The "network" here is a model: a destination is a Service ClusterIP:port (routed) or a pod
 * IP:port (not routed); the echo backend answers 200 and reflects request headers.
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse } from 'yaml';
import type {
  ClusterSnapshot,
  EndpointSlice,
  GRPCRoute,
  HTTPRoute,
  KubeObject,
  Namespace,
  Pod,
  Service,
} from './kube.js';
import { EMPTY_SNAPSHOT, SERVICE_NAME_LABEL } from './kube.js';
import { makeRequestInfo } from './request.js';
import { indexSnapshot, outboundView, type OutboundIndex } from './outbound/policy.js';
import { routeOutbound } from './outbound/route.js';
import { answerFor } from './reasons.js';
import { applyHeaderOps } from './routes/filters.js';
import type { ServiceTarget } from './routes/types.js';

// --- locating the upstream data -------------------------------------------------------------------

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'weft') return dir;
    const up = dirname(dir);
    assert.notEqual(up, dir, 'repository root (package.json of weft) not found');
    dir = up;
  }
}

const UPSTREAM = join(repoRoot(), '..', 'shared', 'gateway-api', 'v1.6.1', 'conformance');
const EXPECTED_CASES = 81;
const EXPECTED_TESTS = 22;

interface CaseSpec {
  readonly name?: string;
  readonly client: { readonly namespace: string; readonly selector: string };
  readonly request: { readonly url: string; readonly method?: string; readonly headers?: Record<string, string> };
  readonly expect: {
    readonly status?: number;
    readonly backendPodPrefix?: string;
    readonly responseHeaders?: Record<string, string>;
    readonly responseHeadersAbsent?: readonly string[];
    readonly requestHeadersAtBackend?: Record<string, string>;
    readonly requestHeadersAbsentAtBackend?: readonly string[];
  };
  readonly notCheckedByUpstreamMeshHarness?: {
    readonly pathAtBackend?: string;
    readonly location?: string;
    readonly redirect?: { readonly path?: string; readonly host?: string; readonly port?: string; readonly scheme?: string };
  };
}

interface TestSpec {
  readonly shortName: string;
  readonly manifests: readonly string[];
  readonly cases: readonly CaseSpec[];
  readonly weightCheck?: { readonly expected: Record<string, number>; readonly tolerance: string };
}

function loadObjects(file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null && typeof o === 'object');
}

// --- a deterministic model cluster ----------------------------------------------------------------

interface Deployment extends KubeObject {
  readonly spec: {
    readonly replicas?: number;
    readonly template: { readonly metadata: { readonly labels?: Record<string, string> }; readonly spec: Pod['spec'] };
  };
}

function labelsMatch(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** Builds Namespaces, Services (ClusterIPs 10.96.0.x), Pods (10.244.0.x) and EndpointSlices. */
function modelCluster(objects: readonly KubeObject[]): ClusterSnapshot {
  const namespaces: Namespace[] = [];
  const services: Service[] = [];
  const pods: Pod[] = [];
  const endpointSlices: EndpointSlice[] = [];
  let nextPodIp = 10;
  let nextSvcIp = 10;
  for (const o of objects) {
    if (o.kind === 'Namespace') namespaces.push(o as Namespace);
    if (o.kind === 'Deployment') {
      const d = o as Deployment;
      const replicas = d.spec.replicas ?? 1;
      for (let i = 0; i < replicas; i++) {
        const ip = `10.244.0.${nextPodIp++}`;
        pods.push({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name: `${d.metadata.name}-5d8f7c9b4-${String.fromCharCode(97 + i)}x${i}`,
            namespace: d.metadata.namespace!,
            labels: d.spec.template.metadata.labels ?? {},
          },
          spec: { ...d.spec.template.spec!, serviceAccountName: 'default', nodeName: 'node-1' },
          status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: 'True' }] },
        });
      }
    }
    if (o.kind === 'Service') {
      const s = o as Service;
      const ip = `10.96.0.${nextSvcIp++}`;
      services.push({ ...s, spec: { ...s.spec, clusterIP: ip, clusterIPs: [ip] } });
    }
  }
  for (const s of services) {
    const selector = s.spec?.selector;
    if (selector === undefined) continue;
    const ns = s.metadata.namespace!;
    const selected = pods.filter((p) => p.metadata.namespace === ns && labelsMatch(selector, p.metadata.labels));
    endpointSlices.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${s.metadata.name}-abcde`, namespace: ns, labels: { [SERVICE_NAME_LABEL]: s.metadata.name } },
      addressType: 'IPv4',
      endpoints: selected.map((p) => ({
        addresses: [p.status!.podIP!],
        conditions: { ready: true, serving: true, terminating: false },
        targetRef: { kind: 'Pod', namespace: ns, name: p.metadata.name },
        nodeName: 'node-1',
      })),
      ports: (s.spec?.ports ?? []).map((p) => ({
        ...(p.name !== undefined ? { name: p.name } : {}),
        port: typeof p.targetPort === 'number' ? p.targetPort : p.port,
        protocol: 'TCP' as const,
        ...(p.appProtocol !== undefined ? { appProtocol: p.appProtocol } : {}),
      })),
    });
  }
  return { ...EMPTY_SNAPSHOT, namespaces, services, pods, endpointSlices };
}

/** Adds route manifests, stamping creationTimestamps in manifest order (older first). */
function withRoutes(base: ClusterSnapshot, objects: readonly KubeObject[]): ClusterSnapshot {
  const httpRoutes: HTTPRoute[] = [];
  const grpcRoutes: GRPCRoute[] = [];
  objects.forEach((o, i) => {
    const stamped = {
      ...o,
      metadata: { ...o.metadata, generation: 1, creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString() },
    };
    if (o.kind === 'HTTPRoute') httpRoutes.push(stamped as HTTPRoute);
    else if (o.kind === 'GRPCRoute') grpcRoutes.push(stamped as GRPCRoute);
    else assert.fail(`unexpected ${String(o.kind)} in a test manifest`);
  });
  return { ...base, httpRoutes, grpcRoutes };
}

/** Seeded PRNG (mulberry32): reproducible draws. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// --- the model client -----------------------------------------------------------------------------

type Destination =
  | { readonly kind: 'service'; readonly namespace: string; readonly name: string; readonly port: number }
  | { readonly kind: 'pod'; readonly pod: Pod; readonly port: number };

interface Outcome {
  readonly status: number;
  readonly backendPod?: string;
  readonly requestHeaders: Map<string, string[]>;
  readonly responseHeaders: Map<string, string[]>;
  readonly pathAtBackend?: string;
  readonly location?: string;
}

const POD_IP_PLACEHOLDER = /<podIP of first pod (\S+) in (\S+)>/;
/** Stands in for the pod-IP placeholder so that the URL parses. */
const POD_HOST = 'pod-ip.placeholder.invalid';

function resolveDestination(snapshot: ClusterSnapshot, clientNs: string, url: URL, rawUrl: string): Destination {
  const defaultPort = url.protocol === 'grpc:' ? 7070 : 80;
  const port = url.port === '' ? defaultPort : Number(url.port);
  const host = url.hostname;
  const placeholder = POD_IP_PLACEHOLDER.exec(rawUrl);
  if (placeholder) {
    const selector = Object.fromEntries(placeholder[1]!.split(',').map((kv) => kv.split('=') as [string, string]));
    const pod = snapshot.pods.find((p) => p.metadata.namespace === placeholder[2] && labelsMatch(selector, p.metadata.labels));
    assert.ok(pod, `no pod for ${host}`);
    return { kind: 'pod', pod, port };
  }
  // Cluster DNS: name, name.ns, name.ns.svc, name.ns.svc.cluster.local (search path of clientNs).
  const labels = host.split('.');
  const name = labels[0]!;
  const ns = labels.length >= 2 ? labels[1]! : clientNs;
  assert.ok(snapshot.services.some((s) => s.metadata.namespace === ns && s.metadata.name === name), `no Service ${ns}/${name}`);
  return { kind: 'service', namespace: ns, name, port };
}

function podFor(snapshot: ClusterSnapshot, backend: ServiceTarget, rand: () => number): string | undefined {
  const slice = snapshot.endpointSlices.find(
    (s) => s.metadata.namespace === backend.namespace && s.metadata.labels?.[SERVICE_NAME_LABEL] === backend.name,
  );
  const ready = (slice?.endpoints ?? []).filter((e) => e.conditions?.ready !== false);
  if (ready.length === 0) return undefined;
  return ready[Math.floor(rand() * ready.length)]!.targetRef?.name;
}

function send(snapshot: ClusterSnapshot, index: OutboundIndex, c: CaseSpec, rand: () => number): Outcome {
  const url = new URL(c.request.url.replace(POD_IP_PLACEHOLDER, POD_HOST));
  const dest = resolveDestination(snapshot, c.client.namespace, url, c.request.url);
  const isGrpc = url.protocol === 'grpc:';
  const headers: [string, string][] = [];
  const userHeaders = Object.entries(c.request.headers ?? {});
  const hostOverride = userHeaders.find(([k]) => k.toLowerCase() === 'host');
  const defaultPort = isGrpc ? 7070 : 80;
  headers.push(['Host', hostOverride?.[1] ?? (url.port === '' || Number(url.port) === defaultPort ? url.hostname : url.host)]);
  for (const [k, v] of userHeaders) if (k.toLowerCase() !== 'host') headers.push([k, v]);
  if (isGrpc) headers.push(['content-type', 'application/grpc']);
  const target = isGrpc ? '/grpc.testing.EchoTestService/Echo' : `${url.pathname}${url.search}`;
  const built = makeRequestInfo({ method: isGrpc ? 'POST' : (c.request.method ?? 'GET'), target, headers });
  assert.ok(built.ok, `request ${c.request.url} rejected`);
  const req = built.request;
  const reflect = (): Map<string, string[]> => new Map([...req.headers].map(([k, v]) => [k, [...v]]));

  if (dest.kind === 'pod') {
    return { status: 200, backendPod: dest.pod.metadata.name, requestHeaders: reflect(), responseHeaders: new Map(), pathAtBackend: req.path };
  }
  const policy = outboundView(index, c.client.namespace, dest.namespace, dest.name, dest.port);
  assert.ok(policy, `no outbound policy for ${dest.namespace}/${dest.name}:${dest.port}`);
  const decision = routeOutbound(policy, req, rand);
  switch (decision.kind) {
    case 'passthrough': {
      const backend: ServiceTarget = { kind: 'service', namespace: dest.namespace, name: dest.name, port: dest.port };
      const pod = podFor(snapshot, backend, rand);
      if (pod === undefined) return { status: 503, requestHeaders: new Map(), responseHeaders: new Map() };
      return { status: 200, backendPod: pod, requestHeaders: reflect(), responseHeaders: new Map(), pathAtBackend: req.path };
    }
    case 'error':
      return { status: answerFor(decision.code).http, requestHeaders: new Map(), responseHeaders: new Map() };
    case 'abort':
    case 'preflight':
      return { status: decision.status, requestHeaders: new Map(), responseHeaders: applyHeaderOps(new Map(), decision.responseHeaderOps) };
    case 'redirect':
      return {
        status: decision.status,
        requestHeaders: new Map(),
        responseHeaders: applyHeaderOps(new Map(), decision.responseHeaderOps),
        location: decision.location,
      };
    case 'forward': {
      const pod = podFor(snapshot, decision.backend, rand);
      if (pod === undefined) return { status: 503, requestHeaders: new Map(), responseHeaders: new Map() };
      return {
        status: 200,
        backendPod: pod,
        requestHeaders: applyHeaderOps(reflect(), decision.requestHeaderOps),
        responseHeaders: applyHeaderOps(new Map(), decision.responseHeaderOps),
        pathAtBackend: decision.path,
      };
    }
  }
}

function checkCase(o: Outcome, c: CaseSpec, label: string): void {
  const e = c.expect;
  assert.equal(o.status, e.status ?? 200, `${label}: status`);
  if (e.backendPodPrefix !== undefined) {
    assert.ok(o.backendPod?.startsWith(e.backendPodPrefix), `${label}: backend pod ${String(o.backendPod)} lacks prefix ${e.backendPodPrefix}`);
  }
  for (const [name, value] of Object.entries(e.responseHeaders ?? {})) {
    assert.equal(o.responseHeaders.get(name.toLowerCase())?.[0], value, `${label}: response header ${name}`);
  }
  for (const name of e.responseHeadersAbsent ?? []) {
    assert.equal(o.responseHeaders.has(name.toLowerCase()), false, `${label}: response header ${name} must be absent`);
  }
  for (const [name, value] of Object.entries(e.requestHeadersAtBackend ?? {})) {
    assert.equal(o.requestHeaders.get(name.toLowerCase())?.join(','), value, `${label}: request header ${name} at backend`);
  }
  for (const name of e.requestHeadersAbsentAtBackend ?? []) {
    assert.equal(o.requestHeaders.has(name.toLowerCase()), false, `${label}: request header ${name} must be absent at backend`);
  }
  const extra = c.notCheckedByUpstreamMeshHarness;
  if (extra?.pathAtBackend !== undefined) assert.equal(o.pathAtBackend, extra.pathAtBackend, `${label}: path at backend`);
  if (extra?.location !== undefined) assert.equal(o.location, extra.location, `${label}: Location`);
  if (extra?.redirect !== undefined) {
    assert.ok(o.location, `${label}: redirect without Location`);
    const loc = new URL(o.location);
    const r = extra.redirect;
    if (r.path !== undefined) assert.equal(loc.pathname, r.path, `${label}: redirect path`);
    if (r.host !== undefined) assert.equal(loc.hostname, r.host, `${label}: redirect host`);
    if (r.port !== undefined) assert.equal(loc.port, r.port, `${label}: redirect port`);
    if (r.scheme !== undefined) assert.equal(loc.protocol, `${r.scheme}:`, `${label}: redirect scheme`);
  }
}

// --- the suite ------------------------------------------------------------------------------------

const casesFile = parse(readFileSync(join(UPSTREAM, 'mesh-cases.yaml'), 'utf8')) as { tests: TestSpec[] };
const base = modelCluster(loadObjects(join(UPSTREAM, 'mesh', 'manifests.yaml')));
let checked = 0;

describe('Gateway API v1.6.1 mesh conformance at the core level', () => {
  test('mesh-cases.yaml lists 22 tests with 81 request cases', () => {
    assert.equal(casesFile.tests.length, EXPECTED_TESTS);
    assert.equal(casesFile.tests.reduce((n, t) => n + t.cases.length, 0), EXPECTED_CASES);
  });

  for (const spec of casesFile.tests) {
    describe(spec.shortName, () => {
      const manifests = spec.manifests.filter((m) => m.endsWith('.yaml'));
      const snapshot = withRoutes(base, manifests.flatMap((m) => loadObjects(join(UPSTREAM, m))));
      const index = indexSnapshot(snapshot);

      test('every route of the test is Accepted', () => {
        for (const s of index.statuses) {
          for (const p of s.parents) {
            const accepted = p.conditions.find((c) => c.type === 'Accepted');
            assert.equal(accepted?.status, 'True', `${s.namespace}/${s.name}: ${accepted?.message ?? ''}`);
          }
        }
      });

      spec.cases.forEach((c, i) => {
        const label = `${spec.shortName} #${i + 1}${c.name !== undefined ? ` (${c.name})` : ''}`;
        test(`${c.name ?? `case ${i + 1}`}: ${c.request.method ?? 'GET'} ${c.request.url}`, () => {
          const outcome = send(snapshot, index, c, seeded(1000 + i));
          checkCase(outcome, c, label);
          checked++;
        });
      });

      if (spec.weightCheck !== undefined) {
        const wc = spec.weightCheck;
        test(`weights: distribution within ${wc.tolerance}`, () => {
          const rand = seeded(42);
          const draws = 5000;
          const counts = new Map<string, number>();
          for (let i = 0; i < draws; i++) {
            const o = send(snapshot, index, spec.cases[0]!, rand);
            assert.equal(o.status, 200);
            const prefix = Object.keys(wc.expected).find((p) => o.backendPod?.startsWith(p)) ?? `other:${String(o.backendPod)}`;
            counts.set(prefix, (counts.get(prefix) ?? 0) + 1);
          }
          for (const [prefix, fraction] of Object.entries(wc.expected)) {
            const got = (counts.get(prefix) ?? 0) / draws;
            assert.ok(Math.abs(got - fraction) <= 0.05, `${prefix}: ${got} vs ${fraction}`);
          }
          assert.equal([...counts.keys()].filter((k) => !(k in wc.expected)).length, 0, `unexpected backends ${[...counts.keys()].join(',')}`);
        });
      }
    });
  }

  test('MeshGRPCRouteWeight: the weight-0 backend that does not exist is reported, not routed', () => {
    const spec = casesFile.tests.find((t) => t.shortName === 'MeshGRPCRouteWeight')!;
    const snapshot = withRoutes(base, spec.manifests.filter((m) => m.endsWith('.yaml')).flatMap((m) => loadObjects(join(UPSTREAM, m))));
    const status = indexSnapshot(snapshot).statuses.find((s) => s.kind === 'GRPCRoute')!;
    const resolved = status.parents[0]!.conditions.find((c) => c.type === 'ResolvedRefs')!;
    assert.equal(resolved.status, 'False');
    assert.equal(resolved.reason, 'BackendNotFound');
    assert.match(resolved.message ?? '', /echo-v3/);
  });

  test('every one of the 81 request cases was checked', () => {
    assert.ok(checked > 0, 'checked zero requests');
    assert.equal(checked, EXPECTED_CASES);
  });
});
