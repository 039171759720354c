import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dispatch, usage } from './dispatch.js';
import { COMMANDS } from './commands.js';
import type { CommandSpec } from './commands.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

test('unknown verb fails with usage and exit code 2', async () => {
  const c = capture();
  assert.equal(await dispatch(['frobnicate'], c.io), 2);
  assert.match(c.err.join(''), /unknown command "frobnicate"/);
  assert.match(c.err.join(''), /Usage: weft <command>/);
});

test('unknown top-level flag fails with usage', async () => {
  const c = capture();
  assert.equal(await dispatch(['--frob'], c.io), 2);
  assert.match(c.err.join(''), /unknown flag "--frob"/);
});

test('no verb prints usage and exits 2; --help exits 0', async () => {
  const a = capture();
  assert.equal(await dispatch([], a.io), 2);
  assert.match(a.out.join(''), /Commands:/);
  const b = capture();
  assert.equal(await dispatch(['--help'], b.io), 0);
});

test('every component entry point and user verb is listed in usage', () => {
  const text = usage();
  for (const name of ['proxy', 'controller', 'injector', 'proxy-init', 'install', 'check', 'inject', 'stat', 'routes', 'authz', 'explain']) {
    assert.ok(Object.hasOwn(COMMANDS, name), `${name} is registered`);
    assert.match(text, new RegExp(`^  ${name} `, 'm'));
  }
});

test('prototype keys are not verbs', async () => {
  const c = capture();
  assert.equal(await dispatch(['constructor'], c.io), 2);
});

test('a verb routes to its module with the remaining arguments', async () => {
  let seen: readonly string[] = [];
  const table: Record<string, CommandSpec> = {
    demo: { kind: 'user', summary: 's', load: async () => ({ run: async (argv) => { seen = argv; return 7; } }) },
  };
  const c = capture();
  assert.equal(await dispatch(['demo', 'a', '--b'], c.io, table), 7);
  assert.deepEqual(seen, ['a', '--b']);
});

test('a verb that is not built yet says what is missing', async () => {
  const c = capture();
  const table: Record<string, CommandSpec> = { x: { kind: 'user', summary: 's', missing: 'the x issue' } };
  assert.equal(await dispatch(['x'], c.io, table), 3);
  assert.match(c.err.join(''), /missing: the x issue/);
});
