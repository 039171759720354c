// Fails when the compiled module graph has an import cycle. It reads the TypeScript sources with dpdm.
import { parseDependencyTree, parseCircular, prettyCircular } from 'dpdm';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['core', 'api', 'identity', 'policy-controller', 'proxy', 'injector', 'cli', 'examples', 'test', 'bench'];
const files = [];
function walk(dir) {
  let entries;
  try { entries = readdirSync(dir); } catch { return; }
  for (const e of entries) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) { if (e !== 'node_modules' && e !== 'build') walk(p); }
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) files.push(p);
  }
}
roots.forEach(walk);
if (files.length === 0) { console.error('check-cycles: no TypeScript files found'); process.exit(1); }
const tree = await parseDependencyTree(files, { tsconfig: 'tsconfig.json', transform: true, skipDynamicImports: false });
const cycles = parseCircular(tree);
if (cycles.length > 0) {
  console.error(`check-cycles: ${cycles.length} import cycle(s):\n${prettyCircular(cycles)}`);
  process.exit(1);
}
console.log(`check-cycles: ${Object.keys(tree).length} modules, no import cycles`);
