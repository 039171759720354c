import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROXY_ADMIN_PORT, PROXY_ENV } from '../contract.js';
import type { Service } from '../kube.js';
import { evaluateListeners } from './evaluate.js';
import { GATEWAY_NAME_ENV, GATEWAY_NAME_LABEL, gatewayAddresses, gatewayWorkloadName, renderGatewayWorkload } from './render.js';
import type { Gateway } from './types.js';

const gw: Gateway & { metadata: { uid: string } } = {
  metadata: { namespace: 'infra', name: 'gw', uid: 'u-1', generation: 1 },
  spec: {
    gatewayClassName: 'weft',
    listeners: [
      { name: 'web', port: 80, protocol: 'HTTP' },
      { name: 'web-b', port: 80, protocol: 'HTTP', hostname: 'b.example.com' },
      { name: 'alt', port: 8080, protocol: 'HTTP' },
      { name: 'tcp', port: 9000, protocol: 'TCP' },
    ],
  },
};
const listeners = evaluateListeners(gw, { secrets: [], referenceGrants: [], checkKeyPair: () => undefined });
const options = { image: 'ghcr.io/weft-dev/weft:0.1.0', trustDomain: 'cluster.local', trustAnchorsPem: 'PEM', controllerAddr: 'ctl:8090', clusterNetworks: ['10.0.0.0/8'], logLevel: 'info', runtimeEnv: [{ name: 'MALLOC_ARENA_MAX', value: '2' }] };

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

test('names: <gateway>-weft-gateway, shortened with a stable hash to a 63-character DNS label', () => {
  assert.equal(gatewayWorkloadName('gw'), 'gw-weft-gateway');
  const long = 'a'.repeat(60);
  const n = gatewayWorkloadName(long);
  assert.ok(n.length <= 63, n);
  assert.match(n, /^a+-[0-9a-f]{8}-weft-gateway$/);
  assert.equal(gatewayWorkloadName(long), n, 'stable');
  assert.notEqual(gatewayWorkloadName(`${'a'.repeat(59)}b`), n, 'different names, different hashes');
});

test('the workload: a ServiceAccount, a Deployment running `weft gateway`, a LoadBalancer Service; all owned by the Gateway', () => {
  const [sa, dep, svc] = renderGatewayWorkload(gw, listeners, options) as Any[];
  for (const o of [sa, dep, svc]) {
    assert.equal(o!['metadata'].name, 'gw-weft-gateway');
    assert.equal(o!['metadata'].namespace, 'infra');
    assert.deepEqual(o!['metadata'].ownerReferences, [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'gw', uid: 'u-1', controller: true, blockOwnerDeletion: true }]);
  }
  assert.equal(sa!['kind'], 'ServiceAccount');
  const pod = dep!['spec'].template.spec;
  assert.equal(pod.serviceAccountName, 'gw-weft-gateway', 'the gateway\'s identity is its own ServiceAccount');
  assert.deepEqual(dep!['spec'].selector.matchLabels, { [GATEWAY_NAME_LABEL]: 'gw' });
  assert.equal(dep!['spec'].template.metadata.annotations['weft.dev/inject'], 'disabled', 'the injector adds no sidecar to the gateway');
  const c = pod.containers[0];
  assert.deepEqual(c.args, ['gateway']);
  assert.equal(c.image, options.image);
  const env = new Map((c.env as Any[]).map((e) => [e['name'], e['value'] ?? e['valueFrom']]));
  assert.equal(env.get(GATEWAY_NAME_ENV), 'gw');
  assert.equal(env.get(PROXY_ENV.controllerAddr), 'ctl:8090');
  assert.equal(env.get('MALLOC_ARENA_MAX'), '2');
  assert.equal(env.has(PROXY_ENV.defaultInboundPolicy), false, 'no inbound side');
  assert.deepEqual((c.ports as Any[]).map((p) => p['containerPort']), [80, 8080, PROXY_ADMIN_PORT], 'each valid listener port once (not the TCP one), and admin');
  assert.equal(c.securityContext.runAsNonRoot, true);
  assert.equal(dep!['spec'].replicas, undefined, 'the replica count is left to kubectl scale or an autoscaler');
  assert.deepEqual(c.resources, { requests: { cpu: '10m', memory: '128Mi' }, limits: { memory: '1Gi' } }, 'requests for the scheduler and quotas, a memory limit, no CPU limit');
  assert.deepEqual(pod.securityContext.sysctls, [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }], 'ports below 1024 without root');
  assert.equal(pod.volumes[0].name, c.volumeMounts[0].name, 'the identity token is mounted');
  assert.equal(svc!['spec'].type, 'LoadBalancer');
  assert.deepEqual((svc!['spec'].ports as Any[]).map((p) => [p['port'], p['targetPort']]), [[80, 80], [8080, 8080]]);
});

test('addresses: the load balancer\'s ingress (IP or hostname) when filled, else the ClusterIPs, else none', () => {
  const svc = (extra: Any): Service => ({ metadata: { namespace: 'infra', name: 'gw-weft-gateway' }, spec: { clusterIP: '10.96.0.7', clusterIPs: ['10.96.0.7'] }, ...extra });
  assert.deepEqual(gatewayAddresses(svc({})), [{ type: 'IPAddress', value: '10.96.0.7' }]);
  assert.deepEqual(gatewayAddresses(svc({ status: { loadBalancer: { ingress: [{ ip: '203.0.113.5' }, { hostname: 'lb.example.com' }] } } })),
    [{ type: 'IPAddress', value: '203.0.113.5' }, { type: 'Hostname', value: 'lb.example.com' }]);
  assert.deepEqual(gatewayAddresses(undefined), []);
  assert.deepEqual(gatewayAddresses({ metadata: { name: 'x' }, spec: { clusterIP: 'None' } }), []);
});

test('spec.infrastructure labels and annotations reach every object and the pods; Weft\'s own keys win', () => {
  const withInfra = { ...gw, spec: { ...gw.spec!, infrastructure: { labels: { team: 'edge', [GATEWAY_NAME_LABEL]: 'spoof' }, annotations: { 'example.com/owner': 'edge', 'weft.dev/inject': 'enabled' } } } };
  const [sa, dep, svc] = renderGatewayWorkload(withInfra, listeners, options) as Any[];
  for (const o of [sa, dep, svc, dep!['spec'].template]) {
    assert.equal(o!['metadata'].labels.team, 'edge');
    assert.equal(o!['metadata'].labels[GATEWAY_NAME_LABEL], 'gw');
    assert.equal(o!['metadata'].annotations['example.com/owner'], 'edge');
  }
  assert.equal(dep!['spec'].template.metadata.annotations['weft.dev/inject'], 'disabled');
  const [plainSa] = renderGatewayWorkload(gw, listeners, options) as Any[];
  assert.equal(plainSa!['metadata'].annotations, undefined);
});
