/**
 * Reliability under faults (design.md section 9) on the local cluster: steady open-loop load between
 * meshed pods, through
 *   (a) three certificate rotations (the controller's WEFT_CERT_LIFETIME set short),
 *   (c) ten HTTPRoute updates a second (weights and a header filter),
 *   (d) a rolling restart of the server Deployment,
 *   (b) the controller scaled to 0 then restored, with
 *   (e) a pod of the server Service created during that outage: it stays not ready, is never an
 *       endpoint and answers nothing while the controller is away.
 * Every request the client sends is counted (test/support/load-loop.ts runs in the client pod), and
 * the test fails on any failed request: per phase and in total.
 *
 * CI runs the short form (20 s certificates, 25 s phases). WEFT_RELIABILITY_FULL=1 runs the full form
 * (60 s certificates, 60 s phases); bench/reliability/run.ts does that and prints the figures.
 * WEFT_RELIABILITY_REPORT=<file> writes the figures as JSON.
 *
 * It changes the controller Deployment (WEFT_CERT_LIFETIME, replicas) of whatever install it finds and
 * restores both; on a cluster shared with other tests that is a controller restart and outage for
 * them too. A trust anchor that changes under the test (someone else reinstalled Weft) fails the
 * phase with that reason rather than with counts that would mean nothing.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import { after, before, test } from 'node:test';
import type { TestContext } from 'node:test';
import type { KubernetesObject } from '@kubernetes/client-node';
import { PatchStrategy } from '@kubernetes/client-node';
import { CONTROL_PLANE_ENV, CONTROL_PLANE_NAMESPACE, CONTROLLER_NAME, DEFAULT_EXAMPLES_IMAGE, INJECT_ANNOTATION, INJECT_ENABLED, MESH_ALPN } from '../../core/contract.js';
import { FIELD_MANAGER, useCluster } from '../cluster/fixture.js';
import type { Cluster } from '../cluster/fixture.js';
import type { LoadCounts, LoadFailure } from '../support/load-loop.js';
import { loadControl } from '../support/load-control.js';
import { useMesh } from '../support/mesh.js';
import type { Mesh } from '../support/mesh.js';

const FULL = process.env['WEFT_RELIABILITY_FULL'] === '1';
const REPORT = process.env['WEFT_RELIABILITY_REPORT'];
const PLAN = FULL
  ? { certLifetimeS: 60, rotations: 3, outageS: 60, routeUpdatesS: 60, rate: 20 }
  : { certLifetimeS: 20, rotations: 3, outageS: 25, routeUpdatesS: 25, rate: 10 };
const ROUTE_UPDATES_PER_S = 10;
const APP_PORT = 9898;
const CONTROL_PORT = 9000;
const LIFETIME_ENV = CONTROL_PLANE_ENV.certLifetime;

let cluster: Cluster;
let mesh: Mesh | undefined;
let lifetimeBefore: string | undefined;
let lifetimeChanged = false;

interface PhaseFigures { phase: string; seconds: number; started: number; ok: number; failed: number; note: string }
const figures: PhaseFigures[] = [];

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await cluster.kubectl(args, input === undefined ? { timeoutMs: 120_000 } : { input, timeoutMs: 120_000 });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const controllerEnv = async (): Promise<string | undefined> => {
  const out = await kubectlOk(['-n', CONTROL_PLANE_NAMESPACE, 'get', 'deployment', CONTROLLER_NAME, '-o', `jsonpath={.spec.template.spec.containers[0].env[?(@.name=="${LIFETIME_ENV}")].value}`]);
  return out === '' ? undefined : out;
};

async function setControllerLifetime(value: string | undefined): Promise<void> {
  await kubectlOk(['-n', CONTROL_PLANE_NAMESPACE, 'set', 'env', `deployment/${CONTROLLER_NAME}`, value === undefined ? `${LIFETIME_ENV}-` : `${LIFETIME_ENV}=${value}`]);
  await kubectlOk(['-n', CONTROL_PLANE_NAMESPACE, 'rollout', 'status', `deployment/${CONTROLLER_NAME}`, '--timeout=180s']);
}

before(async () => {
  cluster = await useCluster();
  mesh = await useMesh(cluster);
  lifetimeBefore = await controllerEnv();
});

after(async () => {
  if (lifetimeChanged) await setControllerLifetime(lifetimeBefore).catch(() => undefined);
  await cluster.kubectl(['-n', CONTROL_PLANE_NAMESPACE, 'scale', `deployment/${CONTROLLER_NAME}`, '--replicas=1']);
  if (REPORT !== undefined) await writeFile(REPORT, `${JSON.stringify({ plan: PLAN, full: FULL, figures }, null, 2)}\n`);
  await mesh?.release();
});

function workloads(ns: string): string {
  const server = (version: string, replicas: number) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: server-${version}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: server, version: ${version}}}
  template:
    metadata: {labels: {app: server, version: ${version}}}
    spec:
      serviceAccountName: server
      terminationGracePeriodSeconds: 20
      containers:
        - name: podinfo
          image: ${DEFAULT_EXAMPLES_IMAGE}
          args: [booksapp, podinfo]
          env: [{name: NAME, value: backend-${version}}, {name: PORT, value: "${APP_PORT}"}]
          ports: [{name: http, containerPort: ${APP_PORT}}]
          readinessProbe: {httpGet: {path: /ready, port: http}, periodSeconds: 2}
`;
  const service = (name: string, selector: string) => `
apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  selector: {${selector}}
  ports: [{name: http, port: 80, targetPort: http, appProtocol: http}]
`;
  return [
    'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: server}\n',
    'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: client}\n',
    server('a', 2),
    server('b', 1),
    service('server', 'app: server'),
    service('server-a', 'app: server, version: a'),
    service('server-b', 'app: server, version: b'),
    `
apiVersion: apps/v1
kind: Deployment
metadata: {name: client}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec:
      serviceAccountName: client
      containers:
        - name: load
          image: ${DEFAULT_EXAMPLES_IMAGE}
          args: [load-loop]
          env:
            - {name: TARGET_URL, value: "http://server.${ns}.svc.cluster.local/"}
            - {name: RATE, value: "${PLAN.rate}"}
            - {name: CONTROL_PORT, value: "${CONTROL_PORT}"}
`,
  ].join('---\n');
}

function route(ns: string, i: number): KubernetesObject {
  const a = 10 + ((i * 37) % 81);
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'split', namespace: ns },
    spec: {
      parentRefs: [{ group: '', kind: 'Service', name: 'server', port: 80 }],
      rules: [{
        filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-revision', value: String(i) }] } }],
        backendRefs: [{ name: 'server-a', port: 80, weight: a }, { name: 'server-b', port: 80, weight: 100 - a }],
      }],
    },
  } as KubernetesObject;
}

const applyRoute = (obj: KubernetesObject) => cluster.objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);

async function podNames(ns: string, selector: string): Promise<{ name: string; ip: string; ready: boolean }[]> {
  const list = await cluster.core.listNamespacedPod({ namespace: ns, labelSelector: selector });
  return list.items.filter((p) => p.metadata?.deletionTimestamp === undefined).map((p) => ({
    name: p.metadata?.name ?? '',
    ip: p.status?.podIP ?? '',
    ready: p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True',
  }));
}

/** The load loop's control server, reached from inside the client pod over loopback. */
function control(ns: string, pod: string, method: 'GET' | 'POST', path: string, timeoutMs = 30_000): Promise<LoadCounts> {
  return loadControl(cluster, ns, pod, method, path, { port: CONTROL_PORT, timeoutMs });
}

