import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computePhase, computePodStatus, simulatedPodStatus } from './status.js';
import type { ContainerKind, ContainerRuntime, RuntimeState, StatusInput } from './status.js';
import type { Pod } from './types.js';

const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-01T00:01:00Z';

function ctr(name: string, kind: ContainerKind, state: RuntimeState, extra: Partial<ContainerRuntime> = {}): ContainerRuntime {
  return { name, kind, image: 'img', imageID: 'weft-local://img', containerID: `weft://${name}`, state, lastTerminated: undefined, lastContainerID: undefined, restartCount: 0, started: state.kind === 'running', ready: false, ...extra };
}
const running: RuntimeState = { kind: 'running', startedAt: T0 };
const exited = (code: number): RuntimeState & { kind: 'terminated' } => ({ kind: 'terminated', exitCode: code, reason: code === 0 ? 'Completed' : 'Error', startedAt: T0, finishedAt: T1 });
const pod: Pod = {
  metadata: { name: 'p', namespace: 'n', uid: 'u' },
  spec: { containers: [{ name: 'app' }] },
  status: { conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: T0 }] },
};
const input = (containers: ContainerRuntime[], extra: Partial<StatusInput> = {}): StatusInput => ({
  pod, restartPolicy: 'Always', containers, podIP: '10.244.1.1', hostIP: '10.244.0.1', startTime: T0, sandboxReady: true, now: T1, ...extra,
});
const cond = (s: ReturnType<typeof computePodStatus>, type: string) => s.conditions?.find((c) => c.type === type);

test('phase is Pending while an init container is unfinished or an app container never started', () => {
  assert.equal(computePhase(input([ctr('i', 'init', running), ctr('app', 'app', { kind: 'waiting', reason: 'PodInitializing' })])), 'Pending');
  assert.equal(computePhase(input([ctr('app', 'app', { kind: 'waiting', reason: 'ContainerCreating' })])), 'Pending');
  assert.equal(computePhase(input([ctr('i', 'init', exited(0)), ctr('app', 'app', running)])), 'Running');
});

test('a failed init container fails the pod only when the policy forbids restarts', () => {
  const failing = [ctr('i', 'init', exited(1)), ctr('app', 'app', { kind: 'waiting', reason: 'PodInitializing' })];
  assert.equal(computePhase(input(failing, { restartPolicy: 'Never' })), 'Failed');
  assert.equal(computePhase(input(failing, { restartPolicy: 'Always' })), 'Pending');
});

test('a crash-looping container keeps the pod Running; finished containers end it per policy', () => {
  const looping = ctr('app', 'app', { kind: 'waiting', reason: 'CrashLoopBackOff' }, { lastTerminated: exited(1), restartCount: 2 });
  assert.equal(computePhase(input([looping])), 'Running');
  assert.equal(computePhase(input([ctr('app', 'app', exited(0))], { restartPolicy: 'Never' })), 'Succeeded');
  assert.equal(computePhase(input([ctr('app', 'app', exited(3))], { restartPolicy: 'Never' })), 'Failed');
  assert.equal(computePhase(input([ctr('app', 'app', exited(0))], { restartPolicy: 'OnFailure' })), 'Succeeded');
  assert.equal(computePhase(input([ctr('app', 'app', exited(0))], { terminalPhase: 'Failed' })), 'Failed');
});

test('Ready needs every app container and native sidecar ready; other conditions carry over', () => {
  const notReady = computePodStatus(input([ctr('side', 'sidecar', running, { ready: false }), ctr('app', 'app', running, { ready: true })]));
  assert.equal(cond(notReady, 'Ready')?.status, 'False');
  assert.equal(cond(notReady, 'Ready')?.message, 'containers with unready status: [side]');
  assert.equal(cond(notReady, 'Initialized')?.status, 'True');
  assert.equal(cond(notReady, 'PodScheduled')?.status, 'True');
  const ready = computePodStatus(input([ctr('side', 'sidecar', running, { ready: true }), ctr('app', 'app', running, { ready: true })]));
  assert.equal(cond(ready, 'Ready')?.status, 'True');
  assert.equal(cond(ready, 'ContainersReady')?.status, 'True');
  assert.equal(ready.phase, 'Running');
  assert.deepEqual(ready.podIPs, [{ ip: '10.244.1.1' }]);
  assert.deepEqual(ready.hostIPs, [{ ip: '10.244.0.1' }]);
  assert.equal(ready.initContainerStatuses?.[0]?.name, 'side');
  assert.equal(ready.containerStatuses?.[0]?.name, 'app');
});

test('a native sidecar that has not started keeps the pod uninitialized', () => {
  const s = computePodStatus(input([ctr('side', 'sidecar', running, { started: false }), ctr('app', 'app', { kind: 'waiting', reason: 'PodInitializing' })]));
  assert.equal(cond(s, 'Initialized')?.status, 'False');
  assert.equal(cond(s, 'Initialized')?.message, 'containers with incomplete status: [side]');
});

test('lastTransitionTime changes only when the status of a condition changes', () => {
  const prevPod: Pod = { ...pod, status: { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: T0 }, { type: 'Initialized', status: 'False', lastTransitionTime: T0 }] } };
  const s = computePodStatus(input([ctr('app', 'app', running, { ready: true })], { pod: prevPod, now: T1 }));
  assert.equal(cond(s, 'Ready')?.lastTransitionTime, T0);
  assert.equal(cond(s, 'Initialized')?.lastTransitionTime, T1);
});

test('container statuses report restarts, the last termination and CrashLoopBackOff', () => {
  const s = computePodStatus(input([ctr('app', 'app', { kind: 'waiting', reason: 'CrashLoopBackOff', message: 'back-off 10s' }, { lastTerminated: exited(2), restartCount: 3, lastContainerID: 'weft://old' })]));
  const cs = s.containerStatuses?.[0];
  assert.equal(cs?.restartCount, 3);
  assert.deepEqual(cs?.state, { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s' } });
  assert.equal(cs?.lastState?.terminated?.exitCode, 2);
  assert.equal(cs?.lastState?.terminated?.reason, 'Error');
  assert.equal(cs?.lastState?.terminated?.containerID, 'weft://old');
  assert.equal(cs?.imageID, 'weft-local://img');
});

test('a finished pod is not Ready, with reason PodCompleted', () => {
  const s = computePodStatus(input([ctr('app', 'app', exited(0))], { restartPolicy: 'Never' }));
  assert.equal(s.phase, 'Succeeded');
  assert.equal(cond(s, 'Ready')?.status, 'False');
  assert.equal(cond(s, 'Ready')?.reason, 'PodCompleted');
});

test('simulated pods are Running and Ready with every container running', () => {
  const p: Pod = { metadata: { name: 's', namespace: 'n', uid: 'u' }, spec: { initContainers: [{ name: 'init', image: 'x' }, { name: 'side', image: 'x', restartPolicy: 'Always' }], containers: [{ name: 'a', image: 'x' }] } };
  const s = simulatedPodStatus(p, '10.245.0.9', '10.244.0.1', T1);
  assert.equal(s.phase, 'Running');
  assert.equal(s.podIP, '10.245.0.9');
  assert.equal(cond(s, 'Ready')?.status, 'True');
  assert.equal(s.initContainerStatuses?.[0]?.state?.terminated?.exitCode, 0);
  assert.ok(s.initContainerStatuses?.[1]?.state?.running);
});
