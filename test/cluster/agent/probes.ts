/**
 * Probe bookkeeping (pure): defaults, thresholds and timing as the kubelet applies them. A probe's
 * result flips only after `successThreshold` consecutive successes or `failureThreshold` consecutive
 * failures. Readiness starts as failure, liveness as success, startup as failure; liveness and readiness
 * run only after the startup probe succeeded. The I/O that performs a probe lives in probe-runner.ts.
 */
import type { V1Probe } from '@kubernetes/client-node';

export type ProbeKind = 'startup' | 'liveness' | 'readiness';

export interface ProbeTiming {
  readonly initialDelayMs: number;
  readonly periodMs: number;
  readonly timeoutMs: number;
  readonly successThreshold: number;
  readonly failureThreshold: number;
}

export function probeTiming(kind: ProbeKind, p: V1Probe): ProbeTiming {
  const positive = (v: number | undefined, dflt: number) => (v !== undefined && v > 0 ? v : dflt);
  return {
    initialDelayMs: Math.max(0, p.initialDelaySeconds ?? 0) * 1000,
    periodMs: positive(p.periodSeconds, 10) * 1000,
    timeoutMs: positive(p.timeoutSeconds, 1) * 1000,
    // Liveness and startup probes must use successThreshold 1 (API validation); readiness may set more.
    successThreshold: kind === 'readiness' ? positive(p.successThreshold, 1) : 1,
    failureThreshold: positive(p.failureThreshold, 3),
  };
}

export interface ProbeState {
  readonly result: 'success' | 'failure';
  readonly successes: number;
  readonly failures: number;
}

export function initialProbeState(kind: ProbeKind): ProbeState {
  return { result: kind === 'liveness' ? 'success' : 'failure', successes: 0, failures: 0 };
}

export function recordProbe(timing: ProbeTiming, state: ProbeState, ok: boolean): ProbeState {
  if (ok) {
    const successes = state.successes + 1;
    return { result: successes >= timing.successThreshold ? 'success' : state.result, successes, failures: 0 };
  }
  const failures = state.failures + 1;
  return { result: failures >= timing.failureThreshold ? 'failure' : state.result, successes: 0, failures };
}

/**
 * When the next run of a probe is due, given when the container started and the last run. The
 * kubelet's first probe comes on its worker's next tick after the container started, somewhere within
 * a period; the agent waits min(period, 1 s) (or the initial delay if longer), so a process gets a
 * moment to open its port without slowing readiness much.
 */
export const FIRST_PROBE_MIN_DELAY_MS = 1000;

export function nextProbeAt(timing: ProbeTiming, containerStartedAtMs: number, lastRunAtMs: number | undefined): number {
  if (lastRunAtMs === undefined) return containerStartedAtMs + Math.max(timing.initialDelayMs, Math.min(timing.periodMs, FIRST_PROBE_MIN_DELAY_MS));
  return lastRunAtMs + timing.periodMs;
}

/** The probe's handler, normalised: what to run and where. */
export type ProbeAction =
  | { readonly type: 'http'; readonly scheme: 'HTTP' | 'HTTPS'; readonly host: string | undefined; readonly port: number | string; readonly path: string; readonly headers: readonly { name: string; value: string }[] }
  | { readonly type: 'tcp'; readonly host: string | undefined; readonly port: number | string }
  | { readonly type: 'exec'; readonly command: readonly string[] }
  | { readonly type: 'grpc'; readonly port: number; readonly service: string | undefined };

export function probeAction(p: V1Probe): ProbeAction | undefined {
  if (p.httpGet !== undefined) {
    return {
      type: 'http',
      scheme: p.httpGet.scheme === 'HTTPS' ? 'HTTPS' : 'HTTP',
      host: p.httpGet.host === '' ? undefined : p.httpGet.host,
      port: p.httpGet.port,
      path: p.httpGet.path ?? '/',
      headers: (p.httpGet.httpHeaders ?? []).map((h) => ({ name: h.name, value: h.value })),
    };
  }
  if (p.tcpSocket !== undefined) return { type: 'tcp', host: p.tcpSocket.host === '' ? undefined : p.tcpSocket.host, port: p.tcpSocket.port };
  if (p.exec !== undefined) return { type: 'exec', command: p.exec.command ?? [] };
  if (p.grpc !== undefined) return { type: 'grpc', port: p.grpc.port, service: p.grpc.service };
  return undefined;
}

/** A probe port is a number or the name of one of the container's ports. */
export function resolvePort(port: number | string, containerPorts: readonly { name?: string; containerPort: number }[]): number | undefined {
  if (typeof port === 'number') return port;
  if (/^[0-9]+$/.test(port)) return Number(port);
  return containerPorts.find((p) => p.name === port)?.containerPort;
}

/** httpGet success, as the kubelet counts it: 2xx and 3xx (redirects are not followed). */
export function httpProbeSucceeded(status: number): boolean {
  return status >= 200 && status < 400;
}
