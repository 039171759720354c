/**
 * `weft diagnostics policy` against `weft controller` run as a process outside the cluster (admin
 * kubeconfig, issuer from a directory, as test/support/policy-controller.ts starts it). Its admin
 * port is not behind the API server's service proxy there, so the CLI reads it with
 * --controller-admin; without the flag the CLI goes through the service proxy and, with no
 * weft-controller Service in the cluster, says which path answered what.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { useCluster, type Cluster } from '../cluster/fixture.js';
import { REPO_ROOT } from '../support/paths.js';
import { readGatewayApiCrds } from '../cluster/gateway-api.js';
import { createMesh, startControllerProcess, webhookCertificate, type ControllerProcess } from '../support/policy-controller.js';
import { runWeft, type WeftRun } from '../support/weft-cli.js';

let cluster: Cluster;
let controller: ControllerProcess;
let leaseNs: string;

before(async () => {
  cluster = await useCluster();
  // The Gateway API CRDs as `up` installs them (verified against SHA256SUMS), then Weft's own.
  const gateway = await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager', 'weft-e2e', '-f', '-'], { input: (await readGatewayApiCrds('standard')).yaml });
  assert.equal(gateway.code, 0, gateway.stderr);
  const weftCrds = await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager', 'weft-e2e', '-f', join(REPO_ROOT, 'manifests', 'crds')]);
  assert.equal(weftCrds.code, 0, weftCrds.stderr);
  const mesh = await createMesh();
  leaseNs = `e2e-cli-diag-${randomBytes(3).toString('hex')}`;
  await cluster.core.createNamespace({ body: { metadata: { name: leaseNs, labels: { 'weft.dev/e2e': 'true' } } } });
  const wh = webhookCertificate('127.0.0.1');
  const tlsDir = await mkdtemp(join(tmpdir(), 'weft-cli-diag-'));
  await writeFile(join(tlsDir, 'tls.crt'), wh.certPem);
  await writeFile(join(tlsDir, 'tls.key'), wh.keyPem, { mode: 0o600 });
  controller = await startControllerProcess([
    '--kubeconfig', cluster.info.kubeconfig, '--issuer-dir', mesh.issuerDir, '--namespace', leaseNs, '--tls-dir', tlsDir,
    '--listen-host', '127.0.0.1', '--log-level', 'info', '--grpc-port', '0', '--admin-port', '0', '--webhook-port', '0',
  ]);
  await cluster.waitFor('controller /ready', async () => {
    const r = await fetch(`http://127.0.0.1:${controller.adminPort}/ready`).catch(() => undefined);
    return r?.status === 200 ? true : `status ${r?.status ?? 'none'}`;
  }, { timeoutMs: 60_000 });
});

after(async () => {
  await controller?.stop();
  await cluster?.core.deleteNamespace({ name: leaseNs }).catch(() => undefined);
});

const weft = (args: readonly string[]): Promise<WeftRun> => runWeft(args);

const objects = (): string => `
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: echo-v2}
spec:
  selector: {app: echo-v2}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: echo-split}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 80}]
  rules:
  - backendRefs: [{name: echo, port: 80, weight: 80}, {name: echo-v2, port: 80, weight: 20}]
---
apiVersion: v1
kind: Pod
metadata: {name: echo-0, labels: {app: echo}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: ${cluster.info.toolboxImage}, command: [sleep, "3600"], ports: [{name: http, containerPort: 8080}]}
---
apiVersion: policy.weft.dev/v1alpha1
kind: Server
metadata: {name: echo-http}
spec:
  podSelector: {matchLabels: {app: echo}}
  port: http
  accessPolicy: deny
`;

test('weft diagnostics policy reads what the controller pushes for a Service port and a pod port (--controller-admin)', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await cluster.apply(ns, objects());
  const admin = ['--controller-admin', `http://127.0.0.1:${controller.adminPort}`];
  let svcOut = '';
  await cluster.waitFor('the route in the pushed outbound policy', async () => {
    const r = await weft(['diagnostics', 'policy', 'svc/echo', '80', '-n', ns, ...admin, '-o', 'json']);
    svcOut = r.stdout;
    return r.code === 0 && r.stdout.includes('echo-split') && r.stdout.includes('echo-v2') ? true : `exit ${r.code}: ${r.stderr}${r.stdout.slice(0, 300)}`;
  }, { timeoutMs: 30_000 });
  const svc = JSON.parse(svcOut) as { service: string; port: number; clientNamespace: string; policy: unknown };
  assert.deepEqual([svc.service, svc.port, svc.clientNamespace], [`${ns}/echo`, 80, ns]);

  let podOut = '';
  await cluster.waitFor('the Server in the pushed inbound policy', async () => {
    const r = await weft(['diagnostics', 'policy', 'pod/echo-0', '8080', '-n', ns, ...admin]);
    podOut = r.stdout;
    return r.code === 0 && r.stdout.includes('echo-http') ? true : `exit ${r.code}: ${r.stderr}${r.stdout.slice(0, 300)}`;
  }, { timeoutMs: 30_000 });
  assert.match(podOut, new RegExp(`^pod: ${ns}/echo-0\\nport: 8080\\n`), 'YAML by default, pod and port first');

  const missing = await weft(['diagnostics', 'policy', 'pod/nope', '8080', '-n', ns, ...admin]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, new RegExp(`answered 404: pod ${ns}/nope is not in the index`));
});

test('weft diagnostics without --controller-admin goes through the API server service proxy and reports its answer', async () => {
  const r = await weft(['diagnostics', 'policy', 'svc/echo', '80', '-n', 'default', '--kubeconfig', cluster.info.kubeconfig]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\/api\/v1\/namespaces\/weft-system\/services\/weft-controller:9990\/proxy\/debug\/policy\?service=default%2Fecho&port=80&clientNamespace=default\) answered \d{3}/);
  const usage = await weft(['diagnostics', 'policy', 'deploy/x', '80']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^weft diagnostics: "deploy\/x" is not pod\/<name> or svc\/<name>\nRun 'weft diagnostics --help' for usage\.\n$/);
});
