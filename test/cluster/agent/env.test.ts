import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Container } from '@kubernetes/client-node';
import { expandArgv, expandVars, fieldPathValue, formatMap, parseQuantity, resolveEnv, resourceFieldValue } from './env.js';
import type { EnvSources } from './env.js';
import type { Pod } from './types.js';

const pod: Pod = {
  metadata: { name: 'web-0', namespace: 'shop', uid: 'u-1', labels: { app: 'web', tier: 'fe' }, annotations: { 'a.b/c': 'x' } },
  spec: { containers: [{ name: 'app', resources: { limits: { cpu: '500m', memory: '64Mi' } } }], serviceAccountName: 'web-sa', nodeName: 'weft-node' },
};

const src: EnvSources = {
  secret: (n) => (n === 'creds' ? { user: 'alice', pass: 's3cret' } : undefined),
  configMap: (n) => (n === 'cfg' ? { MODE: 'fast', LEVEL: '3' } : undefined),
  nodeName: 'weft-node', hostIP: '10.244.0.1', podIP: '10.244.1.7',
  nodeAllocatable: { cpu: '2', memory: '8Gi', 'ephemeral-storage': '100Gi' },
  base: { HOSTNAME: 'web-0' },
};

test('$(VAR) expands defined variables, keeps undefined ones and unescapes $$', () => {
  const look = (n: string) => ({ A: '1', B: 'two' } as Record<string, string>)[n];
  assert.equal(expandVars('x$(A)y$(B)', look), 'x1ytwo');
  assert.equal(expandVars('$(MISSING)', look), '$(MISSING)');
  assert.equal(expandVars('$$(A)', look), '$(A)');
  assert.equal(expandVars('cost $5 $(A', look), 'cost $5 $(A');
  assert.equal(expandVars('$', look), '$');
});

test('downward API field paths resolve against the pod and the node', () => {
  assert.equal(fieldPathValue(pod, 'metadata.name', src), 'web-0');
  assert.equal(fieldPathValue(pod, 'metadata.namespace', src), 'shop');
  assert.equal(fieldPathValue(pod, 'metadata.uid', src), 'u-1');
  assert.equal(fieldPathValue(pod, 'status.podIP', src), '10.244.1.7');
  assert.equal(fieldPathValue(pod, 'status.hostIP', src), '10.244.0.1');
  assert.equal(fieldPathValue(pod, 'spec.serviceAccountName', src), 'web-sa');
  assert.equal(fieldPathValue(pod, 'spec.nodeName', src), 'weft-node');
  assert.equal(fieldPathValue(pod, "metadata.labels['app']", src), 'web');
  assert.equal(fieldPathValue(pod, "metadata.annotations['a.b/c']", src), 'x');
  assert.equal(fieldPathValue(pod, 'metadata.labels', src), 'app="web"\ntier="fe"');
  assert.throws(() => fieldPathValue(pod, 'spec.bogus', src));
});

test('quantities parse decimal and binary suffixes', () => {
  assert.equal(parseQuantity('500m'), 0.5);
  assert.equal(parseQuantity('64Mi'), 64 * 2 ** 20);
  assert.equal(parseQuantity('1G'), 1e9);
  assert.equal(parseQuantity('2'), 2);
  assert.equal(formatMap(undefined), '');
});

test('resourceFieldRef rounds up by the divisor and falls back to node allocatable', () => {
  const res = { limits: { cpu: '500m', memory: '64Mi' } };
  assert.equal(resourceFieldValue(res, 'limits.cpu', undefined, src.nodeAllocatable), '1');
  assert.equal(resourceFieldValue(res, 'limits.cpu', '1m', src.nodeAllocatable), '500');
  assert.equal(resourceFieldValue(res, 'limits.memory', '1Mi', src.nodeAllocatable), '64');
  assert.equal(resourceFieldValue(undefined, 'limits.memory', '1Gi', src.nodeAllocatable), '8');
});

test('env: envFrom first, then env in order with expansion against earlier entries', () => {
  const c: V1Container = {
    name: 'app',
    resources: { limits: { memory: '64Mi' } },
    envFrom: [{ configMapRef: { name: 'cfg' } }, { prefix: 'S_', secretRef: { name: 'creds' } }],
    env: [
      { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'ADDR', value: '$(IP):8080/$(POD)/$(LATER)' },
      { name: 'LATER', value: 'late' },
      { name: 'MODE', value: 'override-$(MODE)' },
      { name: 'PASS', valueFrom: { secretKeyRef: { name: 'creds', key: 'pass' } } },
      { name: 'LVL', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'LEVEL' } } },
      { name: 'OPT', valueFrom: { configMapKeyRef: { name: 'nope', key: 'x', optional: true } } },
      { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
    ],
  };
  const r = resolveEnv(pod, c, src);
  assert.ok(r.ok);
  assert.equal(r.env['HOSTNAME'], 'web-0');
  assert.equal(r.env['S_user'], 'alice');
  assert.equal(r.env['ADDR'], '10.244.1.7:8080/web-0/$(LATER)');
  assert.equal(r.env['MODE'], 'override-fast');
  assert.equal(r.env['PASS'], 's3cret');
  assert.equal(r.env['LVL'], '3');
  assert.equal(Object.hasOwn(r.env, 'OPT'), false);
  assert.equal(r.env['MEM'], '64');
  assert.deepEqual(expandArgv(['--ip=$(IP)', '$(NONE)'], r.env), ['--ip=10.244.1.7', '$(NONE)']);
});

test('a missing required secret key is CreateContainerConfigError', () => {
  const r = resolveEnv(pod, { name: 'app', env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } } }] }, src);
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.reason, 'CreateContainerConfigError');
    assert.match(r.message, /token/);
  }
  const missingMap = resolveEnv(pod, { name: 'app', envFrom: [{ configMapRef: { name: 'absent' } }] }, src);
  assert.equal(missingMap.ok, false);
});
