/**
 * The one kubeconfig loader (kubectl's rules) and the errors every verb gives when the cluster is not
 * there: no kubeconfig, an unknown --context, an API server that refuses connections (a closed
 * loopback port), does not resolve or fails TLS. The verbs run as the real executable with a
 * kubeconfig in a temp dir.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTrustAnchor } from '../../identity/ca.js';
import { REPO_ROOT } from '../../test/support/paths.js';
import type { CliEnv } from '../config.js';
import { loadKubeConfig } from './kubeconfig.js';

const MAIN = join(REPO_ROOT, 'dist', 'cli', 'main.js');

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-kubeconfig-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function kubeconfig(opts: { server: string; contexts: string[]; current?: string; cluster?: string; insecure?: boolean }): string {
  const cluster = opts.cluster ?? 'c';
  return `apiVersion: v1
kind: Config
clusters:
- name: ${cluster}
  cluster: {server: "${opts.server}"${opts.insecure === false ? '' : ', insecure-skip-tls-verify: true'}}
users:
- name: u
  user: {token: t0ken}
contexts:
${opts.contexts.map((c) => `- name: ${c}\n  context: {cluster: ${cluster}, user: u, namespace: team-a}`).join('\n')}
${opts.current !== undefined ? `current-context: ${opts.current}` : ''}
`;
}

const env = (over: Partial<CliEnv>): CliEnv => ({ kubeconfig: undefined, home: '/nonexistent-home', serviceHost: undefined, servicePort: undefined, ...over });

test('KUBECONFIG with several paths: merged, missing files skipped, first name and first current-context win', (t) => {
  const dir = tempDir(t);
  const a = join(dir, 'a.yaml');
  const b = join(dir, 'b.yaml');
  writeFileSync(a, kubeconfig({ server: 'https://a.example:6443', contexts: ['shared', 'only-a'], cluster: 'c' }));
  writeFileSync(b, kubeconfig({ server: 'https://b.example:6443', contexts: ['shared', 'only-b'], current: 'only-b', cluster: 'c' }));
  const { kc, source } = loadKubeConfig({}, env({ kubeconfig: [join(dir, 'missing.yaml'), a, b].join(':') }));
  assert.equal(source, `${a}:${b}`);
  assert.deepEqual(kc.contexts.map((c) => c.name).sort(), ['only-a', 'only-b', 'shared']);
  assert.equal(kc.getCurrentContext(), 'only-b', 'the first file that sets current-context');
  assert.equal(kc.getCurrentCluster()?.server, 'https://a.example:6443', 'cluster c from the first file that defines it');
  const picked = loadKubeConfig({ context: 'only-a' }, env({ kubeconfig: `${a}:${b}` }));
  assert.equal(picked.kc.getCurrentContext(), 'only-a');
});

test('~/.kube/config when KUBECONFIG is unset; --kubeconfig reads only its file', (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, '.kube'));
  writeFileSync(join(dir, '.kube', 'config'), kubeconfig({ server: 'https://home.example', contexts: ['home'], current: 'home' }));
  assert.equal(loadKubeConfig({}, env({ home: dir })).kc.getCurrentCluster()?.server, 'https://home.example');
  assert.throws(() => loadKubeConfig({ kubeconfig: join(dir, 'nope.yaml') }, env({ home: dir })), /the kubeconfig .*nope\.yaml given by --kubeconfig does not exist/);
});

test('in-cluster config when no kubeconfig exists and the service-account token and env are there', (t) => {
  const sa = tempDir(t);
  writeFileSync(join(sa, 'token'), 'sa-token');
  writeFileSync(join(sa, 'ca.crt'), 'ca');
  const { kc, source } = loadKubeConfig({}, env({ serviceHost: 'fd00::1', servicePort: '443' }), sa);
  assert.equal(kc.getCurrentCluster()?.server, 'https://[fd00::1]:443');
  assert.equal(kc.getCurrentCluster()?.caFile, join(sa, 'ca.crt'));
  assert.deepEqual(kc.getCurrentUser()?.authProvider, { name: 'tokenFile', config: { tokenFile: join(sa, 'token') } });
  assert.match(source, /^in-cluster/);
  assert.throws(() => loadKubeConfig({}, env({ serviceHost: '10.96.0.1', servicePort: '443' }), join(sa, 'absent')), /in-cluster \(no .*absent\/token\)/);
});

test('no kubeconfig, an unknown context, no current-context: errors say where it looked and what there is', (t) => {
  const dir = tempDir(t);
  assert.throws(() => loadKubeConfig({}, env({ home: dir })),
    { message: `no kubeconfig found; looked at --kubeconfig (not given), KUBECONFIG (unset), ${dir}/.kube/config (missing), in-cluster (KUBERNETES_SERVICE_HOST unset)` });
  assert.throws(() => loadKubeConfig({}, env({ kubeconfig: `${dir}/x:${dir}/y` })), /KUBECONFIG=.*\/x:.*\/y \(all missing\)/);
  const file = join(dir, 'k.yaml');
  writeFileSync(file, kubeconfig({ server: 'https://k.example', contexts: ['one', 'two'] }));
  assert.throws(() => loadKubeConfig({ context: 'nope' }, env({ kubeconfig: file })), { message: `context "nope" is not in the kubeconfig (${file}); available: one, two` });
  assert.throws(() => loadKubeConfig({}, env({ kubeconfig: file })), /sets no current-context; pass --context \(available: one, two\)/);
});

/** Runs the real weft with this environment; resolves to the exit code and both outputs together. */
function weft(args: readonly string[], childEnv: NodeJS.ProcessEnv): Promise<{ code: number | null; text: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [MAIN, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    p.stdout.on('data', (d: Buffer) => { text += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { text += d.toString(); });
    p.once('error', reject);
    p.once('exit', (code) => resolve({ code, text }));
  });
}

