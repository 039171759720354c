/**
 * Commands and logs of the real node's containers, through the API server (the kubelet serves exec and
 * logs to it): what `kubectl exec` and `kubectl logs` do, for the fixture and `npm run cluster`.
 */
import { kubectl } from './cluster.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface ExecOptions {
  /** Set for the command with `env` (the image must have it: Debian and busybox do). */
  env?: Record<string, string>;
  stdin?: string;
  timeoutMs?: number;
}

/**
 * Runs `argv` in a container with `kubectl exec`; `code` is the command's exit code (kubectl passes
 * it on), or kubectl's own when the exec could not start (pod or container not found: the message is
 * in stderr).
 */
export async function execInPod(ns: string, pod: string, container: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const env = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`);
  const cmd = env.length > 0 ? ['env', ...env, ...argv] : [...argv];
  const r = await kubectl(['exec', ...(opts.stdin !== undefined ? ['-i'] : []), '-n', ns, pod, '-c', container, '--', ...cmd], {
    timeoutMs: opts.timeoutMs ?? 60_000,
    ...(opts.stdin !== undefined ? { input: opts.stdin } : {}),
  });
  return { stdout: r.stdout, stderr: r.stderr, code: r.code };
}

/** A container's log ('' while it has none: not started yet, or the pod is gone). */
export async function podLogs(ns: string, pod: string, container: string, opts: { tail?: number; previous?: boolean } = {}): Promise<string> {
  const r = await kubectl(['logs', '-n', ns, pod, '-c', container, ...(opts.tail !== undefined ? [`--tail=${opts.tail}`] : []), ...(opts.previous ? ['--previous'] : [])]);
  return r.code === 0 ? r.stdout : '';
}

/** The names of a pod's containers (init containers first), for commands that may omit `-c`. */
export async function podContainers(ns: string, pod: string): Promise<string[]> {
  const r = await kubectl(['get', 'pod', '-n', ns, pod, '-o', 'jsonpath={.spec.initContainers[*].name} {.spec.containers[*].name}']);
  if (r.code !== 0) throw new Error(`pod ${ns}/${pod}: ${r.stderr.trim()}`);
  return r.stdout.split(/\s+/).filter(Boolean);
}
