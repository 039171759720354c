/**
 * `weft completion bash|zsh`: the generated bash script run by a real bash, completing words the way
 * bash's programmable completion calls it (COMP_WORDS, COMP_CWORD, then COMPREPLY); and both scripts
 * loaded into a real interactive bash and zsh in a pseudo-terminal, where TAB is pressed
 * (testdata/complete-in-pty.zsh). bash and zsh are system packages (npm run setup installs them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/support/paths.js';
import { bashCompletion, runCompletion, spellings, verbFlags, zshCompletion } from './completion.js';
import { COMPONENTS } from './components.js';
import { VERBS } from './verbs.js';

/** What the completion offers for the command line `words` (the last one is being completed). */
function complete(words: readonly string[]): string[] {
  const quoted = words.map((w) => `'${w.replace(/'/g, "'\\''")}'`).join(' ');
  const script = `${bashCompletion()}\nCOMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _weft; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script], { encoding: 'utf8', cwd: '/' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l !== '');
}

test('bash completes verbs, with the misspelling-free prefix', () => {
  assert.deepEqual(complete(['weft', 'st']), ['stat']);
  assert.ok(complete(['weft', '']).includes('completion'));
});

test('bash completes every flag of every verb from its definition, and choice values', () => {
  for (const [verb, def] of Object.entries(VERBS)) {
    if (def.kind === 'component') continue;
    const offered = complete(['weft', verb, '-']);
    for (const flag of def.flags) for (const s of spellings(flag)) assert.ok(offered.includes(s), `${verb} offers ${s}`);
    assert.ok(offered.includes('--help'), verb);
  }
  assert.deepEqual(complete(['weft', 'install', '-o', '']), ['yaml', 'json']);
  assert.deepEqual(complete(['weft', 'stat', '--output', 'w']), ['wide']);
  assert.deepEqual(complete(['weft', 'inject', '--proxy-log-level', 'd']), ['debug']);
  assert.deepEqual(complete(['weft', 'completion', '']), ['bash', 'zsh']);
  assert.deepEqual(complete(['weft', 'stat', '']), ['deploy', 'sts', 'ds', 'job', 'cronjob', 'pod', 'ns', 'gateway']);
});

test('bash completes the flags of the components from their flag tables, and file and directory values', () => {
  for (const [verb, component] of Object.entries(COMPONENTS)) {
    const offered = complete(['weft', verb, '--']);
    for (const flag of component.spec.flags) assert.ok(offered.includes(`--${flag.name}`), `${verb} offers --${flag.name}: ${offered.join(' ')}`);
    assert.ok(offered.includes('--help'), verb);
    assert.equal(verbFlags(verb).length, component.spec.flags.length);
  }
  assert.deepEqual(complete(['weft', 'controller', '--webhook-p']), ['--webhook-port']);
  const dir = mkdtempSync(join(tmpdir(), 'weft-complete-'));
  try {
    writeFileSync(join(dir, 'ca.crt'), '');
    const valuesOf = (flag: string): string[] => {
      const script = `${bashCompletion()}\ncd '${dir}'; COMP_WORDS=(weft injector ${flag} ''); COMP_CWORD=3; _weft; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.split('\n').filter((l) => l !== '');
    };
    assert.deepEqual(valuesOf('--tls-dir'), [], 'a directory flag offers directories, not files');
    assert.deepEqual(valuesOf('--trust-anchors-file'), ['ca.crt'], 'a file flag offers files');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('zsh gets the same function through bashcompinit; an unknown shell is a usage error', async () => {
  assert.match(zshCompletion(), /^#compdef weft\n#[^\n]*\nautoload -U \+X bashcompinit && bashcompinit\n/);
  assert.ok(zshCompletion().endsWith(bashCompletion()));
  let out = '';
  let err = '';
  const io = { out: (t: string) => { out += t; }, err: (t: string) => { err += t; } };
  assert.equal(await runCompletion(['bash'], io), 0);
  assert.equal(out, bashCompletion());
  assert.equal(await runCompletion(['fish'], io), 2);
  assert.match(err, /unknown shell "fish": bash or zsh/);
});

const PTY_DRIVER = join(REPO_ROOT, 'cli', 'testdata', 'complete-in-pty.zsh');

/** What `weft completion <shell>` prints. */
async function scriptFor(shell: 'bash' | 'zsh'): Promise<string> {
  let out = '';
  assert.equal(await runCompletion([shell], { out: (t) => { out += t; }, err: () => undefined }), 0);
  return out;
}

function requireShell(shell: string): void {
  const r = spawnSync(shell, ['-c', 'exit 0']);
  assert.ok(r.error === undefined && r.status === 0, `${shell} is not installed: npm run setup installs it (apt-get install ${shell})`);
}

/** Types `line` and TAB in a real interactive `shell` with the generated script loaded. */
function pressTab(shell: 'bash' | 'zsh', script: string, line: string): { matches: string[]; buffer: string } {
  const dir = mkdtempSync(join(tmpdir(), 'weft-completion-'));
  try {
    const file = join(dir, `weft.${shell}`);
    const out = join(dir, 'out');
    writeFileSync(file, script);
    const r = spawnSync('zsh', ['-f', PTY_DRIVER, shell, file, out, line], {
      encoding: 'utf8', timeout: 30_000, cwd: dir, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir, TERM: 'xterm' },
    });
    assert.equal(r.status, 0, `${shell} ${JSON.stringify(line)}: ${r.stderr}`);
    const lines = readFileSync(out, 'utf8').split('\n');
    return {
      matches: lines.filter((l) => l.startsWith('MATCH=')).map((l) => l.slice('MATCH='.length)),
      buffer: lines.find((l) => l.startsWith('BUFFER='))?.slice('BUFFER='.length) ?? '',
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const shell of ['bash', 'zsh'] as const) {
  test(`${shell}: TAB in a real interactive ${shell} completes verbs, flags and flag values from the loaded script`, async () => {
    requireShell('zsh');
    requireShell(shell);
    const script = await scriptFor(shell);
    assert.deepEqual(pressTab(shell, script, 'weft st'), { matches: ['stat'], buffer: 'weft stat ' });
    assert.deepEqual(pressTab(shell, script, 'weft comp'), { matches: ['completion'], buffer: 'weft completion ' });
    assert.deepEqual(pressTab(shell, script, 'weft check --wa'), { matches: ['--wait'], buffer: 'weft check --wait ' });
    assert.deepEqual(pressTab(shell, script, 'weft stat --output w'), { matches: ['wide'], buffer: 'weft stat --output wide ' });
    const values = pressTab(shell, script, 'weft install -o ');
    assert.deepEqual(values.matches, ['yaml', 'json']);
    assert.equal(values.buffer, 'weft install -o ', 'two candidates: nothing inserted');
    const verbs = pressTab(shell, script, 'weft ');
    for (const verb of Object.keys(VERBS)) assert.ok(verbs.matches.includes(verb), `${shell} offers ${verb}`);
  });
}
