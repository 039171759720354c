/**
 * End-to-end policy controller on the local cluster: `weft controller` runs as a process outside the
 * cluster (admin kubeconfig, issuer from a directory), real objects are applied, and real gRPC
 * clients hold certificates from the same mesh issuer.
 *
 * Checks: a new HTTPRoute reaches a subscriber within 1 s (apply -> push measured here); an
 * unsupported filter gives Accepted=False with a message naming it; v1.7's HTTPRoute retry survives
 * the v1.7.0 CRDs and is accepted, one Weft refuses (more attempts than it allows) is named; a missing backend gives
 * ResolvedRefs=False/BackendNotFound and a 500 share in the pushed policy; a consumer route reaches
 * only its namespace's subscribers; a pod becoming unready leaves the ready endpoints; another
 * ServiceAccount's workload is refused; the webhook rejects a backreference naming the field; after
 * the controller is killed and restarted, subscribers get a complete, consistent view again.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { Endpoints } from '../../api/gen/weft/discovery/v1/discovery.js';
import type { DestinationPolicy, OutboundTarget } from '../../api/gen/weft/outbound/v1/outbound.js';
import { useCluster, type Cluster } from '../cluster/fixture.js';
import { REPO_ROOT } from '../support/paths.js';
import {
  Collected,
  createMesh,
  policyClients,
  startControllerProcess,
  webhookCertificate,
  workloadCert,
  type ControllerProcess,
  type Mesh,
  type PolicyClients,
} from '../support/policy-controller.js';

/** The host side of the pod bridge: where the API server (host netns) reaches the webhook. */
const HOST_BRIDGE_IP = '10.244.0.1';

let cluster: Cluster;
let mesh: Mesh;
let controller: ControllerProcess;
let leaseNs: string;
let tlsDir: string;
let webhookCaPem: string;
let controllerArgs: string[];

before(async () => {
  cluster = await useCluster();
  // kubectl, not the fixture's typed client: its CRD model does not round-trip x-kubernetes-int-or-string.
  const crds = await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager', 'weft-e2e', '-f', join(REPO_ROOT, 'manifests', 'crds')]);
  assert.equal(crds.code, 0, crds.stderr);
  mesh = await createMesh();
  leaseNs = `e2e-pc-lease-${randomBytes(3).toString('hex')}`;
  await cluster.core.createNamespace({ body: { metadata: { name: leaseNs, labels: { 'weft.dev/e2e': 'true' } } } });
  const wh = webhookCertificate(HOST_BRIDGE_IP);
  webhookCaPem = wh.caPem;
  tlsDir = await mkdtemp(join(tmpdir(), 'weft-pc-webhook-'));
  await writeFile(join(tlsDir, 'tls.crt'), wh.certPem);
  await writeFile(join(tlsDir, 'tls.key'), wh.keyPem, { mode: 0o600 });
  controllerArgs = [
    '--kubeconfig', cluster.info.kubeconfig,
    '--issuer-dir', mesh.issuerDir,
    '--namespace', leaseNs,
    '--tls-dir', tlsDir,
    '--listen-host', '0.0.0.0',
    '--log-level', 'info',
  ];
  controller = await startControllerProcess([...controllerArgs, '--grpc-port', '0', '--admin-port', '0', '--webhook-port', '0']);
  await waitReady();
});

after(async () => {
  await controller?.stop();
  await cluster?.core.deleteNamespace({ name: leaseNs }).catch(() => undefined);
});

async function waitReady(): Promise<void> {
  await cluster.waitFor('controller /ready', async () => {
    const r = await fetch(`http://127.0.0.1:${controller.adminPort}/ready`).catch(() => undefined);
    return r?.status === 200 ? true : `status ${r?.status ?? 'none'}: ${(await r?.text()) ?? ''}`;
  }, { timeoutMs: 60_000 });
}

/** A ServiceAccount and a pod running as it (a sleeper: only its identity matters). */
async function clientPod(ns: string, name: string, sa: string): Promise<void> {
  await cluster.apply(ns, `
apiVersion: v1
kind: ServiceAccount
metadata: {name: ${sa}}
---
apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  serviceAccountName: ${sa}
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: ${cluster.info.toolboxImage}, command: [sleep, "3600"]}
`);
}

