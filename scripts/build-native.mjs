// Builds the proxy's N-API addon (proxy/native: SO_ORIGINAL_DST) with node-gyp against local Node headers.
// node-gyp would otherwise download headers, which these machines cannot do. N-API is ABI-stable, so
// headers of an older local Node (Debian's, in /usr/include/node) build an addon Node 24 loads.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'proxy', 'native');
const out = join(dir, 'build', 'Release', 'original_dst.node');
const src = join(dir, 'original_dst.c');

if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs && !process.argv.includes('--force')) process.exit(0);

const candidates = [process.env.npm_config_nodedir, '/usr', '/usr/local'].filter(Boolean);
const nodedir = candidates.find((d) => existsSync(join(d, 'include', 'node', 'node_api.h')));
if (!nodedir) {
  console.error(`build-native: no Node headers found (looked for include/node/node_api.h under ${candidates.join(', ')}).\n` +
    'Install them (Debian: apt-get install nodejs libnode-dev) or set npm_config_nodedir.');
  process.exit(1);
}
const gyp = join(root, 'node_modules', '.bin', 'node-gyp');
const r = spawnSync(gyp, ['rebuild', `--nodedir=${nodedir}`, '--loglevel=warn'], { cwd: dir, stdio: 'inherit' });
if (r.status !== 0) {
  console.error(`build-native: node-gyp failed (exit ${r.status ?? r.signal})`);
  process.exit(1);
}
