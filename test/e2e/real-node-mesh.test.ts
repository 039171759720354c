/**
 * What only a real node shows about the mesh: the kubelet enforces the capabilities, probes and
 * sidecar lifecycle that `weft install` and the injector render.
 *   - proxy-init succeeds with NET_ADMIN and NET_RAW as its only added capabilities; without them the
 *     pod never starts and proxy-init's log says why;
 *   - the kubelet's probes still pass under a deny-all inbound policy;
 *   - a Job's pod completes and its native sidecar (the proxy) exits with it;
 *   - an injected proxy under its rendered memory limit carries 500 requests/s for 5 minutes
 *     (WEFT_SOAK_SECONDS) without a restart;
 *   - `weft upgrade --image` to a new tag rolls the control plane onto it while running proxies serve.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BatchV1Api, type V1Pod } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

import { join } from 'node:path';

import { CONFIG_ANNOTATIONS, CONTROL_PLANE_NAMESPACE, DEFAULT_EXAMPLES_IMAGE, DEFAULT_IMAGE, INJECT_ANNOTATION, INJECT_ENABLED } from '../../core/contract.js';
import { CONTAINERD_DIR, CONTAINERD_K8S_NAMESPACE, CONTAINERD_SOCKET } from '../cluster/config.js';
import { describePod } from '../cluster/fixture.js';
import { cmd } from '../cluster/net.js';
import { loadControl } from '../support/load-control.js';
import type { LoadCounts } from '../support/load-loop.js';
import { useMesh, type Mesh } from '../support/mesh.js';

let mesh: Mesh;

before(async () => {
  mesh = await useMesh();
});

after(async () => {
  await mesh?.release();
});

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await mesh.cluster.kubectl(args, { timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function readPod(ns: string, name: string): Promise<V1Pod> {
  return mesh.cluster.core.readNamespacedPod({ namespace: ns, name });
}

/** `weft inject` of one Pod, as an object (the webhook leaves already-injected pods alone). */
async function injectedPod(ns: string, name: string): Promise<V1Pod> {
  const r = await mesh.weft(['inject', '-n', ns, '-'], JSON.stringify({
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns },
    spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'app', image: mesh.cluster.info.toolboxImage, command: ['sleep', 'infinity'] }] },
  }));
  assert.equal(r.code, 0, r.stderr);
  const [doc] = parseAllDocuments(r.stdout).map((d) => d.toJS() as V1Pod);
  assert.ok(doc);
  return doc;
}

test('proxy-init runs with NET_ADMIN and NET_RAW as its only added capabilities; without them the pod never starts and its log says why', async (t) => {
  const ns = await mesh.cluster.freshNamespace(t);
  const pod = await injectedPod(ns, 'capable');
  const init = pod.spec?.initContainers?.find((c) => c.name === 'weft-init');
  assert.ok(init, 'weft inject rendered proxy-init');
  assert.deepEqual([...(init.securityContext?.capabilities?.add ?? [])].sort(), ['NET_ADMIN', 'NET_RAW']);
  assert.deepEqual(init.securityContext?.capabilities?.drop, ['ALL']);
  await kubectlOk(['apply', '-f', '-'], JSON.stringify(pod));
  await mesh.cluster.waitPodReady(ns, 'capable', { timeoutMs: 120_000 });
  assert.match(await mesh.cluster.logs(ns, 'capable', 'weft-init'), /IPv4 redirection in place/);

  // The same pod with the capabilities taken away, as a policy engine might.
  const bare = await injectedPod(ns, 'incapable');
  const caps = bare.spec?.initContainers?.find((c) => c.name === 'weft-init')?.securityContext?.capabilities;
  assert.ok(caps);
  delete caps.add;
  await kubectlOk(['apply', '-f', '-'], JSON.stringify(bare));
  let log = '';
  await mesh.cluster.waitFor('proxy-init to fail and log why', async () => {
    const p = await readPod(ns, 'incapable');
    const st = p.status?.initContainerStatuses?.find((c) => c.name === 'weft-init');
    const failed = (st?.state?.terminated?.exitCode ?? 0) !== 0 || (st?.lastState?.terminated?.exitCode ?? 0) !== 0;
    if (!failed) return describePod(p);
    log = await mesh.cluster.logs(ns, 'incapable', 'weft-init');
    return /NET_ADMIN/.test(log) ? true : `log so far: ${log}`;
  }, { timeoutMs: 120_000, intervalMs: 1000 });
  assert.match(log, /^weft proxy-init: .*Permission denied.*proxy-init needs the NET_ADMIN and NET_RAW capabilities/m);
  const p = await readPod(ns, 'incapable');
  assert.notEqual(p.status?.conditions?.find((c) => c.type === 'Initialized')?.status, 'True', 'the app never starts unredirected');
  assert.equal(p.status?.containerStatuses?.find((c) => c.name === 'app')?.state?.running, undefined);
});

