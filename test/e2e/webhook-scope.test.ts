/**
 * The validating webhook's matchConditions in the real API server: a copy of the webhook `weft install`
 * renders (its rules and its CEL matchConditions, failurePolicy Fail), pointed at a Service that does not
 * exist and limited to one fresh namespace. A route whose parent is a Service reaches the webhook (the
 * call fails, so the API server refuses the route); a route whose parent is a Gateway never reaches it
 * and is created; a Weft Server (Weft's own kinds) reaches it. This is the `--ha` outage case of issue
 * 16: with the controller down, only Weft's objects are blocked.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DEFAULT_VALUES } from '../../cli/install/command.js';
import { loadCrds } from '../../cli/install/crds.js';
import { renderInstall } from '../../cli/install/render.js';
import type { InstallPki } from '../../cli/install/render.js';
import { formatObjects } from '../../cli/install/command.js';
import { useCluster } from '../cluster/fixture.js';
import type { Cluster } from '../cluster/fixture.js';

let cluster: Cluster;
let createdWeftCrds = false;

const NO_PKI: InstallPki = {
  anchorsPem: '', issuer: { certPem: '', keyPem: '' },
  injectorTls: { certPem: '', keyPem: '', caPem: '' }, controllerWebhookTls: { certPem: '', keyPem: '', caPem: '' },
};

before(async () => {
  cluster = await useCluster();
  if ((await cluster.kubectl(['get', 'crd', 'servers.policy.weft.dev'])).code !== 0) {
    const r = await cluster.kubectl(['apply', '--server-side', '-f', '-'], { input: formatObjects(loadCrds(), 'yaml', 'weft CRDs'), timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    createdWeftCrds = true;
    await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/servers.policy.weft.dev'], { timeoutMs: 70_000 });
  }
});

after(async () => {
  if (createdWeftCrds) await cluster.kubectl(['delete', '--ignore-not-found', '-f', '-'], { input: formatObjects(loadCrds(), 'yaml', 'weft CRDs'), timeoutMs: 60_000 });
});

const route = (name: string, parent: string) => `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}}
spec:
  parentRefs: [${parent}]
  rules:
    - backendRefs: [{name: svc, port: 80}]
`;

test('with failurePolicy Fail and no webhook server, only Service-parented routes and Weft kinds are refused; Gateway-parented routes pass', async (t) => {
  const ns = await cluster.freshNamespace(t);
  const rendered = renderInstall({ ...DEFAULT_VALUES, ha: true, crds: [] }, NO_PKI).find((o) => o.kind === 'ValidatingWebhookConfiguration');
  const hook = (rendered?.['webhooks'] as Record<string, unknown>[] | undefined)?.[0];
  assert.ok(hook?.['matchConditions'], 'the rendered webhook has matchConditions');
  assert.equal(hook['failurePolicy'], 'Fail');
  const name = `scope-${ns}`;
  const probe = {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name },
    webhooks: [{
      ...hook,
      name: 'scope-probe.weft.dev',
      clientConfig: { service: { name: 'no-such-webhook', namespace: ns, path: '/validate', port: 8443 } },
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
      timeoutSeconds: 5,
    }],
  };
  t.after(async () => { await cluster.kubectl(['delete', 'validatingwebhookconfiguration', name, '--ignore-not-found']); });
  const created = await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(probe) });
  assert.equal(created.code, 0, `the API server refused the rendered webhook (matchConditions): ${created.stderr}`);
  await cluster.kubectl(['-n', ns, 'create', 'service', 'clusterip', 'svc', '--tcp=80:80']);

  // The API server picks the configuration up asynchronously: wait until a Service-parented route is refused.
  let refusal = '';
  let i = 0;
  await cluster.waitFor('the probe webhook to be called for a Service-parented route', async () => {
    const r = await cluster.kubectl(['-n', ns, 'create', '-f', '-'], { input: route(`mesh-${i++}`, '{kind: Service, group: "", name: svc, port: 80}') });
    if (r.code === 0) return 'created: the webhook is not active yet';
    refusal = r.stderr;
    return /failed calling webhook "scope-probe\.weft\.dev"/.test(r.stderr) ? true : `refused otherwise: ${r.stderr}`;
  }, { timeoutMs: 30_000, intervalMs: 500 });
  assert.match(refusal, /failed calling webhook "scope-probe\.weft\.dev"/);

  const gw = await cluster.kubectl(['-n', ns, 'create', '-f', '-'], { input: route('ingress', '{name: some-gateway}') });
  assert.equal(gw.code, 0, `a Gateway-parented route was sent to the webhook: ${gw.stderr}`);
  const gwExplicit = await cluster.kubectl(['-n', ns, 'create', '-f', '-'], { input: route('ingress-2', '{group: gateway.networking.k8s.io, kind: Gateway, name: gw}') });
  assert.equal(gwExplicit.code, 0, gwExplicit.stderr);
  // The same route moved onto the Service is caught on UPDATE.
  const moved = await cluster.kubectl(['-n', ns, 'apply', '-f', '-'], { input: route('ingress', '{kind: Service, group: "", name: svc, port: 80}') });
  assert.notEqual(moved.code, 0);
  assert.match(moved.stderr, /failed calling webhook "scope-probe\.weft\.dev"/);
  const grpcCore = await cluster.kubectl(['-n', ns, 'create', '-f', '-'], { input: route('mesh-core', '{kind: Service, group: core, name: svc}') });
  assert.notEqual(grpcCore.code, 0, 'group "core" is a Service parent too');

  const server = await cluster.kubectl(['-n', ns, 'create', '-f', '-'], { input: `
apiVersion: policy.weft.dev/v1alpha1
kind: Server
metadata: {name: srv}
spec: {podSelector: {}, port: 80}
` });
  assert.notEqual(server.code, 0, 'a Weft Server is always validated');
  assert.match(server.stderr, /failed calling webhook "scope-probe\.weft\.dev"/);
  const listed = await cluster.kubectl(['-n', ns, 'get', 'httproutes', '-o', 'name']);
  assert.deepEqual(listed.stdout.trim().split('\n').sort(), ['httproute.gateway.networking.k8s.io/ingress', 'httproute.gateway.networking.k8s.io/ingress-2']);
});
