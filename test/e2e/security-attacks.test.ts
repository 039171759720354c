/**
 * Issue 14's two attacks, replayed as an attacker would on the local cluster with Weft installed
 * (docs/security.md W1, W2):
 *
 * - A Server `vault` (the echo app on 8080) with an HTTPRoute `public` (GET /public, any ServiceAccount
 *   of the namespace) and an HTTPRoute `admin` (/admin, only ServiceAccount `admin`); a meshed client
 *   `mallory` and an unmeshed pod `outsider`.
 * - W1: from mallory, on one connection, `GET /public/ws` with a WebSocket upgrade (the echo app is not
 *   a WebSocket server: it answers 200 and keeps the connection), then 700 ms later `DELETE
 *   /admin/secrets` with a forged weft-client-id. The DELETE must get 403 and never reach the app.
 * - W2: from outsider, plaintext requests to the vault pod's IP on the proxy's inbound port (7143); and
 *   from mallory, through a Service whose targetPort is 7143. No loop: the vault proxy's CPU stays
 *   idle and its open connections flat in the 10 s after.
 *
 * Requests are made by a small Node script run inside the pods (`node -e`), over raw sockets.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { HEADER_CLIENT_ID, INJECT_ANNOTATION, INJECT_DISABLED, PROXY_INBOUND_PORT } from '../../core/contract.js';
import { podName, proxyMetrics, sharedMeshedNamespace, sleep, sumSeries } from '../support/booksapp.js';
import { useMesh, type Mesh } from '../support/mesh.js';

const ECHO_IMAGE = 'registry.k8s.io/gateway-api/echo-advanced:v1';

let mesh: Mesh;
let ns = '';
const cleanups: (() => Promise<void>)[] = [];

/**
 * Run inside a pod: connects to argv[1]:argv[2] and writes each step's bytes (after its delay),
 * then prints one JSON line: the status codes read, whether the server closed, and the raw answer.
 */
const RAW_CLIENT = String.raw`
const net = require('node:net');
const [host, port, stepsJson] = process.argv.slice(1);
const steps = JSON.parse(stepsJson);
const s = net.connect(Number(port), host);
let data = '';
let closed = false;
s.setEncoding('latin1');
s.on('data', (d) => { data += d; });
s.on('error', (e) => { data += '\n[error ' + e.code + ']'; });
s.on('close', () => { closed = true; });
(async () => {
  await new Promise((r) => s.once('connect', r));
  for (const st of steps) {
    await new Promise((r) => setTimeout(r, st.delayMs));
    if (!closed) s.write(st.bytes);
  }
  await new Promise((r) => setTimeout(r, 2000));
  const statuses = [...data.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
  console.log(JSON.stringify({ statuses, closed, data }));
  s.destroy();
})();
`;

interface RawResult {
  statuses: number[];
  closed: boolean;
  data: string;
}

async function raw(pod: string, container: string, host: string, port: number, steps: { delayMs: number; bytes: string }[]): Promise<RawResult> {
  const r = await mesh.cluster.exec(ns, pod, container, ['node', '-e', RAW_CLIENT, host, String(port), JSON.stringify(steps)], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `raw client exited ${r.code}: ${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as RawResult;
}

const spiffe = (sa: string): string => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

function manifests(): string {
  const deploy = (name: string, sa: string, inject: boolean): string => `
apiVersion: v1
kind: ServiceAccount
metadata: {name: ${sa}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: 1
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata:
      labels: {app: ${name}}
      ${inject ? '' : `annotations: {${INJECT_ANNOTATION}: ${INJECT_DISABLED}}`}
    spec:
      serviceAccountName: ${sa}
      terminationGracePeriodSeconds: 1
      containers:
        - name: echo
          image: ${ECHO_IMAGE}
          args: [--port=8080]
          ports: [{name: http, containerPort: 8080}]
---
`;
  return `${deploy('vault', 'vault', true)}${deploy('mallory', 'mallory', true)}${deploy('outsider', 'outsider', false)}
apiVersion: v1
kind: ServiceAccount
metadata: {name: admin}
---
apiVersion: v1
kind: Service
metadata: {name: vault}
spec:
  selector: {app: vault}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: vault-proxy-port}
spec:
  selector: {app: vault}
  ports: [{name: http, port: 80, targetPort: ${PROXY_INBOUND_PORT}}]
---
apiVersion: policy.weft.dev/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: namespace-accounts}
spec:
  identityRefs: [{kind: Namespace, name: ${ns}}]
---
apiVersion: policy.weft.dev/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: admin-only}
spec:
  identityRefs: [{kind: ServiceAccount, name: admin}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: public}
