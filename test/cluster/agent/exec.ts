/**
 * `execInContainer`: runs a command in a running container, as `kubectl exec` would, without the
 * agent: it reads the pod's state file, enters the container's holder (network, UTS and mount
 * namespaces), takes the container's UID/GID and environment, and maps the first word through the
 * image table (`client ...` in an echo container runs Weft's echo client).
 */
import { resolveExecArgv } from './images.js';
import { execIn } from './proc.js';
import { findPodState } from './state.js';
import { isAlive } from './sys.js';

export interface ExecOptions {
  env?: Record<string, string>;
  stdin?: string;
  timeoutMs?: number;
}

export async function execInContainer(stateDir: string, ns: string, pod: string, container: string, argv: string[],
  opts: ExecOptions = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  const rec = findPodState(stateDir, ns, pod);
  if (rec === undefined) throw new Error(`exec: pod ${ns}/${pod} is not running on this node (no state file under ${stateDir}/pods)`);
  const c = rec.containers[container];
  if (c === undefined) throw new Error(`exec: pod ${ns}/${pod} has no container ${JSON.stringify(container)} (has: ${Object.keys(rec.containers).join(', ')})`);
  if (c.holder === undefined || !isAlive(c.holder.pid, c.holder.startTime)) throw new Error(`exec: container ${container} of ${ns}/${pod} is not running`);
  if (argv.length === 0) throw new Error('exec: no command');
  const mapped = resolveExecArgv(c.image, argv);
  const execOpts: { stdin?: string; timeoutMs?: number } = {};
  if (opts.stdin !== undefined) execOpts.stdin = opts.stdin;
  if (opts.timeoutMs !== undefined) execOpts.timeoutMs = opts.timeoutMs;
  return execIn(c.holder.pid, c.workingDir, { uid: c.uid, gid: c.gid, groups: c.groups, addCaps: c.addCaps }, mapped, { ...c.env, ...opts.env }, execOpts);
}
