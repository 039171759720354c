import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planVolume, referencedObjects, tokenRefreshAtMs } from './volumes.js';
import type { VolumeSources } from './volumes.js';
import type { Pod } from './types.js';

const pod: Pod = {
  metadata: { name: 'web-0', namespace: 'shop', uid: 'u-1', labels: { app: 'web' } },
  spec: { containers: [{ name: 'app', envFrom: [{ secretRef: { name: 'env-secret' } }] }] },
};
const src: VolumeSources = {
  secretBytes: (n) => (n === 'tls' ? { 'tls.crt': Buffer.from('CRT'), 'tls.key': Buffer.from('KEY') } : undefined),
  configMapBytes: (n) => (n === 'kube-root-ca.crt' ? { 'ca.crt': Buffer.from('CA') } : undefined),
  nodeName: 'weft-node', hostIP: '10.244.0.1', podIP: '10.244.1.3',
  nodeAllocatable: { cpu: '2', memory: '8Gi', 'ephemeral-storage': '1Gi' },
};

test('the kube-api-access projected volume: a pod-bound token, the root CA and the namespace', () => {
  const r = planVolume(pod, {
    name: 'kube-api-access',
    projected: {
      defaultMode: 0o644,
      sources: [
        { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
      ],
    },
  }, src);
  assert.ok(r.ok);
  assert.equal(r.plan.kind, 'files');
  if (r.plan.kind !== 'files') return;
  assert.deepEqual(r.plan.items.map((i) => i.path), ['token', 'ca.crt', 'namespace']);
  assert.deepEqual(r.plan.items[0]?.source, { type: 'token', audience: undefined, expirationSeconds: 3607 });
  const ns = r.plan.items[2]?.source;
  assert.equal(ns?.type === 'bytes' ? ns.data.toString() : '', 'shop');
});

test('a token source keeps the audience the volume asks for', () => {
  const r = planVolume(pod, { name: 't', projected: { sources: [{ serviceAccountToken: { path: 'id', audience: 'identity.weft.dev', expirationSeconds: 600 } }] } }, src);
  assert.ok(r.ok && r.plan.kind === 'files');
  if (r.ok && r.plan.kind === 'files') assert.deepEqual(r.plan.items[0]?.source, { type: 'token', audience: 'identity.weft.dev', expirationSeconds: 600 });
});

test('secret volumes: every key by default, selected items with their own modes', () => {
  const all = planVolume(pod, { name: 's', secret: { secretName: 'tls' } }, src);
  assert.ok(all.ok && all.plan.kind === 'files');
  if (all.ok && all.plan.kind === 'files') assert.deepEqual(all.plan.items.map((i) => [i.path, i.mode]), [['tls.crt', 0o644], ['tls.key', 0o644]]);
  const some = planVolume(pod, { name: 's', secret: { secretName: 'tls', items: [{ key: 'tls.key', path: 'k/key.pem', mode: 0o600 }] } }, src);
  if (some.ok && some.plan.kind === 'files') assert.deepEqual(some.plan.items.map((i) => [i.path, i.mode]), [['k/key.pem', 0o600]]);
  else assert.fail('expected files');
});

test('a missing secret fails the mount unless optional', () => {
  const r = planVolume(pod, { name: 's', secret: { secretName: 'absent' } }, src);
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.message, /secret "absent" not found/);
  const opt = planVolume(pod, { name: 's', secret: { secretName: 'absent', optional: true } }, src);
  assert.ok(opt.ok);
  const badKey = planVolume(pod, { name: 'c', configMap: { name: 'kube-root-ca.crt', items: [{ key: 'nope', path: 'x' }] } }, src);
  assert.equal(badKey.ok, false);
});

test('emptyDir, hostPath and downwardAPI volumes', () => {
  assert.deepEqual(planVolume(pod, { name: 'e', emptyDir: {} }, src), { ok: true, plan: { kind: 'emptyDir', medium: undefined } });
  assert.deepEqual(planVolume(pod, { name: 'h', hostPath: { path: '/tmp' } }, src), { ok: true, plan: { kind: 'hostPath', path: '/tmp' } });
  const d = planVolume(pod, { name: 'd', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } }, src);
  if (d.ok && d.plan.kind === 'files') assert.equal(d.plan.items[0]?.source.type === 'bytes' ? d.plan.items[0].source.data.toString() : '', 'app="web"');
  else assert.fail('expected files');
  assert.equal(planVolume(pod, { name: 'x', nfs: { server: 's', path: '/' } }, src).ok, false);
});

test('referenced objects include volumes and env sources', () => {
  const p: Pod = { ...pod, spec: { ...pod.spec, volumes: [{ name: 'a', secret: { secretName: 'tls' } }, { name: 'b', projected: { sources: [{ configMap: { name: 'kube-root-ca.crt' } }] } }] } };
  const r = referencedObjects(p);
  assert.deepEqual([...r.secrets].sort(), ['env-secret', 'tls']);
  assert.deepEqual([...r.configMaps], ['kube-root-ca.crt']);
});

test('tokens refresh at 80% of their lifetime', () => {
  assert.equal(tokenRefreshAtMs(1000, 11_000), 9000);
});