/**
 * The serial number and expiry of the certificate a meshed pod's inbound proxy presents to a TLS
 * ClientHello offering the mesh ALPN (the handshake then fails for want of a client certificate).
 */
function servedCertificate(ip: string): Promise<{ serial: string; validTo: number }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: ip, port: APP_PORT, rejectUnauthorized: false, ALPNProtocols: [MESH_ALPN.http1], timeout: 5000 });
    s.once('secureConnect', () => {
      const c = s.getPeerCertificate();
      s.destroy();
      resolve({ serial: c.serialNumber, validTo: Date.parse(c.valid_to) });
    });
    s.once('timeout', () => { s.destroy(); reject(new Error(`TLS to ${ip}:${APP_PORT} timed out`)); });
    s.once('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const describeFailures = (f: readonly LoadFailure[]) => f.slice(0, 20).map((x) => `${new Date(x.at).toISOString()} +${x.ms}ms status=${x.status} weft-proxy-error=${x.proxyError} ${x.detail}`).join('\n');

/** The trust anchor in the cluster now; a change means someone else reinstalled Weft meanwhile. */
const trustAnchor = () => kubectlOk(['-n', CONTROL_PLANE_NAMESPACE, 'get', 'configmap', 'weft-identity-trust-anchors', '-o', 'jsonpath={.data.ca\\.crt}']);
let anchorAtStart = '';

/** Runs a phase under load; asserts no request started in it (or still in flight at its end) failed. */
async function phase(t: TestContext, ns: string, client: string, name: string, body: () => Promise<string>): Promise<void> {
  const begin = await control(ns, client, 'GET', '/counts');
  const t0 = Date.now();
  let note = '';
  let err: unknown;
  try {
    note = await body();
  } catch (e) {
    err = e;
  }
  // Let requests started during the phase finish (timeout 10 s) before reading the counters.
  await sleep(2000);
  const end = await control(ns, client, 'GET', '/counts');
  const f: PhaseFigures = { phase: name, seconds: Math.round((Date.now() - t0) / 1000), started: end.started - begin.started, ok: end.ok - begin.ok, failed: end.failed - begin.failed, note };
  figures.push(f);
  t.diagnostic(`${name}: ${f.seconds} s, ${f.started} requests, ${f.ok} ok, ${f.failed} failed${note ? `; ${note}` : ''}`);
  if (f.failed > 0) t.diagnostic(`failures:\n${describeFailures(end.failures.filter((x) => x.at >= t0 - 2000))}`);
  const anchor = await trustAnchor().catch(() => 'unreadable');
  assert.equal(anchor === anchorAtStart, true, `Weft was uninstalled or reinstalled by someone else during ${name}: its figures mean nothing (${err === undefined ? 'no error' : String(err)})`);
  if (err !== undefined) throw err;
  assert.ok(f.started >= PLAN.rate * f.seconds * 0.5, `the load kept running through ${name}: ${f.started} requests in ${f.seconds} s`);
  assert.equal(f.failed, 0, `failed requests during ${name}:\n${describeFailures(end.failures.filter((x) => x.at >= t0 - 2000))}`);
}

test('open-loop load between meshed pods sees zero failed requests through certificate rotations, route churn, a rolling restart and a controller outage; a pod created during the outage stays unready', { timeout: (FULL ? 30 : 14) * 60_000 }, async (t) => {
  // Short-lived certificates first, so every workload pod starts with them.
  anchorAtStart = await trustAnchor();
  lifetimeChanged = true;
  await setControllerLifetime(`${PLAN.certLifetimeS}s`);
  const ns = await cluster.freshNamespace(t);
  await kubectlOk(['annotate', 'namespace', ns, `${INJECT_ANNOTATION}=${INJECT_ENABLED}`]);
  await cluster.apply(ns, workloads(ns));
  await applyRoute(route(ns, 0));
  for (const d of ['server-a', 'server-b', 'client']) await cluster.waitDeploymentAvailable(ns, d, { timeoutMs: 240_000 });
  const [clientPod] = await podNames(ns, 'app=client');
  assert.ok(clientPod);
  const client = clientPod.name;
  await cluster.waitFor('the load loop\'s control server', async () => {
    try {
      await control(ns, client, 'GET', '/counts', 10_000);
      return true;
    } catch (e) {
      return (e as Error).message;
    }
  }, { timeoutMs: 60_000, intervalMs: 2000 });
  // The route is in the client proxy's config once a request through it reaches both backends.
  await cluster.waitFor('the client reaches both backends through the route', async () => {
    const r = await cluster.exec(ns, client, 'load', ['node', '-e', `Promise.all(Array.from({length: 10}, () => fetch('http://server.${ns}.svc.cluster.local/').then((r) => r.json()).then((j) => j.name))).then((n) => process.stdout.write([...new Set(n)].sort().join(',')))`], { timeoutMs: 30_000 });
    return r.stdout === 'backend-a,backend-b' ? true : `backends seen: ${r.stdout} ${r.stderr}`;
  }, { timeoutMs: 90_000, intervalMs: 2000 });

  const started = await control(ns, client, 'POST', '/start');
  assert.equal(started.failed, 0);
  await sleep(3000);

  await phase(t, ns, client, '(a) certificate rotations', async () => {
    const [server] = await podNames(ns, 'app=server,version=a');
    assert.ok(server);
    const targets = [{ what: `server pod ${server.name}`, ip: server.ip }, { what: `client pod ${client}`, ip: clientPod.ip }];
    const seen = targets.map(() => new Set<string>());
    const validTo = targets.map(() => 0);
    const deadline = Date.now() + (PLAN.rotations + 2) * PLAN.certLifetimeS * 1000;
    for (;;) {
      for (const [i, target] of targets.entries()) {
        const c = await servedCertificate(target.ip);
        assert.ok(c.validTo - Date.now() <= PLAN.certLifetimeS * 1000 + 60_000, `${target.what} serves a certificate valid until ${new Date(c.validTo).toISOString()}, longer than ${PLAN.certLifetimeS} s`);
        seen[i]?.add(c.serial);
        validTo[i] = c.validTo;
      }
      if (seen.every((s) => s.size >= PLAN.rotations + 1)) break;
      assert.ok(Date.now() < deadline, `rotations seen: ${targets.map((x, i) => `${x.what} ${(seen[i]?.size ?? 1) - 1} (serves a certificate valid until ${new Date(validTo[i] ?? 0).toISOString()})`).join(', ')} at ${new Date().toISOString()}`);
      await sleep(2000);
    }
    return `${PLAN.certLifetimeS} s certificates; rotations seen: ${seen.map((s) => s.size - 1).join(' (server), ')} (client)`;
  });

  // Back to the default lifetime (a controller restart), so the outage below does not outlive the certificates.
  await phase(t, ns, client, 'controller restart to default certificate lifetime', async () => {
    await setControllerLifetime(lifetimeBefore);
    lifetimeChanged = false;
    const [server] = await podNames(ns, 'app=server,version=a');
    assert.ok(server);
    await cluster.waitFor('the workloads renewed to long-lived certificates', async () => {
      for (const p of [...await podNames(ns, 'app=server'), ...await podNames(ns, 'app=client')]) {
        const c = await servedCertificate(p.ip);
        if (c.validTo - Date.now() < 3_600_000) return `${p.name} still serves a certificate valid until ${new Date(c.validTo).toISOString()}`;
      }
      return true;
    }, { timeoutMs: PLAN.certLifetimeS * 2000, intervalMs: 2000 });
    return 'every workload renewed to a long-lived certificate';
  });

  await phase(t, ns, client, `(c) ${ROUTE_UPDATES_PER_S} route updates/s`, async () => {
    const before = (await control(ns, client, 'GET', '/counts')).byBackend;
    const total = PLAN.routeUpdatesS * ROUTE_UPDATES_PER_S;
    const t0 = Date.now();
    let done = 0;
    const errors: string[] = [];
    const inFlight = new Set<Promise<void>>();
    for (let i = 1; i <= total; i++) {
      await sleep(Math.max(0, t0 + (i * 1000) / ROUTE_UPDATES_PER_S - Date.now()));
      const p = applyRoute(route(ns, i)).then(() => { done++; }, (e: unknown) => { errors.push((e as Error).message.split('\n')[0] ?? ''); }).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= 16) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const secs = (Date.now() - t0) / 1000;
    const afterCounts = (await control(ns, client, 'GET', '/counts')).byBackend;
    const delta = (k: string) => (afterCounts[k] ?? 0) - (before[k] ?? 0);
    assert.deepEqual(errors, [], 'every route update was accepted');
    assert.ok(done / secs >= ROUTE_UPDATES_PER_S * 0.8, `${done} updates in ${secs.toFixed(1)} s`);
    assert.ok(delta('backend-a') > 0 && delta('backend-b') > 0, `both backends served during the churn: ${JSON.stringify({ a: delta('backend-a'), b: delta('backend-b') })}`);
    return `${done} updates in ${secs.toFixed(1)} s (${(done / secs).toFixed(1)}/s); backend-a ${delta('backend-a')}, backend-b ${delta('backend-b')}`;
  });

  await phase(t, ns, client, '(d) rolling restart of server-a', async () => {
    const old = new Set((await podNames(ns, 'app=server,version=a')).map((p) => p.name));
    await kubectlOk(['-n', ns, 'rollout', 'restart', 'deployment/server-a']);
    await kubectlOk(['-n', ns, 'rollout', 'status', 'deployment/server-a', '--timeout=240s']);
    await cluster.waitFor('the old server-a pods are gone', async () => {
      const left = (await podNames(ns, 'app=server,version=a')).filter((p) => old.has(p.name));
      return left.length === 0 ? true : `still there: ${left.map((p) => p.name).join(', ')}`;
    }, { timeoutMs: 120_000, intervalMs: 1000 });
    return `${old.size} pods replaced`;
  });

  await phase(t, ns, client, `(b) controller outage of ${PLAN.outageS} s, (e) a pod created during it`, async () => {
    await kubectlOk(['-n', CONTROL_PLANE_NAMESPACE, 'scale', `deployment/${CONTROLLER_NAME}`, '--replicas=0']);
    await cluster.waitFor('no controller pod left', async () => {
      const pods = await cluster.core.listNamespacedPod({ namespace: CONTROL_PLANE_NAMESPACE, labelSelector: `app.kubernetes.io/name=${CONTROLLER_NAME}` });
      return pods.items.length === 0 ? true : `${pods.items.length} controller pods`;
    }, { timeoutMs: 90_000, intervalMs: 1000 });
    const outageStart = Date.now();
    // (e) A pod the server Service selects, created while the controller is away.
    await cluster.apply(ns, `
apiVersion: v1
kind: Pod
metadata: {name: late, labels: {app: server, version: a}}
spec:
  serviceAccountName: server
  containers:
    - name: podinfo
      image: ${DEFAULT_EXAMPLES_IMAGE}
      args: [booksapp, podinfo]
      env: [{name: NAME, value: late}, {name: PORT, value: "${APP_PORT}"}]
      ports: [{name: http, containerPort: ${APP_PORT}}]
      readinessProbe: {httpGet: {path: /ready, port: http}, periodSeconds: 2}
`);
    let probes = 0;
    let answered = 0;
    const answers: string[] = [];
    while (Date.now() - outageStart < PLAN.outageS * 1000) {
      const late = await cluster.core.readNamespacedPod({ namespace: ns, name: 'late' });
      assert.notEqual(late.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True', 'the pod created during the outage became ready without a controller');
      const ip = late.status?.podIP;
      if (ip) {
        probes++;
        try {
          const r = await fetch(`http://${ip}:${APP_PORT}/`, { signal: AbortSignal.timeout(2000) });
          answered++;
          answers.push(`${r.status} ${(await r.text()).slice(0, 100)}`);
        } catch {
          // refused or nothing listening: what we want
        }
      }
      await sleep(1000);
    }
    assert.equal(answered, 0, `the pod created during the outage answered: ${answers.join('; ')}`);
    assert.ok(probes > 0, 'the pod created during the outage got an IP to probe');
    const slices = await kubectlOk(['-n', ns, 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=server', '-o', 'json']);
    const lateIp = (await cluster.core.readNamespacedPod({ namespace: ns, name: 'late' })).status?.podIP ?? '';
    const endpoints = (JSON.parse(slices) as { items: { endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[] }[] }).items.flatMap((s) => s.endpoints ?? []);
    assert.ok(!endpoints.some((e) => e.addresses.includes(lateIp) && e.conditions?.ready === true), 'the pod created during the outage is not a ready endpoint');
    await kubectlOk(['-n', CONTROL_PLANE_NAMESPACE, 'scale', `deployment/${CONTROLLER_NAME}`, '--replicas=1']);
    await cluster.waitDeploymentAvailable(CONTROL_PLANE_NAMESPACE, CONTROLLER_NAME, { timeoutMs: 180_000 });
    const outage = Math.round((Date.now() - outageStart) / 1000);
    await cluster.waitPodReady(ns, 'late', { timeoutMs: 180_000 });
    return `controller away ${outage} s; pod "late" unready, ${probes} direct probes, ${answered} answered; ready after the controller returned`;
  });

  const final = await control(ns, client, 'POST', '/stop', 60_000);
  figures.push({ phase: 'total', seconds: 0, started: final.started, ok: final.ok, failed: final.failed, note: `backends ${JSON.stringify(final.byBackend)}, max latency ${final.maxLatencyMs} ms` });
  t.diagnostic(`total: ${final.started} requests, ${final.ok} ok, ${final.failed} failed, in flight ${final.inFlight}; ${JSON.stringify(final.byBackend)}; max latency ${final.maxLatencyMs} ms`);
  assert.equal(final.inFlight, 0);
  assert.equal(final.started, final.ok + final.failed, 'every request was answered or counted as failed');
  assert.equal(final.failed, 0, `failed requests:\n${describeFailures(final.failures)}`);
});
