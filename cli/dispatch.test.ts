import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dispatch, usage } from './dispatch.js';
import { helpOf, parseVerb } from './args.js';
import { VERBS } from './verbs.js';
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
  assert.match(c.err.join(''), /unknown command 'frobnicate'/);
  assert.match(c.err.join(''), /Run 'weft --help' for the commands/);
});

test('unknown top-level flag fails with usage', async () => {
  const c = capture();
  assert.equal(await dispatch(['--frob'], c.io), 2);
  assert.match(c.err.join(''), /^weft: unknown option '--frob'\n/);
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

const userVerbs = Object.entries(VERBS).filter(([, d]) => d.kind === 'user').map(([n]) => n);

test('a misspelt verb gets a suggestion: weft stats -> stat', async () => {
  const c = capture();
  assert.equal(await dispatch(['stats'], c.io), 2);
  assert.equal(c.err.join(''), "weft: unknown command 'stats'\n(Did you mean stat?)\nRun 'weft --help' for the commands.\n");
});

test('every user verb answers --help with its generated usage (the components: components.test.ts)', () => {
  for (const verb of userVerbs) {
    const p = parseVerb(verb, ['--help']);
    assert.ok(!p.ok && p.help, verb);
    assert.equal(p.text, helpOf(verb));
    assert.match(p.text, new RegExp(`^Usage: weft ${verb} `), verb);
    for (const flag of VERBS[verb]?.flags ?? []) assert.ok(p.text.includes(flag.flags), `${verb} --help lists ${flag.flags}`);
  }
});

test('weft version --help is help, not an error', async () => {
  const c = capture();
  assert.equal(await dispatch(['version', '--help'], c.io), 0);
  assert.equal(c.err.join(''), '');
});

test('weft proxy --help prints its environment, not six "required" errors', async () => {
  const c = capture();
  assert.equal(await dispatch(['proxy', '--help'], c.io), 0);
  const text = c.out.join('');
  assert.match(text, /^Usage: weft proxy/);
  assert.match(text, /WEFT_POD_IP/);
  assert.doesNotMatch(text + c.err.join(''), /is required/);
});

test('an unknown flag is one balanced-quoted usage error on every verb, with a suggestion where one is close', async () => {
  for (const verb of userVerbs) {
    const text = helpOrError(verb, ['--frobnicate']);
    assert.match(text, new RegExp(`^weft ${verb}: unknown option '--frobnicate'\n`), verb);
    assert.equal((text.match(/'/g) ?? []).length % 2, 0, `${verb}: balanced quotes in ${text}`);
    assert.match(text, new RegExp(`Run 'weft ${verb} --help' for usage\.\n$`), verb);
  }
  assert.match(helpOrError('stat', ['--windw', '10s', 'deploy']), /\(Did you mean --window\?\)/);
});

function helpOrError(verb: string, argv: string[]): string {
  const p = parseVerb(verb, argv);
  return p.ok ? '' : p.text;
}
