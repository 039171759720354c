/**
 * Pod status from the agent's view of its containers (pure). Model: each container has a runtime
 * record (state, last termination, restart count, started, ready); the pod's phase and conditions
 * follow the kubelet's rules:
 *  - phase: Pending while init containers are unfinished or an app container has never started;
 *    Succeeded / Failed once every app container has terminated for good; Running otherwise.
 *  - Initialized: regular init containers succeeded and native sidecars started.
 *  - ContainersReady: app containers and native sidecars all ready; Ready: that and readiness gates.
 * Conditions the agent does not own (PodScheduled, DisruptionTarget, readiness gates) are carried over;
 * lastTransitionTime changes only when a condition's status does.
 */
import type { ContainerStateWire, ContainerStatusWire, PodCondition, PodStatusWire, Pod } from './types.js';
import type { RestartPolicy } from './backoff.js';
import { shouldRestart } from './backoff.js';

export type ContainerKind = 'init' | 'sidecar' | 'app';

export type RuntimeState =
  | { readonly kind: 'waiting'; readonly reason: string; readonly message?: string }
  | { readonly kind: 'running'; readonly startedAt: string }
  | { readonly kind: 'terminated'; readonly exitCode: number; readonly signal?: number; readonly reason: string; readonly message?: string; readonly startedAt: string; readonly finishedAt: string };

export interface ContainerRuntime {
  readonly name: string;
  readonly kind: ContainerKind;
  readonly image: string;
  readonly imageID: string;
  readonly containerID: string | undefined;
  readonly state: RuntimeState;
  readonly lastTerminated: (RuntimeState & { kind: 'terminated' }) | undefined;
  readonly lastContainerID: string | undefined;
  readonly restartCount: number;
  readonly started: boolean;
  readonly ready: boolean;
}

export interface StatusInput {
  readonly pod: Pod;
  readonly restartPolicy: RestartPolicy;
  readonly containers: readonly ContainerRuntime[];
  readonly podIP: string | undefined;
  readonly hostIP: string;
  readonly startTime: string;
  readonly sandboxReady: boolean;
  readonly now: string;
  /** Set once the pod reached Succeeded/Failed (phases never leave a terminal value). */
  readonly terminalPhase?: 'Succeeded' | 'Failed' | undefined;
}

const OWNED = new Set(['Initialized', 'ContainersReady', 'Ready', 'PodReadyToStartContainers']);

export function terminatedReason(exitCode: number): string {
  return exitCode === 0 ? 'Completed' : 'Error';
}

export function computePhase(input: Pick<StatusInput, 'containers' | 'restartPolicy' | 'terminalPhase'>): NonNullable<PodStatusWire['phase']> {
  if (input.terminalPhase !== undefined) return input.terminalPhase;
  const inits = input.containers.filter((c) => c.kind === 'init');
  for (const c of inits) {
    if (c.state.kind === 'terminated' && c.state.exitCode === 0) continue;
    const lastFailed = c.state.kind === 'terminated' ? c.state : c.lastTerminated;
    if (lastFailed !== undefined && !shouldRestart('init', input.restartPolicy, lastFailed.exitCode)) return 'Failed';
    return 'Pending';
  }
  const apps = input.containers.filter((c) => c.kind === 'app');
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  let restarting = 0;
  for (const c of apps) {
    if (c.state.kind === 'running') running++;
    else if (c.state.kind === 'terminated') {
      stopped++;
      if (c.state.exitCode === 0) succeeded++;
      if (shouldRestart('app', input.restartPolicy, c.state.exitCode)) restarting++;
    } else if (c.lastTerminated !== undefined) {
      stopped++;
      restarting++;
    } else waiting++;
  }
  if (waiting > 0) return 'Pending';
  if (running > 0 || restarting > 0) return 'Running';
  if (stopped > 0 && stopped === succeeded) return 'Succeeded';
  if (stopped > 0) return 'Failed';
  return 'Pending';
}

function wireState(s: RuntimeState, containerID: string | undefined): ContainerStateWire {
  switch (s.kind) {
    case 'waiting': return { waiting: s.message === undefined ? { reason: s.reason } : { reason: s.reason, message: s.message } };
    case 'running': return { running: { startedAt: s.startedAt } };
    case 'terminated': {
      const t: NonNullable<ContainerStateWire['terminated']> = { exitCode: s.exitCode, reason: s.reason, startedAt: s.startedAt, finishedAt: s.finishedAt };
      if (s.signal !== undefined) t.signal = s.signal;
      if (s.message !== undefined) t.message = s.message;
      if (containerID !== undefined) t.containerID = containerID;
      return { terminated: t };
    }
  }
}

