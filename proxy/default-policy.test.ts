import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultPolicyHook } from './default-policy.js';
import type { HookRequest, InboundContext } from './policy-hook.js';

const req: HookRequest = { method: 'GET', authority: 'a', path: '/', protocol: 'http1', header: () => undefined };
const meshed: InboundContext = { peerIdentity: 'spiffe://cluster.local/ns/a/sa/b', tls: true, clientIp: '10.1.0.5', port: 8080 };
const plainInCluster: InboundContext = { tls: false, clientIp: '::ffff:10.1.0.6', port: 8080 };
const plainOutside: InboundContext = { tls: false, clientIp: '203.0.113.9', port: 8080 };
const probe: InboundContext = { tls: false, clientIp: '192.0.2.1', port: 8080 };

const hook = (policy: Parameters<typeof defaultPolicyHook>[0]['policy']) =>
  defaultPolicyHook({ policy, clusterNetworks: ['10.0.0.0/8'], probeNetworks: ['192.0.2.1/32'] });

test('each default inbound policy allows exactly the clients it names', () => {
  const cases: [Parameters<typeof hook>[0], boolean, boolean, boolean][] = [
    // policy, meshed in cluster, plaintext in cluster, plaintext outside
    ['all-unauthenticated', true, true, true],
    ['audit', true, true, true],
    ['all-authenticated', true, false, false],
    ['cluster-unauthenticated', true, true, false],
    ['cluster-authenticated', true, false, false],
    ['deny', false, false, false],
  ];
  for (const [policy, a, b, c] of cases) {
    const h = hook(policy);
    assert.deepEqual([meshed, plainInCluster, plainOutside].map((ctx) => h.inbound.authorize(ctx, req).kind === 'allow'), [a, b, c], policy);
  }
});

test('kubelet probes from the probe networks stay allowed under deny; opaque connections are not probes', () => {
  assert.equal(hook('deny').inbound.authorize(probe, req).kind, 'allow');
  assert.equal(hook('deny').inbound.authorize(probe, null).kind, 'deny');
});

test('outbound forwards to the Service port the app dialled', () => {
  const target = { namespace: 'n', name: 's', port: 80 };
  assert.deepEqual(hook('deny').outbound.route({ target }, req), { kind: 'forward', backend: target });
});
