/**
 * Container processes. Each container gets a holder: a process in the pod's network namespace with
 * its own mount and UTS namespaces, which sets up the container's filesystem view (the clone
 * read-only at /opt/weft, the Node binary, resolv.conf and hosts, volumes at their mountPaths), sets
 * the hostname to the pod name, then sleeps. The container's process, exec probes, hooks and
 * `execInContainer` all enter the holder's namespaces with nsenter and drop to the container's
 * UID/GID with setpriv; nsenter and setpriv exec (no fork), so the spawned PID is the container's.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { NODE_MOUNT, REPO_MOUNT } from './images.js';
import { processStartTime, shQuote } from './sys.js';
import type { ProcRef } from './state.js';

export interface BindMount {
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
  /** The source is a file: the target is created as an empty file rather than a directory. */
  readonly file: boolean;
}

export interface HolderSpec {
  /** /var/run/netns/<name>, or undefined for hostNetwork pods. */
  readonly netnsPath: string | undefined;
  readonly hostname: string | undefined;
  readonly repoRoot: string;
  readonly nodeBinary: string;
  readonly mounts: readonly BindMount[];
}

/** The shell prelude a holder runs as root before sleeping. Exported for tests. */
export function holderScript(h: HolderSpec): string {
  const lines = ['set -e'];
  const bind = (m: BindMount) => {
    const t = shQuote(m.target);
    lines.push(m.file ? `mkdir -p "$(dirname ${t})"; [ -e ${t} ] || : > ${t}` : `mkdir -p ${t}`);
    lines.push(`mount --bind${m.readOnly ? ' -o ro' : ''} ${shQuote(m.source)} ${t}`);
  };
  bind({ source: h.repoRoot, target: REPO_MOUNT, readOnly: true, file: false });
  bind({ source: h.nodeBinary, target: NODE_MOUNT, readOnly: true, file: true });
  for (const m of h.mounts) bind(m);
  if (h.hostname !== undefined) lines.push(`hostname ${shQuote(h.hostname)}`);
  lines.push('echo ready', 'exec sleep infinity');
  return lines.join('\n');
}

export function holderArgv(h: HolderSpec): string[] {
  const unshare = ['unshare', '--mount', ...(h.hostname !== undefined ? ['--uts'] : []), '--propagation', 'private', '--', 'sh', '-c', holderScript(h)];
  return h.netnsPath === undefined ? unshare : ['nsenter', `--net=${h.netnsPath}`, '--', ...unshare];
}

/** Starts a holder and resolves once its mounts are in place. */
export function startHolder(h: HolderSpec, timeoutMs = 15_000): Promise<ProcRef> {
  const [cmd, ...args] = holderArgv(h);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd ?? 'false', args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => fail(new Error(`holder did not get ready in ${timeoutMs} ms: ${err.trim()}`)), timeoutMs);
    const fail = (e: Error) => {
      clearTimeout(timer);
      if (child.pid !== undefined && child.exitCode === null) child.kill('SIGKILL');
      reject(e);
    };
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('ready\n') && child.pid !== undefined) {
        clearTimeout(timer);
        child.stdout.destroy();
        child.stderr.destroy();
        child.unref();
        resolve({ pid: child.pid, startTime: processStartTime(child.pid) });
      }
    });
    child.on('error', fail);
    child.on('exit', (code) => fail(new Error(`holder exited (${code ?? 'signal'}) before it was ready: ${err.trim()}`)));
  });
}

export interface Identity {
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
  readonly addCaps: readonly string[];
}

/** argv that runs `argv` inside a holder's namespaces as the given identity. */
export function enterArgv(holderPid: number, workingDir: string, id: Identity, argv: readonly string[]): string[] {
  const enter = ['nsenter', '-t', String(holderPid), '--net', '--uts', '--mount', `--wd=${workingDir}`, '--'];
  if (id.uid === 0 && id.gid === 0 && id.groups.length === 0) return [...enter, ...argv];
  const groups = id.groups.length > 0 ? ['--groups', id.groups.join(',')] : ['--clear-groups'];
  const caps = id.addCaps.length > 0 && id.uid !== 0
    ? [`--inh-caps=${id.addCaps.map((c) => `+${c}`).join(',')}`, `--ambient-caps=${id.addCaps.map((c) => `+${c}`).join(',')}`]
    : [];
  return [...enter, 'setpriv', `--reuid=${id.uid}`, `--regid=${id.gid}`, ...groups, ...caps, '--', ...argv];
}

/** Starts a container process with its output appended to `logFile`. */
export function startContainerProcess(holderPid: number, workingDir: string, id: Identity, argv: readonly string[], env: Readonly<Record<string, string>>, logFile: string): ChildProcess {
  const [cmd, ...args] = enterArgv(holderPid, workingDir, id, argv);
  const fd = openSync(logFile, 'a', 0o640);
  try {
    return spawn(cmd ?? 'false', args, { detached: true, stdio: ['ignore', fd, fd], env: { ...env } });
  } finally {
    closeSync(fd);
  }
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs a command in a container's namespaces and collects its output; code 124 on timeout. */
export function execIn(holderPid: number, workingDir: string, id: Identity, argv: readonly string[], env: Readonly<Record<string, string>>,
  opts: { stdin?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  const [cmd, ...args] = enterArgv(holderPid, workingDir, id, argv);
  return new Promise((resolve) => {
    const child = spawn(cmd ?? 'false', args, { detached: true, stdio: ['pipe', 'pipe', 'pipe'], env: { ...env } });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch { /* gone */ }
    }, opts.timeoutMs);
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.stdin ?? '');
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ stdout, stderr: stderr + err.message, code: 127 });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) resolve({ stdout, stderr: `${stderr}exec timed out after ${opts.timeoutMs ?? 0} ms\n`, code: 124 });
      else resolve({ stdout, stderr, code: code ?? 128 + signalNumber(signal) });
    });
  });
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };

export function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === null ? 0 : SIGNALS[signal] ?? 1;
}
