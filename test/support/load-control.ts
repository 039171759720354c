/**
 * The load generator's control server (test/support/load-loop.ts), reached from inside its pod over
 * loopback with `kubectl exec` (the proxy never sees it): start, read or stop the counters.
 */
import assert from 'node:assert/strict';
import type { Cluster } from '../cluster/fixture.js';
import type { LoadCounts } from './load-loop.js';

export async function loadControl(
  cluster: Cluster, ns: string, pod: string, method: 'GET' | 'POST', path: string,
  o: { port: number; container?: string; timeoutMs?: number },
): Promise<LoadCounts> {
  const script = `fetch('http://127.0.0.1:${o.port}${path}', {method: '${method}'}).then((r) => r.text()).then((t) => process.stdout.write(t), (e) => { process.stderr.write(String(e)); process.exit(1); })`;
  const r = await cluster.exec(ns, pod, o.container ?? 'load', ['node', '-e', script], { timeoutMs: o.timeoutMs ?? 30_000 });
  assert.equal(r.code, 0, `load-loop ${method} ${path}: ${r.stderr}`);
  return JSON.parse(r.stdout) as LoadCounts;
}
