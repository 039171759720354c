/**
 * The in-cluster executables behave like the user verbs, being parsed by commander too: `weft
 * <component> --help` explains every flag with its environment variable and default, an unknown flag
 * is one usage error naming it (with commander's suggestion when one is close) and exit code 2, and a
 * bad value names the flag and what it expects. Run through the dispatcher, in process; nothing is
 * started.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROXY_ENV } from '../core/contract.js';
import type { ExecutableSpec } from '../core/flags.js';
import { INJECTOR_FLAGS } from '../injector/config.js';
import { PROXY_INIT_FLAGS } from '../injector/proxy-init/config.js';
import { CONTROLLER_FLAGS } from '../policy-controller/config.js';
import { PROXY_SETTINGS } from '../proxy/config.js';
import { componentCommand, flagTerm, parseComponentFlags } from './components.js';
import { dispatch } from './dispatch.js';

const COMPONENTS: readonly (readonly [string, ExecutableSpec])[] = [
  ['controller', CONTROLLER_FLAGS], ['injector', INJECTOR_FLAGS], ['proxy-init', PROXY_INIT_FLAGS], ['proxy', PROXY_SETTINGS],
];

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await dispatch(argv, { out: (t) => { out += t; }, err: (t) => { err += t; } });
  return { code, out, err };
}

test('weft <component> --help explains every flag, its environment variable and its default; exit 0', async () => {
  for (const [verb, spec] of COMPONENTS) {
    for (const h of ['--help', '-h']) {
      const r = await run([verb, h]);
      assert.equal(r.code, 0, verb);
      assert.equal(r.err, '', verb);
      assert.match(r.out, new RegExp(`^Usage: weft ${verb} \\[flags\\]\n`), verb);
      assert.match(r.out, /\n {2}-h, --help +print this help\n/, verb);
      for (const f of spec.flags) {
        const line = r.out.split('\n').find((l) => l.startsWith(`  ${flagTerm(f)} `));
        assert.ok(line !== undefined, `${verb} --help lists ${flagTerm(f)}`);
        // The flag's entry, its wrapped lines joined.
        const entry = (r.out.slice(r.out.indexOf(line)).split(/\n {2}-/)[0] ?? '').replace(/\s+/g, ' ');
        if (f.env !== undefined) assert.ok(entry.includes(`env: ${f.env})`), `${verb} ${flagTerm(f)} names ${f.env}: ${entry}`);
        if (f.default !== undefined) assert.ok(entry.includes(`(default: ${f.default}`), `${verb} ${flagTerm(f)} shows its default: ${entry}`);
      }
    }
  }
});

test('the controller and injector help name their environment variables; the proxy lists every one it is given', async () => {
  const controller = (await run(['controller', '--help'])).out.replace(/\s+/g, ' ');
  for (const env of ['WEFT_CERT_LIFETIME', 'WEFT_GRPC_PORT', 'KUBECONFIG', 'WEFT_ISSUER_SECRET']) assert.ok(controller.includes(`env: ${env}`), env);
  const proxy = (await run(['proxy', '--help'])).out;
  assert.match(proxy, /\nEnvironment:\n/);
  for (const env of Object.values(PROXY_ENV)) assert.match(proxy, new RegExp(`\n {2}${env} `), `weft proxy --help lists ${env}`);
  assert.doesNotMatch(proxy, /is required\n/, 'help, not the configuration errors of an empty environment');
});

test('an unknown flag: exit 2, one line naming it, commander\'s suggestion when close, the help hint', async () => {
  const cases: readonly (readonly [string[], string])[] = [
    [['controller', '--cert-lifetme', '1h'], "weft controller: unknown option '--cert-lifetme'\n(Did you mean --cert-lifetime?)\nRun 'weft controller --help' for usage.\n"],
    [['injector', '--webhok-port', '1'], "weft injector: unknown option '--webhok-port'\n(Did you mean --webhook-port?)\nRun 'weft injector --help' for usage.\n"],
    [['proxy-init', '--dryrun'], "weft proxy-init: unknown option '--dryrun'\n(Did you mean --dry-run?)\nRun 'weft proxy-init --help' for usage.\n"],
    [['proxy', '--hlep'], "weft proxy: unknown option '--hlep'\n(Did you mean --help?)\nRun 'weft proxy --help' for usage.\n"],
    [['injector', '--frobnicate'], "weft injector: unknown option '--frobnicate'\nRun 'weft injector --help' for usage.\n"],
    [['proxy', 'extra'], "weft proxy: too many arguments. Expected 0 arguments but got 1: extra.\nRun 'weft proxy --help' for usage.\n"],
  ];
  for (const [argv, text] of cases) {
    const r = await run(argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.equal(r.out, '', argv.join(' '));
    assert.equal(r.err, text, argv.join(' '));
  }
});

test('a bad value names the flag and what it expects: durations as in the CLI, ports, choices, lists', async () => {
  const cases: readonly (readonly [string[], string])[] = [
    [['controller', '--cert-lifetime', '90'], '--cert-lifetime: "90" is not a duration: a number needs a unit (ms, s, m or h), e.g. 90s'],
    [['controller', '--cert-lifetime', '1d'], '--cert-lifetime: "1d" is not a duration: unexpected "1d"; write numbers with units ms, s, m or h, e.g. 1h30m, 90s, 500ms'],
    [['controller', '--grpc-port', 'x'], '--grpc-port: "x" is not a port number (0-65535)'],
    [['injector', '--log-level', 'loud'], '--log-level: "loud" is not one of trace, debug, info, warn, error, fatal'],
    [['injector', '--cluster-networks', '10.0.0.0/99'], '--cluster-networks: "10.0.0.0/99" is not a CIDR'],
    [['injector', '--namespace'], "option '--namespace <ns>' argument missing"],
    [['proxy-init', '--inbound-port', '70000'], '--inbound-port: "70000" is not a number between 1 and 65535'],
  ];
  for (const [argv, problem] of cases) {
    const r = await run(argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.ok(r.err.startsWith(`weft ${argv[0]}: ${problem}`), `${argv.join(' ')}: ${r.err}`);
    assert.ok(r.err.endsWith(`\nRun 'weft ${argv[0]} --help' for usage.\n`), r.err);
  }
});

test('every problem is reported at once, one per line', async () => {
  const r = await run(['controller', '--nope', '--cert-lifetime', '90', '--log-level', 'loud']);
  assert.equal(r.code, 2);
  assert.equal(r.err, [
    "weft controller: unknown option '--nope'",
    '  --log-level: "loud" is not one of trace, debug, info, warn, error, fatal',
    '  --cert-lifetime: "90" is not a duration: a number needs a unit (ms, s, m or h), e.g. 90s',
    "Run 'weft controller --help' for usage.",
    '',
  ].join('\n'));
});

test('a flag missing its value, extra words, a value given to a switch: commander\'s usage errors', async () => {
  const cases: readonly (readonly [string[], string])[] = [
    [['controller', '--grpc-port'], "weft controller: option '--grpc-port <port>' argument missing\n"],
    [['proxy-init', 'extra', 'words'], 'weft proxy-init: too many arguments. Expected 0 arguments but got 2: extra, words.\n'],
    [['proxy-init', '--dry-run=yes'], "weft proxy-init: unknown option '--dry-run=yes'\n"],
  ];
  for (const [argv, text] of cases) {
    const r = await run(argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.ok(r.err.startsWith(text), `${argv.join(' ')}: ${r.err}`);
    assert.ok(r.err.endsWith(`Run 'weft ${argv[0]} --help' for usage.\n`), r.err);
  }
});

test('flags reach the config module by name: --name value, --name=value, switches; the last repeat wins', () => {
  const parsed = parseComponentFlags(PROXY_INIT_FLAGS, ['--inbound-port', '1', '--outbound-port=2', '--dry-run', '--inbound-port', '3']);
  assert.ok(!parsed.help);
  assert.deepEqual(parsed.problems, []);
  assert.deepEqual(Object.fromEntries(parsed.values), { 'inbound-port': '3', 'outbound-port': '2', 'dry-run': true });
  const unknown = parseComponentFlags(PROXY_INIT_FLAGS, ['--nope', '--ipv6', 'maybe']);
  assert.ok(!unknown.help);
  assert.deepEqual(unknown.problems, ["unknown option '--nope'"]);
  assert.deepEqual(Object.fromEntries(unknown.values), { ipv6: 'maybe' }, 'the flags after an unknown one are still read');
});

test('-h asks for the help wherever it is, even after an unknown flag', () => {
  for (const argv of [['-h'], ['--inbound-port', '1', '--help'], ['--nope', '-h']]) {
    const parsed = parseComponentFlags(PROXY_INIT_FLAGS, argv);
    assert.ok(parsed.help, argv.join(' '));
    assert.equal(parsed.text, componentCommand(PROXY_INIT_FLAGS).helpInformation());
  }
});

test('the help is commander\'s layout: usage, description, flags with default and variable, -h, the environment', () => {
  const spec: ExecutableSpec = {
    command: 'weft demo',
    description: 'Runs the demo.',
    flags: [
      { name: 'webhook-port', value: 'port', env: 'WEFT_WEBHOOK_PORT', default: '8443', help: 'HTTPS webhook port' },
      { name: 'cert-lifetime', value: 'duration', default: '24h', help: 'certificate lifetime' },
      { name: 'dry-run', help: 'change nothing' },
    ],
    environment: [{ name: 'WEFT_X', default: '1', help: 'x' }],
  };
  const parsed = parseComponentFlags(spec, ['--help']);
  assert.ok(parsed.help);
  assert.equal(parsed.text, [
    'Usage: weft demo [flags]',
    '',
    'Runs the demo.',
    '',
    'Flags (a flag wins over its environment variable):',
    '  --webhook-port <port>       HTTPS webhook port (default: 8443; env: WEFT_WEBHOOK_PORT)',
    '  --cert-lifetime <duration>  certificate lifetime (default: 24h)',
    '  --dry-run                   change nothing',
    '  -h, --help                  print this help',
    '',
    'Environment:',
    '  WEFT_X  x (default: 1)',
    '',
  ].join('\n'));
  for (const line of componentCommand(CONTROLLER_FLAGS).helpInformation().split('\n')) assert.ok(line.length <= 100, line);
});
