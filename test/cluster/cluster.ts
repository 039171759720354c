/**
 * up / down / status of the local cluster. Everything is idempotent: `up` starts only what is not
 * already running (so it reuses a healthy cluster and repairs a partly crashed one), `down` works from
 * pid files and, when those are gone, from the binaries' executable paths.
 */
import { Resolver } from 'node:dns/promises';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { REPO_ROOT } from '../support/paths.js';
import { ensureBinaries, type Log } from './build.js';
import { readGatewayApiCrds } from './gateway-api.js';
import {
  ADMIN_KUBECONFIG,
  APISERVER_URL,
  BINARIES,
  BIN_DIR,
  BRIDGE,
  CLUSTER_DNS,
  CLUSTER_DOMAIN,
  CLUSTER_JSON,
  CONTAINERD_DIR,
  GATEWAY_API_DEFAULT_CHANNEL,
  K8S_VERSION,
  KUBERNETES_SERVICE_IP,
  LOG_DIR,
  NODE_IP,
  NODE_NAME,
  POD_CIDR,
  REAL_NODE_IP,
  REAL_NODE_NAME,
  REAL_POD_CIDR,
  SERVICE_CIDR,
  SIM_NODE_NAME,
  SIM_POD_CIDR,
  STATE_DIR,
} from './config.js';
import { COMPONENTS, componentSpecs, kubeDnsManifest, type ComponentName, type ComponentSpec } from './controlplane.js';
import { bridgeExists, cmd, ensureHostNetwork, removeHostNetwork, removeKubeChains, type CmdResult } from './net.js';
import { builtImageArchives } from './images.js';
import { ensureNodeBinaries, type NodeBinaries } from './node-build.js';
import { ensurePki, pkiPaths } from './pki.js';
import { findProcesses, killPid, runningPid, sleep, startDetached, stopNamed } from './procs.js';
import { CONTAINERD, KUBELET, realNodeLeftovers, startRealNode, stopRealNode } from './realnode.js';

/** `<stateDir>/cluster.json`: what the node agent, fixtures and tools read. */
export interface ClusterInfo {
  version: string;
  stateDir: string;
  logDir: string;
  binDir: string;
  kubeconfig: string;
  server: string;
  caFile: string;
  nodeName: string;
  simNodeName: string;
  nodeIP: string;
  bridge: string;
  podCIDR: string;
  simPodCIDR: string;
  serviceCIDR: string;
  clusterDNS: string;
  clusterDomain: string;
  repoRoot: string;
  nodeBinary: string;
  /** the kubelet + containerd node every pod runs on */
  realNodeName: string;
  realNodeIP: string;
  realPodCIDR: string;
  /** the busybox image imported into containerd for tests */
  toolboxImage: string;
}

export type AgentState =
  | { state: 'ready'; detail: string }
  | { state: 'not-built'; detail: string }
  | { state: 'not-ready'; detail: string }
  | { state: 'not-running'; detail: string };

export interface UpResult {
  info: ClusterInfo;
  /** components that were already running and were left alone */
  reused: string[];
  started: string[];
  seconds: number;
  /** the simulated node (pods bound to it never run) */
  agent: AgentState;
  /** the node every pod runs on: kubelet, containerd, runc, CNI */
  realNode: AgentState;
}

const AGENT = 'agent';
export const AGENT_MAIN = join(REPO_ROOT, 'dist', 'test', 'cluster', 'agent', 'main.js');

/**
 * The Node 24 binary the agent (and its containers) run on: this process's own, unless it is an older
 * Node from PATH, in which case the project's pinned one from node_modules.
 */
export function nodeBinary(): string {
  const major = Number(process.versions.node.split('.')[0]);
  const pinned = join(REPO_ROOT, 'node_modules', 'node', 'bin', 'node');
  return major < 24 && existsSync(pinned) ? pinned : process.execPath;
}

