/**
 * The set-up's decisions (which packages are missing, install or refuse, root or not, Go) with a fake
 * dpkg; the real script is run by `npm start`/`npm test` and by hand (see the commit that added it).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GO_MINIMUM, SYSTEM_PACKAGES, aptCommands, goProblem, parseGoVersion, planSystemPackages, type PackageQuery } from './system-packages.js';

const PKGS = [
  { name: 'iptables', why: 'kube-proxy' },
  { name: 'conntrack', why: 'kube-proxy' },
  { name: 'g++', why: 'node-gyp' },
];

function fakeDpkg(installed: string[]): PackageQuery & { asked: string[][] } {
  const asked: string[][] = [];
  const q = (names: readonly string[]) => {
    asked.push([...names]);
    return new Map(names.map((n) => [n, installed.includes(n)]));
  };
  return Object.assign(q, { asked });
}

test('nothing to do when dpkg reports every package installed, root or not', () => {
  for (const root of [true, false]) {
    const q = fakeDpkg(['iptables', 'conntrack', 'g++']);
    assert.deepEqual(planSystemPackages(PKGS, q, root), { kind: 'ready' });
    assert.deepEqual(q.asked, [['iptables', 'conntrack', 'g++']], 'one dpkg query for all packages');
  }
});

test('as root, the missing packages are installed: apt-get update once, then one install of exactly them', () => {
  const plan = planSystemPackages(PKGS, fakeDpkg(['iptables']), true);
  assert.equal(plan.kind, 'install');
  if (plan.kind !== 'install') return;
  assert.deepEqual(plan.missing.map((p) => p.name), ['conntrack', 'g++']);
  assert.deepEqual(plan.commands, [
    ['apt-get', 'update', '-qq'],
    ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'conntrack', 'g++'],
  ]);
});

test('not root: refuses, naming each missing package, why it is needed, and the exact command', () => {
  const plan = planSystemPackages(PKGS, fakeDpkg(['g++']), false);
  assert.equal(plan.kind, 'refuse');
  if (plan.kind !== 'refuse') return;
  assert.deepEqual(plan.missing.map((p) => p.name), ['iptables', 'conntrack']);
  assert.match(plan.message, /missing system packages: iptables \(kube-proxy\), conntrack \(kube-proxy\)/);
  assert.ok(plan.message.includes("sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends iptables conntrack'"), plan.message);
  assert.ok(!plan.message.includes('g++'), 'an installed package is not named');
});

test('a package dpkg does not know (absent from its answer) counts as missing', () => {
  const q: PackageQuery = () => new Map([['iptables', true]]);
  const plan = planSystemPackages(PKGS, q, true);
  assert.equal(plan.kind, 'install');
  if (plan.kind === 'install') assert.deepEqual(plan.missing.map((p) => p.name), ['conntrack', 'g++']);
});

test('without dpkg (not Debian) it refuses, naming every package, even as root', () => {
  const plan = planSystemPackages(PKGS, () => undefined, true);
  assert.equal(plan.kind, 'refuse');
  if (plan.kind === 'refuse') assert.match(plan.message, /dpkg-query not found.*iptables conntrack g\+\+/s);
});

test("the package list is the one the build and the cluster use, each with a reason, no duplicates", () => {
  const names = SYSTEM_PACKAGES.map((p) => p.name);
  assert.deepEqual([...names].sort(), [
    'bash', 'buildah', 'busybox-static', 'chromium', 'conntrack', 'g++', 'iproute2', 'iptables', 'libc6-dev', 'libseccomp-dev', 'make', 'mmdebstrap',
    'pkg-config', 'procps', 'python3', 'util-linux', 'zsh',
  ]);
  assert.equal(new Set(names).size, names.length, 'no duplicates');
  assert.ok(SYSTEM_PACKAGES.every((p) => p.why.length > 0));
  assert.deepEqual(aptCommands(['a']).map((c) => c.slice(0, 2)), [['apt-get', 'update'], ['apt-get', 'install']]);
});

test('Go: missing, too old, unparsable and new enough', () => {
  assert.deepEqual(GO_MINIMUM, [1, 26]);
  assert.match(goProblem(undefined) ?? '', /Go 1\.26 or newer is needed.*no go on PATH/);
  assert.match(goProblem({ path: '/usr/bin/go', version: 'go version go1.24.4 linux/amd64\n' }) ?? '', /\/usr\/bin\/go is go1\.24; Go 1\.26 or newer/);
  assert.match(goProblem({ path: '/x/go', version: 'boom' }) ?? '', /not a Go release/);
  assert.equal(goProblem({ path: '/usr/local/go/bin/go', version: 'go version go1.26.8 linux/amd64\n' }), undefined);
  assert.equal(goProblem({ path: '/usr/local/go/bin/go', version: 'go version go2.0 linux/amd64\n' }), undefined);
  assert.deepEqual(parseGoVersion('go version go1.26.8 linux/amd64'), [1, 26]);
});
