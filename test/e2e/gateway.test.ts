/**
 * The gateway controller on the local cluster (issue 20, its first slice): GatewayClass, Gateway and
 * route status as `weft controller` writes them.
 *
 * What this covers: a GatewayClass with Weft's controllerName is Accepted; a Gateway of it gets
 * Accepted, each listener's conditions and attachedRoutes (an HTTPS listener is UnsupportedProtocol in
 * this slice), and Programmed=False Pending because nothing serves it yet; an HTTPRoute attached by
 * sectionName gets a status.parents[] entry from weft.dev/gateway-controller; one whose backend is in
 * another namespace is ResolvedRefs=False RefNotPermitted until a ReferenceGrant exists; a parentRef
 * to a missing listener is NoMatchingParent and stops counting in attachedRoutes; a route with both a
 * Service parent (the mesh) and a Gateway parent gets one entry from each of Weft's two controllerNames.
 *
 * What it does not cover, because Weft does not have it yet: traffic through a gateway (no gateway
 * proxy is deployed), addresses in the Gateway's status. docs/gateway.md says what is left.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { GATEWAY_CONTROLLER_NAME, ROUTE_CONTROLLER_NAME } from '../../core/contract.js';
import { useMesh, type Mesh } from '../support/mesh.js';

let mesh: Mesh;
const suffix = randomBytes(3).toString('hex');
const CLASS = `weft-e2e-${suffix}`;
const INFRA = `e2e-gw-infra-${suffix}`;
const APPS = `e2e-gw-apps-${suffix}`;
const BACKEND = `e2e-gw-backend-${suffix}`;

interface Cond { type: string; status: string; reason?: string; message?: string }
interface Obj { status?: { conditions?: Cond[]; listeners?: { name: string; attachedRoutes: number; conditions?: Cond[] }[]; parents?: { controllerName?: string; parentRef: { sectionName?: string }; conditions?: Cond[] }[] } }

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
  await mesh?.cluster.kubectl(['delete', 'gatewayclass', CLASS, '--ignore-not-found']);
  for (const ns of [INFRA, APPS, BACKEND]) await mesh?.cluster.core.deleteNamespace({ name: ns, propagationPolicy: 'Background' }).catch(() => undefined);
  await mesh?.release();
}, { timeout: 300_000 });

test('a GatewayClass with weft.dev/gateway-controller is Accepted', async () => {
  const gc = await until(`GatewayClass ${CLASS} Accepted`, ['get', 'gatewayclass', CLASS], (o) => (has(o.status?.conditions, { Accepted: 'True:Accepted' }) ? true : show(o.status?.conditions) || 'no status yet'));
  assert.ok(has(gc.status?.conditions, { Accepted: 'True:Accepted' }));
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
  assert.ok(has(gw.status?.conditions, { Accepted: 'True:ListenersNotValid', Programmed: 'False:Pending' }), show(gw.status?.conditions));
  assert.match(gw.status?.conditions?.find((c) => c.type === 'Programmed')?.message ?? '', /does not deploy gateway proxies yet/);
  assert.ok(has(listener(gw, 'web')?.conditions, { Accepted: 'True:Accepted', ResolvedRefs: 'True', Programmed: 'False:Pending' }), show(listener(gw, 'web')?.conditions));
  assert.equal(listener(gw, 'local')?.attachedRoutes, 0);
  assert.ok(has(listener(gw, 'secure')?.conditions, { Accepted: 'False:UnsupportedProtocol' }), show(listener(gw, 'secure')?.conditions));

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