spec:
  parentRefs: [{group: policy.weft.dev, kind: Server, name: vault}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /public}, method: GET}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: admin}
spec:
  parentRefs: [{group: policy.weft.dev, kind: Server, name: vault}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /admin}}]
---
apiVersion: policy.weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: public}
spec:
  targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: public}
  requiredAuthenticationRefs: [{group: policy.weft.dev, kind: MeshTLSAuthentication, name: namespace-accounts}]
---
apiVersion: policy.weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: admin}
spec:
  targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: admin}
  requiredAuthenticationRefs: [{group: policy.weft.dev, kind: MeshTLSAuthentication, name: admin-only}]
---
apiVersion: policy.weft.dev/v1alpha1
kind: Server
metadata: {name: vault}
spec:
  podSelector: {matchLabels: {app: vault}}
  port: http
  proxyProtocol: HTTP/1
  accessPolicy: deny
`;
}

let mallory = '';
let outsider = '';
let vault = '';
let vaultIp = '';

before(async () => {
  mesh = await useMesh();
  const shared = await sharedMeshedNamespace(mesh.cluster, 'security');
  ns = shared.ns;
  cleanups.push(shared.remove);
  await mesh.cluster.apply(ns, manifests());
  for (const d of ['vault', 'mallory', 'outsider']) await mesh.cluster.waitDeploymentAvailable(ns, d, { timeoutMs: 240_000, intervalMs: 1000 });
  mallory = await podName(mesh.cluster, ns, 'app=mallory');
  outsider = await podName(mesh.cluster, ns, 'app=outsider');
  vault = await podName(mesh.cluster, ns, 'app=vault');
  vaultIp = (await mesh.cluster.core.readNamespacedPod({ name: vault, namespace: ns })).status?.podIP ?? '';
  assert.notEqual(vaultIp, '');
  // The Server is enforced once GET /public from mallory is allowed and GET /admin denied.
  await mesh.cluster.waitFor('the vault proxy enforces the Server and its routes', async () => {
    const r = await raw(mallory, 'echo', 'vault', 80, [
      { delayMs: 0, bytes: 'GET /public/x HTTP/1.1\r\nhost: vault\r\n\r\n' },
      { delayMs: 300, bytes: 'GET /admin/x HTTP/1.1\r\nhost: vault\r\n\r\n' },
    ]);
    return r.statuses.join(',') === '200,403' ? true : `statuses ${r.statuses.join(',')}`;
  }, { timeoutMs: 120_000, intervalMs: 2000 });
}, { timeout: 600_000 });

after(async () => {
  for (const fn of cleanups) await fn();
  await mesh?.release();
}, { timeout: 300_000 });

const UPGRADE = 'GET /public/ws HTTP/1.1\r\nhost: vault\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n';
const forgedDelete = (): string => `DELETE /admin/secrets HTTP/1.1\r\nhost: vault\r\n${HEADER_CLIENT_ID}: ${spiffe('admin')}\r\ncontent-length: 0\r\n\r\n`;

test('W1: an upgrade the app answers 200, then a DELETE with a forged identity 700 ms later on the same connection: 403, never reaches the app', async () => {
  const r = await raw(mallory, 'echo', 'vault', 80, [{ delayMs: 0, bytes: UPGRADE }, { delayMs: 700, bytes: forgedDelete() }]);
  assert.deepEqual(r.statuses, [200, 403], r.data);
  // The 403 is the inbound proxy's own answer: the app never saw the DELETE.
  assert.match(r.data, /weft-proxy-error: forbidden/);
  // The echo app reports the request it saw: the GET, with mallory's verified identity only.
  const seen = r.data.slice(0, r.data.indexOf('HTTP/1.1 403'));
  assert.ok(seen.includes(spiffe('mallory')), `the app saw mallory's identity on the GET: ${seen}`);
  assert.ok(!r.data.includes(spiffe('admin')), 'the forged identity reached the app');
  assert.ok(!r.data.includes('"method":"DELETE"'), 'the DELETE reached the app');
});

