/**
 * Process and measurement plumbing shared by the benchmarks that compare a proxy with nginx in one run
 * (bench/proxy-hop, bench/gateway-tls): free ports, CPU and memory of a process from /proc, child
 * processes that announce `READY {json}`, one-worker nginx instances, and wrk.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWrk, type WrkResult } from './figures.js';

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

/** CPU time (user + system) the process has used, ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS; // fields 14 and 15: utime, stime
}

export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Resident memory split into anonymous (the process's own) and file-backed (mostly the node binary's pages, shared with every Node process), MB. */
export function rssParts(pid: number): { rss: number; anon: number; file: number } {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(t)?.[1] ?? NaN);
  const rss = kb('Rss') / 1024;
  const anon = kb('Anonymous') / 1024;
  return { rss, anon, file: rss - anon };
}

/** wrk against `url` (http or https), keep-alive unless `headers` say otherwise. */
export function wrk(url: string, o: { seconds: number; connections: number; threads?: number; headers?: readonly string[] }): WrkResult {
  const argv = [`-t${o.threads ?? 2}`, `-c${o.connections}`, `-d${o.seconds}s`, ...(o.headers ?? []).flatMap((h) => ['-H', h]), url];
  return parseWrk(execFileSync('wrk', argv).toString(), o.seconds);
}

/**
 * The benchmark's scratch directory and child processes: every child is killed and the directory
 * removed when the benchmark process exits.
 */
export class BenchProcesses {
  readonly work: string;
  private readonly children: ChildProcess[] = [];

  constructor(prefix: string) {
    this.work = mkdtempSync(join(tmpdir(), prefix));
    process.on('exit', () => this.cleanup());
  }

  /** Kills what is still running and removes the scratch directory (idempotent). */
  cleanup(): void {
    for (const c of this.children) c.kill('SIGKILL');
    rmSync(this.work, { recursive: true, force: true });
  }

  /** Writes `content` into the scratch directory; returns the path. */
  file(name: string, content: string): string {
    const f = join(this.work, name);
    writeFileSync(f, content);
    return f;
  }

  track(child: ChildProcess): ChildProcess {
    this.children.push(child);
    return child;
  }

  /** Starts a process and waits for its `READY {json}` line; rejects with its stderr if it exits first. */
  spawnReady(cmd: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; info: Record<string, number> }> {
    const child = this.track(spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env }));
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    return new Promise((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /READY (\{.*\})/.exec(out);
        if (m) resolve({ child, info: JSON.parse(m[1]!) as Record<string, number> });
      });
      child.once('exit', (c) => reject(new Error(`${cmd} exited ${String(c)}: ${err}`)));
    });
  }

  /**
   * One nginx process (no master, one worker: the event loop serving the connections is this very
   * process, so its /proc CPU is nginx's whole cost) with `body` inside `http { }`.
   */
  nginx(name: string, body: string): Promise<ChildProcess> {
    const dir = join(this.work, name);
    mkdirSync(dir, { recursive: true });
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, `daemon off;\nmaster_process off;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log warn;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n  client_body_temp_path ${dir};\n  proxy_temp_path ${dir};\n  fastcgi_temp_path ${dir};\n  uwsgi_temp_path ${dir};\n  scgi_temp_path ${dir};\n  keepalive_requests 1000000;\n${body}\n}\n`);
    const child = this.track(spawn('nginx', ['-c', conf, '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] }));
    return new Promise((resolve, reject) => {
      const early = (c: number | null) => {
        let log = '';
        try {
          log = readFileSync(join(dir, 'error.log'), 'utf8');
        } catch {
          log = '(no error.log)';
        }
        reject(new Error(`nginx ${name} exited ${String(c)}: ${log}`));
      };
      child.once('exit', early);
      setTimeout(() => {
        child.removeListener('exit', early);
        resolve(child);
      }, 300);
    });
  }
}
