/**
 * `weft ... | head -1`: the real executable with its stdout read once and then closed, as `head` does.
 * Without the closed-pipe handling the next write fails with EPIPE and Node crashes with a stack trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/support/paths.js';
import { stopOnClosedPipe } from './closed-pipe.js';

const MAIN = join(REPO_ROOT, 'dist', 'cli', 'main.js');
const ANCHORS = join(REPO_ROOT, 'cli', 'inject', 'testdata', 'anchors.pem');

/**
 * Runs weft and closes its stdout, at once (`| true`) or after reading the first chunk (`| head -1`);
 * resolves to the exit code, stderr and the bytes read.
 */
function runAndClose(args: readonly string[], when: 'at-once' | 'after-first-chunk'): Promise<{ code: number | null; signal: string | null; stderr: string; read: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let read = 0;
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    if (when === 'at-once') p.stdout.destroy();
    else p.stdout.once('data', (d: Buffer) => { read = d.length; p.stdout.destroy(); });
    p.once('error', reject);
    p.once('exit', (code, signal) => resolve({ code, signal, stderr, read }));
  });
}

test('weft install -o json | true: exits 0 without a stack trace', async () => {
  // Closed before weft writes (it generates the PKI first), so its first write fails.
  const r = await runAndClose(['install', '--ignore-cluster', '-o', 'json'], 'at-once');
  assert.doesNotMatch(r.stderr, /EPIPE|Error|at /);
  assert.equal(r.signal, null);
  assert.equal(r.code, 0, r.stderr);
});

test('weft inject big.yaml | head -1: exits 0 without a stack trace', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-epipe-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const doc = (i: number) => `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web-${i}, namespace: default}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: app, image: example/web:1}]\n`;
  // Far more than a pipe buffer (64 KiB) once injected, so the writes after the close must fail.
  const big = join(dir, 'big.yaml');
  writeFileSync(big, Array.from({ length: 400 }, (_, i) => doc(i)).join('---\n'));
  const r = await runAndClose(['inject', '--ignore-cluster', '--identity-trust-anchors', ANCHORS, big], 'after-first-chunk');
  assert.ok(r.read > 0);
  assert.doesNotMatch(r.stderr, /EPIPE|Error|\n +at /);
  assert.equal(r.code, 0, r.stderr);
});

test('another write error is named on stderr and exits 1', () => {
  const listeners: ((err: NodeJS.ErrnoException) => void)[] = [];
  const codes: number[] = [];
  const reports: string[] = [];
  stopOnClosedPipe([{ name: 'stdout', stream: { on: (_e: 'error', l: (err: NodeJS.ErrnoException) => void) => listeners.push(l) } }], (c) => codes.push(c), (t) => reports.push(t));
  listeners[0]?.(Object.assign(new Error('i/o error'), { code: 'EIO' }));
  listeners[0]?.(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
  assert.deepEqual(codes, [1, 0]);
  assert.deepEqual(reports, ['weft: cannot write to stdout: i/o error\n']);
});
