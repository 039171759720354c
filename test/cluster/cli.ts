/**
 * `npm run cluster -- <command>`: up | down | status | logs | exec | build | kubectl.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { execInPod, podContainers, podLogs } from './podexec.js';
import { ensureBinaries } from './build.js';
import { ensureNodeBinaries } from './node-build.js';
import { AGENT_MAIN, down, status, up } from './cluster.js';
import { ADMIN_KUBECONFIG, BIN_DIR, LOG_DIR, STATE_DIR } from './config.js';
import { COMPONENTS } from './controlplane.js';

const USAGE = `usage: npm run cluster -- <command> [args]

commands:
  up                         build binaries if needed (cold: long), start or reuse the cluster,
                             start containerd and the kubelet (the real node) and the
                             simulated node, wait for both Ready, CoreDNS and CRDs
  down [--keep-data]         stop everything (pods, kubelet, containerd, control plane), remove kube-proxy's
                             iptables chains, the ${'weft0'} bridge and routes; wipes etcd data
                             unless --keep-data
  status [--json]            show each component's pid and health and the node's state
  logs <component>           print a component's log: ${[...COMPONENTS, 'agent', 'containerd', 'kubelet'].join(', ')}
  logs <ns>/<pod>[/<ctr>]    print a container's log (the only container if <ctr> is omitted)
  exec <ns>/<pod> [-c <ctr>] -- <cmd>...
                             run a command inside a pod's container (kubectl exec)
  build                      only make sure the binaries are built (${BIN_DIR}, then containerd,
                             runc, the CNI plugins and the pause image beside it), printing the time
  kubectl <args>...          run the cached kubectl with the admin kubeconfig

state: ${STATE_DIR} (env WEFT_CLUSTER_DIR), logs: ${LOG_DIR}, kubeconfig: ${ADMIN_KUBECONFIG}
logs options: --tail=N (last N lines only)`;

class UsageError extends Error {}

async function cmdStatus(json: boolean): Promise<number> {
  const s = await status();
  if (json) {
    console.log(JSON.stringify(s, null, 2));
    return s.up ? 0 : 1;
  }
  for (const c of s.components) {
    console.log(`${c.name.padEnd(24)} ${c.pid === undefined ? 'not running' : `pid ${c.pid}`.padEnd(12)} ${c.pid === undefined ? '' : c.healthy ? 'healthy' : 'UNHEALTHY'}`);
  }
  console.log(`${'sim-node agent'.padEnd(24)} ${s.agent.pid === undefined ? 'not running' : `pid ${s.agent.pid}`}`);
  console.log(`${'simulated node'.padEnd(24)} ${s.agent.node}`);
  console.log(`${'containerd'.padEnd(24)} ${s.realNode.containerd === undefined ? 'not running' : `pid ${s.realNode.containerd}`}`);
  console.log(`${'kubelet'.padEnd(24)} ${s.realNode.kubelet === undefined ? 'not running' : `pid ${s.realNode.kubelet}`}`);
  console.log(`${'real node'.padEnd(24)} ${s.realNode.node}`);
  console.log(`${'bridge weft0'.padEnd(24)} ${s.bridge ? 'present' : 'absent'}`);
  console.log(s.up ? 'cluster: up' : 'cluster: down or degraded');
  return s.up ? 0 : 1;
}

function tailLines(text: string, n: number | undefined): string {
  if (n === undefined) return text;
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return `${lines.slice(-n).join('\n')}\n`;
}

async function cmdLogs(args: string[]): Promise<number> {
  let tail: number | undefined;
  const rest: string[] = [];
  for (const a of args) {
    const m = /^--tail=(\d+)$/.exec(a);
    if (m) tail = Number(m[1]);
    else rest.push(a);
  }
  const target = rest[0];
  if (!target || rest.length > 1) throw new UsageError('logs needs exactly one target: a component name or <ns>/<pod>[/<container>]');
  let file: string;
  if (!target.includes('/')) {
    const known: string[] = [...COMPONENTS, 'agent', 'containerd', 'kubelet'];
    if (!known.includes(target)) throw new UsageError(`unknown component "${target}"; known: ${known.join(', ')}`);
    file = join(LOG_DIR, `${target}.log`);
  } else {
    const [ns, pod, container, extra] = target.split('/');
    if (!ns || !pod || extra !== undefined) throw new UsageError(`bad pod target "${target}": use <ns>/<pod>[/<container>]`);
    process.stdout.write(await podLogs(ns, pod, container ?? await onlyContainer(ns, pod), tail === undefined ? {} : { tail }));
    return 0;
  }
  if (!existsSync(file)) throw new Error(`no log file ${file}`);
  process.stdout.write(tailLines(await readFile(file, 'utf8'), tail));
  return 0;
}

async function cmdExec(args: string[]): Promise<number> {
  const sep = args.indexOf('--');
  if (sep < 0) throw new UsageError('exec needs `--` before the command: exec <ns>/<pod> [-c <container>] -- <cmd>...');
  const before = args.slice(0, sep);
  const argv = args.slice(sep + 1);
  if (argv.length === 0) throw new UsageError('exec: no command after `--`');
  let container: string | undefined;
  const targets: string[] = [];
  for (let i = 0; i < before.length; i++) {
    const a = before[i] ?? '';
    if (a === '-c' || a === '--container') container = before[++i];
    else if (a.startsWith('--container=')) container = a.slice('--container='.length);
    else targets.push(a);
  }
  const [target] = targets;
  if (!target || targets.length > 1) throw new UsageError('exec needs exactly one <ns>/<pod>');
  const [ns, pod, extra] = target.split('/');
  if (!ns || !pod || extra !== undefined) throw new UsageError(`bad pod "${target}": use <ns>/<pod>`);
  container ??= await onlyContainer(ns, pod);
  const stdin = process.stdin.isTTY ? undefined : await readStdin();
  const r = await execInPod(ns, pod, container, argv, stdin === undefined ? {} : { stdin });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  return r.code;
}

/** The pod's one container; with several, a usage error that lists them. */
async function onlyContainer(ns: string, pod: string): Promise<string> {
  const names = await podContainers(ns, pod);
  const only = names[0];
  if (names.length !== 1 || !only) throw new UsageError(`pod ${ns}/${pod}: name the container (found: ${names.join(', ') || 'none'})`);
  return only;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function cmdKubectl(args: string[]): Promise<number> {
  const kubectl = join(BIN_DIR, 'kubectl');
  if (!existsSync(kubectl)) throw new Error(`${kubectl} is not built yet: run \`npm run cluster -- build\` or \`up\``);
  return new Promise((resolve) => {
    const child = spawn(kubectl, [`--kubeconfig=${ADMIN_KUBECONFIG}`, ...args], { stdio: 'inherit' });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (args.includes('--help') && command !== 'kubectl' && command !== 'exec') {
    console.log(USAGE);
    return 0;
  }
  switch (command) {
    case 'up': {
      if (args.length) throw new UsageError(`up takes no arguments (got ${args.join(' ')})`);
      const r = await up();
      if (r.realNode.state !== 'ready') {
        console.error(`cluster: the control plane is up, but the real node is not: ${r.realNode.state}: ${r.realNode.detail}`);
        return 3;
      }
      if (r.agent.state !== 'ready') {
        console.error(`cluster: the real node is up, but the simulated node is not: ${r.agent.state}: ${r.agent.detail}`);
        if (!existsSync(AGENT_MAIN)) console.error('cluster: the simulated-node agent is not built (npm run build)');
        return 3;
      }
      return 0;
    }
    case 'down': {
      const bad = args.filter((a) => a !== '--keep-data');
      if (bad.length) throw new UsageError(`down: unknown arguments ${bad.join(' ')}`);
      await down({ keepData: args.includes('--keep-data') });
      return 0;
    }
    case 'status':
      return cmdStatus(args.includes('--json'));
    case 'logs':
      return cmdLogs(args);
    case 'exec':
      return cmdExec(args);
    case 'build': {
      const t0 = Date.now();
      console.log(await ensureBinaries());
      const t1 = Date.now();
      const node = await ensureNodeBinaries();
      console.log([node.containerd, node.runc, node.cni, node.pause.dir].join('\n'));
      console.log(`build: control plane and kubelet ${((t1 - t0) / 1000).toFixed(1)}s, node runtime ${((Date.now() - t1) / 1000).toFixed(1)}s`);
      return 0;
    }
    case 'kubectl':
      return cmdKubectl(args);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof UsageError) {
        console.error(`cluster: ${err.message}\n(npm run cluster -- --help shows the commands)`);
        process.exitCode = 2;
      } else {
        console.error(`cluster: ${(err as Error).message}`);
        process.exitCode = 1;
      }
    },
  );
}
