import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseClusterInfo } from './cluster-info.js';
import { retryDelayMs } from './kube.js';
import { parseArgs } from './main.js';
import { microTime, nodeStatus } from './node.js';
import { simPodIsCurrent } from './sim.js';

test('cluster.json must carry every field; all missing ones are reported at once', () => {
  assert.throws(() => parseClusterInfo({ version: 'v1' }, 'c.json'), /stateDir, logDir/);
  const full = Object.fromEntries(['version', 'stateDir', 'logDir', 'binDir', 'kubeconfig', 'server', 'caFile', 'nodeName', 'simNodeName', 'nodeIP', 'bridge',
    'podCIDR', 'simPodCIDR', 'serviceCIDR', 'clusterDNS', 'clusterDomain', 'repoRoot', 'nodeBinary'].map((k) => [k, 'x']));
  assert.equal(parseClusterInfo({ ...full, extra: 1 }, 'c.json').nodeName, 'x');
});

test('agent flags: simulation concurrency, errors together', () => {
  const ok = parseArgs(['/s/cluster.json', '--sim-concurrency=4']);
  assert.deepEqual(ok.errors, []);
  assert.equal(ok.options.simConcurrency, 4);
  const bad = parseArgs(['--sim-concurrency=0', '--what']);
  assert.deepEqual(bad.errors, ['--sim-concurrency needs a positive integer', 'unknown flag --what', 'usage: main.js <cluster.json> [--sim-concurrency=N]']);
});

test('lease times carry six fraction digits; node status is Ready with the internal IP', () => {
  assert.equal(microTime(new Date('2026-01-02T03:04:05.678Z')), '2026-01-02T03:04:05.678000Z');
  const s = nodeStatus({ name: 'n', internalIP: '10.244.0.1', podCIDR: '10.244.0.0/16', capacity: { pods: '250' }, taints: [], labels: {}, version: 'v1.34.0' }, new Date());
  assert.deepEqual((s['addresses'] as unknown[])[0], { type: 'InternalIP', address: '10.244.0.1' });
  assert.ok((s['conditions'] as { type: string; status: string }[]).some((c) => c.type === 'Ready' && c.status === 'True'));
});

test('watch retries back off with jitter up to 30 s', () => {
  assert.equal(retryDelayMs(0, () => 0.5), 500);
  assert.equal(retryDelayMs(3, () => 0.5), 4000);
  assert.equal(retryDelayMs(20, () => 0.5), 30_000);
  assert.equal(retryDelayMs(0, () => 0), 250);
});

test('a simulated pod is current only when Running, Ready and addressed from the simulated CIDR', () => {
  const base = { metadata: { name: 'p' }, spec: { containers: [] } };
  assert.equal(simPodIsCurrent({ ...base, status: { phase: 'Running', podIP: '10.245.0.3', conditions: [{ type: 'Ready', status: 'True' }] } }, '10.245.0.0/16'), true);
  assert.equal(simPodIsCurrent({ ...base, status: { phase: 'Running', podIP: '10.244.1.3', conditions: [{ type: 'Ready', status: 'True' }] } }, '10.245.0.0/16'), false);
  assert.equal(simPodIsCurrent({ ...base, status: { phase: 'Pending' } }, '10.245.0.0/16'), false);
});
