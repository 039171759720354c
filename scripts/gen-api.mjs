// Generates TypeScript from the .proto files with the buf binary shipped in @bufbuild/buf-linux-x64 (an
// optionalDependency: `npm ci` skips it on other platforms instead of failing) and the local
// ts-proto plugin. Offline: no remote plugins, no BSR dependencies.
//
//   api/proto/           -> api/gen/            (api/buf.yaml, api/buf.gen.yaml)
//   examples/echo/proto/ -> examples/echo/gen/  (examples/echo/buf.yaml, examples/echo/buf.gen.yaml)
//
//   node scripts/gen-api.mjs          regenerate both gen/ folders (stale files removed)
//   node scripts/gen-api.mjs --check  generate into a temp dir; exit 1, listing files, if a gen/ folder differs
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// The platform package directly: the @bufbuild/buf wrapper lists optional packages for every platform,
// and a registry that serves only some of them leaves a lock file `npm ci` rejects.
const buf = join(root, 'node_modules', '@bufbuild', `buf-${process.platform}-${process.arch === 'x64' ? 'x64' : process.arch === 'arm64' ? 'aarch64' : process.arch}`, 'bin', 'buf');
const plugin = join(root, 'node_modules', '.bin', 'protoc-gen-ts_proto');
const check = process.argv.includes('--check');

/** Each target: the buf input (holding buf.yaml), its template, and the `out` the template names. */
const targets = [
  { input: 'api', template: 'api/buf.gen.yaml', out: 'api/gen' },
  { input: 'examples/echo', template: 'examples/echo/buf.gen.yaml', out: 'examples/echo/gen' },
];

for (const [what, path] of [['buf', buf], ['protoc-gen-ts_proto', plugin]]) {
  if (!existsSync(path)) {
    console.error(`gen-api: ${what} not found at ${relative(root, path)}; run npm ci (buf is @bufbuild/buf-linux-x64, an optionalDependency npm skips on other platforms; there, npm install --no-save @bufbuild/buf-<platform> at the same version)`);
    process.exit(2);
  }
}

/** Runs buf generate for one target under `base`: -o prefixes the template's `out`. */
function generate(target, base) {
  const res = spawnSync(buf, ['generate', target.input, '--template', target.template, '-o', base], {
    cwd: root,
    encoding: 'utf8',
  });
  if (res.status !== 0) {
    console.error(`gen-api: buf generate ${target.input} failed (exit ${res.status ?? res.signal}):\n${res.stderr}${res.stdout}`);
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
  const differing = [];
  let total = 0;
  for (const target of targets) {
    generate(target, tmp);
    const fresh = join(tmp, target.out);
    const committed = join(root, target.out);
    const files = listFiles(fresh);
    total += files.length;
    if (check) {
      const current = new Set(listFiles(committed));
      for (const f of files) {
        if (!current.has(f)) differing.push(`missing: ${target.out}/${f}`);
        else if (readFileSync(join(committed, f), 'utf8') !== readFileSync(join(fresh, f), 'utf8')) differing.push(`differs: ${target.out}/${f}`);
        current.delete(f);
      }
      for (const f of current) differing.push(`stale:   ${target.out}/${f}`);
    } else {
      rmSync(committed, { recursive: true, force: true });
      cpSync(fresh, committed, { recursive: true });
      console.log(`gen:api: wrote ${files.length} files to ${target.out}`);
    }
  }
  if (check) {
    if (differing.length > 0) {
      console.error(`check:api: generated code is out of date with the .proto files (run npm run gen:api):\n  ${differing.join('\n  ')}`);
      process.exit(1);
    }
    console.log(`check:api: ${targets.map((t) => t.out).join(', ')} match their .proto files (${total} files)`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
