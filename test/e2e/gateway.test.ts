/**
 * The gateway controller on the local cluster (issue 20, its first slice): GatewayClass, Gateway and
 * route status as `weft controller` writes them.
 *
 * What this covers: a GatewayClass with Weft's controllerName is Accepted; a Gateway of it gets
 * Accepted, each listener's conditions and attachedRoutes (an HTTPS listener whose Secret does not
 * exist is ResolvedRefs=False InvalidCertificateRef); an HTTPRoute attached by
 * sectionName gets a status.parents[] entry from weft.dev/gateway-controller; one whose backend is in
 * another namespace is ResolvedRefs=False RefNotPermitted until a ReferenceGrant exists; a parentRef
 * to a missing listener is NoMatchingParent and stops counting in attachedRoutes; a route with both a
 * Service parent (the mesh) and a Gateway parent gets one entry from each of Weft's two controllerNames.
 *
 * Traffic through a gateway the controller deploys (`weft gateway`), with counted requests from
 * in-cluster pods to the address the Gateway's status gives: (c) a Gateway with one HTTP listener and
 * an HTTPRoute attached by sectionName splitting 50/50 between two versions of a service, both shares
 * counted; (d) a backend in another namespace answered 500 (`not-permitted`) with ResolvedRefs=False
 * RefNotPermitted until a ReferenceGrant exists, then served; a meshed backend whose Server admits only
 * the gateway's ServiceAccount answers 200 through the gateway and 403 to a meshed pod of another
 * identity; (b) an HTTPRoute for a hostname whose PathPrefix /service is rewritten to / (URLRewrite
 * ReplacePrefixMatch), split 50/50 between a Service and an ExternalName Service naming a Service of
 * another namespace by its DNS name: both shares counted, each backend sees /items and the client's
 * Host; a GRPCRoute on the same HTTP listener answering gRPC calls (h2c, prior knowledge) while the
 * HTTPRoutes keep serving.
 *
 * HTTPS (e): a Gateway with two HTTPS listeners on one port, an exact hostname with a certificate
 * Secret of its namespace and a wildcard one whose Secret is in another namespace: the wildcard
 * listener is ResolvedRefs=False RefNotPermitted (its hostnames are then not served) until a
 * ReferenceGrant allows it; requests from a pod with each SNI (verified against that listener's
 * certificate alone) counted per backend; a Host of the other listener answered 421. The
 * certificates are made at test time (node-forge). TLS passthrough (f): a TLS listener in Passthrough
 * mode on the same port and a TLSRoute to a pod that terminates TLS itself: connections with its SNI
 * get the pod's own certificate and answer, counted. docs/gateway.md says what is left.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { DEFAULT_IMAGE, GATEWAY_CONTROLLER_NAME, ROUTE_CONTROLLER_NAME } from '../../core/contract.js';
import { clientDeployment, describeTally, ECHO_IMAGE, podName, send, sharedMeshedNamespace, tally, type Outcome } from '../support/booksapp.js';
import { useMesh, type Mesh } from '../support/mesh.js';
import { selfSignedServer, type TestServerCertificate } from '../support/tls-certs.js';

let mesh: Mesh;
let removeMeshed: (() => Promise<void>) | undefined;
const suffix = randomBytes(3).toString('hex');
const CLASS = `weft-e2e-${suffix}`;
const INFRA = `e2e-gw-infra-${suffix}`;
const APPS = `e2e-gw-apps-${suffix}`;
const BACKEND = `e2e-gw-backend-${suffix}`;

interface Cond { type: string; status: string; reason?: string; message?: string }
interface Obj { metadata?: { ownerReferences?: { kind: string; name: string }[] }; status?: { addresses?: { type: string; value: string }[]; conditions?: Cond[]; listeners?: { name: string; attachedRoutes: number; conditions?: Cond[] }[]; parents?: { controllerName?: string; parentRef: { sectionName?: string }; conditions?: Cond[] }[] } }

const show = (conds: readonly Cond[] | undefined) => (conds ?? []).map((c) => `${c.type}=${c.status}:${c.reason ?? ''}`).join(', ');
const has = (conds: readonly Cond[] | undefined, want: Readonly<Record<string, string>>) =>
  Object.entries(want).every(([type, expect]) => {
    const c = (conds ?? []).find((x) => x.type === type);
    const [status, reason] = expect.split(':');
    return c !== undefined && c.status === status && (reason === undefined || c.reason === reason);
  });

async function get(args: readonly string[]): Promise<Obj | string> {
  const r = await mesh.cluster.kubectl([...args, '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as Obj) : r.stderr;
}

/** Waits until `check` holds for the object; returns the object then. */
async function until(what: string, args: readonly string[], check: (o: Obj) => string | true): Promise<Obj> {
  let last: Obj | undefined;
  await mesh.cluster.waitFor(what, async () => {
    const o = await get(args);
    if (typeof o === 'string') return o;
    last = o;
    return check(o);
  }, { timeoutMs: 90_000, intervalMs: 1000 });
  return last!;
}

const routeEntries = (o: Obj) => (o.status?.parents ?? []).filter((p) => p.controllerName === GATEWAY_CONTROLLER_NAME);

