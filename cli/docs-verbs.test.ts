/**
 * docs/cli.md's verb table and the dispatcher agree: every verb the page lists exists (it once listed a
 * `demo` verb that did not), and every user verb is listed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../test/support/paths.js';
import { COMMANDS } from './commands.js';

test('docs/cli.md lists exactly the user verbs weft has', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'cli.md'), 'utf8');
  const table = doc.slice(doc.indexOf('| verb | what |'), doc.indexOf('\n\n', doc.indexOf('| verb | what |')));
  const listed = table.split('\n').slice(2).flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`([a-z-]+)`/g)].map((m) => m[1]!));
  assert.ok(listed.length >= 10, `verbs found in the table: ${listed.join(', ')}`);
  for (const v of listed) assert.ok(Object.hasOwn(COMMANDS, v) && COMMANDS[v]?.kind === 'user', `docs/cli.md lists \`${v}\`, which is not a weft verb`);
  const users = Object.entries(COMMANDS).filter(([, c]) => c.kind === 'user').map(([n]) => n);
  assert.deepEqual([...listed].sort(), [...users].sort());
});
