/**
 * core/ is the pure bottom layer: its modules import only other core/ modules and an explicit allow-list
 * of pure packages. This test reads every non-test source file of core/ and fails on anything else,
 * node: built-ins included, so I/O can never creep into the decisions the proxy, controller and CLI share.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { REPO_ROOT } from '../test/support/paths.js';

const ALLOWED_PACKAGES = new Set(['re2js']);
const CORE = join(REPO_ROOT, 'core');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.endsWith('.d.ts') && !p.includes('/testdata/') ? [p] : [];
  });
}

/** Every module specifier of static imports, re-exports and dynamic imports. */
export function specifiers(text: string): string[] {
  const out: string[] = [];
  const patterns = [
    /\bimport\s+(?:type\s+)?(?:[\w*{}\s,]+\s+from\s+)?['"]([^'"]+)['"]/g,
    /\bexport\s+(?:type\s+)?(?:\*|\{[^}]*\})(?:\s+as\s+\w+)?\s+from\s+['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) if (m[1]) out.push(m[1]);
  return out;
}

test('the import scanner sees static, type, re-export and dynamic imports', () => {
  const text = `import a from 'x1';\nimport type { B } from "x2";\nexport * from './x3.js';\nexport { c } from 'x4';\nconst d = await import('x5');\nimport 'x6';`;
  assert.deepEqual(specifiers(text).sort(), ['./x3.js', 'x1', 'x2', 'x4', 'x5', 'x6']);
});

test('core imports only core and the allow-listed pure packages', () => {
  const files = sources(CORE);
  assert.ok(files.length > 0, 'core has source files');
  const violations: string[] = [];
  for (const file of files) {
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      const rel = relative(REPO_ROOT, file);
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (!target.startsWith(CORE + '/')) violations.push(`${rel}: ${spec} leaves core/`);
      } else {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!ALLOWED_PACKAGES.has(pkg)) violations.push(`${rel}: ${spec} is not an allowed pure package`);
      }
    }
  }
  assert.deepEqual(violations, []);
});
