/**
 * README's prerequisites agree with what the repo declares: the Node.js range is package.json's
 * `engines` (and the `node` devDependency that `npm ci` installs satisfies it), and every system package
 * `npm run setup` installs is named.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SYSTEM_PACKAGES } from '../cluster/system-packages.js';
import { REPO_ROOT } from './paths.js';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const PKG = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; devDependencies: Record<string, string> };

test("README's Node.js prerequisite is package.json's engines, and the node devDependency meets it", () => {
  const engines = PKG.engines.node;
  const min = /^>=(\d+)$/.exec(engines);
  assert.ok(min, `engines.node is a lower bound: ${engines}`);
  assert.ok(README.includes(`\`engines\` \`node ${engines}\``), `README quotes engines as \`node ${engines}\``);
  const mentioned = [...README.matchAll(/Node\.js (\d+)/g)].map((m) => Number(m[1]));
  assert.ok(mentioned.includes(Number(min[1])), `README names Node.js ${min[1]}`);
  for (const n of mentioned.filter((v) => v < Number(min[1]))) {
    assert.match(README, new RegExp(`ship Node\\.js ${n}\\b`), `Node.js ${n} appears only as the older system node`);
  }
  const devNode = PKG.devDependencies['node'] ?? '';
  assert.ok(Number(devNode.split('.')[0]) >= Number(min[1]), `the node devDependency ${devNode} satisfies ${engines}`);
});

test('README names every system package npm run setup installs', () => {
  for (const p of SYSTEM_PACKAGES) {
    const word = new RegExp(`(^|[\\s(,;])${p.name.replace(/[+.]/g, '\\$&')}(?=[\\s),;.]|$)`, 'm');
    assert.match(README, word, `README names ${p.name} (${p.why})`);
  }
});
