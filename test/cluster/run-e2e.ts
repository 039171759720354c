/**
 * `npm run test:e2e`: brings the local cluster up (or reuses a running one), runs every
 * dist/test/e2e/**\/*.test.js with node --test one file at a time, and leaves the cluster as it found
 * it: taken down again if this run started it, unless WEFT_KEEP_CLUSTER=1. Exit code = the test run's.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

import { REPO_ROOT } from '../support/paths.js';
import { down, status, up } from './cluster.js';
import { buildImages } from './images.js';
import { KEEP_CLUSTER, STATE_DIR } from './config.js';

function findTests(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...findTests(p));
    else if (e.isFile() && e.name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

function runTests(files: string[], extraArgs: string[]): Promise<number> {
  const args = ['--test', '--test-concurrency=1', '--test-timeout=600000', '--test-reporter=spec', ...extraArgs, ...files.map((f) => relative(REPO_ROOT, f))];
  console.log(`e2e: node ${args.join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      stdio: 'inherit',
      env: { ...process.env, WEFT_CLUSTER_DIR: STATE_DIR },
    });
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

async function main(): Promise<number> {
  const extra = process.argv.slice(2);
  const files = findTests(join(REPO_ROOT, 'dist', 'test', 'e2e'));
  if (files.length === 0) {
    console.error('e2e: no dist/test/e2e/**/*.test.js files (run `npm run build` first)');
    return 1;
  }
  const before = await status();
  // Anything already running counts as found running: this run then leaves it running.
  const wasUp = before.components.some((c) => c.pid !== undefined);
  console.log(wasUp ? 'e2e: reusing the running cluster' : 'e2e: bringing the cluster up');
  let code = 1;
  try {
    // The real node's pods run the images `npm run images` builds (rebuilt only when their inputs change).
    for (const i of await buildImages()) console.log(`e2e: image ${i.name} ${(i.bytes / 1e6).toFixed(1)} MB`);
    const r = await up();
    if (r.realNode.state !== 'ready') console.warn(`e2e: WARNING real node ${r.realNode.state}: ${r.realNode.detail}; tests that run pods will fail`);
    if (r.agent.state !== 'ready') console.warn(`e2e: WARNING simulated node ${r.agent.state}: ${r.agent.detail}; scale tests will fail`);
    code = await runTests(files, extra);
  } catch (err) {
    console.error(`e2e: ${(err as Error).message}`);
    code = 1;
  } finally {
    if (!wasUp && !KEEP_CLUSTER) {
      console.log('e2e: taking down the cluster this run started (set WEFT_KEEP_CLUSTER=1 to keep it)');
      await down().catch((err: unknown) => console.error(`e2e: down failed: ${(err as Error).message}`));
    } else console.log(wasUp ? 'e2e: leaving the cluster running as it was found' : 'e2e: WEFT_KEEP_CLUSTER=1: leaving the cluster up');
  }
  return code;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`e2e: ${(err as Error).message}`);
    process.exitCode = 1;
  },
);
