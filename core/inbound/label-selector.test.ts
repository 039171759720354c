import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LabelSelector } from '../kube-policy.js';
import { matchLabelSelector } from './label-selector.js';

const LABELS = { app: 'api', tier: 'backend' };

test('podSelector follows metav1.LabelSelector: matchLabels AND matchExpressions, {} selects all', () => {
  const cases: [string, LabelSelector, 'match' | 'no-match'][] = [
    ['empty selector selects every pod', {}, 'match'],
    ['matchLabels equal', { matchLabels: { app: 'api' } }, 'match'],
    ['matchLabels differ', { matchLabels: { app: 'web' } }, 'no-match'],
    ['matchLabels missing key', { matchLabels: { zone: 'a' } }, 'no-match'],
    ['In', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['backend', 'x'] }] }, 'match'],
    ['In without the label', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, 'no-match'],
    ['NotIn', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['backend'] }] }, 'no-match'],
    ['NotIn without the label', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, 'match'],
    ['Exists', { matchExpressions: [{ key: 'app', operator: 'Exists' }] }, 'match'],
    ['DoesNotExist', { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, 'no-match'],
    ['all must hold', { matchLabels: { app: 'api' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['front'] }] }, 'no-match'],
    ['an inherited property is not a label', { matchExpressions: [{ key: 'constructor', operator: 'Exists' }] }, 'no-match'],
  ];
  for (const [rule, selector, expected] of cases) assert.equal(matchLabelSelector(selector, LABELS).kind, expected, rule);
});

test('a selector Weft cannot evaluate is undecidable, never a silent no-match', () => {
  const cases: [string, LabelSelector][] = [
    ['unknown operator', { matchExpressions: [{ key: 'app', operator: 'Matches', values: ['a.*'] }] }],
    ['In without values', { matchExpressions: [{ key: 'app', operator: 'In' }] }],
    ['Exists with values', { matchExpressions: [{ key: 'app', operator: 'Exists', values: ['api'] }] }],
    ['unknown selector field', { matchLabels: { app: 'api' }, matchFields: {} }],
  ];
  for (const [rule, selector] of cases) assert.equal(matchLabelSelector(selector, LABELS).kind, 'undecidable', rule);
  assert.equal(
    matchLabelSelector({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'x', operator: 'Matches' }] }, LABELS).kind,
    'no-match',
    'an understood requirement that fails still excludes the pod',
  );
});
