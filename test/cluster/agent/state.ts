/**
 * Per-pod state files, `<stateDir>/pods/<namespace>_<name>_<uid>.json`: what exec and cleanup need
 * without the agent (netns, veth, IP, and per container the mount-namespace holder, the process, UID,
 * GID, environment and working directory). Host PIDs come with their start times so a reused PID is
 * never signalled. Written atomically (temp file + rename).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ProcRef {
  readonly pid: number;
  readonly startTime: string | undefined;
}

export interface ContainerStateRecord {
  image: string;
  holder: ProcRef | undefined;
  process: ProcRef | undefined;
  uid: number;
  gid: number;
  /** Supplementary groups (fsGroup, supplementalGroups). */
  groups: number[];
  addCaps: string[];
  env: Record<string, string>;
  workingDir: string;
}

export interface PodStateRecord {
  namespace: string;
  name: string;
  uid: string;
  hostNetwork: boolean;
  netns: string | undefined;
  veth: string | undefined;
  ip: string;
  /** Host directory of the pod's volumes and files. */
  dir: string;
  containers: Record<string, ContainerStateRecord>;
}

export function podsDir(stateDir: string): string {
  return join(stateDir, 'pods');
}

export function stateFile(stateDir: string, key: string): string {
  return join(podsDir(stateDir), `${key}.json`);
}

export function writePodState(stateDir: string, key: string, rec: PodStateRecord): void {
  mkdirSync(podsDir(stateDir), { recursive: true, mode: 0o755 });
  const file = stateFile(stateDir, key);
  writeFileSync(`${file}.tmp`, JSON.stringify(rec, null, 2), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

export function removePodState(stateDir: string, key: string): void {
  rmSync(stateFile(stateDir, key), { force: true });
}

export function listPodStates(stateDir: string): { key: string; rec: PodStateRecord }[] {
  let names: string[];
  try {
    names = readdirSync(podsDir(stateDir));
  } catch {
    return [];
  }
  const out: { key: string; rec: PodStateRecord }[] = [];
  for (const n of names) {
    if (!n.endsWith('.json')) continue;
    try {
      out.push({ key: n.slice(0, -5), rec: JSON.parse(readFileSync(join(podsDir(stateDir), n), 'utf8')) as PodStateRecord });
    } catch { /* half-written or foreign file */ }
  }
  return out;
}

/** The state of a pod by namespace and name (newest file when several UIDs are present). */
export function findPodState(stateDir: string, namespace: string, name: string): PodStateRecord | undefined {
  const prefix = `${namespace}_${name}_`;
  const mtime = (key: string) => {
    try {
      return statSync(stateFile(stateDir, key)).mtimeMs;
    } catch {
      return 0;
    }
  };
  return listPodStates(stateDir).filter((s) => s.key.startsWith(prefix)).sort((a, b) => mtime(a.key) - mtime(b.key)).map((s) => s.rec).at(-1);
}
