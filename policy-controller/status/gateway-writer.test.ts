import type { Condition } from '../../core/kube.js';
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

test('conditions of other controllers (domain-prefixed types) on a Gateway are kept; a Weft type no longer wanted goes', async () => {
  const { withForeignConditions } = await import('./gateway-writer.js');
  const { mergeConditions } = await import('./merge.js');
  const current: Condition[] = [
    { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'accepted', lastTransitionTime: 'T0' },
    { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'old', lastTransitionTime: 'T0' },
    { type: 'conformance.gateway.networking.k8s.io/StaleCondition', status: 'True', reason: 'Foreign', message: 'theirs', lastTransitionTime: 'T0' },
  ];
  const desired: Condition[] = [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'accepted' }];
  const m = withForeignConditions(current, mergeConditions(current, desired, 'T1'));
  assert.deepEqual(m.conditions.map((c) => c.type), ['Accepted', 'conformance.gateway.networking.k8s.io/StaleCondition']);
  assert.equal(m.changed, true, 'ResolvedRefs was removed');
  const again = withForeignConditions(m.conditions, mergeConditions(m.conditions, desired, 'T2'));
  assert.equal(again.changed, false, 'nothing to write the second time');
  const listener = (conditions: Condition[]) => ({ name: 'http', supportedKinds: [], attachedRoutes: 0, conditions });
  const full = mergeGatewayStatus({ conditions: current, listeners: [listener(current)] }, { conditions: desired, listeners: [listener(desired)] }, 'T1');
  assert.ok(full.status.conditions?.some((c) => c.type.endsWith('/StaleCondition')));
  assert.ok(full.status.listeners?.[0]?.conditions.some((c) => c.type.endsWith('/StaleCondition')), 'a listener\'s foreign condition is kept too');
});
