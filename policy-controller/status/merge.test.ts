import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RouteParentStatus } from '../../core/outbound/policy.js';
import { mergeConditions, mergeRouteParents } from './merge.js';

const ME = 'weft.dev/policy-controller';
const parentRef = { group: '', kind: 'Service', name: 'web' };
const other = { parentRef: { name: 'gw' }, controllerName: 'example.com/gateway', conditions: [{ type: 'Accepted', status: 'True' as const, reason: 'Accepted', lastTransitionTime: '2020-01-01T00:00:00Z' }] };
const desired = (status: 'True' | 'False'): RouteParentStatus[] => [
  { parentRef, controllerName: ME, conditions: [{ type: 'Accepted', status, reason: status === 'True' ? 'Accepted' : 'NoMatchingParent', message: 'm', observedGeneration: 1 }] },
];

test('other controllers\' entries are kept in place and ours are appended', () => {
  const r = mergeRouteParents([other], desired('True'), ME, 'T1');
  assert.equal(r.changed, true);
  assert.deepEqual(r.parents[0], other);
  assert.equal(r.parents[1]?.controllerName, ME);
  assert.equal(r.parents[1]?.conditions?.[0]?.lastTransitionTime, 'T1');
});

test('an unchanged status is not written again', () => {
  const first = mergeRouteParents([other], desired('True'), ME, 'T1');
  const again = mergeRouteParents(first.parents, desired('True'), ME, 'T2');
  assert.equal(again.changed, false);
});

test('lastTransitionTime moves only when a condition\'s status changes', () => {
  const first = mergeRouteParents([], desired('True'), ME, 'T1');
  const msgOnly = mergeRouteParents(first.parents, [{ ...desired('True')[0]!, conditions: [{ ...desired('True')[0]!.conditions[0]!, message: 'new' }] }], ME, 'T2');
  assert.equal(msgOnly.changed, true);
  assert.equal(msgOnly.parents[0]?.conditions?.[0]?.lastTransitionTime, 'T1');
  const flipped = mergeRouteParents(first.parents, desired('False'), ME, 'T3');
  assert.equal(flipped.parents[0]?.conditions?.[0]?.lastTransitionTime, 'T3');
});

test('our entry for a parent that was removed is dropped', () => {
  const first = mergeRouteParents([other], desired('True'), ME, 'T1');
  const r = mergeRouteParents(first.parents, [], ME, 'T2');
  assert.equal(r.changed, true);
  assert.deepEqual(r.parents, [other]);
});

test('XBackendTrafficPolicy ancestors merge like route parents: other controllers kept, ours replaced', async () => {
  const { mergeAncestors } = await import('./policy-writer.js');
  const svc = (name: string) => ({ group: '', kind: 'Service', namespace: 'shop', name });
  const cond = (status: 'True' | 'False', reason: string) => ({ type: 'Accepted', status, reason, message: reason });
  const current = [
    { ancestorRef: svc('web'), controllerName: 'other.example/ctl', conditions: [{ ...cond('True', 'Accepted'), lastTransitionTime: 'T0' }] },
    { ancestorRef: svc('web'), controllerName: 'weft.dev/policy-controller', conditions: [{ ...cond('True', 'Accepted'), lastTransitionTime: 'T1' }] },
  ];
  const same = mergeAncestors(current, [{ ancestorRef: svc('web'), conditions: [cond('True', 'Accepted')] }], 'weft.dev/policy-controller', 'T2');
  assert.equal(same.changed, false);
  const flipped = mergeAncestors(current, [{ ancestorRef: svc('web'), conditions: [cond('False', 'Conflicted')] }], 'weft.dev/policy-controller', 'T2');
  assert.equal(flipped.changed, true);
  assert.deepEqual(flipped.ancestors.map((a) => `${a.controllerName} ${a.conditions?.[0]?.reason} ${a.conditions?.[0]?.lastTransitionTime}`), [
    'other.example/ctl Accepted T0',
    'weft.dev/policy-controller Conflicted T2',
  ]);
});

test('mergeConditions: a condition keeps its time while its status holds; an equal set is unchanged', () => {
  const accepted = { type: 'Accepted', status: 'True' as const, reason: 'Accepted', message: 'ok', observedGeneration: 1 };
  const first = mergeConditions(undefined, [accepted], 'T1');
  assert.equal(first.changed, true);
  assert.equal(first.conditions[0]?.lastTransitionTime, 'T1');
  assert.equal(mergeConditions(first.conditions, [accepted], 'T2').changed, false);
  const newGen = mergeConditions(first.conditions, [{ ...accepted, observedGeneration: 2 }], 'T2');
  assert.equal(newGen.changed, true);
  assert.equal(newGen.conditions[0]?.lastTransitionTime, 'T1', 'same status: the time stays');
  const flipped = mergeConditions(first.conditions, [{ ...accepted, status: 'False', reason: 'InvalidParameters' }], 'T3');
  assert.equal(flipped.conditions[0]?.lastTransitionTime, 'T3');
});
