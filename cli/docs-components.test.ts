/**
 * docs/cli.md's tables of the components' flags and environment are generated from the tables commander
 * parses the components' flags with (cli/components.ts), so the page cannot drift from `--help`.
 * WEFT_UPDATE_GOLDEN=1 rewrites them.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ExecutableSpec } from '../core/flags.js';
import { INJECTOR_FLAGS } from '../injector/config.js';
import { PROXY_INIT_FLAGS } from '../injector/proxy-init/config.js';
import { CONTROLLER_FLAGS } from '../policy-controller/config.js';
import { PROXY_SETTINGS } from '../proxy/config.js';
import { GATEWAY_SETTINGS } from '../proxy/gateway/config.js';
import { REPO_ROOT } from '../test/support/paths.js';
import { flagTerm } from './components.js';

const DOC = join(REPO_ROOT, 'docs', 'cli.md');
const UPDATE = process.env['WEFT_UPDATE_GOLDEN'] === '1';

const code = (text: string | undefined) => (text === undefined || text === '' ? '' : `\`${text}\``);
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The markdown of one component: its flags (with -h), then its environment-only settings. */
function componentTables(spec: ExecutableSpec): string {
  const parts: string[] = [];
  if (spec.flags.length > 0) {
    parts.push([
      '| flag | environment | default | meaning |',
      '|---|---|---|---|',
      ...spec.flags.map((f) => `| ${code(flagTerm(f))} | ${code(f.env)} | ${code(f.default)} | ${cell(f.help)} |`),
      '| `-h, --help` | | | print the help |',
    ].join('\n'));
  }
  const env = spec.environment ?? [];
  if (env.length > 0) {
    parts.push([
      '| environment | default | meaning |',
      '|---|---|---|',
      ...env.map((e) => `| ${code(e.name)} | ${code(e.default)} | ${cell(e.help)} |`),
    ].join('\n'));
  }
  return parts.join('\n\n');
}

test('docs/cli.md documents every flag and variable of each component, as generated from its table', () => {
  let doc = readFileSync(DOC, 'utf8');
  for (const spec of [CONTROLLER_FLAGS, INJECTOR_FLAGS, PROXY_INIT_FLAGS, PROXY_SETTINGS, GATEWAY_SETTINGS]) {
    const begin = `<!-- generated: ${spec.command} -->\n`;
    const end = `<!-- end: ${spec.command} -->`;
    const from = doc.indexOf(begin);
    const to = doc.indexOf(end);
    assert.ok(from >= 0 && to > from, `docs/cli.md has the markers of ${spec.command}`);
    const want = `${componentTables(spec)}\n`;
    const have = doc.slice(from + begin.length, to);
    if (UPDATE) doc = doc.slice(0, from + begin.length) + want + doc.slice(to);
    else assert.equal(have, want, `docs/cli.md's table of ${spec.command} differs (WEFT_UPDATE_GOLDEN=1 rewrites it)`);
  }
  if (UPDATE) writeFileSync(DOC, doc);
});