async function service(ns: string, name: string, selector = name): Promise<string> {
  await cluster.apply(ns, `
apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  selector: {app: ${selector}}
  ports: [{name: http, port: 80, targetPort: 8080}]
`);
  const svc = await cluster.core.readNamespacedService({ name, namespace: ns });
  const ip = svc.spec?.clusterIP;
  assert.ok(ip !== undefined && ip !== 'None', `Service ${ns}/${name} has a cluster IP`);
  return ip;
}

function clientsFor(t: TestContext, cert: Awaited<ReturnType<typeof workloadCert>> | undefined): PolicyClients {
  const c = policyClients(controller.grpcAddress, mesh, cert);
  t.after(() => c.close());
  return c;
}

/** Opens an outbound watch, retrying while the controller has not seen the pod yet (NOT_FOUND). */
async function watchOutbound(t: TestContext, c: PolicyClients, target: OutboundTarget): Promise<Collected<DestinationPolicy>> {
  for (let i = 0; ; i++) {
    const s = new Collected(c.outbound.watch(target));
    t.after(() => s.cancel());
    try {
      await s.waitFor('the first snapshot', () => true, { timeoutMs: 30_000 });
      return s;
    } catch (err) {
      if (s.error?.code !== status.NOT_FOUND || i > 60) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

function httpRouteNames(m: DestinationPolicy): string[] | 'passthrough' | 'other' {
  const d = m.destination;
  if (d?.$case !== 'service') return 'other';
  const r = d.value.routes;
  if (r?.$case === 'passthrough') return 'passthrough';
  if (r?.$case !== 'http') return 'other';
  return r.value.routes.map((x) => x.meta?.name ?? '');
}

async function routeCondition(ns: string, name: string, type: string): Promise<{ status: string; reason: string; message: string } | undefined> {
  const obj = (await cluster.objects.read({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace: ns } })) as {
    status?: { parents?: { controllerName: string; conditions?: { type: string; status: string; reason: string; message: string }[] }[] };
  };
  const mine = obj.status?.parents?.find((p) => p.controllerName === 'weft.dev/policy-controller');
  return mine?.conditions?.find((c) => c.type === type);
}

async function waitCondition(ns: string, name: string, type: string, want: (c: { status: string; reason: string; message: string }) => boolean) {
  let last: unknown;
  await cluster.waitFor(`HTTPRoute ${ns}/${name} condition ${type}`, async () => {
    const c = await routeCondition(ns, name, type);
    last = c;
    return c !== undefined && want(c) ? true : `condition: ${JSON.stringify(c)}`;
  }, { timeoutMs: 60_000 });
  return last as { status: string; reason: string; message: string };
}

function route(name: string, parent: { ns?: string; name: string }, backends: { ns?: string; name: string }[], extra = ''): string {
  return `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}}
spec:
  parentRefs: [{group: "", kind: Service, name: ${parent.name}${parent.ns !== undefined ? `, namespace: ${parent.ns}` : ''}, port: 80}]
  rules:
  - backendRefs: [${backends.map((b) => `{name: ${b.name}, port: 80${b.ns !== undefined ? `, namespace: ${b.ns}` : ''}}`).join(', ')}]
${extra}`;
}

test('a new HTTPRoute reaches a subscriber within 1 s of the apply', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await clientPod(ns, 'client-0', 'client');
  const ip = await service(ns, 'web');
  await service(ns, 'web-v2');
  const c = clientsFor(t, await workloadCert(mesh, ns, 'client'));
  const s = await watchOutbound(t, c, { namespace: ns, pod: 'client-0', ip, port: 80 });
  assert.equal(httpRouteNames(s.latest!), 'passthrough');
  const from = s.messages.length;
  const t0 = performance.now();
  await cluster.apply(ns, route('split', { name: 'web' }, [{ name: 'web-v2' }]));
  const got = await s.waitFor('the pushed route', (m) => JSON.stringify(httpRouteNames(m)) === '["split"]', { from, timeoutMs: 30_000 });
  const latencyMs = got.at - t0;
  t.diagnostic(`apply -> push: ${latencyMs.toFixed(0)} ms`);
  assert.ok(latencyMs < 1000, `apply -> push took ${latencyMs.toFixed(0)} ms`);
  assert.ok(got.msg.version > s.messages[0]!.msg.version, 'versions increase within a stream');
});

test('a route with an unsupported filter gets Accepted=False with a message naming it', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await service(ns, 'web');
  await cluster.apply(ns, route('ext', { name: 'web' }, [{ name: 'web' }], `    filters: [{type: ExtensionRef, extensionRef: {group: example.com, kind: Thing, name: x}}]`));
  const c = await waitCondition(ns, 'ext', 'Accepted', (x) => x.status === 'False');
  assert.equal(c.reason, 'UnsupportedValue');
  assert.match(c.message, /ExtensionRef/);
});