export function containerStatus(c: ContainerRuntime): ContainerStatusWire {
  const st: ContainerStatusWire = {
    name: c.name,
    ready: c.ready,
    started: c.started,
    restartCount: c.restartCount,
    image: c.image,
    imageID: c.imageID,
    state: wireState(c.state, c.containerID),
    lastState: c.lastTerminated === undefined ? {} : wireState(c.lastTerminated, c.lastContainerID),
  };
  if (c.containerID !== undefined) st.containerID = c.containerID;
  return st;
}

function condition(prev: readonly PodCondition[], type: string, ok: boolean, now: string, reason?: string, message?: string): PodCondition {
  const status = ok ? 'True' : 'False';
  const old = prev.find((c) => c.type === type);
  const c: PodCondition = { type, status, lastProbeTime: null, lastTransitionTime: old?.status === status && old.lastTransitionTime !== undefined ? old.lastTransitionTime : now };
  if (!ok && reason !== undefined) c.reason = reason;
  if (!ok && message !== undefined) c.message = message;
  return c;
}

export function computePodStatus(input: StatusInput): PodStatusWire {
  const { pod, containers, now } = input;
  const prev = pod.status?.conditions ?? [];
  const phase = computePhase(input);
  const terminal = phase === 'Succeeded' || phase === 'Failed';

  const initIncomplete = containers
    .filter((c) => (c.kind === 'init' && !(c.state.kind === 'terminated' && c.state.exitCode === 0)) || (c.kind === 'sidecar' && !c.started))
    .map((c) => c.name);
  const unready = containers.filter((c) => (c.kind === 'app' || c.kind === 'sidecar') && !c.ready).map((c) => c.name);
  const gates = (pod.spec.readinessGates ?? []).map((g) => g.conditionType);
  const failedGates = gates.filter((g) => prev.find((c) => c.type === g)?.status !== 'True');

  const initialized = initIncomplete.length === 0 || terminal && containers.every((c) => c.kind !== 'init' || c.state.kind === 'terminated');
  const containersReady = !terminal && unready.length === 0;
  const ready = containersReady && failedGates.length === 0;
  const readyReason = terminal ? 'PodCompleted' : unready.length > 0 ? 'ContainersNotReady' : 'ReadinessGatesNotReady';
  const readyMessage = terminal ? undefined : unready.length > 0 ? `containers with unready status: [${unready.join(' ')}]` : `corresponding condition of pod readiness gate "${failedGates.join(' ')}" does not exist.`;

  const conditions: PodCondition[] = [
    ...prev.filter((c) => !OWNED.has(c.type)),
    condition(prev, 'PodReadyToStartContainers', input.sandboxReady, now),
    condition(prev, 'Initialized', initialized, now, 'ContainersNotInitialized', `containers with incomplete status: [${initIncomplete.join(' ')}]`),
    condition(prev, 'ContainersReady', containersReady, now, terminal ? 'PodCompleted' : 'ContainersNotReady', terminal ? undefined : `containers with unready status: [${unready.join(' ')}]`),
    condition(prev, 'Ready', ready, now, readyReason, readyMessage),
  ];

  const status: PodStatusWire = {
    phase,
    hostIP: input.hostIP,
    hostIPs: [{ ip: input.hostIP }],
    startTime: input.startTime,
    conditions,
    containerStatuses: containers.filter((c) => c.kind === 'app').map(containerStatus),
  };
  const inits = containers.filter((c) => c.kind !== 'app');
  if (inits.length > 0) status.initContainerStatuses = inits.map(containerStatus);
  if (input.podIP !== undefined) {
    status.podIP = input.podIP;
    status.podIPs = [{ ip: input.podIP }];
  }
  return status;
}

/** Status for a pod on the simulated node: every container running and ready, as kwok reports it. */
export function simulatedPodStatus(pod: Pod, podIP: string, hostIP: string, now: string): PodStatusWire {
  const startTime = pod.status?.startTime ?? now;
  const run = (kind: ContainerKind) => (c: { name: string; image?: string }): ContainerRuntime => ({
    name: c.name, kind, image: c.image ?? '', imageID: `weft-sim://${c.image ?? ''}`, containerID: `weft-sim://${pod.metadata.uid ?? ''}/${c.name}`,
    state: kind === 'init' ? { kind: 'terminated', exitCode: 0, reason: 'Completed', startedAt: startTime, finishedAt: startTime } : { kind: 'running', startedAt: startTime },
    lastTerminated: undefined, lastContainerID: undefined, restartCount: 0, started: kind !== 'init', ready: kind !== 'init',
  });
  const containers = [
    ...(pod.spec.initContainers ?? []).map((c) => run(c.restartPolicy === 'Always' ? 'sidecar' : 'init')(c)),
    ...pod.spec.containers.map(run('app')),
  ];
  return computePodStatus({ pod, restartPolicy: 'Always', containers, podIP, hostIP, startTime, sandboxReady: true, now });
}