test('the kubelet\'s probes pass under a deny-all inbound policy while the app port refuses everyone else', async (t) => {
  const ns = await mesh.cluster.freshNamespace(t);
  await kubectlOk(['annotate', 'namespace', ns, `${INJECT_ANNOTATION}=${INJECT_ENABLED}`, `${CONFIG_ANNOTATIONS.defaultInboundPolicy}=deny`]);
  await mesh.cluster.apply(ns, `
apiVersion: v1
kind: Pod
metadata: {name: probed, labels: {app: probed}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: ${DEFAULT_EXAMPLES_IMAGE}
    args: [booksapp, podinfo]
    env: [{name: PORT, value: "9898"}, {name: NAME, value: probed}]
    ports: [{name: http, containerPort: 9898}]
    readinessProbe: {httpGet: {path: /ready, port: http}, periodSeconds: 1}
    livenessProbe: {httpGet: {path: /ready, port: http}, periodSeconds: 1, failureThreshold: 2}
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: app, image: ${DEFAULT_EXAMPLES_IMAGE}, command: [sleep, infinity]}
`);
  const pod = await mesh.cluster.waitPodReady(ns, 'probed', { timeoutMs: 120_000 });
  assert.deepEqual(pod.spec?.initContainers?.map((c) => c.name), ['weft-init', 'weft-proxy'], 'the pod is meshed');
  await mesh.cluster.waitPodReady(ns, 'client', { timeoutMs: 120_000 });
  // Twenty more seconds of probes every second: still Ready, never restarted.
  await new Promise((r) => setTimeout(r, 20_000));
  const later = await readPod(ns, 'probed');
  assert.equal(later.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True', describePod(later));
  assert.equal(later.status?.containerStatuses?.find((c) => c.name === 'app')?.restartCount, 0, describePod(later));
  // A meshed client asking the same path is refused: the probe rule admits only the kubelet.
  const r = await mesh.cluster.exec(ns, 'client', 'app', ['node', '-e', `fetch('http://${later.status?.podIP}:9898/ready').then((r) => console.log(r.status), (e) => console.log('error ' + e.message))`]);
  assert.equal(r.stdout.trim(), '403', `a meshed client's GET /ready: ${r.stdout} ${r.stderr}`);
});

test('a Job\'s meshed pod completes and its proxy exits with it', async (t) => {
  const ns = await mesh.cluster.freshNamespace(t);
  await kubectlOk(['annotate', 'namespace', ns, `${INJECT_ANNOTATION}=${INJECT_ENABLED}`]);
  await mesh.cluster.apply(ns, `
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  backoffLimit: 0
  template:
    metadata: {labels: {app: once}}
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 5
      containers:
      - {name: app, image: ${mesh.cluster.info.toolboxImage}, command: [sh, -c, "echo done"]}
`);
  await mesh.cluster.waitFor('Job once to complete', async () => {
    const j = await mesh.cluster.kc.makeApiClient(BatchV1Api).readNamespacedJob({ namespace: ns, name: 'once' });
    if ((j.status?.failed ?? 0) > 0) throw new Error(`the Job failed: ${JSON.stringify(j.status)}`);
    return (j.status?.succeeded ?? 0) === 1 ? true : `succeeded ${j.status?.succeeded ?? 0}, active ${j.status?.active ?? 0}`;
  }, { timeoutMs: 180_000, intervalMs: 1000 });
  const [pod] = (await mesh.cluster.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=once' })).items;
  assert.ok(pod);
  assert.equal(pod.status?.phase, 'Succeeded', describePod(pod));
  assert.deepEqual(pod.spec?.initContainers?.map((c) => c.name), ['weft-init', 'weft-proxy']);
  const proxy = pod.status?.initContainerStatuses?.find((c) => c.name === 'weft-proxy');
  assert.ok(proxy?.state?.terminated !== undefined, `the proxy sidecar ended with the pod: ${describePod(pod)}`);
});

const APP_PORT = 9898;
const CONTROL_PORT = 9000;
const SOAK_RATE = 500;
const SOAK_SECONDS = Number(process.env['WEFT_SOAK_SECONDS'] ?? '300');

/** A podinfo server and a load-loop client, both meshed, in an annotated namespace. */
async function loadPair(ns: string, rate: number, extraAnnotations: Record<string, string> = {}): Promise<string> {
  await kubectlOk(['annotate', 'namespace', ns, `${INJECT_ANNOTATION}=${INJECT_ENABLED}`, ...Object.entries(extraAnnotations).map(([k, v]) => `${k}=${v}`)]);
  await mesh.cluster.apply(ns, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: server}
spec:
  selector: {matchLabels: {app: server}}
  template:
    metadata: {labels: {app: server}}
    spec:
      containers:
      - name: podinfo
        image: ${DEFAULT_EXAMPLES_IMAGE}
        args: [booksapp, podinfo]
        env: [{name: NAME, value: server}, {name: PORT, value: "${APP_PORT}"}]
        ports: [{name: http, containerPort: ${APP_PORT}}]
        readinessProbe: {httpGet: {path: /ready, port: http}, periodSeconds: 2}
---
apiVersion: v1
kind: Service
metadata: {name: server}
spec:
  selector: {app: server}
  ports: [{name: http, port: 80, targetPort: http, appProtocol: http}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec:
      containers:
      - name: load
        image: ${DEFAULT_EXAMPLES_IMAGE}
        args: [load-loop]
        env:
        - {name: TARGET_URL, value: "http://server.${ns}.svc.cluster.local/"}
        - {name: RATE, value: "${rate}"}
        - {name: CONTROL_PORT, value: "${CONTROL_PORT}"}
`);
  for (const d of ['server', 'client']) await mesh.cluster.waitDeploymentAvailable(ns, d, { timeoutMs: 180_000 });
  const [client] = (await mesh.cluster.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=client' })).items;
  assert.ok(client?.metadata?.name);
  const name = client.metadata.name;
  await mesh.cluster.waitFor('the client reaches the server through the mesh', async () => {
    const r = await mesh.cluster.exec(ns, name, 'load', ['node', '-e', `fetch('http://server.${ns}.svc.cluster.local/').then((r) => console.log(r.status), (e) => console.log(e.message))`]);
    return r.stdout.trim() === '200' ? true : `${r.stdout.trim()} ${r.stderr.trim()}`;
  }, { timeoutMs: 90_000, intervalMs: 2000 });
  return name;
}

function control(ns: string, pod: string, method: 'GET' | 'POST', path: string): Promise<LoadCounts> {
  return loadControl(mesh.cluster, ns, pod, method, path, { port: CONTROL_PORT, timeoutMs: 120_000 });
}

const proxyRestarts = (p: V1Pod): number => p.status?.initContainerStatuses?.find((c) => c.name === 'weft-proxy')?.restartCount ?? -1;

test(`an injected proxy under its rendered memory limit carries ${SOAK_RATE} requests/s for ${SOAK_SECONDS} s without a restart`, { timeout: (SOAK_SECONDS + 600) * 1000 }, async (t) => {
  const ns = await mesh.cluster.freshNamespace(t);
  const client = await loadPair(ns, SOAK_RATE);
  const pods = (await mesh.cluster.core.listNamespacedPod({ namespace: ns })).items;
  for (const p of pods) {
    const limit = p.spec?.initContainers?.find((c) => c.name === 'weft-proxy')?.resources?.limits?.['memory'];
    assert.ok(limit !== undefined, `${p.metadata?.name}: the injector renders a memory limit for the proxy`);
  }
  await control(ns, client, 'POST', '/start');
  await new Promise((r) => setTimeout(r, SOAK_SECONDS * 1000));
  const end = await control(ns, client, 'POST', '/stop');
  const after = (await mesh.cluster.core.listNamespacedPod({ namespace: ns })).items;
  const limits = after.map((p) => `${p.metadata?.name}: limit ${p.spec?.initContainers?.find((c) => c.name === 'weft-proxy')?.resources?.limits?.['memory']}, proxy restarts ${proxyRestarts(p)}`);
  t.diagnostic(`${end.started} requests in ${SOAK_SECONDS} s (${(end.started / SOAK_SECONDS).toFixed(0)}/s), ${end.ok} ok, ${end.failed} failed, max latency ${end.maxLatencyMs} ms; ${limits.join('; ')}`);
  for (const p of after) assert.equal(proxyRestarts(p), 0, `${p.metadata?.name}: ${describePod(p)}`);
  assert.ok(end.started >= SOAK_RATE * SOAK_SECONDS * 0.9, `the load ran at its rate: ${end.started} requests`);
  assert.ok(end.failed <= end.started * 0.001, `at most 0.1% failed: ${end.failed} of ${end.started}; first: ${JSON.stringify(end.failures.slice(0, 5))}`);
});

test('weft upgrade --image to a new tag rolls the control plane onto it while running proxies keep serving', { timeout: 900_000 }, async (t) => {
  const next = `${DEFAULT_IMAGE}-next`;
  const ctr = (args: string[]) => cmd(join(CONTAINERD_DIR, 'bin', 'ctr'), ['--address', CONTAINERD_SOCKET, '--namespace', CONTAINERD_K8S_NAMESPACE, ...args]);
  const tag = await ctr(['images', 'tag', '--force', DEFAULT_IMAGE, next]);
  assert.equal(tag.code, 0, `ctr images tag: ${tag.stderr}`);
  const ns = await mesh.cluster.freshNamespace(t);
  const client = await loadPair(ns, 20);
  const podsBefore = (await mesh.cluster.core.listNamespacedPod({ namespace: ns })).items;
  await control(ns, client, 'POST', '/start');
  const upgrade = async (image: string) => {
    const r = await mesh.weft(['upgrade', '--image', image]);
    assert.equal(r.code, 0, r.stderr);
    await kubectlOk(['apply', '--server-side', '-f', '-'], r.stdout);
    for (const d of ['weft-controller', 'weft-injector']) {
      await kubectlOk(['-n', CONTROL_PLANE_NAMESPACE, 'rollout', 'status', `deployment/${d}`, '--timeout=240s']);
    }
  };
  t.after(async () => {
    await upgrade(DEFAULT_IMAGE).catch(() => undefined);
    await ctr(['images', 'rm', next]);
  });
  await upgrade(next);
  for (const d of ['weft-controller', 'weft-injector']) {
    const pods = (await mesh.cluster.core.listNamespacedPod({ namespace: CONTROL_PLANE_NAMESPACE, labelSelector: `app.kubernetes.io/name=${d}` })).items
      .filter((p) => p.metadata?.deletionTimestamp === undefined);
    assert.ok(pods.length > 0, `${d} has pods`);
    for (const p of pods) assert.deepEqual(p.spec?.containers.map((c) => c.image), [next], `${p.metadata?.name} runs the new tag`);
  }
  // The new injector gives new pods the new proxy image (a server-side dry run goes through the webhook).
  const dry = await kubectlOk(['-n', ns, 'create', '--dry-run=server', '-o', 'json', '-f', '-'], JSON.stringify({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'new' }, spec: { containers: [{ name: 'a', image: mesh.cluster.info.toolboxImage }] },
  }));
  const dryPod = JSON.parse(dry) as V1Pod;
  assert.equal(dryPod.spec?.initContainers?.find((c) => c.name === 'weft-proxy')?.image, next, 'a new pod gets the new proxy image');
  await new Promise((r) => setTimeout(r, 5000));
  const counts = await control(ns, client, 'POST', '/stop');
  t.diagnostic(`during the upgrade: ${counts.started} requests, ${counts.ok} ok, ${counts.failed} failed`);
  assert.equal(counts.failed, 0, `failures during the upgrade: ${JSON.stringify(counts.failures.slice(0, 5))}`);
  assert.ok(counts.ok > 0);
  const podsAfter = (await mesh.cluster.core.listNamespacedPod({ namespace: ns })).items;
  assert.deepEqual(podsAfter.map((p) => [p.metadata?.uid, proxyRestarts(p)]).sort(), podsBefore.map((p) => [p.metadata?.uid, 0]).sort(), 'running pods kept their proxies');
});
