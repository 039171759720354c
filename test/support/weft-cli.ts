/**
 * Runs this repo's `weft` (dist/cli/main.js on the test's own Node 24) as a child process and
 * collects its exit code and output: the one way e2e tests call the CLI.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

export interface WeftRun { code: number; stdout: string; stderr: string }

export interface WeftRunOptions {
  /** Set as KUBECONFIG for the child; otherwise the child inherits the test's environment. */
  readonly kubeconfig?: string;
  /** Written to stdin (closed either way). */
  readonly input?: string;
  /** The child is killed after this long (its run then ends with the code a kill gives). */
  readonly timeoutMs?: number;
}

export function runWeft(args: readonly string[], o: WeftRunOptions = {}): Promise<WeftRun> {
  const env = o.kubeconfig === undefined ? process.env : { ...process.env, KUBECONFIG: o.kubeconfig };
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(REPO_ROOT, 'dist', 'cli', 'main.js'), ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = o.timeoutMs === undefined ? undefined : setTimeout(() => p.kill('SIGKILL'), o.timeoutMs);
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.once('error', reject);
    p.once('exit', (code) => {
      if (timer !== undefined) clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    p.stdin.end(o.input ?? '');
  });
}
