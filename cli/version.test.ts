/**
 * `weft version`: the control plane's and the proxies' versions from Deployment and Pod objects (as the
 * API server returns them), their rendering, and the client-only answer without a cluster.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { componentVersion, proxyVersions, renderVersion, runVersion } from './version.js';

const deployment: V1Deployment = {
  metadata: { name: 'weft-controller', labels: { 'app.kubernetes.io/version': '0.1.0' } },
  spec: {
    replicas: 2, selector: {},
    template: { metadata: { labels: { 'app.kubernetes.io/version': '0.1.0' } }, spec: { containers: [{ name: 'controller', image: 'ghcr.io/weft-dev/weft:0.1.0' }] } },
  },
  status: { readyReplicas: 1 },
};

const pod = (name: string, version: string | undefined, image = 'ghcr.io/weft-dev/weft:0.0.9', phase = 'Running'): V1Pod => ({
  metadata: { name, ...(version !== undefined ? { annotations: { 'weft.dev/proxy-version': version } } : {}) },
  spec: { initContainers: [{ name: 'weft-proxy', image }], containers: [{ name: 'app' }] },
  status: { phase },
});

test('the control plane: version label, image and ready replicas of each Deployment; absent when not installed', () => {
  assert.deepEqual(componentVersion('weft-controller', deployment), { name: 'weft-controller', image: 'ghcr.io/weft-dev/weft:0.1.0', version: '0.1.0', ready: '1/2' });
  assert.deepEqual(componentVersion('weft-injector', undefined), { name: 'weft-injector' });
});

test('the proxies: versions counted over meshed pods, from the annotation else the image tag; finished pods left out', () => {
  const versions = proxyVersions([pod('a', '0.1.0'), pod('b', '0.1.0'), pod('c', undefined), pod('d', '0.1.0', undefined, 'Succeeded'), pod('e', '0.0.8')]);
  assert.deepEqual(versions, [{ version: '0.1.0', pods: 2 }, { version: '0.0.8', pods: 1 }, { version: '0.0.9 (image tag)', pods: 1 }]);
});

test('rendering: client, control plane components, proxies; or why they are missing', () => {
  const text = renderVersion({
    client: { version: '0.1.0', node: 'v24.0.0' }, server: 'https://127.0.0.1:6443',
    controlPlane: { components: [componentVersion('weft-controller', deployment), componentVersion('weft-injector', undefined)] },
    proxies: { versions: [{ version: '0.1.0', pods: 3 }, { version: '0.0.9', pods: 1 }] },
  });
  assert.equal(text, [
    'Client:         weft 0.1.0 (node v24.0.0)',
    'Control plane:  https://127.0.0.1:6443',
    '  weft-controller: 0.1.0, image ghcr.io/weft-dev/weft:0.1.0, 1/2 ready',
    '  weft-injector: not installed (no Deployment weft-system/weft-injector)',
    'Proxies:        0.1.0 (3 pods), 0.0.9 (1 pod)',
    '',
  ].join('\n'));
  const missing = renderVersion({ client: { version: '0.1.0', node: 'v24.0.0' }, controlPlane: { missing: 'no kubeconfig found' }, proxies: { versions: [] } });
  assert.match(missing, /^Control plane:  unknown: no kubeconfig found$/m);
  assert.match(missing, /^Proxies:        none \(no meshed pods\)$/m);
});

test('--client needs no cluster and exits 0; -o json carries the same report', async () => {
  let out = '';
  const io = { out: (t: string) => { out += t; }, err: () => undefined };
  assert.equal(await runVersion(['--client'], io), 0);
  assert.match(out, /^weft \d+\.\d+\.\d+ \(node v\d+/);
  out = '';
  assert.equal(await runVersion(['--client', '-o', 'json'], io), 0);
  const report = JSON.parse(out) as { client: { version: string }; controlPlane: { missing: string } };
  assert.match(report.client.version, /^\d+\.\d+\.\d+$/);
  assert.equal(report.controlPlane.missing, 'not asked (--client)');
});
