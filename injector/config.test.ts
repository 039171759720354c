import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseInjectorConfig as parse } from './config.js';

/** The config from flags as the dispatcher hands them over (parsing itself: cli/components.test.ts). */
const parseInjectorConfig = (flags: Record<string, string>, env: Readonly<Record<string, string | undefined>>) => parse(new Map(Object.entries(flags)), env);

test('injector defaults come from the contract: ports 8443/9990, weft-system, the controller Service address', () => {
  const r = parseInjectorConfig({}, {});
  assert.ok(r.ok);
  assert.equal(r.config.webhookPort, 8443);
  assert.equal(r.config.adminPort, 9990);
  assert.equal(r.config.namespace, 'weft-system');
  assert.equal(r.config.injection.controllerAddr, 'weft-controller.weft-system.svc.cluster.local:8090');
  assert.equal(r.config.injection.resources.cpuLimit, undefined, 'no CPU limit by default');
});

test('flags win over the environment, which wins over defaults', () => {
  const r = parseInjectorConfig({ 'trust-domain': 'flag.example' }, { WEFT_TRUST_DOMAIN: 'env.example', WEFT_NAMESPACE: 'mesh' });
  assert.ok(r.ok);
  assert.equal(r.config.injection.trustDomain, 'flag.example');
  assert.equal(r.config.namespace, 'mesh');
  assert.equal(r.config.injection.controllerAddr, 'weft-controller.mesh.svc.cluster.local:8090');
});

test('every invalid value is reported at once', () => {
  const r = parseInjectorConfig({ 'webhook-port': 'x', 'proxy-log-level': 'loud', 'proxy-memory-limit': 'lots', 'controller-addr': 'nohost' }, { WEFT_CLUSTER_NETWORKS: '10.0.0.0/8,bad' });
  assert.ok(!r.ok);
  assert.equal(r.errors.length, 5, r.errors.join('\n'));
});
