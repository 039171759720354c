import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GATEWAY_CORE_FEATURES, GATEWAY_EXTENDED_FEATURES, gatewayClassSupportedFeatures } from './features.js';

test('the GatewayClass lists every core and extended feature once, sorted by name', () => {
  const names = gatewayClassSupportedFeatures().map((f) => f.name);
  assert.deepEqual(names, [...names].sort());
  assert.equal(new Set(names).size, names.length);
  assert.equal(names.length, GATEWAY_CORE_FEATURES.length + GATEWAY_EXTENDED_FEATURES.length);
  for (const core of ['Gateway', 'HTTPRoute', 'GRPCRoute', 'TLSRoute', 'ReferenceGrant']) assert.ok(names.includes(core), core);
  // Upstream's feature names are CamelCase identifiers; a typo such as a space or a dash would never match its suite.
  for (const n of names) assert.match(n, /^[A-Z][A-Za-z0-9]+$/, n);
});
