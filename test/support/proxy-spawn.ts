/**
 * Starts test/support/proxy-harness.js as a child process (optionally wrapped, e.g. in
 * `ip netns exec`) with the runtime settings production uses (the V8 flags and MALLOC_ARENA_MAX the
 * injector gives the proxy container), and waits for its READY line.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';
import type { HarnessSpec } from './proxy-harness.js';
import { PROXY_NODE_FLAGS, PROXY_RUNTIME_ENV } from '../../injector/patch.js';

/** The V8 flags the proxy runs with in a pod: the injector's (docs/proxy.md, "Memory"). */
export { PROXY_NODE_FLAGS };

/**
 * The environment of a proxy process as the injector sets it besides PROXY_ENV: `env` with the
 * injector's MALLOC_ARENA_MAX (NODE_OPTIONS is dropped: callers pass PROXY_NODE_FLAGS, or their
 * override, on the command line). `runtime` names another container's settings (the gateway's,
 * core/gateway/render.ts GATEWAY_RUNTIME_ENV).
 */
export function proxyProcessEnv(env: NodeJS.ProcessEnv = process.env, runtime: readonly { readonly name: string; readonly value: string }[] = PROXY_RUNTIME_ENV): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  delete out['NODE_OPTIONS'];
  for (const e of runtime) if (e.name !== 'NODE_OPTIONS') out[e.name] = e.value;
  return out;
}

export function rssMbOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

const HARNESS = join(REPO_ROOT, 'dist', 'test', 'support', 'proxy-harness.js');

export function startHarness(spec: HarnessSpec, wrap: string[] = []): Promise<{ child: ChildProcess; ports: { outbound: number; inbound: number }; stderr: () => string }> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-proxy-'));
  const file = join(dir, 'spec.json');
  writeFileSync(file, JSON.stringify(spec));
  const cmd = [...wrap, process.execPath, ...PROXY_NODE_FLAGS, HARNESS, file];
  const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: proxyProcessEnv() });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  child.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (\{.*\})/.exec(out);
      if (m) resolve({ child, ports: JSON.parse(m[1]!) as { outbound: number; inbound: number }, stderr: () => err });
    });
    child.once('exit', (c) => reject(new Error(`harness exited ${String(c)}: ${err}`)));
  });
}