test('Gateway API v1.7 HTTPRoute retry survives the API server and is accepted, large attempts included', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await service(ns, 'web');
  await cluster.apply(ns, route('retry', { name: 'web' }, [{ name: 'web' }], `    retry: {attempts: 2, codes: [503], backoff: 100ms}`));
  // The v1.7.0 CRDs keep the field (v1.6.1's standard schema pruned it, so Weft never saw it).
  const stored = JSON.parse((await cluster.kubectl(['get', 'httproute', 'retry', '-n', ns, '-o', 'json'])).stdout) as { spec: { rules: { retry?: unknown }[] } };
  assert.deepEqual(stored.spec.rules[0]?.retry, { attempts: 2, codes: [503], backoff: '100ms' });
  const ok = await waitCondition(ns, 'retry', 'Accepted', (x) => x.status === 'True');
  assert.equal(ok.reason, 'Accepted');
  // The CRD sets no upper bound on attempts, and neither does Weft (the retry budget bounds the cost).
  await cluster.apply(ns, route('many', { name: 'web' }, [{ name: 'web' }], `    retry: {attempts: 50}`));
  const c = await waitCondition(ns, 'many', 'Accepted', (x) => x.status === 'True');
  assert.equal(c.reason, 'Accepted');
});

test('a route to a missing backend gets ResolvedRefs=False/BackendNotFound and its share is pushed as 500', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await clientPod(ns, 'client-0', 'client');
  const ip = await service(ns, 'web');
  const c = clientsFor(t, await workloadCert(mesh, ns, 'client'));
  const s = await watchOutbound(t, c, { namespace: ns, pod: 'client-0', ip, port: 80 });
  await cluster.apply(ns, route('gone', { name: 'web' }, [{ name: 'missing' }]));
  const cond = await waitCondition(ns, 'gone', 'ResolvedRefs', (x) => x.status === 'False');
  assert.equal(cond.reason, 'BackendNotFound');
  assert.match(cond.message, /missing/);
  const got = await s.waitFor('the route with a failure backend', (m) => JSON.stringify(httpRouteNames(m)) === '["gone"]');
  const d = got.msg.destination;
  const routes = d?.$case === 'service' && d.value.routes?.$case === 'http' ? d.value.routes.value.routes : [];
  const backend = routes[0]?.rules[0]?.backends[0]?.backend?.kind;
  assert.equal(backend?.$case, 'failure');
  assert.equal(backend?.$case === 'failure' ? backend.value.status : 0, 500);
  assert.equal(backend?.$case === 'failure' ? backend.value.reason : '', 'BackendNotFound');
});

