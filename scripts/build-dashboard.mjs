// Builds the dashboard's page (dashboard/) into dist/dashboard, which `weft dashboard` serves:
// type-checks it with its own tsconfig (DOM, JSX), then bundles Preact, uPlot and Cytoscape.js with
// esbuild into dist/dashboard/assets/app.{js,css}. esbuild and the libraries are devDependencies: the
// image carries the bundle, never the bundler.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'dashboard');
try {
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'dashboard', 'tsconfig.json')], { stdio: 'inherit' });
} catch {
  console.error('build-dashboard: dashboard/ has type errors (above)');
  process.exit(1);
}
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });
await build({
  entryPoints: { app: join(root, 'dashboard', 'src', 'main.tsx') },
  outdir: join(out, 'assets'),
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'linked',
  logLevel: 'warning',
});
copyFileSync(join(root, 'dashboard', 'index.html'), join(out, 'index.html'));
