import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseClusterInfo } from './cluster-info.js';
import { splitRule } from './cleanup.js';
import { retryDelayMs } from './kube.js';
import { parseArgs } from './main.js';
import { forwardRules, hostsFile, podNetnsName, podVethName, resolvConf } from './network.js';
import { microTime, nodeStatus } from './node.js';
import { enterArgv, holderArgv, holderScript } from './proc.js';
import { simPodIsCurrent } from './sim.js';

test('pod resolv.conf points at the cluster DNS with the namespace search path and ndots 5', () => {
  assert.equal(resolvConf({ namespace: 'shop', clusterDNS: '10.96.0.10', clusterDomain: 'cluster.local' }),
    'nameserver 10.96.0.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n');
  assert.match(hostsFile('web-0', '10.244.1.4'), /^10\.244\.1\.4\tweb-0$/m);
});

test('netns and veth names fit the 15-character interface limit and share the uid prefix', () => {
  const uid = '0f9a4c2e-1b2c-4d5e-8f90-123456789abc';
  assert.equal(podNetnsName(uid), 'weft-0f9a4c2e');
  assert.equal(podVethName(uid), 'wv0f9a4c2e');
  assert.ok(podVethName(uid).length <= 15);
});

test('the FORWARD rules drop traffic leaving or entering the bridge from other interfaces', () => {
  const [out, into] = forwardRules('weft0');
  assert.deepEqual(out?.slice(0, 4), ['-i', 'weft0', '!', '-o']);
  assert.deepEqual(into?.slice(0, 4), ['!', '-i', 'weft0', '-o']);
  assert.equal(out?.at(-1), 'DROP');
});

test('holder script bind-mounts the clone read-only, the volumes, sets the hostname and sleeps', () => {
  const s = holderScript({ netnsPath: '/var/run/netns/weft-x', hostname: 'web-0', repoRoot: '/root/repo', nodeBinary: '/usr/bin/node',
    mounts: [{ source: "/v/it's", target: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true, file: false }] });
  assert.match(s, /mount --bind -o ro '\/root\/repo' '\/opt\/weft'/);
  assert.match(s, /mount --bind -o ro '\/v\/it'\\''s' '\/var\/run\/secrets\/kubernetes.io\/serviceaccount'/);
  assert.match(s, /hostname 'web-0'\necho ready\nexec sleep infinity$/);
  const argv = holderArgv({ netnsPath: '/var/run/netns/weft-x', hostname: 'web-0', repoRoot: '/r', nodeBinary: '/n', mounts: [] });
  assert.deepEqual(argv.slice(0, 4), ['nsenter', '--net=/var/run/netns/weft-x', '--', 'unshare']);
  assert.ok(argv.includes('--uts'));
  const hostNet = holderArgv({ netnsPath: undefined, hostname: undefined, repoRoot: '/r', nodeBinary: '/n', mounts: [] });
  assert.equal(hostNet[0], 'unshare');
  assert.ok(!hostNet.includes('--uts'));
});

test('processes enter the holder and drop to the container UID/GID, with added capabilities for non-root', () => {
  assert.deepEqual(enterArgv(42, '/opt/weft', { uid: 0, gid: 0, groups: [], addCaps: [] }, ['id']),
    ['nsenter', '-t', '42', '--net', '--uts', '--mount', '--wd=/opt/weft', '--', 'id']);
  assert.deepEqual(enterArgv(42, '/', { uid: 7102, gid: 7102, groups: [], addCaps: ['net_admin'] }, ['id']).slice(8),
    ['setpriv', '--reuid=7102', '--regid=7102', '--clear-groups', '--inh-caps=+net_admin', '--ambient-caps=+net_admin', '--', 'id']);
  assert.deepEqual(enterArgv(42, '/', { uid: 1000, gid: 0, groups: [2000], addCaps: [] }, ['id']).slice(8, 12), ['setpriv', '--reuid=1000', '--regid=0', '--groups']);
});

test('iptables -S rules split back into argv for deletion, quotes included', () => {
  assert.deepEqual(splitRule('FORWARD -i weft0 ! -o weft0 -m comment --comment "weft node agent" -j DROP'),
    ['FORWARD', '-i', 'weft0', '!', '-o', 'weft0', '-m', 'comment', '--comment', 'weft node agent', '-j', 'DROP']);
});

test('cluster.json must carry every field; all missing ones are reported at once', () => {
  assert.throws(() => parseClusterInfo({ version: 'v1' }, 'c.json'), /stateDir, logDir/);
  const full = Object.fromEntries(['version', 'stateDir', 'logDir', 'binDir', 'kubeconfig', 'server', 'caFile', 'nodeName', 'simNodeName', 'nodeIP', 'bridge',
    'podCIDR', 'simPodCIDR', 'serviceCIDR', 'clusterDNS', 'clusterDomain', 'repoRoot', 'nodeBinary'].map((k) => [k, 'x']));
  assert.equal(parseClusterInfo({ ...full, extra: 1 }, 'c.json').nodeName, 'x');
});

test('agent flags: backoff base, simulation concurrency, errors together', () => {
  const ok = parseArgs(['/s/cluster.json', '--backoff-base-ms=500', '--sim-concurrency=4']);
  assert.deepEqual(ok.errors, []);
  assert.equal(ok.options.backoffBaseMs, 500);
  assert.equal(ok.options.simConcurrency, 4);
  const bad = parseArgs(['--backoff-base-ms=0', '--what']);
  assert.equal(bad.errors.length, 3);
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