test('a consumer route reaches only subscribers in its own namespace', async (t) => {
  const producer = await cluster.freshNamespace(t);
  const nsA = await cluster.freshNamespace(t);
  const nsB = await cluster.freshNamespace(t);
  const ip = await service(producer, 'web');
  await clientPod(nsA, 'a-0', 'client');
  await clientPod(nsB, 'b-0', 'client');
  const sa = await watchOutbound(t, clientsFor(t, await workloadCert(mesh, nsA, 'client')), { namespace: nsA, pod: 'a-0', ip, port: 80 });
  const sb = await watchOutbound(t, clientsFor(t, await workloadCert(mesh, nsB, 'client')), { namespace: nsB, pod: 'b-0', ip, port: 80 });
  await cluster.apply(nsA, route('mine', { ns: producer, name: 'web' }, [{ ns: producer, name: 'web' }]));
  await sa.waitFor('the consumer route in namespace A', (m) => JSON.stringify(httpRouteNames(m)) === '["mine"]');
  // Give a wrong push to B time to arrive before asserting there was none.
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(sb.messages.length, 1, 'namespace B got no push');
  assert.equal(httpRouteNames(sb.latest!), 'passthrough');
});

test('a pod becoming unready leaves the ready endpoints pushed by discovery', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await service(ns, 'web');
  await cluster.apply(ns, `
apiVersion: v1
kind: Pod
metadata: {name: web-0, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: ${cluster.info.toolboxImage}
    command: [sh, -c, "touch /tmp/ready; sleep 3600"]
    ports: [{containerPort: 8080, name: http}]
    readinessProbe: {exec: {command: [cat, /tmp/ready]}, periodSeconds: 1, failureThreshold: 1}
`);
  const pod = await cluster.waitPodReady(ns, 'web-0', { timeoutMs: 90_000 });
  const podIp = pod.status?.podIP;
  const c = clientsFor(t, await workloadCert(mesh, ns, 'default'));
  const s = new Collected<Endpoints>(c.discovery.watch({ namespace: ns, name: 'web', port: 80 }));
  t.after(() => s.cancel());
  const readyHas = (m: Endpoints) => m.endpoints.some((e) => e.ip === podIp && e.ready);
  await s.waitFor('the ready endpoint', readyHas, { timeoutMs: 60_000 });
  const r = await cluster.exec(ns, 'web-0', 'main', ['rm', '/tmp/ready']);
  assert.equal(r.code, 0, r.stderr);
  const gone = await s.waitFor('the endpoint no longer ready', (m) => !readyHas(m), { timeoutMs: 60_000 });
  assert.equal(gone.msg.serviceExists, true);
  assert.equal(gone.msg.endpoints.find((e) => e.ip === podIp)?.port ?? 8080, 8080);
});

test('a subscriber asking about another ServiceAccount\'s workload is refused; one without a certificate is unauthenticated', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await clientPod(ns, 'client-0', 'client');
  const ip = await service(ns, 'web');
  // Make sure the controller knows the pod, so the refusal is about identity.
  await watchOutbound(t, clientsFor(t, await workloadCert(mesh, ns, 'client')), { namespace: ns, pod: 'client-0', ip, port: 80 });
  const intruder = clientsFor(t, await workloadCert(mesh, ns, 'intruder'));
  const denied = await new Collected(intruder.outbound.watch({ namespace: ns, pod: 'client-0', ip, port: 80 })).failure();
  assert.equal(denied.code, status.PERMISSION_DENIED, denied.details);
  assert.match(denied.details, /runs as ServiceAccount client/);
  const inbound = await new Collected(intruder.inbound.watch({ namespace: ns, pod: 'client-0', port: 8080 })).failure();
  assert.equal(inbound.code, status.PERMISSION_DENIED, inbound.details);
  const anonymous = clientsFor(t, undefined);
  const unauth = await new Collected(anonymous.outbound.watch({ namespace: ns, pod: 'client-0', ip, port: 80 })).failure();
  assert.equal(unauth.code, status.UNAUTHENTICATED, (unauth as ServiceError).details);
});