function untilRoute(ns: string, name: string, want: Readonly<Record<string, string>>): Promise<Obj> {
  return until(`HTTPRoute ${ns}/${name} gateway entry ${JSON.stringify(want)}`, ['-n', ns, 'get', 'httproute', name], (o) => {
    const e = routeEntries(o);
    return e.length === 1 && has(e[0]?.conditions, want) ? true : `entries: ${e.map((x) => show(x.conditions)).join(' | ') || 'none yet'}`;
  });
}

const listener = (o: Obj, name: string) => o.status?.listeners?.find((l) => l.name === name);

before(async () => {
  mesh = await useMesh();
  for (const ns of [INFRA, APPS, BACKEND]) {
    await mesh.cluster.core.createNamespace({ body: { metadata: { name: ns, labels: { 'weft.dev/e2e': 'true' } } } });
  }
  const services = () => ['v1', 'v2'].map((v) => `
apiVersion: v1
kind: Service
metadata: {name: echo-${v}}
spec:
  selector: {app: echo, version: ${v}}
  ports: [{name: http, port: 8080}]
`).join('---\n');
  await mesh.cluster.apply(INFRA, services());
  await mesh.cluster.apply(BACKEND, services());
  await mesh.cluster.apply(undefined, `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: ${CLASS}}
spec: {controllerName: ${GATEWAY_CONTROLLER_NAME}}
`);
}, { timeout: 600_000 });

after(async () => {
  await removeMeshed?.();
  await mesh?.cluster.kubectl(['delete', 'gatewayclass', CLASS, '--ignore-not-found']);
  for (const ns of [INFRA, APPS, BACKEND]) await mesh?.cluster.core.deleteNamespace({ name: ns, propagationPolicy: 'Background' }).catch(() => undefined);
  await mesh?.release();
}, { timeout: 300_000 });

test('a GatewayClass with weft.dev/gateway-controller is Accepted', async () => {
  const gc = await until(`GatewayClass ${CLASS} Accepted`, ['get', 'gatewayclass', CLASS], (o) => (has(o.status?.conditions, { Accepted: 'True:Accepted' }) ? true : show(o.status?.conditions) || 'no status yet'));
  assert.ok(has(gc.status?.conditions, { Accepted: 'True:Accepted' }));
  const withFeatures = await until(`GatewayClass ${CLASS} supportedFeatures`, ['get', 'gatewayclass', CLASS], (o) => {
    const names = ((o.status as { supportedFeatures?: { name: string }[] } | undefined)?.supportedFeatures ?? []).map((f) => f.name);
    return names.includes('HTTPRoute') && names.includes('GRPCRoute') && names.includes('BackendTLSPolicy') ? true : `supportedFeatures: ${names.join(',') || 'none'}`;
  });
  assert.ok(withFeatures.status !== undefined);
});

test('Gateway and HTTPRoute status: listeners, attachedRoutes, sectionName attachment, RefNotPermitted until a ReferenceGrant, NoMatchingParent', async () => {
  await mesh.cluster.apply(INFRA, `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: ${CLASS}
  listeners:
  - {name: web, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
  - {name: local, port: 8080, protocol: HTTP}
  - name: secure
    port: 443
    protocol: HTTPS
    tls: {certificateRefs: [{name: cert}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: split}
spec:
  parentRefs: [{name: gw, sectionName: web}]
  rules:
  - backendRefs: [{name: echo-v1, port: 8080, weight: 50}, {name: echo-v2, port: 8080, weight: 50}]
`);
  await mesh.cluster.apply(APPS, `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cross}
spec:
  parentRefs: [{name: gw, namespace: ${INFRA}, sectionName: web}]
  rules:
  - backendRefs: [{name: echo-v1, namespace: ${BACKEND}, port: 8080}]
`);

  const split = await untilRoute(INFRA, 'split', { Accepted: 'True:Accepted', ResolvedRefs: 'True:ResolvedRefs' });
  assert.equal(routeEntries(split)[0]?.parentRef.sectionName, 'web');
  const refused = await untilRoute(APPS, 'cross', { Accepted: 'True:Accepted', ResolvedRefs: 'False:RefNotPermitted' });
  assert.match(routeEntries(refused)[0]?.conditions?.find((c) => c.type === 'ResolvedRefs')?.message ?? '', new RegExp(`no ReferenceGrant in ${BACKEND}`));

  const gw = await until('Gateway gw status with 2 routes on web', ['-n', INFRA, 'get', 'gateway', 'gw'], (o) => (listener(o, 'web')?.attachedRoutes === 2 ? true : JSON.stringify(o.status ?? {})));
  assert.ok(has(gw.status?.conditions, { Accepted: 'True:ListenersNotValid' }), show(gw.status?.conditions));
  assert.ok(has(listener(gw, 'web')?.conditions, { Accepted: 'True:Accepted', ResolvedRefs: 'True' }), show(listener(gw, 'web')?.conditions));
  assert.equal(listener(gw, 'local')?.attachedRoutes, 0);
  assert.ok(has(listener(gw, 'secure')?.conditions, { Accepted: 'True:Accepted', ResolvedRefs: 'False:InvalidCertificateRef', Programmed: 'False' }), show(listener(gw, 'secure')?.conditions));
  assert.match(listener(gw, 'secure')?.conditions?.find((c) => c.type === 'ResolvedRefs')?.message ?? '', /certificateRef .*\/cert: Secret not found/);

  await mesh.cluster.apply(BACKEND, `
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: from-apps}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: ${APPS}}]
  to: [{group: '', kind: Service}]
`);
  await untilRoute(APPS, 'cross', { Accepted: 'True:Accepted', ResolvedRefs: 'True:ResolvedRefs' });

  const moved = await mesh.cluster.kubectl(['-n', INFRA, 'patch', 'httproute', 'split', '--type=json', '-p', '[{"op":"replace","path":"/spec/parentRefs/0/sectionName","value":"nope"}]']);
  assert.equal(moved.code, 0, moved.stderr);
  await untilRoute(INFRA, 'split', { Accepted: 'False:NoMatchingParent' });
  await until('Gateway gw with 1 route on web', ['-n', INFRA, 'get', 'gateway', 'gw'], (o) => (listener(o, 'web')?.attachedRoutes === 1 ? true : JSON.stringify(o.status?.listeners ?? [])));
});

