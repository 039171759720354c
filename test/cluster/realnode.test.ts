import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parse as parseYaml } from 'yaml';

import { CLUSTER_CIDR, POD_CIDR, REAL_NODE_IP, REAL_POD_CIDR, SIM_POD_CIDR } from './config.js';
import { imageDocuments } from './oci.js';
import { pkiPaths } from './pki.js';
import { cniConfig, containerdConfig, kubeletArgs, kubeletConfig, realNodeManifest } from './realnode.js';

const bins = {
  containerd: '/c/bin',
  runc: '/r/bin',
  cni: '/n/bin',
  pause: { dir: '/p', binary: '/p/pause', archive: '/p/pause.oci.tar', inputHash: 'x' },
  toolbox: { name: 'weft.dev/test/toolbox:x', archive: '/t.tar' },
};

/** a.b.c/d as an IPv4 number range */
function range(cidr: string): [number, number] {
  const [ip = '', bits = '32'] = cidr.split('/');
  const n = ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(bits));
  return [n, n + size - 1];
}

test('the real node pod CIDR is inside the cluster CIDR and overlaps neither the stand-in nor the sim node', () => {
  const [cLo, cHi] = range(CLUSTER_CIDR);
  const [rLo, rHi] = range(REAL_POD_CIDR);
  assert.ok(rLo >= cLo && rHi <= cHi);
  for (const other of [POD_CIDR, SIM_POD_CIDR]) {
    const [lo, hi] = range(other);
    assert.ok(rHi < lo || rLo > hi, `${REAL_POD_CIDR} overlaps ${other}`);
  }
  const [ip] = range(`${REAL_NODE_IP}/32`);
  assert.ok(ip > rLo && ip < rHi);
});

test('containerd config: cgroupfs, restricted oom_score_adj, pinned pause image, CNI from the cache', () => {
  const text = containerdConfig(bins);
  assert.match(text, /^\s*SystemdCgroup = false$/m);
  assert.match(text, /^\s*restrict_oom_score_adj = true$/m);
  assert.match(text, /^\s*snapshotter = 'overlayfs'$/m);
  assert.match(text, /^\s*sandbox = 'weft\.dev\/test\/pause:1'$/m);
  assert.match(text, /^\s*bin_dirs = \['\/n\/bin'\]$/m);
  assert.match(text, /^\s*BinaryName = '\/r\/bin\/runc'$/m);
});

test('CNI config: the bridge plugin on weft0 with the real pod CIDR, no masquerading', () => {
  const conf = JSON.parse(cniConfig()) as { plugins: { type: string; bridge?: string; ipMasq?: boolean; ipam?: { ranges: { subnet: string; gateway: string }[][] } }[] };
  const bridge = conf.plugins.find((p) => p.type === 'bridge');
  assert.equal(bridge?.bridge, 'weft0');
  assert.equal(bridge?.ipMasq, false);
  assert.deepEqual(bridge?.ipam?.ranges, [[{ subnet: REAL_POD_CIDR, gateway: REAL_NODE_IP }]]);
});

test('kubelet config: cgroup v1 allowed, cgroupfs, webhook authn/authz, cluster DNS, no taint: every pod runs here', () => {
  const cfg = parseYaml(kubeletConfig(pkiPaths('/pki'))) as Record<string, unknown>;
  assert.equal(cfg['failCgroupV1'], false);
  assert.equal(cfg['cgroupDriver'], 'cgroupfs');
  assert.deepEqual(cfg['authentication'], { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: '/pki/ca.crt' } });
  assert.deepEqual(cfg['authorization'], { mode: 'Webhook' });
  assert.deepEqual(cfg['clusterDNS'], ['10.96.0.10']);
  assert.equal(cfg['registerWithTaints'], undefined);
  assert.equal(cfg['tlsCertFile'], '/pki/kubelet-serving.crt');
  assert.ok(kubeletArgs().includes(`--node-ip=${REAL_NODE_IP}`));
  const node = JSON.parse(realNodeManifest()) as { spec: { podCIDR: string; taints?: unknown[] } };
  assert.equal(node.spec.podCIDR, REAL_POD_CIDR);
  assert.equal(node.spec.taints, undefined);
});

test('OCI image documents reference the layer by digest and carry the entrypoint', () => {
  const layer = { digest: 'sha256:abc', size: 10 };
  const docs = imageDocuments({ name: 'weft.dev/test/pause:1', entrypoint: ['/pause'] }, layer);
  const config = JSON.parse(docs.config) as { config: { Entrypoint: string[] }; rootfs: { diff_ids: string[] } };
  assert.deepEqual(config.config.Entrypoint, ['/pause']);
  assert.deepEqual(config.rootfs.diff_ids, ['sha256:abc']);
  const manifest = JSON.parse(docs.manifest({ digest: 'sha256:def', size: 5 })) as { config: { digest: string }; layers: { digest: string; size: number }[] };
  assert.equal(manifest.config.digest, 'sha256:def');
  assert.deepEqual(manifest.layers.map((l) => [l.digest, l.size]), [['sha256:abc', 10]]);
});
