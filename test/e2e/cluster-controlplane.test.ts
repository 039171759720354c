/**
 * The local cluster's control plane, checked against the real API server, kube-proxy and CoreDNS.
 * Needs a running cluster (`npm run test:e2e` brings one up).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { request } from 'node:https';
import { test } from 'node:test';
import { promisify } from 'node:util';

import { ApiextensionsV1Api, AuthenticationV1Api, DiscoveryV1Api, VersionApi } from '@kubernetes/client-node';

import { gatewayCrdNames } from '../cluster/cluster.js';
import { useCluster } from '../cluster/fixture.js';

const cluster = await useCluster();
const { info } = cluster;
const ca = await readFile(info.caFile);

/** A GET against the API server with a bearer token; resolves with the status code. */
function getWithToken(path: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${info.server}${path}`, { ca, headers: { authorization: `Bearer ${token}` }, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

async function serviceAccountToken(namespace: string, name: string, audiences: string[]): Promise<string> {
  const tr = await cluster.core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences, expirationSeconds: 600 } },
  });
  const token = tr.status?.token;
  assert.ok(token, 'TokenRequest returned no token');
  return token;
}

function clusterDns(): Resolver {
  const r = new Resolver({ timeout: 2000, tries: 2 });
  r.setServers([info.clusterDNS]);
  return r;
}

test('the API server reports the pinned Kubernetes version', async () => {
  const v = await cluster.kc.makeApiClient(VersionApi).getCode();
  assert.equal(v.gitVersion, 'v1.36.3');
  assert.equal(v.gitVersion, info.version);
  assert.equal(`${v.major}.${v.minor}`, '1.36');
  const kubectl = await cluster.kubectl(['version', '-o', 'json']);
  assert.equal(kubectl.code, 0, kubectl.stderr);
  const parsed = JSON.parse(kubectl.stdout) as { clientVersion: { gitVersion: string }; serverVersion: { gitVersion: string } };
  assert.equal(parsed.clientVersion.gitVersion, 'v1.36.3');
  assert.equal(parsed.serverVersion.gitVersion, 'v1.36.3');
});

test('a new namespace gets the default ServiceAccount and the kube-root-ca.crt ConfigMap', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await cluster.waitFor(`kube-root-ca.crt in ${ns}`, async () => {
    try {
      const cm = await cluster.core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: ns });
      return cm.data?.['ca.crt'] === ca.toString('utf8') ? true : 'ca.crt differs from the cluster CA';
    } catch {
      return 'not published yet';
    }
  });
});

test('RBAC denies an unprivileged ServiceAccount what it was not granted', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await cluster.apply(ns, 'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: nobody\n');
  const token = await serviceAccountToken(ns, 'nobody', ['https://kubernetes.default.svc.cluster.local']);
  // Authenticated (discovery is open to every authenticated user), so the 403s below are authorization.
  assert.equal(await getWithToken('/api', token), 200);
  assert.equal(await getWithToken('/api/v1/namespaces/kube-system/secrets', token), 403);
  assert.equal(await getWithToken(`/api/v1/namespaces/${ns}/pods`, token), 403);
  assert.equal(await getWithToken('/api/v1/nodes', token), 403);
  // A token nobody issued is not authenticated at all.
  assert.equal(await getWithToken('/api', `${token.slice(0, -4)}AAAA`), 401);

  // Granting the Role makes exactly that request succeed.
  await cluster.apply(
    ns,
    [
      'apiVersion: rbac.authorization.k8s.io/v1',
      'kind: Role',
      'metadata: {name: pod-reader}',
      'rules: [{apiGroups: [""], resources: [pods], verbs: [list]}]',
      '---',
      'apiVersion: rbac.authorization.k8s.io/v1',
      'kind: RoleBinding',
      'metadata: {name: nobody-reads-pods}',
      'roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}',
      `subjects: [{kind: ServiceAccount, name: nobody, namespace: ${ns}}]`,
    ].join('\n'),
  );
  await cluster.waitFor('the RoleBinding to take effect', async () => {
    const s = await getWithToken(`/api/v1/namespaces/${ns}/pods`, token);
    return s === 200 ? true : `status ${s}`;
  });
  assert.equal(await getWithToken('/api/v1/namespaces/kube-system/secrets', token), 403);
});

test('TokenRequest issues an audience-bound token that TokenReview accepts only for that audience', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await cluster.apply(ns, 'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: workload\n');
  const token = await serviceAccountToken(ns, 'workload', ['identity.weft.dev']);
  const auth = cluster.kc.makeApiClient(AuthenticationV1Api);

  const ok = await auth.createTokenReview({ body: { spec: { token, audiences: ['identity.weft.dev'] } } });
  assert.equal(ok.status?.authenticated, true, ok.status?.error);
  assert.equal(ok.status?.user?.username, `system:serviceaccount:${ns}:workload`);
  assert.deepEqual(ok.status?.audiences, ['identity.weft.dev']);
  assert.ok(ok.status?.user?.groups?.includes(`system:serviceaccounts:${ns}`));

  const wrongAudience = await auth.createTokenReview({ body: { spec: { token, audiences: ['someone-else'] } } });
  // `authenticated: false` is omitted from the JSON, so anything but true is a refusal.
  assert.notEqual(wrongAudience.status?.authenticated, true);
  assert.match(wrongAudience.status?.error ?? '', /audience/i);

  // The API server's own audience is not in the token, so it cannot be used against the API server.
  assert.equal(await getWithToken('/api', token), 401);

  // Deleting the ServiceAccount invalidates its tokens.
  await cluster.core.deleteNamespacedServiceAccount({ name: 'workload', namespace: ns });
  await cluster.waitFor('TokenReview to refuse the deleted ServiceAccount\'s token', async () => {
    const r = await auth.createTokenReview({ body: { spec: { token, audiences: ['identity.weft.dev'] } } });
    return r.status?.authenticated === true ? 'still authenticated' : true;
  });
});

test('the Gateway API standard-channel CRDs are installed and Established', async () => {
  const { names } = await gatewayCrdNames();
  assert.ok(names.includes('httproutes.gateway.networking.k8s.io'));
  assert.ok(names.length >= 8, `only ${names.length} CRDs found in the shared folder`);
  const ext = cluster.kc.makeApiClient(ApiextensionsV1Api);
  for (const name of names) {
    const crd = await ext.readCustomResourceDefinition({ name });
    const established = crd.status?.conditions?.find((c) => c.type === 'Established');
    assert.equal(established?.status, 'True', `${name} is not Established`);
  }
  const routes = await ext.readCustomResourceDefinition({ name: 'httproutes.gateway.networking.k8s.io' });
  assert.ok(routes.spec.versions.some((v) => v.name === 'v1' && v.served && v.storage));
  assert.equal(routes.metadata?.annotations?.['gateway.networking.k8s.io/bundle-version'], 'v1.7.0');
  assert.equal(routes.metadata?.annotations?.['gateway.networking.k8s.io/channel'], 'standard');
});

test('a Service gets a ClusterIP and kube-proxy forwards it to the endpoint', async (t) => {
  const ns = await cluster.freshNamespace(t);
  // A TCP server on the node address stands in for a pod; the EndpointSlice points the Service at it.
  const server = createServer((sock) => sock.end('hello from the endpoint\n'));
  await new Promise<void>((r) => server.listen(0, info.nodeIP, r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;

  await cluster.apply(
    ns,
    [
      'apiVersion: v1',
      'kind: Service',
      'metadata: {name: greeter}',
      'spec: {ports: [{name: tcp, port: 80, targetPort: ' + String(port) + ', protocol: TCP}]}',
      '---',
      'apiVersion: discovery.k8s.io/v1',
      'kind: EndpointSlice',
      'metadata: {name: greeter-1, labels: {kubernetes.io/service-name: greeter}}',
      'addressType: IPv4',
      `endpoints: [{addresses: ["${info.nodeIP}"], conditions: {ready: true}}]`,
      `ports: [{name: tcp, port: ${port}, protocol: TCP}]`,
    ].join('\n'),
  );
  const svc = await cluster.core.readNamespacedService({ name: 'greeter', namespace: ns });
  const ip = svc.spec?.clusterIP ?? '';
  assert.match(ip, /^10\.96\.\d+\.\d+$/, `ClusterIP ${ip} is not in ${info.serviceCIDR}`);

  const iptablesSave = promisify(execFile);
  await cluster.waitFor(`kube-proxy rules for ${ns}/greeter`, async () => {
    const { stdout } = await iptablesSave('iptables-save', ['-t', 'nat']);
    const toSvc = stdout.split('\n').find((l) => l.startsWith('-A KUBE-SERVICES') && l.includes(`-d ${ip}/32`) && l.includes('-j KUBE-SVC-'));
    if (!toSvc) return 'no KUBE-SERVICES rule for the ClusterIP yet';
    const chain = /-j (KUBE-SVC-\S+)/.exec(toSvc)?.[1] ?? '';
    return stdout.includes(`-A ${chain} `) && stdout.includes(`--to-destination ${info.nodeIP}:${port}`) ? true : `${chain} has no DNAT to the endpoint yet`;
  });

  const reply = await new Promise<string>((resolve, reject) => {
    const sock = createConnection({ host: ip, port: 80, timeout: 5000 });
    let data = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (data += d));
    sock.on('end', () => resolve(data));
    sock.on('timeout', () => sock.destroy(new Error(`connect to ${ip}:80 timed out`)));
    sock.on('error', reject);
  });
  assert.equal(reply, 'hello from the endpoint\n');

  const slices = await cluster.kc.makeApiClient(DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: ns });
  assert.equal(slices.items.length, 1);
});

test('CoreDNS at 10.96.0.10 resolves cluster names and refuses everything else', async (t) => {
  assert.equal(info.clusterDNS, '10.96.0.10');
  const dns = clusterDns();
  assert.deepEqual(await dns.resolve4('kubernetes.default.svc.cluster.local'), ['10.96.0.1']);
  assert.deepEqual(await dns.resolve4('kube-dns.kube-system.svc.cluster.local'), ['10.96.0.10']);
  assert.deepEqual(await dns.reverse('10.96.0.1'), ['kubernetes.default.svc.cluster.local']);
  await assert.rejects(dns.resolve4('example.com'), { code: 'EREFUSED' });
  await assert.rejects(dns.resolve4('no-such-service.default.svc.cluster.local'), { code: 'ENOTFOUND' });

  const ns = await cluster.freshNamespace(t);
  await cluster.apply(ns, 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}, ports: [{port: 8080}]}\n');
  const svc = await cluster.core.readNamespacedService({ name: 'web', namespace: ns });
  await cluster.waitFor(`web.${ns}.svc.cluster.local to resolve`, async () => {
    const ips = await dns.resolve4(`web.${ns}.svc.cluster.local`).catch((e: NodeJS.ErrnoException) => [e.code ?? 'error']);
    return ips[0] === svc.spec?.clusterIP ? true : `got ${ips.join(',')}`;
  }, { timeoutMs: 30_000 });
});