test('a route with a Service parent and a Gateway parent gets an entry from the mesh and one from the gateway controller', async () => {
  await mesh.cluster.apply(INFRA, `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: both}
spec:
  parentRefs:
  - {group: '', kind: Service, name: echo-v1, port: 8080}
  - {name: gw, sectionName: local}
  rules:
  - backendRefs: [{name: echo-v2, port: 8080}]
`);
  const r = await until('HTTPRoute both with entries from both controllers', ['-n', INFRA, 'get', 'httproute', 'both'], (o) => {
    const by = (name: string) => (o.status?.parents ?? []).filter((p) => p.controllerName === name);
    const meshOk = by(ROUTE_CONTROLLER_NAME).length === 1 && has(by(ROUTE_CONTROLLER_NAME)[0]?.conditions, { Accepted: 'True', ResolvedRefs: 'True' });
    const gwOk = by(GATEWAY_CONTROLLER_NAME).length === 1 && has(by(GATEWAY_CONTROLLER_NAME)[0]?.conditions, { Accepted: 'True', ResolvedRefs: 'True' });
    return meshOk && gwOk ? true : JSON.stringify(o.status?.parents ?? []);
  });
  assert.equal(r.status?.parents?.length, 2);
  await until('Gateway gw with 1 route on local', ['-n', INFRA, 'get', 'gateway', 'gw'], (o) => (listener(o, 'local')?.attachedRoutes === 1 ? true : JSON.stringify(o.status?.listeners ?? [])));
});

// --- traffic through the deployed gateway ---------------------------------------------------------

const echo = (name: string, labels: string, sa = 'default') => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: 1
  selector: {matchLabels: {${labels}}}
  template:
    metadata: {labels: {${labels}}}
    spec:
      serviceAccountName: ${sa}
      terminationGracePeriodSeconds: 1
      containers:
        - {name: echo, image: ${ECHO_IMAGE}, args: [--port=8080], ports: [{name: http, containerPort: 8080}]}
`;

const field = (o: Outcome, key: string) => o.fields.find(([k]) => k === key)?.[1];
const header = (o: Outcome, name: string) => o.headers.find(([k]) => k === name)?.[1]?.trim();
let address = '';
let caller = '';

/** `count` requests from the plain caller pod to the gateway's address. */
const viaGateway = (path: string, count: number) => send(mesh.cluster, INFRA, caller, 'echo', `http://${address}${path}`, [], count);

test('(c) a Gateway with one HTTP listener gets a gateway proxy and an address; a route attached by sectionName splits 50/50, counted from a pod', async () => {
  await mesh.cluster.apply(INFRA, [echo('echo-v1', 'app: echo, version: v1'), echo('echo-v2', 'app: echo, version: v2'), clientDeployment('caller', 'default')].join('---\n'));
  await mesh.cluster.apply(INFRA, `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  gatewayClassName: ${CLASS}
  listeners:
  - {name: web, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: edge-split}
spec:
  parentRefs: [{name: edge, sectionName: web}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /split}}]
    backendRefs: [{name: echo-v1, port: 8080, weight: 50}, {name: echo-v2, port: 8080, weight: 50}]
`);
  const gw = await until('Gateway edge Programmed with an address', ['-n', INFRA, 'get', 'gateway', 'edge'], (o) =>
    has(o.status?.conditions, { Accepted: 'True:Accepted', Programmed: 'True:Programmed' }) && (o.status?.addresses?.length ?? 0) > 0 ? true : JSON.stringify(o.status ?? {}));
  address = gw.status!.addresses![0]!.value;
  assert.equal(gw.status!.addresses![0]!.type, 'IPAddress');
  assert.ok(has(listener(gw, 'web')?.conditions, { Accepted: 'True', ResolvedRefs: 'True', Programmed: 'True' }), show(listener(gw, 'web')?.conditions));
  for (const kind of ['serviceaccount', 'deployment', 'service']) {
    const o = await get(['-n', INFRA, 'get', kind, 'edge-weft-gateway']);
    assert.ok(typeof o !== 'string', `${kind} edge-weft-gateway: ${String(o)}`);
    assert.deepEqual(o.metadata?.ownerReferences?.map((r) => `${r.kind}/${r.name}`), ['Gateway/edge'], kind);
  }
  await untilRoute(INFRA, 'edge-split', { Accepted: 'True:Accepted', ResolvedRefs: 'True:ResolvedRefs' });
  caller = await podName(mesh.cluster, INFRA, 'app=caller');
  await podName(mesh.cluster, INFRA, 'app=echo,version=v1');
  await podName(mesh.cluster, INFRA, 'app=echo,version=v2');

  const N = 200;
  const got = await viaGateway('/split', N);
  assert.deepEqual([...tally(got)], [[200, N]], describeTally(tally(got)));
  const v1 = got.filter((o) => field(o, 'Hostname')?.startsWith('echo-v1-')).length;
  const v2 = got.filter((o) => field(o, 'Hostname')?.startsWith('echo-v2-')).length;
  process.stdout.write(`# gateway split: ${N} requests via ${address}: echo-v1=${v1} echo-v2=${v2}\n`);
  assert.equal(v1 + v2, N);
  // 50/50 over 200 requests: a share below 65 has probability under 1e-5.
  assert.ok(v1 >= 65 && v2 >= 65, `shares v1=${v1} v2=${v2}`);
});

