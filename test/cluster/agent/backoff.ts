/**
 * Restart decisions and crash-loop backoff, as the kubelet makes them. The first restart after a crash
 * is immediate; each further crash in a streak waits twice as long (base 10 s, capped at 5 min); a
 * container that ran longer than `resetAfterMs` (twice the cap, as the kubelet's backoff GC) starts a
 * new streak. Tests pass a smaller base through the agent option.
 */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly resetAfterMs: number;
}

export const KUBELET_BACKOFF: BackoffPolicy = { baseMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 };

export function backoffPolicy(baseMs: number): BackoffPolicy {
  if (baseMs === KUBELET_BACKOFF.baseMs) return KUBELET_BACKOFF;
  const maxMs = Math.max(baseMs, Math.round((KUBELET_BACKOFF.maxMs / KUBELET_BACKOFF.baseMs) * baseMs));
  return { baseMs, maxMs, resetAfterMs: 2 * maxMs };
}

/** Crashes in the current streak after this one ended, given how long the run lasted. */
export function nextStreak(policy: BackoffPolicy, streak: number, ranForMs: number): number {
  return ranForMs >= policy.resetAfterMs ? 1 : streak + 1;
}

/** Delay before restarting a container whose streak of crashes has this length (>= 1). */
export function restartDelayMs(policy: BackoffPolicy, streak: number): number {
  if (streak <= 1) return 0;
  return Math.min(policy.maxMs, policy.baseMs * 2 ** (streak - 2));
}

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

export function parseRestartPolicy(value: string | undefined): RestartPolicy {
  return value === 'OnFailure' || value === 'Never' ? value : 'Always';
}

/**
 * Whether an exited container starts again. Native sidecars always restart; regular init containers
 * follow the pod's policy with `Always` acting as `OnFailure` (an init container that succeeded is done).
 */
export function shouldRestart(kind: 'init' | 'sidecar' | 'app', podPolicy: RestartPolicy, exitCode: number): boolean {
  if (kind === 'sidecar') return true;
  if (kind === 'init') return exitCode !== 0 && podPolicy !== 'Never';
  if (podPolicy === 'Always') return true;
  if (podPolicy === 'OnFailure') return exitCode !== 0;
  return false;
}
