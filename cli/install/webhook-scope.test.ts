/**
 * The validating webhook's matchConditions (CEL) evaluated with a CEL interpreter against the
 * controller's own test for "a route Weft serves" (isServiceParentRef || isServerParent), over
 * generated parentRefs. test/e2e/webhook-scope.test.ts checks the same CEL in the real API server.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { run, type CelInput } from '@bufbuild/cel';
import fc from 'fast-check';
import { GATEWAY_API_GROUP, POLICY_API_GROUP } from '../../core/contract.js';
import { isServerParent, isServiceParentRef } from '../../policy-controller/index/server-parents.js';
import { DEFAULT_VALUES } from './command.js';
import { renderInstall, VALIDATING_WEBHOOK_MATCH_CONDITIONS } from './render.js';
import type { InstallPki } from './render.js';

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
/** JSON as CEL sees an unstructured Kubernetes object: objects are maps. */
function toCel(v: Json): CelInput {
  if (Array.isArray(v)) return v.map(toCel);
  if (v !== null && typeof v === 'object') return new Map(Object.entries(v).map(([k, x]) => [k, toCel(x)]));
  return v;
}

function matches(group: string, object: Json): boolean {
  return VALIDATING_WEBHOOK_MATCH_CONDITIONS.every((c) => {
    const r = run(c.expression, { request: toCel({ resource: { group, version: 'v1', resource: 'x' } }), object: toCel(object) });
    assert.equal(typeof r, 'boolean', `${c.name} evaluated to ${String(r)}`);
    return r === true;
  });
}

type Ref = { kind?: string; group?: string; name: string; port?: number };
const route = (parentRefs: Ref[] | undefined): Json => ({ apiVersion: `${GATEWAY_API_GROUP}/v1`, kind: 'HTTPRoute', metadata: { name: 'r' }, spec: parentRefs === undefined ? { rules: [] } : { parentRefs } });
const weftServes = (refs: Ref[] | undefined) => (refs ?? []).some((p) => isServiceParentRef(p) || isServerParent(p));

test('examples: Service and Server parents match; Gateway parents, no parents and other groups do not; Weft kinds always', () => {
  assert.equal(matches(GATEWAY_API_GROUP, route([{ kind: 'Service', group: '', name: 's', port: 80 }])), true);
  assert.equal(matches(GATEWAY_API_GROUP, route([{ kind: 'Service', group: 'core', name: 's' }])), true);
  assert.equal(matches(GATEWAY_API_GROUP, route([{ kind: 'Server', group: POLICY_API_GROUP, name: 'srv' }])), true);
  assert.equal(matches(GATEWAY_API_GROUP, route([{ kind: 'Gateway', group: GATEWAY_API_GROUP, name: 'gw' }, { kind: 'Service', group: '', name: 's' }])), true);
  assert.equal(matches(GATEWAY_API_GROUP, route([{ kind: 'Gateway', group: GATEWAY_API_GROUP, name: 'gw' }])), false);
  assert.equal(matches(GATEWAY_API_GROUP, route([{ kind: 'Service', group: 'example.com', name: 's' }])), false);
  assert.equal(matches(GATEWAY_API_GROUP, route([{ name: 'gw' }])), false, 'a bare parentRef is a Gateway (the CRD defaults kind and group)');
  assert.equal(matches(GATEWAY_API_GROUP, route(undefined)), false);
  assert.equal(matches(POLICY_API_GROUP, { kind: 'Server', spec: { podSelector: {} } }), true);
  assert.equal(matches(POLICY_API_GROUP, { kind: 'AuthorizationPolicy', spec: {} }), true);
});

test('the CEL agrees with the controller on every generated route', () => {
  const ref = fc.record({
    kind: fc.constantFrom('Service', 'Server', 'Gateway', 'Mesh', 'service'),
    group: fc.constantFrom('', 'core', POLICY_API_GROUP, GATEWAY_API_GROUP, 'example.com', 'Core'),
    name: fc.constant('p'),
  }, { requiredKeys: ['name'] });
  fc.assert(fc.property(fc.option(fc.array(ref, { maxLength: 4 }), { nil: undefined }), (refs) => {
    assert.equal(matches(GATEWAY_API_GROUP, route(refs)), weftServes(refs), JSON.stringify(refs));
  }), { numRuns: 500 });
});

test('the rendered ValidatingWebhookConfiguration carries the conditions; the mutating webhook has none', () => {
  const pki: InstallPki = {
    anchorsPem: 'A\n', issuer: { certPem: 'I\n', keyPem: 'K\n' },
    injectorTls: { certPem: 'c\n', keyPem: 'k\n', caPem: 'ca\n' }, controllerWebhookTls: { certPem: 'c\n', keyPem: 'k\n', caPem: 'ca\n' },
  };
  for (const ha of [false, true]) {
    const objs = renderInstall({ ...DEFAULT_VALUES, ha, crds: [] }, pki);
    const vwc = objs.find((o) => o.kind === 'ValidatingWebhookConfiguration');
    const hook = (vwc?.['webhooks'] as { matchConditions?: unknown; failurePolicy: string }[])[0];
    assert.deepEqual(hook?.matchConditions, VALIDATING_WEBHOOK_MATCH_CONDITIONS);
    assert.equal(hook?.failurePolicy, ha ? 'Fail' : 'Ignore');
    const mwc = objs.find((o) => o.kind === 'MutatingWebhookConfiguration');
    assert.equal((mwc?.['webhooks'] as { matchConditions?: unknown }[])[0]?.matchConditions, undefined);
  }
});