test('(d) a backend in another namespace: 500 not-permitted and RefNotPermitted until a ReferenceGrant, then served', async () => {
  assert.ok(address !== '', 'test (c) found the gateway\'s address');
  await mesh.cluster.apply(BACKEND, echo('echo-v1', 'app: echo, version: v1'));
  await mesh.cluster.apply(INFRA, `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: edge-cross}
spec:
  parentRefs: [{name: edge, sectionName: web}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /cross}}]
    backendRefs: [{name: echo-v1, namespace: ${BACKEND}, port: 8080}]
`);
  await untilRoute(INFRA, 'edge-cross', { Accepted: 'True:Accepted', ResolvedRefs: 'False:RefNotPermitted' });
  await podName(mesh.cluster, BACKEND, 'app=echo,version=v1');
  // The gateway may still be on the view from before the route: wait for its first answer of the route.
  await mesh.cluster.waitFor('the gateway answers /cross with not-permitted', async () => {
    const [o] = await viaGateway('/cross', 1);
    return o?.status === 500 && header(o, 'weft-proxy-error') === 'not-permitted' ? true : `status ${o?.status} ${header(o!, 'weft-proxy-error') ?? ''}`;
  }, { timeoutMs: 60_000, intervalMs: 1000 });
  const refused = await viaGateway('/cross', 20);
  assert.deepEqual([...tally(refused)], [[500, 20]], describeTally(tally(refused)));
  assert.ok(refused.every((o) => header(o, 'weft-proxy-error') === 'not-permitted'));

  await mesh.cluster.apply(BACKEND, `
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: from-infra}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: ${INFRA}}]
  to: [{group: '', kind: Service}]
`);
  await untilRoute(INFRA, 'edge-cross', { Accepted: 'True:Accepted', ResolvedRefs: 'True:ResolvedRefs' });
  await mesh.cluster.waitFor('the gateway serves /cross', async () => {
    const [o] = await viaGateway('/cross', 1);
    return o?.status === 200 ? true : `status ${o?.status}`;
  }, { timeoutMs: 60_000, intervalMs: 1000 });
  const served = await viaGateway('/cross', 20);
  assert.deepEqual([...tally(served)], [[200, 20]], describeTally(tally(served)));
  const backendPod = await podName(mesh.cluster, BACKEND, 'app=echo,version=v1');
  assert.ok(served.every((o) => field(o, 'Hostname') === backendPod), `answered by ${BACKEND}'s echo-v1 pod ${backendPod}: ${[...new Set(served.map((o) => field(o, 'Hostname')))].join(', ')}`);
});

test('(d) a meshed backend that admits only the gateway\'s ServiceAccount: 200 through the gateway, 403 from a meshed pod of another identity', async () => {
  assert.ok(address !== '', 'test (c) found the gateway\'s address');
  const shared = await sharedMeshedNamespace(mesh.cluster, 'gw-meshed');
  removeMeshed = shared.remove;
  const ns = shared.ns;
  await mesh.cluster.apply(ns, `
apiVersion: v1
kind: ServiceAccount
metadata: {name: secure}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: intruder}
---
apiVersion: v1
kind: Service
metadata: {name: secure}
spec:
  selector: {app: secure}
  ports: [{name: http, port: 8080, appProtocol: http}]
---
${echo('secure', 'app: secure', 'secure')}---
${clientDeployment('intruder', 'intruder')}---
apiVersion: policy.weft.dev/v1alpha1
kind: Server
metadata: {name: secure}
spec:
  podSelector: {matchLabels: {app: secure}}
  port: http
  proxyProtocol: HTTP/1
  accessPolicy: deny
---
apiVersion: policy.weft.dev/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: edge-gateway}
spec:
  identityRefs: [{kind: ServiceAccount, name: edge-weft-gateway, namespace: ${INFRA}}]
---
apiVersion: policy.weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: secure-from-gateway}
spec:
  targetRef: {group: policy.weft.dev, kind: Server, name: secure}
  requiredAuthenticationRefs: [{group: policy.weft.dev, kind: MeshTLSAuthentication, name: edge-gateway}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: secure}
spec:
  parentRefs: [{name: edge, namespace: ${INFRA}, sectionName: web}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /secure}}]
    backendRefs: [{name: secure, port: 8080}]
`);
  await untilRoute(ns, 'secure', { Accepted: 'True:Accepted', ResolvedRefs: 'True:ResolvedRefs' });
  await podName(mesh.cluster, ns, 'app=secure');
  const intruder = await podName(mesh.cluster, ns, 'app=intruder');
  await mesh.cluster.waitFor('the gateway serves /secure', async () => {
    const [o] = await viaGateway('/secure', 1);
    return o?.status === 200 ? true : `status ${o?.status} ${header(o!, 'weft-proxy-error') ?? ''}`;
  }, { timeoutMs: 90_000, intervalMs: 1000 });
  const through = await viaGateway('/secure', 20);
  assert.deepEqual([...tally(through)], [[200, 20]], describeTally(tally(through)));
  const direct = await send(mesh.cluster, ns, intruder, 'echo', `http://secure.${ns}:8080/secure`, [], 20);
  process.stdout.write(`# meshed backend: via gateway ${describeTally(tally(through))}; from ${ns}/intruder ${describeTally(tally(direct))}\n`);
  assert.deepEqual([...tally(direct)], [[403, 20]], describeTally(tally(direct)));
});

