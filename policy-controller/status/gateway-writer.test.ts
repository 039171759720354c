import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GatewayStatusJson } from '../../core/gateway/types.js';
import { mergeGatewayStatus } from './gateway-writer.js';

const accepted = { type: 'Accepted', status: 'True' as const, reason: 'Accepted', message: 'accepted', observedGeneration: 1 };
const pending = { type: 'Programmed', status: 'False' as const, reason: 'Pending', message: 'no proxy', observedGeneration: 1 };
const desired = (attached = 1): GatewayStatusJson => ({
  conditions: [accepted, pending],
  listeners: [{ name: 'web', supportedKinds: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }], attachedRoutes: attached, conditions: [accepted] }],
});

test('a Gateway status is written once, then only when a condition, a listener\'s routes or the addresses change', () => {
  const first = mergeGatewayStatus(undefined, desired(), 'T1');
  assert.equal(first.changed, true);
  assert.equal(first.status.conditions?.[0]?.lastTransitionTime, 'T1');
  assert.equal(first.status.listeners?.[0]?.conditions[0]?.lastTransitionTime, 'T1');
  assert.equal(mergeGatewayStatus(first.status, desired(), 'T2').changed, false, 'the same status is not written again');

  const more = mergeGatewayStatus(first.status, desired(2), 'T2');
  assert.equal(more.changed, true, 'attachedRoutes changed');
  assert.equal(more.status.listeners?.[0]?.conditions[0]?.lastTransitionTime, 'T1', 'the listener\'s condition kept its time');

  const addressed = mergeGatewayStatus(first.status, { ...desired(), addresses: [{ type: 'IPAddress', value: '10.96.0.9' }] }, 'T3');
  assert.equal(addressed.changed, true);
  assert.deepEqual(addressed.status.addresses, [{ type: 'IPAddress', value: '10.96.0.9' }]);

  const fewer = mergeGatewayStatus({ ...first.status, listeners: [...(first.status.listeners ?? []), { name: 'gone', supportedKinds: [], attachedRoutes: 0, conditions: [] }] }, desired(), 'T4');
  assert.equal(fewer.changed, true, 'a removed listener is dropped');
  assert.deepEqual(fewer.status.listeners?.map((l) => l.name), ['web']);
});
