import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_IMAGE, DEFAULT_EXAMPLES_IMAGE } from '../../../core/contract.js';
import { defaultWorkingDir, hostProgramExists, imageRepository, NODE_MOUNT, REPO_MOUNT, resolveContainerArgv, resolveExamplesApp, resolveExecArgv } from './images.js';

test('image repository drops tag and digest but keeps a registry port', () => {
  assert.equal(imageRepository('registry.k8s.io/gateway-api/echo-advanced:v1.5.1'), 'registry.k8s.io/gateway-api/echo-advanced');
  assert.equal(imageRepository('busybox'), 'busybox');
  assert.equal(imageRepository('localhost:5000/app@sha256:abc'), 'localhost:5000/app');
  assert.equal(imageRepository('localhost:5000/app:1.0'), 'localhost:5000/app');
});

test('the echo image runs the echo server with the container args', () => {
  const r = resolveContainerArgv('registry.k8s.io/gateway-api/echo-advanced:v1.5.1', undefined, ['--port=8080']);
  assert.deepEqual(r, { ok: true, argv: [NODE_MOUNT, `${REPO_MOUNT}/dist/examples/echo/server.js`, '--port=8080'], imageID: 'weft-local://registry.k8s.io/gateway-api/echo-advanced:v1.5.1' });
});

test('the weft image passes args to the dispatcher, and a `weft` command maps to it too', () => {
  const viaArgs = resolveContainerArgv(DEFAULT_IMAGE, undefined, ['proxy', '--x']);
  assert.ok(viaArgs.ok);
  assert.deepEqual(viaArgs.argv, [NODE_MOUNT, `${REPO_MOUNT}/dist/cli/main.js`, 'proxy', '--x']);
  const viaCommand = resolveContainerArgv(`${DEFAULT_IMAGE.split(':')[0] ?? ''}:9.9.9`, ['weft', 'proxy-init'], ['--a']);
  assert.ok(viaCommand.ok);
  assert.deepEqual(viaCommand.argv, [NODE_MOUNT, `${REPO_MOUNT}/dist/cli/main.js`, 'proxy-init', '--a']);
  const bare = resolveContainerArgv(DEFAULT_IMAGE, ['controller'], undefined);
  assert.ok(bare.ok);
  assert.deepEqual(bare.argv, [NODE_MOUNT, `${REPO_MOUNT}/dist/cli/main.js`, 'controller']);
});

test('in Weft images a command naming a program runs it; other words go to the entrypoint', () => {
  const isProgram = (n: string) => n === 'sh';
  const shell = resolveContainerArgv(DEFAULT_IMAGE, ['sh', '-c', 'iptables -S'], undefined, isProgram);
  assert.ok(shell.ok);
  assert.deepEqual(shell.argv, ['sh', '-c', 'iptables -S']);
  const verb = resolveContainerArgv(DEFAULT_IMAGE, ['proxy'], undefined, isProgram);
  assert.ok(verb.ok);
  assert.deepEqual(verb.argv, [NODE_MOUNT, `${REPO_MOUNT}/dist/cli/main.js`, 'proxy']);
  const exe = new Set(['/usr/bin/sh']);
  assert.equal(hostProgramExists('sh', '/usr/local/bin:/usr/bin', (f) => exe.has(f)), true);
  assert.equal(hostProgramExists('proxy', '/usr/local/bin:/usr/bin', (f) => exe.has(f)), false);
  assert.equal(hostProgramExists('/usr/bin/sh', '', (f) => exe.has(f)), true);
});

test('command replaces the entrypoint and drops the image cmd; args alone keep the entrypoint', () => {
  const cmdOnly = resolveContainerArgv('busybox:1.36', ['sleep', '3600'], undefined);
  assert.ok(cmdOnly.ok);
  assert.deepEqual(cmdOnly.argv, ['sleep', '3600']);
  const none = resolveContainerArgv('busybox', undefined, undefined);
  assert.ok(none.ok);
  assert.deepEqual(none.argv, ['sh']);
  const pause = resolveContainerArgv('registry.k8s.io/pause:3.10', undefined, undefined);
  assert.ok(pause.ok);
  assert.deepEqual(pause.argv, ['sleep', 'infinity']);
});

test('an unknown image is an ErrImagePull with a message naming the image', () => {
  const r = resolveContainerArgv('nginx:1.27', undefined, undefined);
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.reason, 'ErrImagePull');
    assert.match(r.message, /nginx:1\.27/);
  }
});

test('examples image: the first argument names the app, found under dist/examples', () => {
  const r = resolveContainerArgv(DEFAULT_EXAMPLES_IMAGE, undefined, ['booksapp', '--port=7000']);
  assert.ok(r.ok);
  const exists = (p: string) => p === 'dist/examples/booksapp/main.js';
  assert.deepEqual(resolveExamplesApp(r.argv, exists), [NODE_MOUNT, `${REPO_MOUNT}/dist/examples/booksapp/main.js`, '--port=7000']);
  assert.deepEqual(resolveExamplesApp([NODE_MOUNT, 'x.js'], exists), [NODE_MOUNT, 'x.js']);
});

test('exec maps `client` in the echo image to the echo client and leaves other commands alone', () => {
  assert.deepEqual(resolveExecArgv('registry.k8s.io/gateway-api/echo-advanced:v1.5.1', ['client', 'http://x/']), [NODE_MOUNT, `${REPO_MOUNT}/dist/examples/echo/client.js`, 'http://x/']);
  assert.deepEqual(resolveExecArgv(DEFAULT_IMAGE, ['cat', '/etc/hostname']), ['cat', '/etc/hostname']);
  assert.deepEqual(resolveExecArgv('unknown:1', ['node', '-v']), [NODE_MOUNT, '-v']);
});

test('Weft images work in the clone by default, shell images at /', () => {
  assert.equal(defaultWorkingDir(DEFAULT_IMAGE), REPO_MOUNT);
  assert.equal(defaultWorkingDir('busybox'), '/');
});
