/**
 * `weft completion bash|zsh`: the generated bash script run by a real bash, completing words the way
 * bash's programmable completion calls it (COMP_WORDS, COMP_CWORD, then COMPREPLY).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { bashCompletion, runCompletion, spellings, zshCompletion } from './completion.js';
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
  assert.deepEqual(complete(['weft', 'stat', '']), ['deploy', 'sts', 'ds', 'job', 'cronjob', 'pod', 'ns']);
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
