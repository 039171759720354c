/**
 * Performing probes and handlers. httpGet and tcpSocket run from the node's side (the agent's host
 * network namespace) to the pod IP, as the kubelet does; exec runs inside the container through the
 * callback the pod worker passes (its namespaces, UID and environment).
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { ProbeAction } from './probes.js';
import { httpProbeSucceeded, resolvePort } from './probes.js';

export interface ProbeTarget {
  readonly podIP: string;
  readonly containerPorts: readonly { name?: string; containerPort: number }[];
  readonly exec: (argv: readonly string[], timeoutMs: number) => Promise<{ code: number; stdout: string; stderr: string }>;
}

export interface ProbeOutcome {
  readonly ok: boolean;
  readonly detail: string;
}

export async function runAction(action: ProbeAction, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  switch (action.type) {
    case 'exec': {
      const r = await target.exec(action.command, timeoutMs);
      return { ok: r.code === 0, detail: `exit ${r.code}${r.stdout === '' && r.stderr === '' ? '' : `: ${(r.stdout + r.stderr).trim().slice(0, 200)}`}` };
    }
    case 'http': {
      const port = resolvePort(action.port, target.containerPorts);
      if (port === undefined) return { ok: false, detail: `unknown port ${String(action.port)}` };
      return httpGet(action.scheme, action.host ?? target.podIP, port, action.path, action.headers, timeoutMs);
    }
    case 'tcp': {
      const port = resolvePort(action.port, target.containerPorts);
      if (port === undefined) return { ok: false, detail: `unknown port ${String(action.port)}` };
      return tcpConnect(action.host ?? target.podIP, port, timeoutMs);
    }
    case 'grpc':
      // The gRPC health protocol is not implemented; a TCP connect is the closest check.
      return tcpConnect(target.podIP, action.port, timeoutMs);
  }
}

export function httpGet(scheme: 'HTTP' | 'HTTPS', host: string, port: number, path: string, headers: readonly { name: string; value: string }[], timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const hdrs: Record<string, string> = { 'user-agent': 'kube-probe/weft-node-agent', accept: '*/*' };
    for (const h of headers) hdrs[h.name.toLowerCase()] = h.value;
    const mod = scheme === 'HTTPS' ? https : http;
    const req = mod.request({ host, port, path: path.startsWith('/') ? path : `/${path}`, method: 'GET', headers: hdrs, timeout: timeoutMs, rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve({ ok: httpProbeSucceeded(status), detail: `HTTP probe failed with statuscode: ${status}` });
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ ok: false, detail: `Get "${scheme.toLowerCase()}://${host}:${port}${path}": ${err.message}` }));
    req.end();
  });
}

export function tcpConnect(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port, timeout: timeoutMs });
    sock.once('connect', () => {
      sock.destroy();
      resolve({ ok: true, detail: 'connected' });
    });
    sock.once('timeout', () => {
      sock.destroy();
      resolve({ ok: false, detail: `dial tcp ${host}:${port}: i/o timeout` });
    });
    sock.once('error', (err) => resolve({ ok: false, detail: `dial tcp ${host}:${port}: ${err.message}` }));
  });
}
