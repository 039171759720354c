#!/usr/bin/env node
// The `weft` executable. Weft runs on Node.js 24; the repo's devDependency `node@24` provides it, so a
// shell whose `node` is older re-executes this file on that binary. Then it runs the compiled dispatcher.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const major = Number(process.versions.node.split('.')[0]);

if (major < 24) {
  const candidates = [join(root, 'node_modules', 'node', 'bin', 'node'), join(root, 'node_modules', '.bin', 'node')];
  const node24 = candidates.find((p) => existsSync(p));
  if (!node24) {
    process.stderr.write(`weft: Node.js 24 or newer is required (this is ${process.version}); run \`npm ci\` in ${root} to install it.\n`);
    process.exit(1);
  }
  const r = spawnSync(node24, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  if (r.error) {
    process.stderr.write(`weft: cannot run ${node24}: ${r.error.message}\n`);
    process.exit(1);
  }
  process.exit(r.status ?? (r.signal ? 128 + 1 : 1));
}

const entry = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write(`weft: ${entry} is missing; run \`npm run build\` first.\n`);
  process.exit(1);
}
await import(entry);