export function clusterInfo(toolboxImage: string): ClusterInfo {
  return {
    version: K8S_VERSION,
    stateDir: STATE_DIR,
    logDir: LOG_DIR,
    binDir: BIN_DIR,
    kubeconfig: ADMIN_KUBECONFIG,
    server: APISERVER_URL,
    caFile: pkiPaths().caCert,
    nodeName: NODE_NAME,
    simNodeName: SIM_NODE_NAME,
    nodeIP: NODE_IP,
    bridge: BRIDGE,
    podCIDR: POD_CIDR,
    simPodCIDR: SIM_POD_CIDR,
    serviceCIDR: SERVICE_CIDR,
    clusterDNS: CLUSTER_DNS,
    clusterDomain: CLUSTER_DOMAIN,
    repoRoot: REPO_ROOT,
    nodeBinary: nodeBinary(),
    realNodeName: REAL_NODE_NAME,
    realNodeIP: REAL_NODE_IP,
    realPodCIDR: REAL_POD_CIDR,
    toolboxImage,
  };
}

/** Runs the cached kubectl against the cluster as the admin user. */
export function kubectl(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CmdResult> {
  return cmd(join(BIN_DIR, 'kubectl'), [`--kubeconfig=${ADMIN_KUBECONFIG}`, ...args], opts);
}

async function kubectlOk(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await kubectl(args, opts);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** Polls `check` until it returns true; on timeout throws with the last detail it reported. */
export async function waitUntil(what: string, timeoutMs: number, check: () => Promise<true | string>, intervalMs = 500): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'not checked yet';
  for (;;) {
    try {
      const r = await check();
      if (r === true) return;
      last = r;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${what}: ${last}`);
    await sleep(intervalMs);
  }
}

async function waitHealthy(spec: ComponentSpec, timeoutMs: number): Promise<void> {
  await waitUntil(`${spec.name} to become healthy (log: ${join(LOG_DIR, `${spec.name}.log`)})`, timeoutMs, async () => {
    if ((await runningPid(spec.name)) === undefined) throw new Error(`${spec.name} exited; see ${join(LOG_DIR, `${spec.name}.log`)}`);
    return (await spec.healthy()) ? true : 'health check not passing yet';
  });
}

/** Names of the default-channel Gateway API CRDs `up` installs (verified against SHA256SUMS). */
export async function gatewayCrdNames(): Promise<{ dir: string; names: readonly string[]; version: string }> {
  const crds = await readGatewayApiCrds(GATEWAY_API_DEFAULT_CHANNEL);
  return { dir: crds.dir, names: crds.names, version: crds.version };
}

/** Resolves kubernetes.default.svc.<domain> through the cluster DNS address. */
export async function resolveThroughClusterDns(name = `kubernetes.default.svc.${CLUSTER_DOMAIN}`): Promise<string[]> {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([CLUSTER_DNS]);
  return r.resolve4(name);
}

async function nodeReady(name: string): Promise<true | string> {
  const r = await kubectl(['get', 'node', name, '-o', 'json']);
  if (r.code !== 0) return `node ${name} not registered (${r.stderr.trim()})`;
  const node = JSON.parse(r.stdout) as { status?: { conditions?: { type: string; status: string; message?: string }[] } };
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status === 'True') return true;
  return `node ${name} Ready=${ready?.status ?? 'missing'} ${ready?.message ?? ''}`.trim();
}

export interface UpOptions {
  log?: Log;
  /** how long to wait for the agent's Node to become Ready (default 90 s) */
  nodeTimeoutMs?: number;
}

export async function up(opts: UpOptions = {}): Promise<UpResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const t0 = Date.now();
  const binDir = await ensureBinaries(log);
  const nodeBins = await ensureNodeBinaries(log);
  await mkdir(LOG_DIR, { recursive: true });
  const pki = await ensurePki(APISERVER_URL);
  const info = clusterInfo(nodeBins.toolbox.name);
  await writeFile(CLUSTER_JSON, `${JSON.stringify(info, null, 2)}\n`);
  await ensureHostNetwork();
  const specs = await componentSpecs(binDir, pki);
  const reused: string[] = [];
  const started: string[] = [];
  const spec = (n: ComponentName): ComponentSpec => {
    const s = specs.get(n);
    if (!s) throw new Error(`no spec for ${n}`);
    return s;
  };
  const startIfNeeded = async (n: ComponentName): Promise<void> => {
    if ((await runningPid(n)) !== undefined) {
      reused.push(n);
      return;
    }
    const s = spec(n);
    const pid = await startDetached(n, s.command, s.args);
    started.push(n);
    log(`up: started ${n} (pid ${pid})`);
  };

  await startIfNeeded('etcd');
  await waitHealthy(spec('etcd'), 60_000);
  await startIfNeeded('kube-apiserver');
  await waitHealthy(spec('kube-apiserver'), 120_000);
  await startIfNeeded('kube-controller-manager');
  await startIfNeeded('kube-scheduler');

  await kubectlOk(['apply', '--server-side', '--force-conflicts', '--field-manager=weft-test-cluster', '-f', '-'], { input: kubeDnsManifest() });
  const crds = await readGatewayApiCrds(GATEWAY_API_DEFAULT_CHANNEL);
  await kubectlOk(['apply', '--server-side', '--force-conflicts', '--field-manager=weft-test-cluster', '-f', '-'], { input: crds.yaml, timeoutMs: 120_000 });

  await startIfNeeded('kube-proxy');
  await startIfNeeded('coredns');
  for (const n of ['kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'coredns'] as const) await waitHealthy(spec(n), 90_000);

  await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', ...crds.names.map((n) => `crd/${n}`)], { timeoutMs: 70_000 });
  await waitUntil('the default ServiceAccount in namespace default', 60_000, async () =>
    (await kubectl(['get', 'serviceaccount', 'default', '-n', 'default', '-o', 'name'])).code === 0 ? true : 'not created yet',
  );
  await waitUntil(`CoreDNS at ${CLUSTER_DNS} to answer kubernetes.default.svc.${CLUSTER_DOMAIN}`, 60_000, async () => {
    const ips = await resolveThroughClusterDns();
    return ips.includes(KUBERNETES_SERVICE_IP) ? true : `answered ${ips.join(',')}`;
  });

  const agent = await startAgent(info, log, opts.nodeTimeoutMs ?? 90_000, reused, started);
  const realNode = await startReal(nodeBins, pki, log, reused, started);
  const seconds = Math.round((Date.now() - t0) / 100) / 10;
  log(`up: cluster ready in ${seconds}s (started: ${started.join(', ') || 'nothing'}; already running: ${reused.join(', ') || 'nothing'})`);
  log(`up: agent ${agent.state}: ${agent.detail}`);
  log(`up: real node ${realNode.state}: ${realNode.detail}`);
  return { info, reused, started, seconds, agent, realNode };
}

async function startReal(bins: NodeBinaries, pki: Awaited<ReturnType<typeof ensurePki>>, log: Log, reused: string[], started: string[]): Promise<AgentState> {
  try {
    await startRealNode({ bins, pki, log, kubectlOk, waitUntil, nodeReady, images: await builtImageArchives() }, started, reused);
    return { state: 'ready', detail: `node ${REAL_NODE_NAME} is Ready` };
  } catch (err) {
    const running = (await runningPid(KUBELET)) !== undefined;
    return { state: running ? 'not-ready' : 'not-running', detail: (err as Error).message };
  }
}

async function startAgent(info: ClusterInfo, log: Log, timeoutMs: number, reused: string[], started: string[]): Promise<AgentState> {
  if ((await runningPid(AGENT)) !== undefined) reused.push(AGENT);
  else {
    if (!existsSync(AGENT_MAIN)) {
      return { state: 'not-built', detail: `${AGENT_MAIN} does not exist (build with npx tsc -p .); the control plane is up without a node` };
    }
    const pid = await startDetached(AGENT, info.nodeBinary, [AGENT_MAIN, CLUSTER_JSON], { cwd: info.repoRoot });
    started.push(AGENT);
    log(`up: started the simulated-node agent (pid ${pid}), waiting up to ${Math.round(timeoutMs / 1000)}s for node ${SIM_NODE_NAME} to be Ready`);
  }
  try {
    await waitUntil(`node ${SIM_NODE_NAME} Ready`, timeoutMs, async () => {
      if ((await runningPid(AGENT)) === undefined) throw new Error(`the agent exited; see ${join(LOG_DIR, 'agent.log')}`);
      return nodeReady(SIM_NODE_NAME);
    }, 1000);
    return { state: 'ready', detail: `node ${SIM_NODE_NAME} is Ready` };
  } catch (err) {
    const running = (await runningPid(AGENT)) !== undefined;
    return { state: running ? 'not-ready' : 'not-running', detail: `${(err as Error).message} (log: ${join(LOG_DIR, 'agent.log')})` };
  }
}

export interface DownOptions {
  log?: Log;
  /** keep etcd's data so the next `up` resumes the same cluster state (default: wipe) */
  keepData?: boolean;
}

export async function down(opts: DownOptions = {}): Promise<void> {
  const log = opts.log ?? ((l: string) => console.log(l));
  await stopRealNode({ containerd: join(CONTAINERD_DIR, 'bin') }, log);
  if (await stopNamed(AGENT)) log('down: stopped the simulated-node agent');
  for (const [pid, what] of findProcesses([], CLUSTER_JSON)) {
    log(`down: stopping leftover agent process ${pid} (${what})`);
    await killPid(pid);
  }

  for (const n of [...COMPONENTS].reverse()) {
    if (await stopNamed(n, n === 'etcd' ? 20_000 : 10_000)) log(`down: stopped ${n}`);
  }
  // Processes whose pid files were lost, stopped in reverse start order (clients before etcd).
  const leftovers = [...findProcesses(BINARIES.filter((b) => b !== 'kubectl').map((b) => join(BIN_DIR, b)))];
  const rank = (exe: string): number => -COMPONENTS.indexOf(exe.slice(BIN_DIR.length + 1) as ComponentName);
  leftovers.sort((a, b) => rank(a[1]) - rank(b[1]));
  for (const [pid, exe] of leftovers) {
    log(`down: stopping leftover ${exe} (pid ${pid})`);
    await killPid(pid);
  }
  const proxy = join(BIN_DIR, 'kube-proxy');
  if (existsSync(proxy)) {
    const r = await cmd(proxy, ['--cleanup', '--v=0'], { timeoutMs: 60_000 });
    if (r.code !== 0) log(`down: kube-proxy --cleanup exited ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    else log('down: kube-proxy --cleanup removed its iptables chains');
  }
  const chains = await removeKubeChains();
  if (chains.length) log(`down: removed leftover chains ${chains.join(', ')}`);
  await removeHostNetwork();
  log(`down: removed bridge ${BRIDGE}, its routes and the FORWARD safety rules`);
  await rm(CLUSTER_JSON, { force: true });
  if (!opts.keepData) await rm(join(STATE_DIR, 'etcd'), { recursive: true, force: true });
  const left = realNodeLeftovers();
  if (left.length) log(`down: WARNING the real node left: ${left.join('; ')}`);
}

export interface ComponentStatus {
  name: string;
  pid: number | undefined;
  healthy: boolean;
}

export interface StatusReport {
  up: boolean;
  stateDir: string;
  components: ComponentStatus[];
  agent: { pid: number | undefined; node: string };
  realNode: { containerd: number | undefined; kubelet: number | undefined; node: string };
  bridge: boolean;
}

export async function status(): Promise<StatusReport> {
  const components: ComponentStatus[] = [];
  let specs: Map<ComponentName, ComponentSpec> | undefined;
  if (existsSync(pkiPaths().caCert) && existsSync(join(pkiPaths().dir, 'admin.key'))) {
    specs = await componentSpecs(BIN_DIR, pkiPaths());
  }
  for (const n of COMPONENTS) {
    const pid = await runningPid(n);
    const healthy = pid !== undefined && specs !== undefined ? await (specs.get(n)?.healthy() ?? Promise.resolve(false)) : false;
    components.push({ name: n, pid, healthy });
  }
  const agentPid = await runningPid(AGENT);
  const apiUp = components.find((c) => c.name === 'kube-apiserver')?.healthy === true;
  const node = apiUp ? await nodeReady(SIM_NODE_NAME).then((r) => (r === true ? `${SIM_NODE_NAME} Ready` : r)) : 'unknown (API server down)';
  const realNodeState = apiUp ? await nodeReady(REAL_NODE_NAME).then((r) => (r === true ? `${REAL_NODE_NAME} Ready` : r)) : 'unknown (API server down)';
  return {
    up: components.every((c) => c.healthy),
    stateDir: STATE_DIR,
    components,
    agent: { pid: agentPid, node },
    realNode: { containerd: await runningPid(CONTAINERD), kubelet: await runningPid(KUBELET), node: realNodeState },
    bridge: await bridgeExists(),
  };
}

/** Reads cluster.json; undefined when the cluster was never brought up (or was taken down). */
export async function readClusterInfo(path: string = CLUSTER_JSON): Promise<ClusterInfo | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as ClusterInfo;
  } catch {
    return undefined;
  }
}
