import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { XBackendTrafficPolicy } from '../kube.js';
import { DEFAULT_RETRY_BUDGET } from '../retry-budget.js';
import { compileBackendPolicies, compileRetryConstraint } from './backend-traffic.js';

function policy(name: string, spec: Record<string, unknown>, at = 0): XBackendTrafficPolicy {
  return {
    metadata: { name, namespace: 'prod', generation: 3, creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, at)).toISOString() },
    spec: { targetRefs: [{ group: '', kind: 'Service', name: 'api' }], ...spec } as NonNullable<XBackendTrafficPolicy['spec']>,
  };
}
const SERVICES = new Set(['prod/api', 'prod/web']);
const accepted = (r: ReturnType<typeof compileBackendPolicies>, i = 0, a = 0) => r.statuses[i]!.ancestors[a]!.conditions[0]!;

test('retryConstraint gets the CRD defaults: 20% over 10 s, 10 per 1 s', () => {
  assert.deepEqual(compileRetryConstraint({}), { ok: true, config: DEFAULT_RETRY_BUDGET });
  assert.deepEqual(compileRetryConstraint({ budget: { percent: 50, interval: '30s' }, minRetryRate: { count: 3, interval: '2s' } }), {
    ok: true, config: { percent: 50, intervalMs: 30_000, minRetries: 3, minIntervalMs: 2000 },
  });
});

test('a bad retryConstraint names each bad field', () => {
  const r = compileRetryConstraint({ budget: { percent: 101, interval: '500ms' }, minRetryRate: { count: -1, interval: 'x' }, other: 1 });
  assert.equal(r.ok, false);
  const text = r.ok ? '' : r.problems.join('; ');
  for (const w of ['budget.percent 101', 'budget.interval "500ms" must be from 1s to 1h', 'minRetryRate.count -1', 'minRetryRate.interval "x" is not a duration', 'retryConstraint.other']) {
    assert.ok(text.includes(w), `${text} names ${w}`);
  }
});

test('a policy targeting a Service sets its budget and is Accepted for that Service', () => {
  const r = compileBackendPolicies([policy('p', { retryConstraint: { budget: { percent: 100 } } })], SERVICES);
  assert.deepEqual(r.budgets.get('prod/api'), { ...DEFAULT_RETRY_BUDGET, percent: 100 });
  assert.deepEqual(r.statuses[0]!.ancestors[0]!.ancestorRef, { group: '', kind: 'Service', namespace: 'prod', name: 'api' });
  assert.equal(accepted(r).status, 'True');
  assert.equal(accepted(r).observedGeneration, 3);
});

test('the older of two policies on one Service applies; the other is Conflicted', () => {
  const r = compileBackendPolicies([policy('young', { retryConstraint: { budget: { percent: 5 } } }, 9), policy('old', { retryConstraint: { budget: { percent: 60 } } }, 1)], SERVICES);
  assert.equal(r.budgets.get('prod/api')?.percent, 60);
  const young = r.statuses.find((s) => s.name === 'young')!;
  assert.equal(young.ancestors[0]!.conditions[0]!.reason, 'Conflicted');
  assert.ok(String(young.ancestors[0]!.conditions[0]!.message).includes('prod/old'));
});

test('a missing Service, a non-Service target, an unsupported field and a bad value apply nothing and say why', () => {
  const cases: [XBackendTrafficPolicy, string, string][] = [
    [{ ...policy('gone', {}), spec: { targetRefs: [{ group: '', kind: 'Service', name: 'nope' }], retryConstraint: {} } }, 'TargetNotFound', 'prod/nope'],
    [{ ...policy('kind', {}), spec: { targetRefs: [{ group: 'gateway.networking.x-k8s.io', kind: 'XBackend', name: 'api' }], retryConstraint: {} } }, 'Invalid', 'Services only'],
    [policy('sp', { sessionPersistence: { sessionName: 'x' } }), 'Invalid', 'spec.sessionPersistence is not supported'],
    [policy('bad', { retryConstraint: { budget: { percent: 'lots' } } }), 'Invalid', 'budget.percent "lots"'],
  ];
  for (const [p, reason, words] of cases) {
    const r = compileBackendPolicies([p], SERVICES);
    assert.equal(r.budgets.size, 0, p.metadata.name);
    assert.equal(accepted(r).status, 'False', p.metadata.name);
    assert.equal(accepted(r).reason, reason, p.metadata.name);
    assert.ok(String(accepted(r).message).includes(words), `${String(accepted(r).message)} names ${words}`);
  }
});