test('(b) URLRewrite ReplacePrefixMatch and a 50/50 split between a Service and an ExternalName Service aliasing another namespace\'s Service (reached through discovery, not DNS)', async () => {
  assert.ok(address !== '', 'test (c) found the gateway\'s address');
  // The ExternalName Service aliases a Service of another namespace by its cluster DNS name; the gateway
  // takes that Service's endpoints from discovery (core/routes/external-name.ts clusterServiceOf).
  await mesh.cluster.apply(BACKEND, echo('echo-v2', 'app: echo, version: v2'));
  await mesh.cluster.apply(INFRA, `
apiVersion: v1
kind: Service
metadata: {name: echo-ext}
spec: {type: ExternalName, externalName: echo-v2.${BACKEND}.svc.cluster.local}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: kong}
spec:
  parentRefs: [{name: edge, sectionName: web}]
  hostnames: [kong.example]
  rules:
  - matches: [{path: {type: PathPrefix, value: /service}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]
    backendRefs: [{name: echo-v1, port: 8080, weight: 50}, {name: echo-ext, port: 8080, weight: 50}]
`);
  await untilRoute(INFRA, 'kong', { Accepted: 'True:Accepted', ResolvedRefs: 'True:ResolvedRefs' });
  // The echo answer names its pod (Hostname): the ExternalName's target is the one echo-v2 pod of BACKEND.
  const extPod = await podName(mesh.cluster, BACKEND, 'app=echo,version=v2');
  const viaKong = (n: number) => send(mesh.cluster, INFRA, caller, 'echo', `http://${address}/service/items`, ['--header=Host:kong.example'], n);
  await mesh.cluster.waitFor('the gateway serves /service for kong.example from both backends', async () => {
    const got = await viaKong(10);
    const fromExt = got.filter((o) => o.status === 200 && field(o, 'Hostname') === extPod).length;
    return fromExt > 0 && got.every((o) => o.status === 200) ? true : `${describeTally(tally(got))}; ${got.map((o) => header(o, 'weft-proxy-error') ?? '').join(',')}`;
  }, { timeoutMs: 90_000, intervalMs: 1000 });

  const N = 200;
  const got = await viaKong(N);
  assert.deepEqual([...tally(got)], [[200, N]], describeTally(tally(got)));
  const viaService = got.filter((o) => field(o, 'Hostname')?.startsWith('echo-v1-')).length;
  const viaExternal = got.filter((o) => field(o, 'Hostname') === extPod).length;
  process.stdout.write(`# walkthrough (b): ${N} requests for kong.example/service/items via ${address}: Service echo-v1=${viaService} ExternalName echo-ext=${viaExternal}\n`);
  assert.equal(viaService + viaExternal, N);
  // 50/50 over 200 requests: a share below 65 has probability under 1e-5.
  assert.ok(viaService >= 65 && viaExternal >= 65, `shares Service=${viaService} ExternalName=${viaExternal}`);
  // Both backends see the path without the /service prefix and the client's Host.
  const urls = new Set(got.map((o) => field(o, 'URL')));
  assert.deepEqual([...urls], ['/items'], `paths the backends saw: ${[...urls].join(', ')}`);
  const hosts = new Set(got.map((o) => field(o, 'Host')));
  assert.deepEqual([...hosts], ['kong.example'], `Host the backends saw: ${[...hosts].join(', ')}`);
});