test('W1 variants: pipelined in one write; a smuggled body on the upgrade; a denied upgrade; an h2c upgrade: nothing past authorization', async () => {
  const pipelined = await raw(mallory, 'echo', 'vault', 80, [{ delayMs: 0, bytes: UPGRADE + forgedDelete() }]);
  assert.deepEqual(pipelined.statuses, [200, 403], pipelined.data);
  const smuggled = forgedDelete();
  const withBody = await raw(mallory, 'echo', 'vault', 80, [{ delayMs: 0, bytes: UPGRADE.replace('\r\n\r\n', `\r\ncontent-length: ${smuggled.length}\r\n\r\n`) + smuggled }]);
  assert.deepEqual(withBody.statuses, [400], withBody.data);
  const denied = await raw(mallory, 'echo', 'vault', 80, [{ delayMs: 0, bytes: UPGRADE.replace('/public/ws', '/admin/ws') }, { delayMs: 500, bytes: forgedDelete() }]);
  assert.deepEqual(denied.statuses, [403, 403], denied.data);
  const h2c = await raw(mallory, 'echo', 'vault', 80, [{ delayMs: 0, bytes: 'GET /public/x HTTP/1.1\r\nhost: vault\r\nupgrade: h2c\r\nconnection: Upgrade, HTTP2-Settings\r\nhttp2-settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n' }, { delayMs: 500, bytes: forgedDelete() }]);
  assert.equal(h2c.statuses[0], 200, h2c.data);
  assert.ok(h2c.statuses.length === 1 ? h2c.closed : h2c.statuses[1] === 403, `h2c: ${h2c.statuses.join(',')} closed=${String(h2c.closed)}`);
  // The forged identity would only come back in the echo app's report of a request it served.
  for (const r of [pipelined, withBody, denied, h2c]) assert.ok(!r.data.includes(spiffe('admin')) && !r.data.includes('"method":"DELETE"'), r.data);
});

async function vaultFigures(): Promise<{ cpu: number; open: number; loops: number }> {
  const text = await proxyMetrics(mesh.cluster, ns, vault);
  return {
    cpu: sumSeries(text, 'process_cpu_seconds_total', {}) || Number(/^process_cpu_seconds_total (\S+)/m.exec(text)?.[1] ?? NaN),
    open: sumSeries(text, 'weft_proxy_open_connections', { direction: 'inbound' }),
    loops: sumSeries(text, 'weft_proxy_errors_total', { direction: 'inbound', code: 'LOOP' }),
  };
}

test('W2: plaintext requests to the pod IP on the proxy inbound port, and a Service whose targetPort is that port, make no loop', async () => {
  const before0 = await vaultFigures();
  assert.ok(Number.isFinite(before0.cpu), 'process_cpu_seconds_total is exported');
  const t0 = Date.now();
  const direct: RawResult[] = [];
  for (let i = 0; i < 2; i++) direct.push(await raw(outsider, 'echo', vaultIp, PROXY_INBOUND_PORT, [{ delayMs: 0, bytes: 'GET /x HTTP/1.1\r\nhost: vault\r\n\r\n' }]));
  const viaService = await raw(mallory, 'echo', 'vault-proxy-port', 80, [{ delayMs: 0, bytes: 'GET /public/x HTTP/1.1\r\nhost: vault-proxy-port\r\n\r\n' }]);
  for (const r of direct) assert.ok(r.statuses.length === 0 && r.closed, `direct: refused without an answer, got ${r.data}`);
  assert.ok(viaService.statuses.every((s) => s >= 500), `via the Service: ${viaService.data}`);
  // 10 s after the requests: no loop refills itself.
  await sleep(Math.max(0, 10_000 - (Date.now() - t0)));
  const after1 = await vaultFigures();
  await sleep(5_000);
  const after2 = await vaultFigures();
  const cpuPerSecond = (after2.cpu - after1.cpu) / 5;
  assert.ok(cpuPerSecond < 0.2, `the vault proxy used ${cpuPerSecond.toFixed(3)} CPU s/s after the requests`);
  assert.ok(after2.open <= before0.open + 2, `inbound open connections ${before0.open} -> ${after1.open} -> ${after2.open}`);
  // Two direct connections and the one the client proxy made for the Service.
  assert.ok(after2.loops - before0.loops >= 3, `refusals counted as LOOP: ${before0.loops} -> ${after2.loops}`);
});