const VERBS: readonly (readonly string[])[] = [
  ['routes', 'svc/x'], ['stat', 'deploy', '--window', '1s'], ['authz', 'deploy/x', '--window', '1s'],
  ['explain', '--service-account', 'a', 'http://x:80/'], ['diagnostics', 'policy', 'svc/x', '80'],
  ['check'], ['install'], ['upgrade'], ['inject', '-'], ['version'],
];

function baseEnv(home: string): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  delete e['KUBECONFIG'];
  delete e['KUBERNETES_SERVICE_HOST'];
  delete e['KUBERNETES_SERVICE_PORT'];
  return e;
}

async function closedLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

test('every cluster verb: no kubeconfig says so and where it looked; --context nope lists the contexts', async (t) => {
  const dir = tempDir(t);
  for (const args of VERBS) {
    const r = await weft(args, baseEnv(dir));
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.text}`);
    if (args[0] === 'version') assert.match(r.text, /^Client: +weft \d/, 'version still prints the client');
    assert.match(r.text, /no kubeconfig found; looked at --kubeconfig \(not given\), KUBECONFIG \(unset\), .*\/\.kube\/config \(missing\), in-cluster/, args.join(' '));
    assert.doesNotMatch(r.text, /HTTP protocol is not allowed/);
  }
  const file = join(dir, 'k.yaml');
  writeFileSync(file, kubeconfig({ server: 'https://127.0.0.1:9', contexts: ['one', 'two'], current: 'one' }));
  for (const args of VERBS) {
    const r = await weft([...args, '--context', 'nope'], { ...baseEnv(dir), KUBECONFIG: `${join(dir, 'missing')}:${file}` });
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.text}`);
    assert.match(r.text, new RegExp(`context "nope" is not in the kubeconfig \\(${file}\\); available: one, two`), args.join(' '));
    assert.doesNotMatch(r.text, /No active cluster/);
  }
});

test('every cluster verb against a closed loopback port names the server and "connection refused", never "not found"', async (t) => {
  const dir = tempDir(t);
  const port = await closedLoopbackPort();
  const file = join(dir, 'k.yaml');
  writeFileSync(file, kubeconfig({ server: `https://127.0.0.1:${port}`, contexts: ['one'], current: 'one' }));
  for (const args of VERBS) {
    const r = await weft(args, { ...baseEnv(dir), KUBECONFIG: file });
    assert.notEqual(r.code, 0, args.join(' '));
    assert.ok(r.text.includes(`cannot reach the Kubernetes API server at https://127.0.0.1:${port}: connection refused`), `${args.join(' ')}: ${r.text}`);
    assert.doesNotMatch(r.text, /not found|fetch failed|controller's admin/i, args.join(' '));
  }
});

test('DNS and TLS failures are named as such', async (t) => {
  const dir = tempDir(t);
  const dns = join(dir, 'dns.yaml');
  writeFileSync(dns, kubeconfig({ server: 'https://no-such-host.invalid:6443', contexts: ['one'], current: 'one' }));
  const r1 = await weft(['routes', 'svc/x'], { ...baseEnv(dir), KUBECONFIG: dns });
  assert.match(r1.text, /cannot reach the Kubernetes API server at https:\/\/no-such-host\.invalid:6443: DNS/);
  // A server whose certificate the kubeconfig does not trust.
  const anchor = await createTrustAnchor({ trustDomain: 'cluster.local' });
  const server = createHttpsServer({ cert: anchor.certPem, key: anchor.keyPem }, (_req, res) => res.end('{}'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const tls = join(dir, 'tls.yaml');
  writeFileSync(tls, kubeconfig({ server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, contexts: ['one'], current: 'one', insecure: false }));
  for (const args of [['routes', 'svc/x'], ['check']]) {
    const r = await weft(args, { ...baseEnv(dir), KUBECONFIG: tls });
    assert.match(r.text, /cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:\d+: TLS: /, `${args.join(' ')}: ${r.text}`);
  }
});
