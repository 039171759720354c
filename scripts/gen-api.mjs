// Generates api/gen/ from api/proto/ with the buf binary shipped in @bufbuild/buf and the local ts-proto
// plugin (api/buf.gen.yaml). Offline: no remote plugins, no BSR dependencies.
//
//   node scripts/gen-api.mjs          regenerate api/gen/ (stale files removed)
//   node scripts/gen-api.mjs --check  generate into a temp dir and exit 1, listing files, if api/gen/ differs
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const buf = join(root, 'node_modules', '.bin', 'buf');
const plugin = join(root, 'node_modules', '.bin', 'protoc-gen-ts_proto');
const genDir = join(root, 'api', 'gen');
const check = process.argv.includes('--check');

for (const [what, path] of [['buf', buf], ['protoc-gen-ts_proto', plugin]]) {
  if (!existsSync(path)) {
    console.error(`gen-api: ${what} not found at ${relative(root, path)}; run npm install`);
    process.exit(2);
  }
}

/** Runs buf generate under `out` (a fresh directory). */
function generate(out) {
  // -o prefixes the template's `out: api/gen`, so the files land in <out>/api/gen.
  const res = spawnSync(buf, ['generate', 'api', '--template', 'api/buf.gen.yaml', '-o', out], {
    cwd: root,
    encoding: 'utf8',
    // BUF_CACHE_DIR inside the temp area keeps runs independent of the user's cache.
    env: { ...process.env, BUF_CACHE_DIR: join(tmpdir(), 'weft-buf-cache') },
  });
  if (res.status !== 0) {
    console.error(`gen-api: buf generate failed (exit ${res.status ?? res.signal}):\n${res.stderr}${res.stdout}`);
    process.exit(2);
  }
}

function listFiles(dir, base = dir, acc = []) {
  if (!existsSync(dir)) return acc;
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) listFiles(p, base, acc);
    else acc.push(relative(base, p));
  }
  return acc;
}

const tmp = mkdtempSync(join(tmpdir(), 'weft-gen-api-'));
try {
  generate(tmp);
  const out = join(tmp, 'api', 'gen');
  const fresh = listFiles(out);
  if (check) {
    const current = new Set(listFiles(genDir));
    const differing = [];
    for (const f of fresh) {
      if (!current.has(f)) differing.push(`missing: api/gen/${f}`);
      else if (readFileSync(join(genDir, f), 'utf8') !== readFileSync(join(out, f), 'utf8')) differing.push(`differs: api/gen/${f}`);
      current.delete(f);
    }
    for (const f of current) differing.push(`stale:   api/gen/${f}`);
    if (differing.length > 0) {
      console.error(`check:api: api/gen is out of date with api/proto (run npm run gen:api):\n  ${differing.join('\n  ')}`);
      process.exit(1);
    }
    console.log(`check:api: api/gen matches api/proto (${fresh.length} files)`);
  } else {
    rmSync(genDir, { recursive: true, force: true });
    cpSync(out, genDir, { recursive: true });
    console.log(`gen:api: wrote ${fresh.length} files to api/gen`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
