/**
 * One pod on the real node, from binding to deletion. Model:
 *   sandbox (netns + veth + IP + resolv.conf, volumes) -> init containers in order (native sidecars
 *   started and left running) -> app containers, each supervised (probes, restarts with backoff)
 *   -> termination (app containers, then sidecars in reverse order) -> teardown -> delete the Pod.
 * The worker owns its containers' runtime records; every change marks the status dirty and a
 * single writer patches pods/status with the computed status (coalesced, skipped when unchanged).
 */
import type { ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, chownSync, constants as fsConstants, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { V1Container, V1LifecycleHandler } from '@kubernetes/client-node';
import { backoffPolicy, nextStreak, parseRestartPolicy, restartDelayMs, shouldRestart } from './backoff.js';
import type { BackoffPolicy, RestartPolicy } from './backoff.js';
import { removePodArtifacts } from './cleanup.js';
import { expandArgv, resolveEnv } from './env.js';
import type { EnvSources } from './env.js';
import { defaultWorkingDir, hostProgramExists, resolveContainerArgv, resolveExamplesApp, resolveExecArgv } from './images.js';
import { ApiError, isNotFound, sleep } from './kube.js';
import type { Kube } from './kube.js';
import { createPodNetwork, hostsFile, podNetnsName, podVethName, resolvConf, writeNetnsEtc } from './network.js';
import type { HostNetwork } from './network.js';
import { runAction } from './probe-runner.js';
import type { ProbeTarget } from './probe-runner.js';
import { execIn, signalNumber, startContainerProcess, startHolder } from './proc.js';
import type { BindMount, Identity } from './proc.js';
import { initialProbeState, nextProbeAt, probeAction, probeTiming, recordProbe } from './probes.js';
import type { ProbeKind } from './probes.js';
import { computePhase, computePodStatus, terminatedReason } from './status.js';
import type { ContainerKind, ContainerRuntime, RuntimeState } from './status.js';
import { removePodState, writePodState } from './state.js';
import type { PodStateRecord, ProcRef } from './state.js';
import { isAlive, processStartTime, signalGroup } from './sys.js';
import type { IpPool } from './ipam.js';
import { planVolume, referencedObjects, tokenRefreshAtMs } from './volumes.js';
import type { FileItem, VolumePlan } from './volumes.js';
import type { KeyedData, Pod, PodStatusWire } from './types.js';
import { podKey } from './types.js';

/** Pod annotation that shortens the crash-loop backoff base for tests (milliseconds). */
export const BACKOFF_ANNOTATION = 'agent.weft.dev/restart-backoff-base-ms';

export interface NodeContext {
  readonly kube: Kube;
  readonly stateDir: string;
  readonly logDir: string;
  readonly nodeName: string;
  readonly nodeIP: string;
  readonly host: HostNetwork;
  readonly clusterDNS: string;
  readonly clusterDomain: string;
  readonly repoRoot: string;
  readonly nodeBinary: string;
  readonly kubernetesServiceIP: string;
  readonly backoffBaseMs: number;
  readonly nodeAllocatable: EnvSources['nodeAllocatable'];
  readonly ipPool: IpPool;
  readonly log: (msg: string, fields?: Record<string, unknown>) => void;
}

interface Ctr {
  readonly spec: V1Container;
  readonly kind: ContainerKind;
  image: string;
  imageID: string;
  containerID: string | undefined;
  lastContainerID: string | undefined;
  state: RuntimeState;
  lastTerminated: (RuntimeState & { kind: 'terminated' }) | undefined;
  restartCount: number;
  started: boolean;
  ready: boolean;
  streak: number;
  child: ChildProcess | undefined;
  proc: ProcRef | undefined;
  holder: ProcRef | undefined;
  exited: Promise<void> | undefined;
  runCtl: AbortController | undefined;
  env: Record<string, string>;
  identity: Identity;
  workingDir: string;
  loop: Promise<void> | undefined;
  killReason: string | undefined;
}

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function isExecutable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

export class PodWorker {
  readonly key: string;
  readonly uid: string;
  private pod: Pod;
  private readonly ctrs: Ctr[];
  private readonly restartPolicy: RestartPolicy;
  private readonly backoff: BackoffPolicy;
  private readonly hostNetwork: boolean;
  private readonly netns: string | undefined;
  private readonly veth: string | undefined;
  private readonly dir: string;
  private ip: string | undefined;
  private sandboxReady = false;
  private readonly startTime = new Date().toISOString();
  private terminal: 'Succeeded' | 'Failed' | undefined;
  private stopping = false;
  private readonly stopCtl = new AbortController();
  private readonly waiters = new Set<() => void>();
  private runDone: Promise<void> = Promise.resolve();
  private terminateDone: Promise<void> | undefined;
  private torn = false;
  private gone = false;
  private lastWritten = '';
  private writing = false;
  private dirty = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly tokenTimers = new Set<NodeJS.Timeout>();
  private secrets = new Map<string, KeyedData | undefined>();
  private configMaps = new Map<string, KeyedData | undefined>();
  private volumePaths = new Map<string, { path: string; plan: VolumePlan }>();

  constructor(private readonly ctx: NodeContext, pod: Pod) {
    this.pod = pod;
    this.key = podKey(pod);
    this.uid = pod.metadata.uid ?? '';
    this.restartPolicy = parseRestartPolicy(pod.spec.restartPolicy);
    const annotated = Number(pod.metadata.annotations?.[BACKOFF_ANNOTATION]);
    this.backoff = backoffPolicy(Number.isFinite(annotated) && annotated > 0 ? annotated : ctx.backoffBaseMs);
    this.hostNetwork = pod.spec.hostNetwork === true;
    this.netns = this.hostNetwork ? undefined : podNetnsName(this.uid);
    this.veth = this.hostNetwork ? undefined : podVethName(this.uid);
    this.dir = join(ctx.stateDir, 'pods', this.key);
    const hasInit = (pod.spec.initContainers ?? []).length > 0;
    const mk = (spec: V1Container, kind: ContainerKind, first: boolean): Ctr => ({
      spec, kind, image: spec.image ?? '', imageID: '', containerID: undefined, lastContainerID: undefined,
      state: { kind: 'waiting', reason: first ? 'ContainerCreating' : 'PodInitializing' },
      lastTerminated: undefined, restartCount: 0, started: false, ready: false, streak: 0,
      child: undefined, proc: undefined, holder: undefined, exited: undefined, runCtl: undefined,
      env: {}, identity: { uid: 0, gid: 0, groups: [], addCaps: [] }, workingDir: '/', loop: undefined, killReason: undefined,
    });
    this.ctrs = [
      ...(pod.spec.initContainers ?? []).map((c, i) => mk(c, c.restartPolicy === 'Always' ? 'sidecar' : 'init', i === 0)),
      ...pod.spec.containers.map((c) => mk(c, 'app', !hasInit)),
    ];
  }

  get name(): string {
    return `${this.pod.metadata.namespace ?? 'default'}/${this.pod.metadata.name}`;
  }

  start(): void {
    this.runDone = this.run().catch((err: unknown) => this.ctx.log('pod worker failed', { pod: this.name, err: String(err) }));
  }

  /** A newer version of the pod object arrived (labels, annotations, deletion, conditions). */
  update(pod: Pod): void {
    this.pod = pod;
    if (pod.metadata.deletionTimestamp !== undefined) void this.terminate(true);
    else this.markDirty();
  }

  /** The Pod object is gone from the API: stop everything at once, nothing left to delete. */
  forget(): Promise<void> {
    this.gone = true;
    return this.terminate(false, 0);
  }

  // --- lifecycle ------------------------------------------------------------------------------------

  private async run(): Promise<void> {
    await this.setupSandbox();
    if (this.stopping) return;
    for (const c of this.ctrs.filter((x) => x.kind !== 'app')) {
      if (this.stopping || this.terminal !== undefined) break;
      c.loop = this.supervise(c);
      if (c.kind === 'sidecar') {
        await this.until(() => c.started || this.stopping || c.loop === undefined);
      } else {
        await c.loop;
        if (!(c.state.kind === 'terminated' && c.state.exitCode === 0) && !this.stopping) this.terminal = 'Failed';
      }
    }
    if (!this.stopping && this.terminal === undefined) {
      const apps = this.ctrs.filter((x) => x.kind === 'app');
      for (const c of apps) c.loop = this.supervise(c);
      await Promise.all(apps.map((c) => c.loop));
      if (!this.stopping) {
        const phase = computePhase({ containers: this.runtimes(), restartPolicy: this.restartPolicy, terminalPhase: undefined });
        this.terminal = phase === 'Succeeded' ? 'Succeeded' : 'Failed';
      }
    }
    if (!this.stopping && this.terminal !== undefined) {
      this.ctx.log('pod finished', { pod: this.name, phase: this.terminal });
      await this.stopSidecars(Date.now() + this.gracePeriodMs());
      this.markDirty();
      await this.flush();
      await this.teardownLocal();
    }
  }

  private gracePeriodMs(): number {
    const s = this.pod.metadata.deletionGracePeriodSeconds ?? this.pod.spec.terminationGracePeriodSeconds ?? 30;
    return Math.max(0, s) * 1000;
  }

  /**
   * Stops the pod. `deleteObject`: delete the Pod afterwards (a deletion the API asked for).
   * `detach`: the agent itself is stopping; write nothing more to the API.
   */
  terminate(deleteObject: boolean, graceMs?: number, detach = false): Promise<void> {
    if (detach) this.gone = true;
    if (this.terminateDone !== undefined) return this.terminateDone;
    this.stopping = true;
    this.stopCtl.abort();
    this.wake();
    const deadline = Date.now() + (graceMs ?? this.gracePeriodMs());
    this.ctx.log('terminating pod', { pod: this.name, graceMs: deadline - Date.now() });
    this.terminateDone = (async () => {
      const apps = this.ctrs.filter((c) => c.kind !== 'sidecar');
      await Promise.all(apps.map((c) => this.stopContainer(c, deadline)));
      await this.stopSidecars(deadline);
      await this.runDone;
      await Promise.all(this.ctrs.map((c) => c.loop));
      if (!this.gone) {
        this.markDirty();
        await this.flush();
      }
      await this.teardownLocal();
      if (deleteObject && !this.gone) await this.deleteObject();
    })().catch((err: unknown) => this.ctx.log('termination failed', { pod: this.name, err: String(err) }));
    return this.terminateDone;
  }

  private async stopSidecars(deadline: number): Promise<void> {
    for (const c of this.ctrs.filter((x) => x.kind === 'sidecar').reverse()) {
      await this.stopContainer(c, Math.max(deadline, Date.now() + 2000));
    }
  }

  private async deleteObject(): Promise<void> {
    const ns = this.pod.metadata.namespace ?? 'default';
    try {
      await this.ctx.kube.request('DELETE', `/api/v1/namespaces/${ns}/pods/${this.pod.metadata.name}`,
        { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid: this.uid } });
    } catch (err) {
      if (!isNotFound(err) && !(err instanceof ApiError && err.status === 409)) this.ctx.log('delete pod failed', { pod: this.name, err: String(err) });
    }
  }

  private async teardownLocal(): Promise<void> {
    if (this.torn) return;
    this.torn = true;
    for (const t of this.tokenTimers) clearTimeout(t);
    this.tokenTimers.clear();
    await removePodArtifacts(this.stateRecord());
    rmSync(this.dir, { recursive: true, force: true });
    removePodState(this.ctx.stateDir, this.key);
    this.ctx.ipPool.release(this.key);
    this.sandboxReady = false;
  }

  // --- sandbox and volumes --------------------------------------------------------------------------

  private async setupSandbox(): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        if (this.ip === undefined) {
          this.ip = this.hostNetwork ? this.ctx.nodeIP : this.ctx.ipPool.allocate(this.key);
          mkdirSync(this.dir, { recursive: true, mode: 0o755 });
          this.saveState();
          if (this.netns !== undefined && this.veth !== undefined) {
            await createPodNetwork(this.ctx.host, { netns: this.netns, veth: this.veth, ip: this.ip });
            const ns = this.pod.metadata.namespace ?? 'default';
            writeNetnsEtc(this.netns, resolvConf({ namespace: ns, clusterDNS: this.ctx.clusterDNS, clusterDomain: this.ctx.clusterDomain }),
              hostsFile(this.pod.metadata.name, this.ip, this.pod.spec.hostAliases ?? []));
          }
          this.sandboxReady = true;
          this.markDirty();
        }
        await this.fetchReferenced();
        await this.setupVolumes();
        return;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        this.ctx.log('pod sandbox or volumes not ready', { pod: this.name, err: message });
        for (const c of this.ctrs) if (c.state.kind === 'waiting') c.state = { kind: 'waiting', reason: 'ContainerCreating', message };
        this.markDirty();
        await sleep(Math.min(10_000, 1000 * 2 ** attempt), this.stopCtl.signal);
      }
    }
  }

  private async fetchReferenced(): Promise<void> {
    const ns = this.pod.metadata.namespace ?? 'default';
    const { secrets, configMaps } = referencedObjects(this.pod);
    const fetch = async (kind: 'secrets' | 'configmaps', name: string): Promise<KeyedData | undefined> => {
      try {
        return await this.ctx.kube.get<KeyedData>(`/api/v1/namespaces/${ns}/${kind}/${name}`);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    };
    const s = new Map<string, KeyedData | undefined>();
    const c = new Map<string, KeyedData | undefined>();
    for (const n of secrets) s.set(n, await fetch('secrets', n));
    for (const n of configMaps) c.set(n, await fetch('configmaps', n));
    this.secrets = s;
    this.configMaps = c;
  }

  private secretBytes(name: string): Record<string, Buffer> | undefined {
    const o = this.secrets.get(name);
    if (o === undefined) return undefined;
    return Object.fromEntries(Object.entries(o.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
  }

  private configMapBytes(name: string): Record<string, Buffer> | undefined {
    const o = this.configMaps.get(name) as (KeyedData & { data?: Record<string, string> }) | undefined;
    if (o === undefined) return undefined;
    return {
      ...Object.fromEntries(Object.entries(o.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'utf8')])),
      ...Object.fromEntries(Object.entries(o.binaryData ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    };
  }

  private async setupVolumes(): Promise<void> {
    const src = {
      secretBytes: (n: string) => this.secretBytes(n),
      configMapBytes: (n: string) => this.configMapBytes(n),
      nodeName: this.ctx.nodeName, hostIP: this.ctx.nodeIP, podIP: this.ip ?? '', nodeAllocatable: this.ctx.nodeAllocatable,
    };
    const fsGroup = this.pod.spec.securityContext?.fsGroup;
    for (const vol of this.pod.spec.volumes ?? []) {
      if (this.volumePaths.has(vol.name)) continue;
      const r = planVolume(this.pod, vol, src);
      if (!r.ok) throw new Error(r.message);
      const path = r.plan.kind === 'hostPath' ? r.plan.path : join(this.dir, 'volumes', vol.name);
      if (r.plan.kind === 'emptyDir') {
        mkdirSync(path, { recursive: true });
        chmodSync(path, 0o777);
      } else if (r.plan.kind === 'hostPath') {
        if (vol.hostPath?.type === 'DirectoryOrCreate') mkdirSync(path, { recursive: true });
      } else {
        mkdirSync(path, { recursive: true, mode: 0o755 });
        for (const item of r.plan.items) await this.writeItem(path, item, fsGroup);
      }
      this.volumePaths.set(vol.name, { path, plan: r.plan });
    }
  }

  private async writeItem(dir: string, item: FileItem, fsGroup: number | undefined): Promise<void> {
    let data: Buffer;
    if (item.source.type === 'bytes') data = item.source.data;
    else {
      const { token, expiresAtMs } = await this.requestToken(item.source.audience, item.source.expirationSeconds);
      data = Buffer.from(token);
      const issued = Date.now();
      const lifetime = Math.min(expiresAtMs, issued + item.source.expirationSeconds * 1000);
      const t = setTimeout(() => {
        this.tokenTimers.delete(t);
        if (this.torn) return;
        this.writeItem(dir, item, fsGroup).catch((err: unknown) => {
          this.ctx.log('token refresh failed', { pod: this.name, err: String(err) });
          const retry = setTimeout(() => {
            this.tokenTimers.delete(retry);
            if (!this.torn) void this.writeItem(dir, item, fsGroup).catch(() => undefined);
          }, 10_000);
          this.tokenTimers.add(retry);
        });
      }, Math.max(1000, tokenRefreshAtMs(issued, lifetime) - issued));
      t.unref();
      this.tokenTimers.add(t);
    }
    const file = join(dir, item.path);
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, data, { mode: item.mode });
    chmodSync(tmp, fsGroup !== undefined ? item.mode | 0o040 : item.mode);
    if (fsGroup !== undefined) chownSync(tmp, 0, fsGroup);
    renameSync(tmp, file);
  }

  private async requestToken(audience: string | undefined, expirationSeconds: number): Promise<{ token: string; expiresAtMs: number }> {
    const ns = this.pod.metadata.namespace ?? 'default';
    const sa = this.pod.spec.serviceAccountName ?? 'default';
    const spec: Record<string, unknown> = {
      expirationSeconds,
      boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: this.pod.metadata.name, uid: this.uid },
    };
    if (audience !== undefined) spec['audiences'] = [audience];
    const r = await this.ctx.kube.request<{ status: { token: string; expirationTimestamp: string } }>('POST',
      `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec });
    return { token: r.status.token, expiresAtMs: Date.parse(r.status.expirationTimestamp) };
  }

  // --- containers -----------------------------------------------------------------------------------

  private identityOf(c: V1Container): Identity {
    const psc = this.pod.spec.securityContext;
    const csc = c.securityContext;
    const uid = csc?.runAsUser ?? psc?.runAsUser ?? 0;
    const gid = csc?.runAsGroup ?? psc?.runAsGroup ?? 0;
    const groups = [...(psc?.fsGroup !== undefined ? [psc.fsGroup] : []), ...(psc?.supplementalGroups ?? [])];
    const addCaps = (csc?.capabilities?.add ?? []).map((x) => x.toLowerCase().replace(/^cap_/, ''));
    return { uid, gid, groups, addCaps };
  }

  private baseEnv(uid: number): Record<string, string> {
    const ip = this.ctx.kubernetesServiceIP;
    const env: Record<string, string> = {
      PATH,
      HOSTNAME: this.hostNetwork ? hostname() : this.pod.metadata.name,
      HOME: uid === 0 ? '/root' : '/',
    };
    // The `kubernetes` service's variables are set even with enableServiceLinks: false, as the kubelet does.
    Object.assign(env, {
        KUBERNETES_SERVICE_HOST: ip,
        KUBERNETES_SERVICE_PORT: '443',
        KUBERNETES_SERVICE_PORT_HTTPS: '443',
        KUBERNETES_PORT: `tcp://${ip}:443`,
        KUBERNETES_PORT_443_TCP: `tcp://${ip}:443`,
        KUBERNETES_PORT_443_TCP_PROTO: 'tcp',
        KUBERNETES_PORT_443_TCP_PORT: '443',
        KUBERNETES_PORT_443_TCP_ADDR: ip,
    });
    return env;
  }

  private mountsOf(c: V1Container): BindMount[] {
    const mounts: BindMount[] = [];
    const targets = new Set((c.volumeMounts ?? []).map((m) => m.mountPath));
    if (this.netns !== undefined) {
      if (!targets.has('/etc/resolv.conf')) mounts.push({ source: `/etc/netns/${this.netns}/resolv.conf`, target: '/etc/resolv.conf', readOnly: false, file: true });
      if (!targets.has('/etc/hosts')) mounts.push({ source: `/etc/netns/${this.netns}/hosts`, target: '/etc/hosts', readOnly: false, file: true });
    }
    for (const m of c.volumeMounts ?? []) {
      const v = this.volumePaths.get(m.name);
      if (v === undefined) throw new Error(`volumeMount ${m.name}: no such volume`);
      let source = v.path;
      if (m.subPath !== undefined && m.subPath !== '') {
        source = join(v.path, m.subPath);
        if (!existsSync(source)) mkdirSync(source, { recursive: true });
      }
      let file = false;
      try {
        file = statSync(source).isFile();
      } catch { /* hostPath that does not exist: mount fails and says so */ }
      mounts.push({ source, target: m.mountPath, readOnly: m.readOnly === true, file });
    }
    return mounts;
  }

  /** Resolves image, env and argv; undefined with a waiting state set when the container cannot start. */
  private prepare(c: Ctr): readonly string[] | undefined {
    const resolved = resolveContainerArgv(c.image, c.spec.command, c.spec.args, (name) => hostProgramExists(name, PATH, isExecutable));
    if (!resolved.ok) {
      c.state = { kind: 'waiting', reason: resolved.reason, message: resolved.message };
      return undefined;
    }
    c.imageID = resolved.imageID;
    c.identity = this.identityOf(c.spec);
    const env = resolveEnv(this.pod, c.spec, {
      secret: (n) => {
        const b = this.secretBytes(n);
        return b === undefined ? undefined : Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v.toString('utf8')]));
      },
      configMap: (n) => {
        const b = this.configMapBytes(n);
        return b === undefined ? undefined : Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v.toString('utf8')]));
      },
      nodeName: this.ctx.nodeName, hostIP: this.ctx.nodeIP, podIP: this.ip ?? '', nodeAllocatable: this.ctx.nodeAllocatable,
      base: this.baseEnv(c.identity.uid),
    });
    if (!env.ok) {
      c.state = { kind: 'waiting', reason: env.reason, message: env.message };
      return undefined;
    }
    c.env = env.env;
    c.workingDir = c.spec.workingDir ?? defaultWorkingDir(c.image);
    const argv = resolveExamplesApp(expandArgv(resolved.argv, c.env), (rel) => existsSync(join(this.ctx.repoRoot, rel)));
    return argv;
  }

  private logFile(c: Ctr): string {
    const dir = join(this.ctx.logDir, 'pods', `${this.pod.metadata.namespace ?? 'default'}_${this.pod.metadata.name}`);
    mkdirSync(dir, { recursive: true });
    return join(dir, `${c.spec.name}.log`);
  }

  private async ensureHolder(c: Ctr): Promise<number> {
    if (c.holder !== undefined && isAlive(c.holder.pid, c.holder.startTime)) return c.holder.pid;
    c.holder = await startHolder({
      netnsPath: this.netns === undefined ? undefined : `/var/run/netns/${this.netns}`,
      hostname: this.hostNetwork ? undefined : this.pod.metadata.name,
      repoRoot: this.ctx.repoRoot,
      nodeBinary: this.ctx.nodeBinary,
      mounts: this.mountsOf(c.spec),
    });
    this.saveState();
    return c.holder.pid;
  }

  /** Runs a container until it no longer restarts (per policy) or the pod stops. */
  private async supervise(c: Ctr): Promise<void> {
    while (!this.stopping) {
      if (c.restartCount > 0 || c.lastTerminated !== undefined) {
        await this.fetchReferenced().catch(() => undefined);
      }
      const argv = this.prepare(c);
      if (argv === undefined) {
        this.markDirty();
        c.streak++;
        await sleep(Math.max(1000, restartDelayMs(this.backoff, c.streak)), this.stopCtl.signal);
        continue;
      }
      let holderPid: number;
      try {
        holderPid = await this.ensureHolder(c);
      } catch (err) {
        c.state = { kind: 'waiting', reason: 'CreateContainerError', message: err instanceof Error ? err.message : String(err) };
        this.markDirty();
        c.streak++;
        await sleep(Math.max(1000, restartDelayMs(this.backoff, c.streak)), this.stopCtl.signal);
        continue;
      }
      if (this.stopping) break;
      const code = await this.runOnce(c, holderPid, argv);
      if (this.stopping) break;
      if (!shouldRestart(c.kind, this.restartPolicy, code)) break;
      const ran = c.lastTerminated === undefined ? 0 : Date.parse(c.lastTerminated.finishedAt) - Date.parse(c.lastTerminated.startedAt);
      c.streak = nextStreak(this.backoff, c.streak, ran);
      const delay = restartDelayMs(this.backoff, c.streak);
      if (delay > 0) {
        c.state = { kind: 'waiting', reason: 'CrashLoopBackOff', message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${c.spec.name} pod=${this.pod.metadata.name}_${this.pod.metadata.namespace ?? 'default'}(${this.uid})` };
        this.markDirty();
        await sleep(delay, this.stopCtl.signal);
      }
      if (this.stopping) break;
      c.restartCount++;
    }
    this.wake();
  }

  /** One run of a container: start, hooks, probes, wait for exit. Returns the exit code. */
  private async runOnce(c: Ctr, holderPid: number, argv: readonly string[]): Promise<number> {
    const runCtl = new AbortController();
    c.runCtl = runCtl;
    c.killReason = undefined;
    const logFile = this.logFile(c);
    const child = startContainerProcess(holderPid, c.workingDir, c.identity, argv, c.env, logFile);
    const startedAt = new Date().toISOString();
    if (c.containerID !== undefined) c.lastContainerID = c.containerID;
    c.containerID = `weft://${this.uid.slice(0, 8)}-${c.spec.name}-${c.restartCount}`;
    c.child = child;
    let exitCode = -1;
    c.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exitCode = code ?? 128 + signalNumber(signal);
        resolve();
      });
      child.once('error', (err) => {
        c.killReason = `StartError: ${err.message}`;
        exitCode = 128;
        resolve();
      });
    });
    if (child.pid !== undefined) c.proc = { pid: child.pid, startTime: processStartTime(child.pid) };
    c.state = { kind: 'running', startedAt };
    c.ready = false;
    c.started = false;
    this.saveState();
    this.ctx.log('container started', { pod: this.name, container: c.spec.name, pid: child.pid, restartCount: c.restartCount, argv });
    this.markDirty();

    const postStart = c.spec.lifecycle?.postStart;
    if (postStart !== undefined) {
      const ok = await this.runHandler(c, postStart, runCtl.signal);
      if (!ok && !runCtl.signal.aborted) {
        c.killReason = 'FailedPostStartHook';
        void this.killContainer(c, Date.now() + this.gracePeriodMs(), false);
      }
    }
    if (!runCtl.signal.aborted && c.state.kind === 'running') {
      if (c.spec.startupProbe === undefined) c.started = true;
      if (c.spec.readinessProbe === undefined && c.started) c.ready = true;
      this.markDirty();
      this.wake();
      for (const kind of ['startup', 'liveness', 'readiness'] as const) {
        const p = kind === 'startup' ? c.spec.startupProbe : kind === 'liveness' ? c.spec.livenessProbe : c.spec.readinessProbe;
        if (p !== undefined) void this.probeLoop(c, kind, runCtl.signal, Date.parse(startedAt));
      }
    }
    await c.exited;
    runCtl.abort();
    c.child = undefined;
    c.proc = undefined;
    const finishedAt = new Date().toISOString();
    const reason = c.killReason?.startsWith('StartError') === true ? 'StartError' : c.killReason === 'FailedPostStartHook' ? 'Error' : terminatedReason(exitCode);
    const term: RuntimeState & { kind: 'terminated' } = { kind: 'terminated', exitCode, reason, startedAt, finishedAt, ...(c.killReason !== undefined ? { message: c.killReason } : {}) };
    c.state = term;
    c.lastTerminated = term;
    c.ready = false;
    c.started = false;
    this.ctx.log('container exited', { pod: this.name, container: c.spec.name, exitCode, restartCount: c.restartCount });
    this.markDirty();
    this.wake();
    this.saveState();
    return exitCode;
  }

  private probeTarget(c: Ctr): ProbeTarget {
    return {
      podIP: this.ip ?? '',
      containerPorts: c.spec.ports ?? [],
      exec: async (argv, timeoutMs) => {
        const holder = c.holder;
        if (holder === undefined) return { code: 126, stdout: '', stderr: 'container has no namespaces' };
        return execIn(holder.pid, c.workingDir, c.identity, resolveExecArgv(c.image, argv), c.env, { timeoutMs });
      },
    };
  }

  private async probeLoop(c: Ctr, kind: ProbeKind, signal: AbortSignal, startedAtMs: number): Promise<void> {
    const spec = kind === 'startup' ? c.spec.startupProbe : kind === 'liveness' ? c.spec.livenessProbe : c.spec.readinessProbe;
    if (spec === undefined) return;
    const timing = probeTiming(kind, spec);
    const action = probeAction(spec);
    if (action === undefined) return;
    let state = initialProbeState(kind);
    let last: number | undefined;
    while (!signal.aborted) {
      await sleep(Math.max(0, nextProbeAt(timing, startedAtMs, last) - Date.now()), signal);
      if (signal.aborted) return;
      last = Date.now();
      if (kind !== 'startup' && !c.started) continue;
      if (kind === 'startup' && c.started) return;
      const outcome = await runAction(action, this.probeTarget(c), timing.timeoutMs).catch((err: unknown) => ({ ok: false, detail: String(err) }));
      if (signal.aborted) return;
      state = recordProbe(timing, state, outcome.ok);
      if (kind === 'startup') {
        if (state.result === 'success') {
          c.started = true;
          if (c.spec.readinessProbe === undefined) c.ready = true;
          this.markDirty();
          this.wake();
          return;
        }
      } else if (kind === 'readiness') {
        const ready = state.result === 'success';
        if (ready !== c.ready) {
          c.ready = ready;
          this.ctx.log('readiness changed', { pod: this.name, container: c.spec.name, ready, detail: outcome.detail });
          this.markDirty();
        }
      }
      if ((kind === 'liveness' || kind === 'startup') && state.failures >= timing.failureThreshold) {
        this.ctx.log(`${kind} probe failed, restarting`, { pod: this.name, container: c.spec.name, detail: outcome.detail });
        c.killReason = `${kind === 'liveness' ? 'Liveness' : 'Startup'} probe failed: ${outcome.detail}`;
        await this.killContainer(c, Date.now() + (spec.terminationGracePeriodSeconds ?? this.pod.spec.terminationGracePeriodSeconds ?? 30) * 1000, true);
        return;
      }
    }
  }

  private async runHandler(c: Ctr, h: V1LifecycleHandler, signal: AbortSignal, timeoutMs = 30_000): Promise<boolean> {
    if (h.sleep !== undefined) {
      await sleep(h.sleep.seconds * 1000, signal);
      return true;
    }
    const action = probeAction(h);
    if (action === undefined) return true;
    const r = await runAction(action, this.probeTarget(c), timeoutMs).catch((err: unknown) => ({ ok: false, detail: String(err) }));
    if (!r.ok) this.ctx.log('lifecycle hook failed', { pod: this.name, container: c.spec.name, detail: r.detail });
    return r.ok;
  }

  /** preStop (bounded by the deadline), SIGTERM, then SIGKILL at the deadline. */
  private async killContainer(c: Ctr, deadline: number, runPreStop: boolean): Promise<void> {
    const proc = c.proc;
    const exited = c.exited;
    if (proc === undefined || exited === undefined || c.state.kind !== 'running') return;
    c.runCtl?.abort();
    const preStop = c.spec.lifecycle?.preStop;
    if (runPreStop && preStop !== undefined) {
      const left = deadline - Date.now();
      if (left > 0) {
        const ctl = new AbortController();
        const t = setTimeout(() => ctl.abort(), left);
        await Promise.race([this.runHandler(c, preStop, ctl.signal, left), exited]);
        clearTimeout(t);
      }
    }
    signalGroup(proc.pid, 'SIGTERM', proc.startTime);
    const left = Math.max(0, deadline - Date.now());
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => { timer = setTimeout(() => r(true), left); })]);
    clearTimeout(timer);
    if (timedOut) {
      signalGroup(proc.pid, 'SIGKILL', proc.startTime);
      await exited;
    }
  }

  private async stopContainer(c: Ctr, deadline: number): Promise<void> {
    this.wake();
    await this.killContainer(c, deadline, true);
    await c.loop;
  }

  // --- state, status --------------------------------------------------------------------------------

  private runtimes(): ContainerRuntime[] {
    return this.ctrs.map((c) => ({
      name: c.spec.name, kind: c.kind, image: c.image, imageID: c.imageID, containerID: c.containerID, state: c.state,
      lastTerminated: c.lastTerminated, lastContainerID: c.lastContainerID, restartCount: c.restartCount, started: c.started, ready: c.ready,
    }));
  }

  private stateRecord(): PodStateRecord {
    return {
      namespace: this.pod.metadata.namespace ?? 'default', name: this.pod.metadata.name, uid: this.uid,
      hostNetwork: this.hostNetwork, netns: this.netns, veth: this.veth, ip: this.ip ?? '', dir: this.dir,
      containers: Object.fromEntries(this.ctrs.map((c) => [c.spec.name, {
        image: c.image, holder: c.holder, process: c.proc, uid: c.identity.uid, gid: c.identity.gid, groups: [...c.identity.groups],
        addCaps: [...c.identity.addCaps], env: c.env, workingDir: c.workingDir,
      }])),
    };
  }

  private saveState(): void {
    if (this.torn) return;
    writePodState(this.ctx.stateDir, this.key, this.stateRecord());
  }

  status(): PodStatusWire {
    return computePodStatus({
      pod: this.pod, restartPolicy: this.restartPolicy, containers: this.runtimes(), podIP: this.ip, hostIP: this.ctx.nodeIP,
      startTime: this.pod.status?.startTime ?? this.startTime, sandboxReady: this.sandboxReady, now: new Date().toISOString(), terminalPhase: this.terminal,
    });
  }

  private markDirty(): void {
    this.dirty = true;
    if (this.flushTimer !== undefined || this.gone) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush();
    }, 50);
  }

  private async flush(): Promise<void> {
    if (this.writing || this.gone) return;
    this.writing = true;
    let failures = 0;
    try {
      while (this.dirty && !this.gone) {
        this.dirty = false;
        const status = this.status();
        const { conditions, ...rest } = status;
        const fingerprint = JSON.stringify({ ...rest, conditions: conditions?.map(({ lastTransitionTime: _t, ...c }) => c) });
        if (fingerprint === this.lastWritten) continue;
        const ns = this.pod.metadata.namespace ?? 'default';
        try {
          const updated = await this.ctx.kube.patch<Pod>(`/api/v1/namespaces/${ns}/pods/${this.pod.metadata.name}/status`, { metadata: { uid: this.uid }, status });
          this.lastWritten = fingerprint;
          if (updated.metadata.uid === this.uid) this.pod = { ...this.pod, status: updated.status ?? status };
        } catch (err) {
          if (isNotFound(err)) {
            this.gone = true;
            break;
          }
          this.ctx.log('status write failed', { pod: this.name, err: String(err) });
          this.dirty = true;
          if (++failures >= 5) break;
          await sleep(200 * 2 ** failures);
        }
      }
    } finally {
      this.writing = false;
    }
    // Left dirty after repeated failures: try again a little later rather than spin.
    if (this.dirty && !this.gone && this.flushTimer === undefined) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        void this.flush();
      }, 5000);
    }
  }

  private until(pred: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      if (pred()) {
        resolve();
        return;
      }
      const check = () => {
        if (pred()) {
          this.waiters.delete(check);
          resolve();
        }
      };
      this.waiters.add(check);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