test('the webhook rejects an HTTPRoute whose RegularExpression uses a backreference, naming the field', async (t) => {
  const tag = randomBytes(3).toString('hex');
  const ns = await cluster.freshNamespace(t, { 'weft.dev/e2e-webhook': tag });
  await service(ns, 'web');
  const name = `weft-e2e-pc-${tag}`;
  // eslint-disable-next-line prefer-spread -- Cluster.apply applies YAML; it is not Function.prototype.apply
  await cluster.apply(undefined, `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: ${name}}
webhooks:
- name: routes.policy.weft.dev
  clientConfig:
    url: https://${HOST_BRIDGE_IP}:${controller.webhookPort}/validate
    caBundle: ${Buffer.from(webhookCaPem).toString('base64')}
  rules:
  - {apiGroups: [gateway.networking.k8s.io], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [httproutes, grpcroutes]}
  - {apiGroups: [policy.weft.dev], apiVersions: [v1alpha1], operations: [CREATE, UPDATE], resources: ["*"]}
  namespaceSelector: {matchLabels: {weft.dev/e2e-webhook: "${tag}"}}
  sideEffects: None
  admissionReviewVersions: [v1]
  failurePolicy: Fail
  timeoutSeconds: 10
`);
  t.after(() => cluster.kubectl(['delete', 'validatingwebhookconfiguration', name, '--ignore-not-found']).then(() => undefined));
  const bad = (n: number) => `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: backref-${n}}
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 80}]
  rules:
  - matches: [{path: {type: RegularExpression, value: "/(a+)\\\\1"}}]
    backendRefs: [{name: web, port: 80}]
`;
  let message = '';
  let n = 0;
  // The API server picks up a new webhook configuration within a few seconds.
  await cluster.waitFor('the webhook to reject the route', async () => {
    try {
      await cluster.apply(ns, bad(n++));
      return 'admitted (webhook not active yet)';
    } catch (err) {
      message = String((err as { body?: unknown }).body ?? (err as Error).message);
      return /weft/.test(message) ? true : `other error: ${message.slice(0, 300)}`;
    }
  }, { timeoutMs: 60_000, intervalMs: 1000 });
  assert.match(message, /spec\.rules\[0\]\.matches\[0\]\.path\.value/);
  assert.match(message, /backreference/);
  // A valid route in the same namespace is admitted.
  await cluster.apply(ns, route('fine', { name: 'web' }, [{ name: 'web' }]));
});

test('after the controller is killed and restarted, subscribers get a complete, consistent view again', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await clientPod(ns, 'client-0', 'client');
  const ip = await service(ns, 'web');
  await service(ns, 'web-v2');
  await cluster.apply(ns, route('first', { name: 'web' }, [{ name: 'web-v2' }]));
  const cert = await workloadCert(mesh, ns, 'client');
  const s1 = await watchOutbound(t, clientsFor(t, cert), { namespace: ns, pod: 'client-0', ip, port: 80 });
  await s1.waitFor('the first route', (m) => JSON.stringify(httpRouteNames(m)) === '["first"]');

  const ports = { grpc: controller.grpcAddress.split(':').pop()!, admin: controller.adminPort, webhook: controller.webhookPort };
  await controller.stop('SIGKILL');
  const lost = await s1.failure();
  assert.equal(lost.code, status.UNAVAILABLE, lost.details);
  // A change while the controller is down must be in the first snapshot after the restart.
  await cluster.apply(ns, route('second', { name: 'web' }, [{ name: 'web' }]));
  controller = await startControllerProcess([...controllerArgs, '--grpc-port', ports.grpc, '--admin-port', String(ports.admin), '--webhook-port', String(ports.webhook)]);
  await waitReady();

  const s2 = await watchOutbound(t, clientsFor(t, cert), { namespace: ns, pod: 'client-0', ip, port: 80 });
  assert.deepEqual(httpRouteNames(s2.messages[0]!.msg), ['first', 'second'], 'the first snapshot after the restart is complete');
  assert.equal(s2.messages[0]!.msg.version, 1, 'versions start over on a new stream');
  // A second subscriber of the same view gets the same snapshot.
  const s3 = await watchOutbound(t, clientsFor(t, cert), { namespace: ns, pod: 'client-0', ip, port: 80 });
  const strip = (m: DestinationPolicy) => JSON.stringify({ ...m, version: 0, generatedAt: undefined });
  assert.equal(strip(s3.messages[0]!.msg), strip(s2.messages[0]!.msg));
});
