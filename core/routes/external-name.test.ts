import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Service } from '../kube.js';
import { gatewayBackendResolver } from '../gateway/status.js';
import { clusterServiceOf, externalNameOf } from './external-name.js';

const ext = (name: string, externalName?: string, ports?: { port: number }[]): Service => ({
  metadata: { namespace: 'apps', name }, spec: { type: 'ExternalName', ...(externalName !== undefined ? { externalName } : {}), ...(ports ? { ports } : {}) },
});

test('externalNameOf: the name of an ExternalName Service, lowercased; refused without one or when not a DNS name; undefined for other types', () => {
  assert.deepEqual(externalNameOf(ext('a', 'Echo-V2.other-ns.svc.cluster.local')), { ok: true, name: 'echo-v2.other-ns.svc.cluster.local' });
  assert.deepEqual(externalNameOf(ext('a', 'api.example.com.')), { ok: true, name: 'api.example.com.' });
  assert.deepEqual(externalNameOf(ext('a', '10.1.2.3')), { ok: true, name: '10.1.2.3' });
  assert.equal(externalNameOf(ext('a'))?.ok, false);
  const bad = externalNameOf(ext('a', 'not a name'));
  assert.ok(bad?.ok === false && bad.message.includes('"not a name"'), JSON.stringify(bad));
  assert.equal(externalNameOf(ext('a', '-leading.example'))?.ok, false);
  assert.equal(externalNameOf({ metadata: { name: 'c' }, spec: { ports: [{ port: 80 }] } }), undefined);
});

test('gateway backends: an ExternalName Service resolves at the backendRef\'s port (its own ports are not consulted), with its name', () => {
  const services = new Map<string, Service>([
    ['apps/ext', ext('ext', 'echo-v2.other-ns.svc.cluster.local')],
    ['apps/ext-ported', ext('ext-ported', 'echo.example', [{ port: 443 }])],
    ['apps/nameless', ext('nameless')],
  ]);
  const resolve = gatewayBackendResolver('apps', services, []);
  assert.deepEqual(resolve({ name: 'ext', port: 8080 }, 'HTTPRoute'), { kind: 'service', namespace: 'apps', name: 'ext', port: 8080, externalName: 'echo-v2.other-ns.svc.cluster.local' });
  assert.deepEqual(resolve({ name: 'ext-ported', port: 80 }, 'HTTPRoute'), { kind: 'service', namespace: 'apps', name: 'ext-ported', port: 80, externalName: 'echo.example' });
  const noPort = resolve({ name: 'ext' }, 'HTTPRoute');
  assert.ok(noPort.kind === 'error' && noPort.reason === 'BackendNotFound' && noPort.message.includes('needs a port'));
  const nameless = resolve({ name: 'nameless', port: 80 }, 'HTTPRoute');
  assert.ok(nameless.kind === 'error' && nameless.reason === 'BackendNotFound' && nameless.message.includes('ExternalName'), JSON.stringify(nameless));
});

test('clusterServiceOf: a Service name of cluster DNS (full or up to .svc, trailing dot allowed) is that Service; other names are DNS\'s', () => {
  assert.deepEqual(clusterServiceOf('echo-v2.other-ns.svc.cluster.local'), { namespace: 'other-ns', name: 'echo-v2' });
  assert.deepEqual(clusterServiceOf('Echo.Apps.SVC.cluster.local.'), { namespace: 'apps', name: 'echo' });
  assert.deepEqual(clusterServiceOf('echo.apps.svc'), { namespace: 'apps', name: 'echo' });
  assert.deepEqual(clusterServiceOf('echo.apps.svc.corp.internal', 'corp.internal'), { namespace: 'apps', name: 'echo' });
  for (const other of ['echo.apps.svc.corp.internal', 'echo.example.com', 'echo.apps', 'pod-0.echo.apps.svc.cluster.local', 'echo.apps.pod.cluster.local', '.apps.svc', 'echo..svc', '10.0.0.1']) {
    assert.equal(clusterServiceOf(other), undefined, other);
  }
});
