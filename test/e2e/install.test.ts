/**
 * Install and injection end to end on the local cluster, through the real API server:
 * `weft install | kubectl apply` and `weft check`; the controller's validating webhook reached with the
 * installed certificate; a Deployment in an annotated namespace injected by
 * the API server's webhook call (proxy-init runs in the pod, the app waits for the proxy); a pod in a
 * plain namespace untouched; `weft upgrade | kubectl apply` keeping the PKI; `weft check -n` flagging
 * a pod created while the injector was scaled to zero. Uninstalls at the end.
 *
 * Also: the app's first request to the proxy's /ready answers 200 (the proxy is ready before the app
 * starts), and two meshed pods talk over mTLS (the server app sees the client's SPIFFE ID in
 * weft-client-id, the server proxy counts the TLS handshake), before and after `weft upgrade`.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { useCluster } from '../cluster/fixture.js';
import type { Cluster } from '../cluster/fixture.js';
import { runWeft, type WeftRun } from '../support/weft-cli.js';
import { DEFAULT_EXAMPLES_IMAGE } from '../../core/contract.js';

let cluster: Cluster;
let installed = false;
let weftCrdsBefore = false;

const weft = (args: string[], input?: string): Promise<WeftRun> => runWeft(args, { kubeconfig: cluster.info.kubeconfig, ...(input !== undefined ? { input } : {}) });

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await cluster.kubectl(args, input === undefined ? { timeoutMs: 120_000 } : { input, timeoutMs: 120_000 });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function annotatedNamespace(t: Parameters<Cluster['freshNamespace']>[0]): Promise<string> {
  const ns = await cluster.freshNamespace(t);
  await kubectlOk(['annotate', 'namespace', ns, 'weft.dev/inject=enabled']);
  return ns;
}

async function onlyPod(ns: string, selector: string): Promise<V1Pod> {
  let pod: V1Pod | undefined;
  await cluster.waitFor(`a pod ${selector} in ${ns}`, async () => {
    const list = await cluster.core.listNamespacedPod({ namespace: ns, labelSelector: selector });
    pod = list.items[0];
    return pod !== undefined ? true : 'no pod yet';
  });
  assert.ok(pod);
  return pod;
}

const pki = async () => ({
  anchors: await kubectlOk(['-n', 'weft-system', 'get', 'configmap', 'weft-identity-trust-anchors', '-o', 'jsonpath={.data.ca\\.crt}']),
  issuer: await kubectlOk(['-n', 'weft-system', 'get', 'secret', 'weft-identity-issuer', '-o', 'jsonpath={.data.tls\\.crt}']),
  webhook: await kubectlOk(['-n', 'weft-system', 'get', 'secret', 'weft-injector-tls', '-o', 'jsonpath={.data.tls\\.crt}']),
});

before(async () => {
  cluster = await useCluster();
  // A previous run's weft-system may still be terminating; an active one belongs to someone else.
  await cluster.waitFor('no weft-system namespace (uninstall Weft before this test: weft uninstall | kubectl delete -f -)', async () => {
    const r = await cluster.kubectl(['get', 'namespace', 'weft-system', '-o', 'jsonpath={.status.phase}']);
    return r.code !== 0 ? true : `weft-system is ${r.stdout}`;
  }, { timeoutMs: 120_000 });
  weftCrdsBefore = (await cluster.kubectl(['get', 'crd', 'servers.policy.weft.dev'])).code === 0;
});

after(async () => {
  if (!installed) return;
  const r = await weft(['uninstall', ...(weftCrdsBefore ? ['--keep-crds'] : [])]);
  await cluster.kubectl(['delete', '--ignore-not-found', '--wait=true', '--timeout=120s', '-f', '-'], { input: r.stdout, timeoutMs: 150_000 });
});

test('weft install --crds, then weft install (refused until the CRDs are applied), each | kubectl apply --server-side -f -, then weft check passes', async () => {
  if (!weftCrdsBefore) {
    const early = await weft(['install']);
    assert.equal(early.code, 1);
    assert.match(early.stderr, /Weft's CRDs are not all applied.*weft install --crds \| kubectl apply/s);
  }
  const crds = await weft(['install', '--crds']);
  assert.equal(crds.code, 0, crds.stderr);
  installed = true;
  await kubectlOk(['apply', '--server-side', '-f', '-'], crds.stdout);
  const out = await weft(['install']);
  assert.equal(out.code, 0, out.stderr);
  installed = true;
  await kubectlOk(['apply', '--server-side', '-f', '-'], out.stdout);
  const check = await weft(['check', '--wait', '150s']);
  assert.equal(check.code, 0, `weft check failed:\n${check.stdout}${check.stderr}`);
  assert.match(check.stdout, /√ the API server's call to the injector injects a dry-run pod/);
  assert.match(check.stdout, /Status check results are √/);
});

test('installing again is refused: it would replace the trust anchor', async () => {
  const again = await weft(['install']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already installed.*weft upgrade/s);
});

test('the API server reaches the controller\'s validating webhook installed by weft install (an invalid mesh HTTPRoute is refused)', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await kubectlOk(['-n', ns, 'create', 'service', 'clusterip', 'svc', '--tcp=80:80']);
  const r = await cluster.kubectl(['-n', ns, 'apply', '-f', '-'], { input: `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: bad}
spec:
  parentRefs: [{kind: Service, group: "", name: svc, port: 80}]
  rules:
    - matches: [{path: {type: RegularExpression, value: "(?<=a)b"}}]
      backendRefs: [{name: svc, port: 80}]
`, timeoutMs: 60_000 });
  assert.notEqual(r.code, 0, r.stdout);
  assert.match(r.stderr, /admission webhook "validate.policy.weft.dev" denied the request/);
});

test('a Deployment in an annotated namespace gets proxy-init and the proxy through the webhook; proxy-init programs the pod; the app waits for the proxy', async (t) => {
  const ns = await annotatedNamespace(t);
  await cluster.apply(ns, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
        - name: app
          image: ${DEFAULT_EXAMPLES_IMAGE}
          ports: [{containerPort: 8080}]
          command: [node, -e, "fetch('http://127.0.0.1:7191/ready').then((r) => console.log('proxy /ready at app start: ' + r.status), (e) => console.log('proxy /ready at app start: ' + e.message)).finally(() => setInterval(() => {}, 1e9))"]
`);
  const pod = await onlyPod(ns, 'app=app');
  const name = pod.metadata?.name ?? '';
  assert.deepEqual(pod.spec?.initContainers?.map((c) => c.name), ['weft-init', 'weft-proxy']);
  const proxy = pod.spec?.initContainers?.[1];
  assert.equal(proxy?.restartPolicy, 'Always');
  assert.equal(proxy?.securityContext?.runAsUser, 7102);
  assert.equal(proxy?.startupProbe?.httpGet?.path, '/ready');
  assert.equal(pod.metadata?.labels?.['weft.dev/meshed'], 'true');
  assert.equal(pod.metadata?.annotations?.['weft.dev/proxy-version'], '0.1.0');
  assert.ok(pod.spec?.volumes?.some((v) => v.projected?.sources?.some((s) => s.serviceAccountToken?.audience === 'identity.weft.dev')));

  // proxy-init ran as the first init container, as root with NET_ADMIN, inside the pod's namespace.
  await cluster.waitFor('weft-init completed', async () => {
    const p = await cluster.core.readNamespacedPod({ namespace: ns, name });
    const s = p.status?.initContainerStatuses?.find((c) => c.name === 'weft-init');
    const term = s?.state?.terminated ?? s?.lastState?.terminated;
    return term?.exitCode === 0 ? true : `weft-init: ${JSON.stringify(s?.state ?? {})}`;
  }, { timeoutMs: 60_000 });
  const initLog = await cluster.logs(ns, name, 'weft-init');
  assert.match(initLog, /IPv4 redirection in place/);
  assert.match(initLog, /-A PREROUTING -p tcp -j WEFT_INBOUND/);
  assert.match(initLog, /-A WEFT_INBOUND -p tcp -j REDIRECT --to-ports 7143/);
  assert.match(initLog, /-A WEFT_OUTBOUND -m owner --uid-owner 7102 -j RETURN/);

  // The app container never runs while the proxy is not ready (native sidecar + startupProbe).
  for (let i = 0; i < 8; i++) {
    const p = await cluster.core.readNamespacedPod({ namespace: ns, name });
    const proxyStatus = p.status?.initContainerStatuses?.find((c) => c.name === 'weft-proxy');
    const app = p.status?.containerStatuses?.find((c) => c.name === 'app');
    const appStarted = app?.state?.running !== undefined || app?.state?.terminated !== undefined || app?.started === true;
    if (appStarted) {
      assert.equal(proxyStatus?.started, true, `app started while the proxy had not: ${JSON.stringify(p.status)}`);
      const proxyAt = Date.parse(String(proxyStatus?.state?.running?.startedAt ?? ''));
      const appAt = Date.parse(String(app?.state?.running?.startedAt ?? ''));
      if (Number.isFinite(proxyAt) && Number.isFinite(appAt)) assert.ok(proxyAt <= appAt, 'the proxy starts before the app');
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  // The app's first act is to ask the proxy whether it is ready: it must already be.
  await cluster.waitPodReady(ns, name, { timeoutMs: 90_000 });
  await cluster.waitFor('the app logged the proxy\'s readiness', async () => {
    const log = await cluster.logs(ns, name, 'app');
    return log.includes('proxy /ready at app start') ? true : `app log: ${JSON.stringify(log)}`;
  });
  assert.match(await cluster.logs(ns, name, 'app'), /proxy \/ready at app start: 200/);
});

const ECHO = 'registry.k8s.io/gateway-api/echo-advanced:v1';

/** Sends one request from the client pod's app container; returns the echo client's lines. */
async function request(ns: string, clientPod: string): Promise<string> {
  const r = await cluster.exec(ns, clientPod, 'echo', ['client', `http://server.${ns}.svc.cluster.local/`, '--timeout=10s']);
  assert.equal(r.code, 0, `client exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

async function metric(podIp: string, series: string): Promise<number> {
  const text = await (await fetch(`http://${podIp}:7191/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
}

test('two meshed pods talk over mTLS: the server app sees the client\'s SPIFFE ID and the server proxy counts a TLS handshake; weft upgrade keeps them working', async (t) => {
  const ns = await annotatedNamespace(t);
  await cluster.apply(ns, `
apiVersion: v1
kind: ServiceAccount
metadata: {name: server}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: client}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: server}
spec:
  selector: {matchLabels: {app: server}}
  template:
    metadata: {labels: {app: server}}
    spec:
      serviceAccountName: server
      containers:
        - {name: echo, image: ${ECHO}, args: [--port=8080], ports: [{name: http, containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: server}
spec:
  selector: {app: server}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
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
        - {name: echo, image: ${ECHO}, args: [--port=8080]}
`);
  await cluster.waitDeploymentAvailable(ns, 'server', { timeoutMs: 120_000 });
  await cluster.waitDeploymentAvailable(ns, 'client', { timeoutMs: 120_000 });
  const server = await onlyPod(ns, 'app=server');
  const client = await onlyPod(ns, 'app=client');
  const serverIp = server.status?.podIP ?? '';
  const clientName = client.metadata?.name ?? '';
  const tlsBefore = await metric(serverIp, 'weft_proxy_tls_handshakes_total{direction="inbound"}');
  assert.ok(Number.isFinite(tlsBefore), 'the server proxy exposes weft_proxy_tls_handshakes_total');

  const out = await request(ns, clientName);
  assert.match(out, /StatusCode=200/);
  assert.match(out, new RegExp(`RequestHeader=Weft-Client-Id:spiffe://cluster\\.local/ns/${ns}/sa/client\\n`));
  assert.match(out, /Hostname=server-/);
  assert.ok(await metric(serverIp, 'weft_proxy_tls_handshakes_total{direction="inbound"}') > tlsBefore, 'the request reached the server proxy over TLS');
  assert.ok(await metric(serverIp, 'weft_proxy_responses_total{direction="inbound",status_class="2xx"}') >= 1);

  const check = await weft(['check', '-n', ns]);
  assert.equal(check.code, 0, check.stdout);
  assert.match(check.stdout, /√ meshed pods have a ready proxy/);

  // weft version: the control plane from its Deployments, the proxies counted over meshed pods
  // (these two at least; other tests may have meshed pods of their own).
  const version = await weft(['version', '-o', 'json']);
  assert.equal(version.code, 0, version.stdout + version.stderr);
  const report = JSON.parse(version.stdout) as {
    client: { version: string };
    controlPlane: { components: { name: string; version?: string; image?: string; ready?: string }[] };
    proxies: { versions: { version: string; pods: number }[] };
  };
  assert.deepEqual(report.controlPlane.components.map((c) => [c.name, c.version]), [['weft-controller', report.client.version], ['weft-injector', report.client.version]]);
  assert.ok(report.controlPlane.components.every((c) => c.image !== undefined && /^[1-9]\d*\/\d+$/.test(c.ready ?? '')), version.stdout);
  assert.ok((report.proxies.versions.find((v) => v.version === report.client.version)?.pods ?? 0) >= 2, version.stdout);

  const up = await weft(['upgrade']);
  assert.equal(up.code, 0, up.stderr);
  await kubectlOk(['apply', '--server-side', '-f', '-'], up.stdout);
  await cluster.waitDeploymentAvailable('weft-system', 'weft-controller');
  for (let i = 0; i < 3; i++) {
    const again = await request(ns, clientName);
    assert.match(again, /StatusCode=200/);
    assert.match(again, /RequestHeader=Weft-Client-Id:spiffe:\/\/cluster\.local\//);
  }
  const after = await cluster.core.readNamespacedPod({ namespace: ns, name: clientName });
  assert.equal(after.metadata?.uid, client.metadata?.uid, 'the meshed pod was not replaced');
});

test('a pod in a namespace without the annotation is untouched', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await cluster.apply(ns, `
apiVersion: v1
kind: Pod
metadata: {name: plain, labels: {app: plain}}
spec:
  containers:
    - {name: app, image: ${cluster.info.toolboxImage}, command: [sleep, infinity]}
`);
  const pod = await cluster.waitPodReady(ns, 'plain');
  assert.deepEqual(pod.spec?.initContainers ?? [], []);
  assert.deepEqual(pod.spec?.containers.map((c) => c.name), ['app']);
  assert.equal(pod.metadata?.labels?.['weft.dev/meshed'], undefined);
  assert.deepEqual(Object.keys(pod.metadata?.annotations ?? {}).filter((k) => k.includes('weft.dev')), []);
});

test('weft inject output applied in a plain namespace creates an injected pod, which the webhook leaves as it is', async (t) => {
  const ns = await cluster.freshNamespace(t);
  const injected = await weft(['inject', '-n', ns, '-'], `
apiVersion: v1
kind: Pod
metadata: {name: offline, namespace: ${ns}}
spec:
  containers:
    - {name: app, image: ${cluster.info.toolboxImage}, command: [sleep, infinity]}
`);
  assert.equal(injected.code, 0, injected.stderr);
  assert.match(injected.stderr, /pod\/offline: injected/);
  await kubectlOk(['apply', '-f', '-'], injected.stdout);
  const pod = await cluster.core.readNamespacedPod({ namespace: ns, name: 'offline' });
  assert.deepEqual(pod.spec?.initContainers?.map((c) => c.name), ['weft-init', 'weft-proxy']);
  const anchors = await kubectlOk(['-n', 'weft-system', 'get', 'configmap', 'weft-identity-trust-anchors', '-o', 'jsonpath={.data.ca\\.crt}']);
  const env = pod.spec?.initContainers?.[1]?.env?.find((e) => e.name === 'WEFT_TRUST_ANCHORS_PEM');
  assert.equal(env?.value, anchors, 'the offline injection used the cluster\'s trust anchors');
});

test('weft upgrade | kubectl apply keeps the trust anchor, the issuer and the webhook certificate; weft check still passes', async () => {
  const before = await pki();
  const up = await weft(['upgrade']);
  assert.equal(up.code, 0, up.stderr);
  // Everything comes from the cluster (PKI, webhook certificates, settings): the same bytes again.
  const again = await weft(['upgrade']);
  assert.equal(again.stdout, up.stdout, 'two upgrades of the same cluster render different bytes');
  assert.ok(!up.stdout.includes('\r') && !/^\s*[\w.-]+: [&*]a\d/m.test(up.stdout), 'no CR, no YAML anchors/aliases');
  await kubectlOk(['apply', '--server-side', '-f', '-'], up.stdout);
  assert.deepEqual(await pki(), before);
  const check = await weft(['check', '--wait', '120s']);
  assert.equal(check.code, 0, check.stdout);
});

test('weft check -n flags a pod created while the injector was scaled to zero', async (t) => {
  const ns = await annotatedNamespace(t);
  await kubectlOk(['-n', 'weft-system', 'scale', 'deployment/weft-injector', '--replicas=0']);
  t.after(async () => {
    await cluster.kubectl(['-n', 'weft-system', 'scale', 'deployment/weft-injector', '--replicas=1']);
    await cluster.waitDeploymentAvailable('weft-system', 'weft-injector');
  });
  await cluster.waitFor('no injector pod left', async () => {
    const pods = await cluster.core.listNamespacedPod({ namespace: 'weft-system', labelSelector: 'app.kubernetes.io/name=weft-injector' });
    return pods.items.length === 0 ? true : `${pods.items.length} injector pods`;
  }, { timeoutMs: 60_000 });
  await cluster.apply(ns, `
apiVersion: v1
kind: Pod
metadata: {name: missed}
spec:
  containers:
    - {name: app, image: ${cluster.info.toolboxImage}, command: [sleep, infinity]}
`);
  const pod = await cluster.core.readNamespacedPod({ namespace: ns, name: 'missed' });
  assert.deepEqual(pod.spec?.initContainers ?? [], [], 'failurePolicy Ignore let the pod through without the proxy');
  const check = await weft(['check', '-n', ns]);
  assert.equal(check.code, 1, check.stdout);
  assert.match(check.stdout, /× every pod that should have the proxy has it\n\s+pods without the proxy .*: missed\n\s+fix: recreate them/);
  assert.match(check.stdout, /× weft-injector is available\n\s+Deployment weft-system\/weft-injector is scaled to 0/);
});