test('a GRPCRoute on the HTTP listener: gRPC calls over h2c (prior knowledge) to the Gateway\'s address reach the gRPC backend; an HTTPRoute beside it keeps serving', async () => {
  assert.ok(address !== '', 'test (c) found the gateway\'s address');
  await mesh.cluster.apply(INFRA, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: grpc-echo}
spec:
  replicas: 1
  selector: {matchLabels: {app: grpc-echo}}
  template:
    metadata: {labels: {app: grpc-echo}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - {name: echo, image: ${ECHO_IMAGE}, args: [--port=8080, --grpc=7070], ports: [{name: grpc, containerPort: 7070}]}
---
apiVersion: v1
kind: Service
metadata: {name: grpc-echo}
spec:
  selector: {app: grpc-echo}
  ports: [{name: grpc, port: 7070, appProtocol: kubernetes.io/h2c}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: rpc}
spec:
  parentRefs: [{name: edge, sectionName: web}]
  rules:
  - matches: [{method: {service: weft.echo.v1.Echo, method: Echo}}]
    backendRefs: [{name: grpc-echo, port: 7070}]
`);
  await until('GRPCRoute rpc accepted by the gateway controller', ['-n', INFRA, 'get', 'grpcroute', 'rpc'], (o) => {
    const e = routeEntries(o);
    return e.length === 1 && has(e[0]?.conditions, { Accepted: 'True:Accepted', ResolvedRefs: 'True:ResolvedRefs' }) ? true : `entries: ${e.map((x) => show(x.conditions)).join(' | ') || 'none yet'}`;
  });
  const gw = await until('Gateway edge lists GRPCRoute among supportedKinds', ['-n', INFRA, 'get', 'gateway', 'edge'], (o) => (listener(o, 'web') !== undefined ? true : 'no listener web'));
  assert.ok(has(listener(gw, 'web')?.conditions, { Accepted: 'True', ResolvedRefs: 'True' }), show(listener(gw, 'web')?.conditions));
  await podName(mesh.cluster, INFRA, 'app=grpc-echo');
  const viaGrpc = (n: number) => send(mesh.cluster, INFRA, caller, 'echo', `grpc://${address}:80`, [], n);
  await mesh.cluster.waitFor('the gateway serves gRPC calls', async () => {
    const [o] = await viaGrpc(1);
    return o?.status === 200 && field(o, 'Hostname')?.startsWith('grpc-echo-') === true ? true : `status ${o?.status} ${JSON.stringify(o?.fields.slice(0, 4) ?? [])}`;
  }, { timeoutMs: 90_000, intervalMs: 1000 });
  const calls = await viaGrpc(20);
  assert.deepEqual([...tally(calls)], [[200, 20]], describeTally(tally(calls)));
  assert.ok(calls.every((o) => field(o, 'Hostname')?.startsWith('grpc-echo-')), 'answered by the gRPC backend');
  // The HTTPRoute on the same listener still serves HTTP/1.
  const http = await viaGateway('/split', 10);
  assert.deepEqual([...tally(http)], [[200, 10]], describeTally(tally(http)));
  process.stdout.write(`# GRPCRoute via ${address}: ${describeTally(tally(calls))}; HTTPRoute beside it: ${describeTally(tally(http))}\n`);
});

// --- HTTPS ------------------------------------------------------------------------------------------------

const tlsSecret = (name: string, c: TestServerCertificate) => `
apiVersion: v1
kind: Secret
metadata: {name: ${name}}
type: kubernetes.io/tls
data:
  tls.crt: ${Buffer.from(c.certPem).toString('base64')}
  tls.key: ${Buffer.from(c.keyPem).toString('base64')}
`;

/**
 * Run in a pod of the Weft image (it has node): `count` HTTPS requests to address:443 with SNI `sni`
 * and Host `host`, trusting only `ca`; prints one JSON line: status or error -> count, and the
 * answering pod (the echo server's Hostname line) -> count.
 */
const HTTPS_CLIENT = `
const https = require('node:https');
const [address, sni, host, path, ca, count] = process.argv.slice(1);
const out = { statuses: {}, pods: {}, errors: {} };
const one = () => new Promise((resolve) => {
  const req = https.request({ host: address, port: 443, servername: sni, ca, path, headers: { host }, agent: false, timeout: 10000 }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => (body += d));
    res.on('end', () => {
      out.statuses[res.statusCode] = (out.statuses[res.statusCode] || 0) + 1;
      const m = /^Hostname=(.*)$/m.exec(body);
      const pod = m ? m[1].replace(/-[a-z0-9]+-[a-z0-9]+$/, '') : (res.headers['weft-proxy-error'] || 'none');
      out.pods[pod] = (out.pods[pod] || 0) + 1;
      resolve();
    });
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => { out.errors[e.code || e.message] = (out.errors[e.code || e.message] || 0) + 1; resolve(); });
  req.end();
});
(async () => { for (let i = 0; i < Number(count); i++) await one(); console.log(JSON.stringify(out)); })();
`;

interface HttpsTally { statuses: Record<string, number>; pods: Record<string, number>; errors: Record<string, number> }

let httpsCaller = '';

async function viaHttps(gatewayAddress: string, sni: string, host: string, ca: string, count: number): Promise<HttpsTally> {
  const r = await mesh.cluster.exec(INFRA, httpsCaller, 'client', ['node', '-e', HTTPS_CLIENT, gatewayAddress, sni, host, '/tls', ca, String(count)], { timeoutMs: 300_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as HttpsTally;
}

test('(e) HTTPS: two listeners on one port by SNI, each with its own certificate Secret; a cross-namespace Secret is RefNotPermitted until a ReferenceGrant', async () => {
  const shop = selfSignedServer(['shop.example.com']);
  const wild = selfSignedServer(['*.example.com']);
  await mesh.cluster.apply(INFRA, tlsSecret('shop-cert', shop));
  await mesh.cluster.apply(BACKEND, tlsSecret('wild-cert', wild));
  await mesh.cluster.apply(INFRA, [echo('echo-v1', 'app: echo, version: v1'), echo('echo-v2', 'app: echo, version: v2'), `
apiVersion: apps/v1
kind: Deployment
metadata: {name: https-caller}
spec:
  replicas: 1
  selector: {matchLabels: {app: https-caller}}
  template:
    metadata: {labels: {app: https-caller}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - {name: client, image: ${DEFAULT_IMAGE}, imagePullPolicy: Never, command: [node, -e, 'setInterval(() => {}, 1 << 30)']}
`].join('---\n'));
  await mesh.cluster.apply(INFRA, `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: tls-edge}
spec:
  gatewayClassName: ${CLASS}
  listeners:
  - name: shop
    port: 443
    protocol: HTTPS
    hostname: shop.example.com
    tls: {certificateRefs: [{name: shop-cert}]}
  - name: wild
    port: 443
    protocol: HTTPS
    hostname: '*.example.com'
    tls: {certificateRefs: [{name: wild-cert, namespace: ${BACKEND}}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: tls-shop}
spec:
  parentRefs: [{name: tls-edge, sectionName: shop}]
  rules:
  - backendRefs: [{name: echo-v1, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: tls-wild}
spec:
  parentRefs: [{name: tls-edge, sectionName: wild}]
  rules:
  - backendRefs: [{name: echo-v2, port: 8080}]
`);
  const refused = await until('Gateway tls-edge: shop programmed, wild RefNotPermitted', ['-n', INFRA, 'get', 'gateway', 'tls-edge'], (o) =>
    has(o.status?.conditions, { Programmed: 'True' }) && has(listener(o, 'shop')?.conditions, { Programmed: 'True' }) && has(listener(o, 'wild')?.conditions, { ResolvedRefs: 'False:RefNotPermitted' })
      ? true : JSON.stringify(o.status ?? {}));
  assert.ok(has(refused.status?.conditions, { Accepted: 'True:ListenersNotValid' }), show(refused.status?.conditions));
  assert.match(listener(refused, 'wild')?.conditions?.find((c) => c.type === 'ResolvedRefs')?.message ?? '', new RegExp(`no ReferenceGrant in namespace ${BACKEND}`));
  const tlsAddress = refused.status!.addresses![0]!.value;
  httpsCaller = await podName(mesh.cluster, INFRA, 'app=https-caller');
  await podName(mesh.cluster, INFRA, 'app=echo,version=v1');
  await podName(mesh.cluster, INFRA, 'app=echo,version=v2');

  const N = 20;
  const shopOk = await viaHttps(tlsAddress, 'shop.example.com', 'shop.example.com', shop.certPem, N);
  process.stdout.write(`# https shop.example.com via ${tlsAddress}: ${JSON.stringify(shopOk)}\n`);
  assert.deepEqual(shopOk, { statuses: { 200: N }, pods: { 'echo-v1': N }, errors: {} });
  // The wildcard listener is not programmed: its SNI finds no listener, no handshake.
  const wildRefused = await viaHttps(tlsAddress, 'www.example.com', 'www.example.com', wild.certPem, 3);
  process.stdout.write(`# https www.example.com before the ReferenceGrant: ${JSON.stringify(wildRefused)}\n`);
  assert.deepEqual(wildRefused.statuses, {});
  assert.equal(Object.values(wildRefused.errors).reduce((a, b) => a + b, 0), 3);

  await mesh.cluster.apply(BACKEND, `
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: gateway-certs}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: ${INFRA}}]
  to: [{group: '', kind: Secret, name: wild-cert}]
`);
  await until('Gateway tls-edge: wild programmed', ['-n', INFRA, 'get', 'gateway', 'tls-edge'], (o) =>
    has(listener(o, 'wild')?.conditions, { ResolvedRefs: 'True', Programmed: 'True' }) && has(o.status?.conditions, { Accepted: 'True:Accepted' }) ? true : JSON.stringify(o.status?.listeners ?? []));
  await mesh.cluster.waitFor('the gateway serves www.example.com', async () => {
    const t = await viaHttps(tlsAddress, 'www.example.com', 'www.example.com', wild.certPem, 1);
    return t.statuses['200'] === 1 ? true : JSON.stringify(t);
  }, { timeoutMs: 60_000, intervalMs: 1000 });
  const wildOk = await viaHttps(tlsAddress, 'www.example.com', 'www.example.com', wild.certPem, N);
  const shopStill = await viaHttps(tlsAddress, 'shop.example.com', 'shop.example.com', shop.certPem, N);
  const misdirected = await viaHttps(tlsAddress, 'shop.example.com', 'www.example.com', shop.certPem, 5);
  process.stdout.write(`# https after the ReferenceGrant: www ${JSON.stringify(wildOk)} shop ${JSON.stringify(shopStill)} shop SNI + www Host ${JSON.stringify(misdirected)}\n`);
  assert.deepEqual(wildOk, { statuses: { 200: N }, pods: { 'echo-v2': N }, errors: {} });
  assert.deepEqual(shopStill, { statuses: { 200: N }, pods: { 'echo-v1': N }, errors: {} }, 'the exact listener keeps its own certificate and routes');
  assert.deepEqual(misdirected, { statuses: { 421: 5 }, pods: { misdirected: 5 }, errors: {} });
});

/** Run in a pod of the Weft image: a TLS server with the certificate in env CERT/KEY, answering its hostname. */
const TLS_SERVER = `
const tls = require('node:tls');
const os = require('node:os');
tls.createServer({ cert: process.env.CERT, key: process.env.KEY }, (s) => { s.on('error', () => {}); s.end(os.hostname() + '\\n'); }).listen(8443);
`;

/** Run in a pod of the Weft image: `count` TLS connections to address:443 with SNI `sni` trusting `ca`; JSON of first lines (pod prefix) and errors. */
const TLS_CLIENT = `
const tls = require('node:tls');
const [address, sni, ca, count] = process.argv.slice(1);
const out = { lines: {}, errors: {} };
const one = () => new Promise((resolve) => {
  const s = tls.connect({ host: address, port: 443, servername: sni, ca, timeout: 10000 }, () => {
    let line = '';
    s.setEncoding('utf8');
    s.on('data', (d) => (line += d));
    s.on('end', () => { const k = line.trim().replace(/-[a-z0-9]+-[a-z0-9]+$/, ''); out.lines[k] = (out.lines[k] || 0) + 1; resolve(); });
  });
  s.on('timeout', () => s.destroy(new Error('timeout')));
  s.on('error', (e) => { out.errors[e.code || e.message] = (out.errors[e.code || e.message] || 0) + 1; resolve(); });
});
(async () => { for (let i = 0; i < Number(count); i++) await one(); console.log(JSON.stringify(out)); })();
`;

test('(f) TLS passthrough: a TLSRoute on a Passthrough listener sharing port 443; the backend pod\'s own certificate reaches the client', async () => {
  assert.ok(httpsCaller !== '', 'test (e) started the caller pod');
  const backendCert = selfSignedServer(['db.pass.example.com']);
  await mesh.cluster.apply(INFRA, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: tls-db}
spec:
  replicas: 1
  selector: {matchLabels: {app: tls-db}}
  template:
    metadata: {labels: {app: tls-db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: server
          image: ${DEFAULT_IMAGE}
          imagePullPolicy: Never
          command: [node, -e, ${JSON.stringify(TLS_SERVER)}]
          env: [{name: CERT, value: ${JSON.stringify(backendCert.certPem)}}, {name: KEY, value: ${JSON.stringify(backendCert.keyPem)}}]
          ports: [{containerPort: 8443}]
---
apiVersion: v1
kind: Service
metadata: {name: tls-db}
spec:
  selector: {app: tls-db}
  ports: [{name: tls, port: 8443, appProtocol: tls}]
`);
  const patched = await mesh.cluster.kubectl(['-n', INFRA, 'patch', 'gateway', 'tls-edge', '--type=json', '-p',
    JSON.stringify([{ op: 'add', path: '/spec/listeners/-', value: { name: 'pass', port: 443, protocol: 'TLS', hostname: '*.pass.example.com', tls: { mode: 'Passthrough' } } }])]);
  assert.equal(patched.code, 0, patched.stderr);
  await mesh.cluster.apply(INFRA, `
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: tls-db}
spec:
  parentRefs: [{name: tls-edge, sectionName: pass}]
  hostnames: [db.pass.example.com]
  rules:
  - backendRefs: [{name: tls-db, port: 8443}]
`);
  const r = await until('TLSRoute tls-db accepted', ['-n', INFRA, 'get', 'tlsroute', 'tls-db'], (o) => {
    const e = routeEntries(o);
    return e.length === 1 && has(e[0]?.conditions, { Accepted: 'True:Accepted', ResolvedRefs: 'True:ResolvedRefs' }) ? true : JSON.stringify(o.status ?? {});
  });
  assert.equal(routeEntries(r).length, 1);
  const gw = await until('Gateway tls-edge: pass programmed', ['-n', INFRA, 'get', 'gateway', 'tls-edge'], (o) =>
    has(listener(o, 'pass')?.conditions, { Accepted: 'True', Programmed: 'True' }) && listener(o, 'pass')?.attachedRoutes === 1 ? true : JSON.stringify(o.status?.listeners ?? []));
  const tlsAddress = gw.status!.addresses![0]!.value;
  await podName(mesh.cluster, INFRA, 'app=tls-db');
  const probe = async (count: number) => {
    const x = await mesh.cluster.exec(INFRA, httpsCaller, 'client', ['node', '-e', TLS_CLIENT, tlsAddress, 'db.pass.example.com', backendCert.certPem, String(count)], { timeoutMs: 300_000 });
    assert.equal(x.code, 0, x.stderr);
    return JSON.parse(x.stdout.trim().split('\n').at(-1) ?? '{}') as { lines: Record<string, number>; errors: Record<string, number> };
  };
  await mesh.cluster.waitFor('the gateway passes db.pass.example.com through', async () => {
    const t = await probe(1);
    return t.lines['tls-db'] === 1 ? true : JSON.stringify(t);
  }, { timeoutMs: 60_000, intervalMs: 1000 });
  const N = 20;
  const got = await probe(N);
  process.stdout.write(`# tls passthrough db.pass.example.com via ${tlsAddress}: ${JSON.stringify(got)}\n`);
  assert.deepEqual(got, { lines: { 'tls-db': N }, errors: {} }, 'every connection verified the backend pod\'s certificate and got its answer');
});
