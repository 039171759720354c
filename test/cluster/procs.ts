/**
 * Detached processes with pid files: start (output to <logDir>/<name>.log), liveness (the pid file also
 * records the process start time, so a reused pid is not mistaken for ours), stop (TERM, then KILL), and
 * a sweep that finds our binaries' processes by executable path when pid files were lost.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { LOG_DIR, PID_DIR, PATH_ENV, HOME_ENV } from './config.js';

export interface PidRecord {
  pid: number;
  startTime: string;
  command: string;
  args: string[];
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or undefined if no such process. */
export function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces; fields after the closing paren are space-separated.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

export const pidFile = (name: string): string => join(PID_DIR, `${name}.pid`);
export const logFile = (name: string): string => join(LOG_DIR, `${name}.log`);

export async function readPid(name: string): Promise<PidRecord | undefined> {
  try {
    const text = (await readFile(pidFile(name), 'utf8')).trim();
    if (/^\d+$/.test(text)) return { pid: Number(text), startTime: '', command: '', args: [] };
    const rec = JSON.parse(text) as PidRecord;
    return typeof rec.pid === 'number' ? rec : undefined;
  } catch {
    return undefined;
  }
}

/** The live process a pid file names, if it is still the one we started. */
export async function runningPid(name: string): Promise<number | undefined> {
  const rec = await readPid(name);
  if (!rec) return undefined;
  const st = procStartTime(rec.pid);
  if (st === undefined || isZombie(rec.pid)) return undefined;
  if (rec.startTime && rec.startTime !== st) return undefined;
  return rec.pid;
}

export interface StartOptions {
  env?: Record<string, string>;
  cwd?: string;
}

/** Starts `command args` detached in its own session; returns its pid once the pid file is written. */
export async function startDetached(name: string, command: string, args: string[], opts: StartOptions = {}): Promise<number> {
  await mkdir(PID_DIR, { recursive: true });
  await mkdir(LOG_DIR, { recursive: true });
  const fd = openSync(logFile(name), 'a');
  try {
    const child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      cwd: opts.cwd ?? '/',
      env: { PATH: PATH_ENV, HOME: HOME_ENV, ...opts.env },
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', (err) => reject(new Error(`cannot start ${name} (${command}): ${err.message}`)));
      child.once('spawn', () => resolve(child.pid ?? -1));
    });
    child.unref();
    const rec: PidRecord = { pid, startTime: procStartTime(pid) ?? '', command, args };
    await writeFile(pidFile(name), `${JSON.stringify(rec)}\n`);
    return pid;
  } finally {
    closeSync(fd);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !isZombie(pid);
  } catch {
    return false;
  }
}

/** Sends TERM to pid, waits up to graceMs, then KILL; resolves once it is gone. */
export async function killPid(pid: number, graceMs = 10_000): Promise<void> {
  if (!alive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) return;
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
}

/** Stops the named process if its pid file still names it; removes the pid file either way. */
export async function stopNamed(name: string, graceMs?: number): Promise<boolean> {
  const pid = await runningPid(name);
  if (pid !== undefined) await killPid(pid, graceMs);
  await rm(pidFile(name), { force: true });
  return pid !== undefined;
}

/**
 * Pids of processes whose executable is one of `exePaths` or whose command line contains `marker`
 * (for the agent, a Node process whose argv holds the cluster.json path). Used after a crash or when
 * pid files are gone; matches exact paths, never bare names.
 */
export function findProcesses(exePaths: readonly string[], marker?: string): Map<number, string> {
  const found = new Map<number, string>();
  const exes = new Set(exePaths);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const exe = readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '');
      if (exes.has(exe)) {
        found.set(pid, exe);
        continue;
      }
      if (marker) {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        if (cmdline.includes(marker)) found.set(pid, cmdline.join(' ').trim());
      }
    } catch {
      // process exited or is not ours to read
    }
  }
  return found;
}
