/**
 * End-to-end checks of the node agent on the local cluster (`npm run cluster -- up`): pods run as
 * processes in their own namespaces, become Ready, fill EndpointSlices and answer through kube-proxy;
 * readiness, restarts with backoff, deletion, native sidecars and pod-bound tokens behave as with a
 * kubelet. Each test works in a fresh namespace.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { AuthenticationV1Api, DiscoveryV1Api } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { useCluster } from '../cluster/fixture.js';
import type { Cluster } from '../cluster/fixture.js';

const ECHO_IMAGE = 'registry.k8s.io/gateway-api/echo-advanced:v1.5.1';
const BACKOFF_ANNOTATION = 'agent.weft.dev/restart-backoff-base-ms';

let cluster: Cluster;
let discovery: DiscoveryV1Api;
let auth: AuthenticationV1Api;

before(async () => {
  cluster = await useCluster();
  discovery = cluster.kc.makeApiClient(DiscoveryV1Api);
  auth = cluster.kc.makeApiClient(AuthenticationV1Api);
});

async function readyEndpointIPs(ns: string, service: string): Promise<string[]> {
  const slices = await discovery.listNamespacedEndpointSlice({ namespace: ns, labelSelector: `kubernetes.io/service-name=${service}` });
  return slices.items.flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready === true).flatMap((e) => e.addresses)).sort();
}

async function podsOf(ns: string, selector: string): Promise<V1Pod[]> {
  return (await cluster.core.listNamespacedPod({ namespace: ns, labelSelector: selector })).items;
}

function stateOf(ns: string, pod: string): { netns: string; containers: Record<string, { process?: { pid: number }; holder?: { pid: number } }> } | undefined {
  const dir = join(cluster.info.stateDir, 'pods');
  const f = existsSync(dir) ? readdirSync(dir).find((n) => n.startsWith(`${ns}_${pod}_`) && n.endsWith('.json')) : undefined;
  return f === undefined ? undefined : JSON.parse(readFileSync(join(dir, f), 'utf8')) as ReturnType<typeof stateOf>;
}

function netnsList(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n !== '');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('a 2-replica echo Deployment behind a Service becomes Ready, fills its EndpointSlice and answers from both pods through kube-proxy', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await cluster.apply(ns, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo}
spec:
  replicas: 2
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      containers:
      - name: echo
        image: ${ECHO_IMAGE}
        args: [--port=8080]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {port: http, path: /}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: caller}
spec:
  containers:
  - name: client
    image: ${ECHO_IMAGE}
    args: [--port=9000]
`);
  await cluster.waitDeploymentAvailable(ns, 'echo', { timeoutMs: 90_000 });
  await cluster.waitPodReady(ns, 'caller', { timeoutMs: 60_000 });
  const pods = await podsOf(ns, 'app=echo');
  assert.equal(pods.length, 2);
  const podIPs = pods.map((p) => p.status?.podIP ?? '').sort();
  for (const ip of podIPs) assert.match(ip, /^10\.244\.\d+\.\d+$/);
  await cluster.waitFor('both echo pods in the EndpointSlice', async () => {
    const ips = await readyEndpointIPs(ns, 'echo');
    return JSON.stringify(ips) === JSON.stringify(podIPs) ? true : `ready endpoints ${ips.join(',')} vs pods ${podIPs.join(',')}`;
  });
  const names = new Set(pods.map((p) => p.metadata?.name ?? ''));
  const seen = new Set<string>();
  await cluster.waitFor('answers from both replicas', async () => {
    const r = await cluster.exec(ns, 'caller', 'client', ['client', `http://echo.${ns}.svc.cluster.local/`, '--count=20'], { timeoutMs: 20_000 });
    for (const m of r.stdout.matchAll(/^(?:\[\d+\] )?Hostname=(.+)$/gm)) seen.add(m[1] ?? '');
    return [...names].every((n) => seen.has(n)) ? true : `exit ${r.code}; hostnames seen: ${[...seen].join(',')}; stderr: ${r.stderr.slice(0, 300)}`;
  }, { timeoutMs: 60_000, intervalMs: 1000 });
  assert.deepEqual([...seen].filter((n) => !names.has(n)), []);
});

test('a pod whose readiness probe fails leaves the EndpointSlice and comes back when it passes', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await cluster.apply(ns, `
apiVersion: v1
kind: Pod
metadata: {name: flaky, labels: {app: flaky}}
spec:
  containers:
  - name: main
    image: busybox
    command: [sh, -c, 'touch /tmp/ready-$(POD_NAME); exec sleep 3600']
    env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
    readinessProbe: {exec: {command: [sh, -c, 'test -f /tmp/ready-flaky']}, periodSeconds: 1, failureThreshold: 1}
---
apiVersion: v1
kind: Service
metadata: {name: flaky}
spec:
  selector: {app: flaky}
  ports: [{port: 80, targetPort: 8080}]
`);
  const pod = await cluster.waitPodReady(ns, 'flaky', { timeoutMs: 60_000 });
  const ip = pod.status?.podIP ?? '';
  await cluster.waitFor('pod ready in the EndpointSlice', async () => ((await readyEndpointIPs(ns, 'flaky')).includes(ip) ? true : 'not yet'));
  const rm = await cluster.exec(ns, 'flaky', 'main', ['rm', '/tmp/ready-flaky']);
  assert.equal(rm.code, 0, rm.stderr);
  await cluster.waitFor('pod leaves the ready endpoints', async () => ((await readyEndpointIPs(ns, 'flaky')).includes(ip) ? 'still ready' : true), { timeoutMs: 30_000 });
  const notReady = await cluster.core.readNamespacedPod({ name: 'flaky', namespace: ns });
  assert.equal(notReady.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'False');
  await cluster.exec(ns, 'flaky', 'main', ['touch', '/tmp/ready-flaky']);
  await cluster.waitFor('pod back in the ready endpoints', async () => ((await readyEndpointIPs(ns, 'flaky')).includes(ip) ? true : 'not yet'), { timeoutMs: 30_000 });
});

test('a crashing container restarts with growing backoff and reports CrashLoopBackOff', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await cluster.apply(ns, `
apiVersion: v1
kind: Pod
metadata: {name: crasher, annotations: {${BACKOFF_ANNOTATION}: "1000"}}
spec:
  containers:
  - name: main
    image: busybox
    command: [sh, -c, 'echo start $(date +%s%3N); exit 3']
`);
  const reasons = new Set<string>();
  let last: V1Pod | undefined;
  await cluster.waitFor('5 restarts', async () => {
    last = await cluster.core.readNamespacedPod({ name: 'crasher', namespace: ns });
    const cs = last.status?.containerStatuses?.[0];
    if (cs?.state?.waiting?.reason !== undefined) reasons.add(cs.state.waiting.reason);
    return (cs?.restartCount ?? 0) >= 5 ? true : `restartCount ${cs?.restartCount ?? 0}`;
  }, { timeoutMs: 60_000, intervalMs: 200 });
  const cs = last?.status?.containerStatuses?.[0];
  assert.equal(cs?.lastState?.terminated?.exitCode, 3);
  assert.equal(cs?.lastState?.terminated?.reason, 'Error');
  assert.ok(reasons.has('CrashLoopBackOff'), `waiting reasons seen: ${[...reasons].join(',')}`);
  assert.equal(last?.status?.phase, 'Running');
  const starts = [...(await cluster.logs(ns, 'crasher', 'main')).matchAll(/^start (\d+)$/gm)].map((m) => Number(m[1]));
  assert.ok(starts.length >= 6, `starts logged: ${starts.length}`);
  const gaps = starts.slice(1).map((s, i) => s - (starts[i] ?? 0));
  // Kubelet schedule with a 1 s base: immediate, 1 s, 2 s, 4 s, 8 s ...
  assert.ok((gaps[1] ?? 0) >= 900, `gaps ${gaps.join(',')}`);
  assert.ok((gaps[2] ?? 0) > (gaps[1] ?? 0) * 1.5, `gaps ${gaps.join(',')}`);
  assert.ok((gaps[3] ?? 0) > (gaps[2] ?? 0) * 1.5, `gaps ${gaps.join(',')}`);
});

test('deleting a pod stops its processes, removes its network namespace and deletes the Pod object', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await cluster.apply(ns, `
apiVersion: v1
kind: Pod
metadata: {name: victim}
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: main
    image: busybox
    command: [sleep, "3600"]
`);
  await cluster.waitPodReady(ns, 'victim', { timeoutMs: 60_000 });
  const st = stateOf(ns, 'victim');
  assert.ok(st !== undefined, 'state file exists');
  const pids = Object.values(st.containers).flatMap((c) => [c.process?.pid, c.holder?.pid]).filter((p): p is number => p !== undefined);
  assert.ok(pids.length >= 2 && pids.every(alive));
  assert.ok(netnsList().includes(st.netns));
  const t0 = Date.now();
  await cluster.core.deleteNamespacedPod({ name: 'victim', namespace: ns });
  await cluster.waitFor('pod object gone', async () => {
    try {
      await cluster.core.readNamespacedPod({ name: 'victim', namespace: ns });
      return 'still there';
    } catch {
      return true;
    }
  }, { timeoutMs: 30_000 });
  assert.ok(Date.now() - t0 < 10_000, 'sleep dies on SIGTERM, well before the grace period ends');
  assert.deepEqual(pids.filter(alive), []);
  assert.ok(!netnsList().includes(st.netns), `${st.netns} removed`);
  assert.equal(stateOf(ns, 'victim'), undefined);
});

test('a native sidecar starts before the app container and keeps running beside it', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await cluster.apply(ns, `
apiVersion: v1
kind: Pod
metadata: {name: withsidecar}
spec:
  volumes: [{name: shared, emptyDir: {}}]
  initContainers:
  - name: side
    image: busybox
    restartPolicy: Always
    command: [sh, -c, 'sleep 1; touch /shared/side-up; exec sleep 3600']
    volumeMounts: [{name: shared, mountPath: /shared}]
    startupProbe: {exec: {command: [test, -f, /shared/side-up]}, periodSeconds: 1}
  containers:
  - name: app
    image: busybox
    command: [sh, -c, 'if test -f /shared/side-up; then echo sidecar-was-up; else echo sidecar-missing; fi; exec sleep 3600']
    volumeMounts: [{name: shared, mountPath: /shared}]
`);
  const pod = await cluster.waitPodReady(ns, 'withsidecar', { timeoutMs: 60_000 });
  const side = pod.status?.initContainerStatuses?.find((c) => c.name === 'side');
  const app = pod.status?.containerStatuses?.find((c) => c.name === 'app');
  assert.ok(side?.state?.running && app?.state?.running);
  assert.ok(new Date(side.state.running.startedAt ?? 0) <= new Date(app.state.running.startedAt ?? 0));
  assert.match(await cluster.logs(ns, 'withsidecar', 'app'), /sidecar-was-up/);
  await new Promise((r) => setTimeout(r, 3000));
  const later = await cluster.core.readNamespacedPod({ name: 'withsidecar', namespace: ns });
  const sideLater = later.status?.initContainerStatuses?.find((c) => c.name === 'side');
  assert.ok(sideLater?.state?.running, 'sidecar still running');
  assert.equal(sideLater.restartCount, 0);
  assert.equal(sideLater.started, true);
});

test('a projected ServiceAccount token passes TokenReview while its pod lives and fails after the pod is deleted', async (t) => {
  const ns = await cluster.freshNamespace(t);
  const audience = 'e2e.weft.dev';
  await cluster.apply(ns, `
apiVersion: v1
kind: Pod
metadata: {name: tokenpod}
spec:
  terminationGracePeriodSeconds: 1
  securityContext: {runAsUser: 7102, runAsGroup: 7102}
  volumes:
  - name: tok
    projected:
      sources: [{serviceAccountToken: {path: token, audience: ${audience}, expirationSeconds: 600}}]
  containers:
  - name: main
    image: busybox
    command: [sleep, "3600"]
    volumeMounts: [{name: tok, mountPath: /var/run/secrets/tokens, readOnly: true}]
`);
  await cluster.waitPodReady(ns, 'tokenpod', { timeoutMs: 60_000 });
  const r = await cluster.exec(ns, 'tokenpod', 'main', ['cat', '/var/run/secrets/tokens/token']);
  assert.equal(r.code, 0, r.stderr);
  const token = r.stdout.trim();
  const who = await cluster.exec(ns, 'tokenpod', 'main', ['id', '-u']);
  assert.equal(who.stdout.trim(), '7102');
  const review = async () => (await auth.createTokenReview({ body: { spec: { token, audiences: [audience] } } })).status;
  const ok = await review();
  assert.equal(ok?.authenticated, true, ok?.error);
  assert.equal(ok.user?.username, `system:serviceaccount:${ns}:default`);
  assert.deepEqual(ok.user?.extra?.['authentication.kubernetes.io/pod-name'], ['tokenpod']);
  await cluster.core.deleteNamespacedPod({ name: 'tokenpod', namespace: ns });
  await cluster.waitFor('pod gone', async () => {
    try {
      await cluster.core.readNamespacedPod({ name: 'tokenpod', namespace: ns });
      return 'still there';
    } catch {
      return true;
    }
  }, { timeoutMs: 30_000 });
  await cluster.waitFor('token refused', async () => ((await review())?.authenticated === true ? 'still accepted' : true), { timeoutMs: 15_000 });
});

test('termination runs preStop, stops app containers first and native sidecars after them, then deletes the Pod', async (t) => {
  const ns = await cluster.freshNamespace(t);
  const loop = (name: string) => `trap 'echo ${name}-term $(date +%s%3N) $(cat /shared/prestop 2>/dev/null); exit 0' TERM; echo ${name}-up; while true; do sleep 0.1; done`;
  await cluster.apply(ns, `
apiVersion: v1
kind: Pod
metadata: {name: ordered}
spec:
  terminationGracePeriodSeconds: 10
  volumes: [{name: shared, emptyDir: {}}]
  initContainers:
  - name: side
    image: busybox
    restartPolicy: Always
    command: [sh, -c, "${loop('side')}"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  containers:
  - name: app
    image: busybox
    command: [sh, -c, "${loop('app')}"]
    volumeMounts: [{name: shared, mountPath: /shared}]
    lifecycle:
      preStop: {exec: {command: [sh, -c, 'echo prestop-ran > /shared/prestop; sleep 1']}}
`);
  await cluster.waitPodReady(ns, 'ordered', { timeoutMs: 60_000 });
  await cluster.core.deleteNamespacedPod({ name: 'ordered', namespace: ns });
  await cluster.waitFor('pod gone', async () => {
    try {
      await cluster.core.readNamespacedPod({ name: 'ordered', namespace: ns });
      return 'still there';
    } catch {
      return true;
    }
  }, { timeoutMs: 30_000 });
  const stamp = (log: string, what: string) => Number(/(\d{13})/.exec(log.split('\n').find((l) => l.startsWith(what)) ?? '')?.[1] ?? NaN);
  const appLog = await cluster.logs(ns, 'ordered', 'app');
  const sideLog = await cluster.logs(ns, 'ordered', 'side');
  const appTerm = stamp(appLog, 'app-term');
  const sideTerm = stamp(sideLog, 'side-term');
  assert.ok(Number.isFinite(appTerm) && Number.isFinite(sideTerm), `app log: ${appLog}\nside log: ${sideLog}`);
  assert.ok(sideTerm >= appTerm, `sidecar got SIGTERM at ${sideTerm}, before the app at ${appTerm}`);
  assert.match(appLog, /^app-term \d+ prestop-ran$/m, 'preStop ran before SIGTERM');
});

test('pods bound to the simulated node become Running and Ready with distinct 10.245.x addresses and no processes', async (t) => {
  const ns = await cluster.freshNamespace(t);
  const replicas = 200;
  const t0 = Date.now();
  await cluster.apply(ns, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: many}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: many}}
  template:
    metadata: {labels: {app: many}}
    spec:
      nodeSelector: {weft.dev/simulated: "true"}
      tolerations: [{key: weft.dev/simulated, operator: Exists, effect: NoSchedule}]
      containers: [{name: c, image: registry.k8s.io/pause:3.10}]
`);
  await cluster.waitDeploymentAvailable(ns, 'many', { timeoutMs: 120_000 });
  await cluster.waitFor(`${replicas} ready`, async () => {
    const d = await cluster.apps.readNamespacedDeployment({ name: 'many', namespace: ns });
    return d.status?.readyReplicas === replicas ? true : `ready ${d.status?.readyReplicas ?? 0}`;
  }, { timeoutMs: 120_000 });
  t.diagnostic(`${replicas} simulated pods Ready in ${Date.now() - t0} ms`);
  const pods = await podsOf(ns, 'app=many');
  const ips = pods.map((p) => p.status?.podIP ?? '');
  assert.equal(new Set(ips).size, replicas);
  for (const p of pods) {
    assert.equal(p.spec?.nodeName, 'weft-sim');
    assert.match(p.status?.podIP ?? '', /^10\.245\.\d+\.\d+$/);
  }
  assert.equal(stateOf(ns, pods[0]?.metadata?.name ?? ''), undefined, 'no local state for simulated pods');
});

test('a failing liveness probe restarts the container; an httpGet liveness probe from the node keeps a healthy one running', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await cluster.apply(ns, `
apiVersion: v1
kind: Pod
metadata: {name: live}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: busybox
    command: [sh, -c, 'touch /tmp/alive-live; exec sleep 3600']
    livenessProbe: {exec: {command: [test, -f, /tmp/alive-live]}, periodSeconds: 1, failureThreshold: 2}
  - name: echo
    image: ${ECHO_IMAGE}
    args: [--port=8080]
    livenessProbe: {httpGet: {port: 8080, path: /}, periodSeconds: 1, failureThreshold: 1}
`);
  await cluster.waitPodReady(ns, 'live', { timeoutMs: 60_000 });
  const rm = await cluster.exec(ns, 'live', 'main', ['rm', '/tmp/alive-live']);
  assert.equal(rm.code, 0, rm.stderr);
  await cluster.waitFor('liveness restart', async () => {
    const p = await cluster.core.readNamespacedPod({ name: 'live', namespace: ns });
    const cs = p.status?.containerStatuses?.find((c) => c.name === 'main');
    return (cs?.restartCount ?? 0) >= 1 && cs?.state?.running !== undefined ? true : `restartCount ${cs?.restartCount ?? 0}`;
  }, { timeoutMs: 30_000 });
  await new Promise((r) => setTimeout(r, 3000));
  const p = await cluster.core.readNamespacedPod({ name: 'live', namespace: ns });
  assert.equal(p.status?.containerStatuses?.find((c) => c.name === 'main')?.restartCount, 1, 'the restarted container recreated its file and stays alive');
  assert.equal(p.status?.containerStatuses?.find((c) => c.name === 'echo')?.restartCount, 0);
});

test('env and volumes: fieldRef, secretKeyRef, configMapKeyRef, envFrom, $(VAR) in args, secret/configMap/downwardAPI volumes, runAsUser and workingDir', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await cluster.apply(ns, `
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {MODE: fast, greeting.txt: hello}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: envpod, labels: {tier: web}}
spec:
  serviceAccountName: default
  securityContext: {runAsUser: 4321, runAsGroup: 4321, fsGroup: 5555}
  volumes:
  - {name: cfgvol, configMap: {name: cfg}}
  - {name: secvol, secret: {secretName: creds, defaultMode: 0440}}
  - name: podinfo
    downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}, {path: name, fieldRef: {fieldPath: metadata.name}}]}
  containers:
  - name: main
    image: busybox
    workingDir: /tmp
    command: [sh, -c]
    args: ['echo ARG=$(MY_POD); exec sleep 3600']
    envFrom: [{configMapRef: {name: cfg}, prefix: CFG_}]
    env:
    - {name: MY_POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: MY_NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
    - {name: MY_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: MY_SA, valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}}
    - {name: MY_TIER, valueFrom: {fieldRef: {fieldPath: "metadata.labels['tier']"}}}
    - {name: PASS, valueFrom: {secretKeyRef: {name: creds, key: password}}}
    - {name: MODE2, valueFrom: {configMapKeyRef: {name: cfg, key: MODE}}}
    - {name: COMBINED, value: "$(MY_NS)/$(MY_POD)"}
    volumeMounts:
    - {name: cfgvol, mountPath: /etc/cfg}
    - {name: secvol, mountPath: /etc/creds, readOnly: true}
    - {name: podinfo, mountPath: /etc/podinfo}
`);
  const pod = await cluster.waitPodReady(ns, 'envpod', { timeoutMs: 60_000 });
  const r = await cluster.exec(ns, 'envpod', 'main', ['sh', '-c',
    'echo "$MY_POD|$MY_NS|$MY_IP|$MY_SA|$MY_TIER|$PASS|$MODE2|$CFG_MODE|$COMBINED"; id -u; id -g; id -G; pwd; hostname; cat /etc/cfg/greeting.txt; echo; cat /etc/creds/password; echo; cat /etc/podinfo/name; echo; touch /etc/creds/x 2>/dev/null && echo writable || echo readonly']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[0], `envpod|${ns}|${pod.status?.podIP ?? ''}|default|web|s3cret|fast|fast|${ns}/envpod`);
  assert.equal(lines[1], '4321');
  assert.equal(lines[2], '4321');
  assert.match(lines[3] ?? '', /\b5555\b/);
  assert.deepEqual(lines.slice(4), ['/tmp', 'envpod', 'hello', 's3cret', 'envpod', 'readonly']);
  assert.match(await cluster.logs(ns, 'envpod', 'main'), /^ARG=envpod$/m);
});

test('the image table: the examples image runs the app its first argument names; an unknown image waits with ErrImagePull', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await cluster.apply(ns, `
apiVersion: v1
kind: Pod
metadata: {name: fromexamples}
spec:
  containers:
  - name: echo
    image: ghcr.io/weft-dev/weft-examples:0.1.0
    args: [echo, --port=8080]
    readinessProbe: {httpGet: {port: 8080, path: /}, periodSeconds: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: unknownimage}
spec:
  containers: [{name: main, image: "nginx:1.27"}]
`);
  await cluster.waitPodReady(ns, 'fromexamples', { timeoutMs: 60_000 });
  const r = await cluster.exec(ns, 'fromexamples', 'echo', ['client', 'http://127.0.0.1:8080/']);
  assert.match(r.stdout, /Hostname=fromexamples$/m);
  await cluster.waitFor('ErrImagePull', async () => {
    const p = await cluster.core.readNamespacedPod({ name: 'unknownimage', namespace: ns });
    const w = p.status?.containerStatuses?.[0]?.state?.waiting;
    return w?.reason === 'ErrImagePull' && (w.message ?? '').includes('nginx:1.27') ? true : JSON.stringify(p.status?.containerStatuses ?? []);
  }, { timeoutMs: 30_000 });
  const p = await cluster.core.readNamespacedPod({ name: 'unknownimage', namespace: ns });
  assert.equal(p.status?.phase, 'Pending');
});
