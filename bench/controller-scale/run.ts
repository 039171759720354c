/**
 * Controller scale benchmark on the local cluster: creates N Services and 2N HTTPRoutes (two per
 * Service, the second a consumer route in a client namespace), starts `weft controller`, and
 * reports
 *   - time to sync and RSS after sync (from /proc/<pid>/status),
 *   - apply -> push latency of route changes seen by a subscriber (p50/p90/p99/max),
 *   - RSS with S subscribers open.
 * Usage: node dist/bench/controller-scale/run.js [--services 1000] [--changes 50] [--subscribers 200] [--keep] [--reuse TAG]
 * (--reuse TAG skips creating the objects of an earlier run kept with --keep or left by a failure)
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DestinationPolicy } from '../../api/gen/weft/outbound/v1/outbound.js';
import { readClusterInfo } from '../../test/cluster/cluster.js';
import { CLUSTER_JSON } from '../../test/cluster/config.js';
import { Collected, createMesh, policyClients, startControllerProcess, workloadCert } from '../../test/support/policy-controller.js';

const run = promisify(execFile);

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

async function rssMb(pid: number): Promise<number> {
  const s = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

function pct(values: number[], p: number): number {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor((p / 100) * v.length))] ?? NaN;
}

async function main(): Promise<void> {
  const services = arg('services', 1000);
  const changes = arg('changes', 50);
  const subscribers = arg('subscribers', 200);
  const info = await readClusterInfo(CLUSTER_JSON);
  if (!info) throw new Error('the local cluster is not up: npm run cluster -- up');
  const kubectl = (args: string[], input?: string) => {
    const p = run('kubectl', ['--kubeconfig', info.kubeconfig, ...args], { maxBuffer: 64 * 1024 * 1024 });
    if (input !== undefined) p.child.stdin?.end(input);
    return p;
  };
  const reuse = process.argv.indexOf('--reuse');
  const tag = reuse >= 0 ? (process.argv[reuse + 1] ?? '') : randomBytes(3).toString('hex');
  const ns = `bench-scale-${tag}`;
  const clientNs = `bench-client-${tag}`;
  const dir = await mkdtemp(join(tmpdir(), 'weft-bench-scale-'));
  const docs: string[] = [
    `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${ns}}`,
    `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${clientNs}}`,
    `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: client, namespace: ${clientNs}}`,
    `apiVersion: v1\nkind: Pod\nmetadata: {name: client-0, namespace: ${clientNs}}\nspec: {serviceAccountName: client, terminationGracePeriodSeconds: 1, containers: [{name: main, image: busybox, command: [sleep, "36000"]}]}`,
  ];
  for (let i = 0; i < services; i++) {
    docs.push(`apiVersion: v1\nkind: Service\nmetadata: {name: svc-${i}, namespace: ${ns}}\nspec: {selector: {app: svc-${i}}, ports: [{name: http, port: 80, targetPort: 8080}]}`);
    docs.push(
      `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r-${i}, namespace: ${ns}}\nspec:\n  parentRefs: [{group: "", kind: Service, name: svc-${i}, port: 80}]\n  rules:\n  - matches: [{path: {type: PathPrefix, value: /v${i}}}]\n    backendRefs: [{name: svc-${i}, port: 80}]`,
    );
    docs.push(
      `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: c-${i}, namespace: ${clientNs}}\nspec:\n  parentRefs: [{group: "", kind: Service, name: svc-${i}, namespace: ${ns}, port: 80}]\n  rules:\n  - backendRefs: [{name: svc-${i}, namespace: ${ns}, port: 80}]`,
    );
  }
  await writeFile(join(dir, 'objects.yaml'), docs.join('\n---\n'));
  let t = performance.now();
  if (reuse < 0) {
    await kubectl(['apply', '--server-side', '-f', join(dir, 'objects.yaml')]);
    console.log(`created ${services} Services and ${2 * services} HTTPRoutes in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  } else console.log(`reusing the objects in namespaces ${ns} and ${clientNs}`);

  const mesh = await createMesh();
  t = performance.now();
  const controller = await startControllerProcess([
    '--kubeconfig', info.kubeconfig, '--issuer-dir', mesh.issuerDir, '--namespace', ns, '--listen-host', '127.0.0.1',
    '--grpc-port', '0', '--admin-port', '0', '--webhook-port', '0', '--log-level', 'info',
  ]);
  const pid = controller.child.pid!;
  for (;;) {
    const r = await fetch(`http://127.0.0.1:${controller.adminPort}/ready`).catch(() => undefined);
    if (r?.status === 200) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  console.log(`controller ready (all watches synced) in ${((performance.now() - t) / 1000).toFixed(1)} s; RSS ${await rssMb(pid)} MB`);

  const cert = await workloadCert(mesh, clientNs, 'client');
  const clients = policyClients(controller.grpcAddress, mesh, cert);
  const ipOf = async (i: number) => (await kubectl(['get', 'svc', `svc-${i}`, '-n', ns, '-o', 'jsonpath={.spec.clusterIP}'])).stdout.trim();
  const watch = async (ip: string) => {
    for (;;) {
      const s = new Collected<DestinationPolicy>(clients.outbound.watch({ namespace: clientNs, pod: 'client-0', ip, port: 80 }));
      try {
        await s.waitFor('first snapshot', () => true, { timeoutMs: 30_000 });
        return s;
      } catch {
        await new Promise((res) => setTimeout(res, 500));
      }
    }
  };
  // Many subscribers over distinct Services, then one measured subscriber on svc-0 (producer view).
  const subs: Collected<DestinationPolicy>[] = [];
  for (let i = 1; i <= Math.min(subscribers, services - 1); i++) subs.push(await watch(await ipOf(i)));
  console.log(`${subs.length} subscribers open; RSS ${await rssMb(pid)} MB`);
  const measured = await watch(await ipOf(0));
  const lat: number[] = [];
  for (let k = 0; k < changes; k++) {
    const from = measured.messages.length;
    const yaml = `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: c-0, namespace: ${clientNs}}\nspec:\n  parentRefs: [{group: "", kind: Service, name: svc-0, namespace: ${ns}, port: 80}]\n  rules:\n  - matches: [{path: {type: PathPrefix, value: /change-${k}}}]\n    backendRefs: [{name: svc-0, namespace: ${ns}, port: 80}]`;
    const t0 = performance.now();
    await kubectl(['apply', '--server-side', '-f', '-'], yaml);
    const got = await measured.waitFor(`change ${k}`, (m) => JSON.stringify(m).includes(`/change-${k}`), { from, timeoutMs: 30_000 });
    lat.push(got.at - t0);
  }
  console.log(
    `apply -> push over ${changes} route changes (includes kubectl's own startup, ~100+ ms): p50 ${pct(lat, 50).toFixed(0)} ms, p90 ${pct(lat, 90).toFixed(0)} ms, p99 ${pct(lat, 99).toFixed(0)} ms, max ${Math.max(...lat).toFixed(0)} ms`,
  );
  console.log(`RSS after the changes: ${await rssMb(pid)} MB`);
  const metrics = await (await fetch(`http://127.0.0.1:${controller.adminPort}/metrics`)).text();
  for (const line of metrics.split('\n')) if (/^weft_policy_push_latency_seconds_(sum|count)\{service="outbound"\}/.test(line)) console.log(`controller ${line}`);
  for (const s of [...subs, measured]) s.cancel();
  clients.close();
  await controller.stop();
  if (!process.argv.includes('--keep')) {
    await kubectl(['delete', 'namespace', ns, clientNs, '--wait=false']);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
