/**
 * The components' flag parser: its forms, its usage errors, its help, and that its wording and
 * suggestions are commander's, as the weft CLI prints them (cli/args.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command, CommanderError } from 'commander';
import { flagHelp, flagOrEnv, parseFlags, suggestSimilar, usageErrorText } from './flags.js';
import type { ExecutableSpec } from './flags.js';

const SPEC: ExecutableSpec = {
  command: 'weft demo',
  description: 'Runs the demo.',
  flags: [
    { name: 'webhook-port', value: 'port', env: 'WEFT_WEBHOOK_PORT', default: '8443', help: 'HTTPS webhook port' },
    { name: 'admin-port', value: 'port', env: 'WEFT_ADMIN_PORT', default: '9990', help: 'admin port' },
    { name: 'cert-lifetime', value: 'duration', default: '24h', help: 'certificate lifetime' },
    { name: 'dry-run', help: 'change nothing' },
  ],
};

function values(argv: string[]): Record<string, string | true> {
  const r = parseFlags(SPEC, argv);
  assert.ok(!r.help);
  assert.deepEqual(r.problems, []);
  return Object.fromEntries(r.values);
}

function problems(argv: string[]): readonly string[] {
  const r = parseFlags(SPEC, argv);
  assert.ok(!r.help);
  return r.problems;
}

test('--name value, --name=value and switches parse; the last of a repeated flag wins', () => {
  assert.deepEqual(values(['--webhook-port', '1', '--admin-port=2', '--dry-run']), { 'webhook-port': '1', 'admin-port': '2', 'dry-run': true });
  assert.deepEqual(values(['--webhook-port', '1', '--webhook-port', '3']), { 'webhook-port': '3' });
  assert.deepEqual(values(['--cert-lifetime=']), { 'cert-lifetime': '' });
  assert.deepEqual(values(['--cert-lifetime=--odd']), { 'cert-lifetime': '--odd' });
});

test('-h and --help ask for the help wherever they are', () => {
  for (const argv of [['-h'], ['--help'], ['--webhook-port', '1', '--help'], ['--nope', '-h']]) {
    const r = parseFlags(SPEC, argv);
    assert.ok(r.help, argv.join(' '));
    assert.equal(r.text, flagHelp(SPEC));
  }
});

test('usage problems are worded as commander words them, each naming the flag', () => {
  assert.deepEqual(problems(['--webhok-port', '1']), ["unknown option '--webhok-port'\n(Did you mean --webhook-port?)"]);
  assert.deepEqual(problems(['--frobnicate']), ["unknown option '--frobnicate'"]);
  assert.deepEqual(problems(['-x']), ["unknown option '-x'"]);
  assert.deepEqual(problems(['--webhook-port']), ["option '--webhook-port <port>' argument missing"]);
  assert.deepEqual(problems(['--webhook-port', '--dry-run']), ["option '--webhook-port <port>' argument missing"], 'a forgotten value does not swallow the next flag');
  assert.deepEqual(problems(['--dry-run=yes']), ["option '--dry-run' takes no argument (given 'yes')"]);
  assert.deepEqual(problems(['extra', 'words']), ['too many arguments. Expected 0 arguments but got 2: extra, words.']);
  assert.deepEqual(problems(['--', '--dry-run']), ['too many arguments. Expected 0 arguments but got 1: --dry-run.']);
  assert.deepEqual(problems(['--nope', '1', '--admin-prot', '2']), ["unknown option '--nope'", "unknown option '--admin-prot'\n(Did you mean --admin-port?)"],
    'every unknown flag is named; the words after them are not reported as extra arguments');
});

test('a usage error names the command, lists every problem and ends with the help hint', () => {
  assert.equal(usageErrorText(SPEC, ['a', 'b']), "weft demo: a\n  b\nRun 'weft demo --help' for usage.\n");
});

/** commander's own message for an unknown option, given the same long flags. */
function commanderSays(word: string): string {
  const cmd = new Command('demo').exitOverride().configureOutput({ writeErr: () => undefined, outputError: () => undefined });
  for (const f of SPEC.flags) cmd.option(`--${f.name}${f.value === undefined ? '' : ` <${f.value}>`}`);
  try {
    cmd.parse([word], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.message.replace(/^error: /, '');
    throw err;
  }
  return '';
}

test('suggestions are commander\'s: same distance, threshold, ties and order', () => {
  for (const word of ['--webhok-port', '--admin-prot', '--port', '--dryrun', '--cert-life', '--certlifetime', '--help2', '--hepl', '--x', '--admin', '--webhook']) {
    assert.deepEqual(problems([word]), [commanderSays(word)], word);
  }
  assert.equal(suggestSimilar('--ab', ['--abc', '--abd']), '\n(Did you mean one of --abc, --abd?)');
});

test('the help lists every flag with its value, default and environment variable, then -h', () => {
  const help = flagHelp(SPEC);
  assert.equal(help, [
    'Usage: weft demo [flags]',
    '',
    'Runs the demo.',
    '',
    'Flags (a flag wins over its environment variable):',
    '  --webhook-port <port>       HTTPS webhook port (default: 8443; env: WEFT_WEBHOOK_PORT)',
    '  --admin-port <port>         admin port (default: 9990; env: WEFT_ADMIN_PORT)',
    '  --cert-lifetime <duration>  certificate lifetime (default: 24h)',
    '  --dry-run                   change nothing',
    '  -h, --help                  print this help',
    '',
  ].join('\n'));
});

test('long help wraps under its column; the environment section lists variables', () => {
  const help = flagHelp({
    command: 'weft env', description: 'd', flags: [{ name: 'a', value: 'v', help: 'word '.repeat(40).trim() }],
    environment: [{ name: 'WEFT_X', default: '1', help: 'x' }],
  });
  for (const line of help.split('\n')) assert.ok(line.length <= 100, line);
  assert.match(help, /\n {2}--a <v> {5}word/);
  assert.match(help, /\n {14}word/);
  assert.match(help, /\nEnvironment:\n {2}WEFT_X {2}x \(default: 1\)\n$/);
});

test('flagOrEnv: the flag wins, then a non-empty environment variable; each says where it came from', () => {
  const parsed = parseFlags(SPEC, ['--admin-port', '7']);
  assert.ok(!parsed.help);
  const env = { WEFT_WEBHOOK_PORT: '1', WEFT_ADMIN_PORT: '2' };
  assert.deepEqual(flagOrEnv(SPEC, parsed.values, env, 'admin-port'), { value: '7', from: '--admin-port' });
  assert.deepEqual(flagOrEnv(SPEC, parsed.values, env, 'webhook-port'), { value: '1', from: 'WEFT_WEBHOOK_PORT' });
  assert.equal(flagOrEnv(SPEC, parsed.values, { WEFT_WEBHOOK_PORT: '' }, 'webhook-port'), undefined);
  assert.throws(() => flagOrEnv(SPEC, parsed.values, env, 'nope'), /weft demo has no flag --nope/);
});
