/**
 * Controller scale benchmark on the local cluster (design.md 8: <= 300 MB RSS with 1,000 Services,
 * 5,000 pods and 2,000 routes; p99 route change -> push <= 1 s).
 *
 * Creates, in two fresh namespaces:
 *   - N Services (`svc-i`, port 80) and 2N HTTPRoutes: a producer route `r-i` beside each Service and
 *     a consumer route `c-i` in the client namespace;
 *   - P pods bound to the simulated Node `weft-sim` (no processes; the node agent makes them Running
 *     and Ready with 10.245.x addresses): S subscriber pods `client-k` (ServiceAccount `client`) in the
 *     client namespace, the rest backends spread over the Services (so EndpointSlices are real);
 * then starts `weft controller` and reports
 *   - time to sync (start -> /ready) and RSS (VmRSS; VmHWM as the peak) with the V8 heap in use
 *     (the controller's nodejs_heap_size_used_bytes) after sync, with subscribers, after the changes;
 *     the controller runs with the environment the install manifest gives its container
 *     (cli/install/render.ts CONTROLLER_RUNTIME_ENV: V8 heap flags, MALLOC_ARENA_MAX),
 *   - compile time: the core compilers over a snapshot of everything the benchmark created (every
 *     outbound view of every Service port for every client namespace, and the inbound policy of every
 *     pod port), measured in this process with the controller's own compilers,
 *   - S subscribers: real gRPC OutboundPolicy streams over mTLS with a workload certificate from the
 *     mesh issuer, one per subscriber pod, spread over C channels of this one process, all watching
 *     svc-0:80; the time to open them and the controller's RSS with them open,
 *   - route change -> push: K server-side applies of the consumer route `c-0` through the API
 *     server (HTTPS, no kubectl start-up in the timing), each timed until EVERY subscriber received the
 *     new snapshot; per change the time to the median and to the last subscriber, over all changes
 *     p50/p99/max of all subscriber deliveries;
 *   - then the same again (sync, subscribers, changes) for a reference controller: the same build
 *     with Node's and glibc's defaults instead of the install manifest's settings.
 * Deletes the namespaces at the end (waits for them to go) unless --keep.
 *
 * Usage: node dist/bench/controller-scale/run.js [--services 1000] [--pods 5000] [--subscribers 500]
 *          [--changes 20] [--channels 5] [--keep] [--reuse TAG] [--write]
 * (--reuse TAG skips creating the objects of an earlier run kept with --keep or left by a failure;
 *  --write records the figures in bench/README.md, section controller-scale)
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { credentials } from '@grpc/grpc-js';
import { Agent, request } from 'undici';
import { parse as parseYaml } from 'yaml';
import { OutboundPolicyClient, type DestinationPolicy } from '../../api/gen/weft/outbound/v1/outbound.js';
import { compileInboundPort, indexInboundPolicy } from '../../core/inbound/compile.js';
import { EMPTY_SNAPSHOT, type ClusterSnapshot } from '../../core/kube.js';
import { CONTROLLER_RUNTIME_ENV } from '../../cli/install/render.js';
import { compileOutbound } from '../../core/outbound/policy.js';
import { SIMULATED_TAINT_KEY } from '../../test/cluster/agent/node.js';
import { readClusterInfo } from '../../test/cluster/cluster.js';
import { CLUSTER_JSON, SIM_NODE_NAME } from '../../test/cluster/config.js';
import { writeReadmeSection } from '../../test/support/fuzz-report.js';
import { REPO_ROOT } from '../../test/support/paths.js';
import { Collected, createMesh, startControllerProcess, workloadCert } from '../../test/support/policy-controller.js';

const run = promisify(execFile);

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

async function procStatus(pid: number): Promise<{ rss: number; hwm: number }> {
  const s = await readFile(`/proc/${pid}/status`, 'utf8');
  const mb = (key: string) => Math.round(Number(new RegExp(`${key}:\\s+(\\d+)`).exec(s)?.[1] ?? 0) / 1024);
  return { rss: mb('VmRSS'), hwm: mb('VmHWM') };
}

function pct(values: readonly number[], p: number): number {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)] ?? NaN;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number) => (ms / 1000).toFixed(1);

/** The admin user of the local cluster's kubeconfig, for timed API calls without kubectl. */
async function apiClient(kubeconfig: string) {
  const kc = parseYaml(await readFile(kubeconfig, 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
    users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
  };
  const b64 = (s: string) => Buffer.from(s, 'base64').toString();
  const cluster = kc.clusters[0]!.cluster;
  const user = kc.users[0]!.user;
  const dispatcher = new Agent({ connect: { ca: b64(cluster['certificate-authority-data']), cert: b64(user['client-certificate-data']), key: b64(user['client-key-data']) } });
  return {
    /** Server-side apply of one object (YAML), as `kubectl apply --server-side --force-conflicts` does. */
    async apply(path: string, yaml: string): Promise<void> {
      const r = await request(`${cluster.server}${path}?fieldManager=weft-bench&force=true`, {
        method: 'PATCH', dispatcher, headers: { 'content-type': 'application/apply-patch+yaml' }, body: yaml,
      });
      const text = await r.body.text();
      if (r.statusCode >= 300) throw new Error(`apply ${path}: ${r.statusCode} ${text.slice(0, 300)}`);
    },
    close: () => dispatcher.close(),
  };
}

async function main(): Promise<void> {
  const services = arg('services', 1000);
  const podsTotal = arg('pods', 5000);
  const subscribers = arg('subscribers', 500);
  const changes = arg('changes', 20);
  const channels = Math.max(1, arg('channels', 5));
  const backends = Math.max(0, podsTotal - subscribers);
  const info = await readClusterInfo(CLUSTER_JSON);
  if (!info) throw new Error('the local cluster is not up: npm run cluster -- up');
  const kubectl = (args: string[], input?: string) => {
    const p = run('kubectl', ['--kubeconfig', info.kubeconfig, ...args], { maxBuffer: 512 * 1024 * 1024 });
    if (input !== undefined) p.child.stdin?.end(input);
    return p;
  };
  const reuse = process.argv.indexOf('--reuse');
  const tag = reuse >= 0 ? (process.argv[reuse + 1] ?? '') : randomBytes(3).toString('hex');
  const ns = `bench-scale-${tag}`;
  const clientNs = `bench-client-${tag}`;
  const keep = process.argv.includes('--keep');
  const api = await apiClient(info.kubeconfig);
  const dir = await mkdtemp(join(tmpdir(), 'weft-bench-scale-'));
  const figures: Record<string, string> = {};
  const t00 = performance.now();
  let controllerStop: (() => Promise<void>) | undefined;

  try {
    // --- objects -------------------------------------------------------------------------------------
    const simPod = (name: string, namespace: string, labels: string, sa: string) =>
      `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: ${namespace}, labels: {${labels}}}\nspec:\n  nodeName: ${SIM_NODE_NAME}\n  serviceAccountName: ${sa}\n  automountServiceAccountToken: false\n  terminationGracePeriodSeconds: 0\n  tolerations: [{key: ${SIMULATED_TAINT_KEY}, operator: Exists, effect: NoSchedule}]\n  containers: [{name: app, image: simulated, ports: [{name: http, containerPort: 8080}]}]`;
    const head: string[] = [
      `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${ns}}`,
      `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${clientNs}}`,
    ];
    const docs: string[] = [
      `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: client, namespace: ${clientNs}}`,
      `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: backend, namespace: ${ns}}`,
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
    for (let k = 0; k < subscribers; k++) docs.push(simPod(`client-${k}`, clientNs, 'app: client', 'client'));
    for (let j = 0; j < backends; j++) docs.push(simPod(`bk-${j}`, ns, `app: svc-${j % services}`, 'backend'));

    let t = performance.now();
    if (reuse < 0) {
      await writeFile(join(dir, 'ns.yaml'), head.join('\n---\n'));
      await kubectl(['apply', '--server-side', '-f', join(dir, 'ns.yaml')]);
      // Four kubectl processes at once, each applying a slice.
      const slices = 4;
      const size = Math.ceil(docs.length / slices);
      await Promise.all(Array.from({ length: slices }, async (_, s) => {
        const file = join(dir, `objects-${s}.yaml`);
        await writeFile(file, docs.slice(s * size, (s + 1) * size).join('\n---\n'));
        await kubectl(['apply', '--server-side', '-f', file]);
      }));
      figures.create = `${secs(performance.now() - t)} s`;
      console.log(`created ${services} Services, ${2 * services} HTTPRoutes and ${subscribers + backends} pods in ${figures.create}`);
    } else console.log(`reusing the objects in namespaces ${ns} and ${clientNs}`);

    t = performance.now();
    for (;;) {
      const out = await kubectl(['get', 'pods', '-A', '-l', 'app', '--no-headers', '-o', 'custom-columns=NS:.metadata.namespace,READY:.status.conditions[?(@.type=="Ready")].status']);
      const lines = out.stdout.split('\n').filter((l) => l.startsWith(ns) || l.startsWith(clientNs));
      const ready = lines.filter((l) => /\bTrue\b/.test(l)).length;
      if (ready >= subscribers + backends) break;
      if (performance.now() - t > 900_000) throw new Error(`only ${ready} of ${subscribers + backends} pods Ready after 15 min`);
      process.stdout.write(`\r${ready}/${subscribers + backends} pods Ready`);
      await sleep(5_000);
    }
    figures.podsReady = `${secs(performance.now() - t)} s`;
    console.log(`\nall ${subscribers + backends} pods Ready on ${SIM_NODE_NAME} after ${figures.podsReady} more`);

    // --- compile time with the controller's compilers -------------------------------------------------
    const getJson = async (kind: string, namespaces: string[]) => {
      const items: unknown[] = [];
      for (const n of namespaces) {
        const out = await kubectl(['get', kind, '-n', n, '-o', 'json']);
        items.push(...(JSON.parse(out.stdout) as { items: unknown[] }).items);
      }
      return items;
    };
    const both = [ns, clientNs];
    const snapshot: ClusterSnapshot = {
      ...EMPTY_SNAPSHOT,
      namespaces: (await Promise.all(both.map(async (n) => JSON.parse((await kubectl(['get', 'namespace', n, '-o', 'json'])).stdout) as unknown))) as ClusterSnapshot['namespaces'],
      services: (await getJson('services', both)) as ClusterSnapshot['services'],
      endpointSlices: (await getJson('endpointslices.discovery.k8s.io', both)) as ClusterSnapshot['endpointSlices'],
      pods: (await getJson('pods', both)) as ClusterSnapshot['pods'],
      httpRoutes: (await getJson('httproutes.gateway.networking.k8s.io', both)) as ClusterSnapshot['httpRoutes'],
    };
    const compileRuns: { out: number; inb: number }[] = [];
    let views = 0;
    let ports = 0;
    for (let r = 0; r < 3; r++) {
      let c = performance.now();
      views = compileOutbound(snapshot).policies.size;
      const out = performance.now() - c;
      c = performance.now();
      const index = indexInboundPolicy(snapshot);
      ports = 0;
      for (const pod of snapshot.pods) {
        for (const ctr of pod.spec?.containers ?? []) for (const p of ctr.ports ?? []) {
          compileInboundPort(index, pod, p.containerPort);
          ports++;
        }
      }
      compileRuns.push({ out, inb: performance.now() - c });
    }
    const best = compileRuns.reduce((a, b) => (a.out + a.inb <= b.out + b.inb ? a : b));
    figures.compileOut = `${best.out.toFixed(0)} ms`;
    figures.compileIn = `${best.inb.toFixed(0)} ms`;
    console.log(`compile (best of 3): every outbound view (${views} views) ${figures.compileOut}; inbound policy of every pod port (${ports}) ${figures.compileIn}`);

    // --- the controller --------------------------------------------------------------------------------
    const mesh = await createMesh();
    const cert = await workloadCert(mesh, clientNs, 'client');
    const svc0 = (await kubectl(['get', 'svc', 'svc-0', '-n', ns, '-o', 'jsonpath={.spec.clusterIP}'])).stdout.trim();
    /**
     * One controller process from start to stop: sync, subscribers, route changes. `env` is added to
     * the controller's environment; `pass` keeps each pass's route changes distinct.
     */
    const measure = async (label: string, env: Readonly<Record<string, string | undefined>>, pass: number): Promise<{ figures: Record<string, string>; subs: number; deliveries: number }> => {
      const figures: Record<string, string> = {};
      const closers: (() => void)[] = [];
      console.log(`--- controller: ${label}`);
      let t = performance.now();
      const controller = await startControllerProcess([
        '--kubeconfig', info.kubeconfig, '--issuer-dir', mesh.issuerDir, '--namespace', ns, '--listen-host', '127.0.0.1',
        '--grpc-port', '0', '--admin-port', '0', '--webhook-port', '0', '--log-level', 'info',
      ], 300_000, env);
      controllerStop = () => controller.stop();
      try {
        const pid = controller.child.pid!;
        /** V8 heap in use, from the controller's own default metrics (prom-client). */
        const heapMb = async (): Promise<number> => {
          const text = await (await fetch(`http://127.0.0.1:${controller.adminPort}/metrics`)).text();
          return Math.round(Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(text)?.[1] ?? NaN) / 2 ** 20);
        };
        for (;;) {
          const r = await fetch(`http://127.0.0.1:${controller.adminPort}/ready`).catch(() => undefined);
          if (r?.status === 200) break;
          await sleep(200);
        }
        figures.sync = `${secs(performance.now() - t)} s`;
        const afterSync = await procStatus(pid);
        figures.rssSync = `${afterSync.rss} MB`;
        figures.heapSync = `${await heapMb()} MB`;
        console.log(`controller ready (all watches synced) in ${figures.sync}; RSS ${afterSync.rss} MB, V8 heap used ${figures.heapSync}`);

        // --- subscribers -----------------------------------------------------------------------------------
        const creds = credentials.createSsl(Buffer.from(mesh.anchor.certPem), Buffer.from(cert.keyPem), Buffer.from(cert.chainPem));
        const clients = Array.from({ length: channels }, (_, c) => new OutboundPolicyClient(controller.grpcAddress, creds, {
          'grpc.ssl_target_name_override': 'weft-controller.weft-system.svc',
          // A distinct option per client makes grpc-js open a distinct channel (and connection).
          'weft.bench.channel': c,
        }));
        closers.push(() => clients.forEach((c) => c.close()));
        const open = async (k: number): Promise<Collected<DestinationPolicy>> => {
          for (let attempt = 0; ; attempt++) {
            const s = new Collected<DestinationPolicy>(clients[k % channels]!.watch({ namespace: clientNs, pod: `client-${k}`, ip: svc0, port: 80 }));
            try {
              await s.waitFor('first snapshot', () => true, { timeoutMs: 30_000 });
              return s;
            } catch (err) {
              s.cancel();
              if (attempt >= 20) throw err;
              await sleep(500);
            }
          }
        };
        t = performance.now();
        const subs: Collected<DestinationPolicy>[] = [];
        const batch = 50;
        for (let k = 0; k < subscribers; k += batch) {
          subs.push(...(await Promise.all(Array.from({ length: Math.min(batch, subscribers - k) }, (_, i) => open(k + i)))));
        }
        closers.push(() => subs.forEach((s) => s.cancel()));
        figures.open = `${secs(performance.now() - t)} s`;
        await sleep(2_000);
        const withSubs = await procStatus(pid);
        figures.rssSubs = `${withSubs.rss} MB`;
        figures.heapSubs = `${await heapMb()} MB`;
        console.log(`${subs.length} subscribers on ${channels} channels open in ${figures.open}; RSS ${withSubs.rss} MB, V8 heap used ${figures.heapSubs}`);

        // --- route change -> push to every subscriber ------------------------------------------------------
        const all: number[] = [];
        const toLast: number[] = [];
        const toMedian: number[] = [];
        for (let k = pass * changes; k < (pass + 1) * changes; k++) {
          const marks = subs.map((s) => s.messages.length);
          const yaml = `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: c-0, namespace: ${clientNs}}\nspec:\n  parentRefs: [{group: "", kind: Service, name: svc-0, namespace: ${ns}, port: 80}]\n  rules:\n  - matches: [{path: {type: PathPrefix, value: /change-${k}}}]\n    backendRefs: [{name: svc-0, namespace: ${ns}, port: 80}]`;
          const t0 = performance.now();
          await api.apply(`/apis/gateway.networking.k8s.io/v1/namespaces/${clientNs}/httproutes/c-0`, yaml);
          const got = await Promise.all(subs.map((s, i) => s.waitFor(`change ${k}`, (m) => JSON.stringify(m).includes(`/change-${k}`), { from: marks[i]!, timeoutMs: 60_000 })));
          const lat = got.map((g) => g.at - t0);
          all.push(...lat);
          toLast.push(Math.max(...lat));
          toMedian.push(pct(lat, 50));
          console.log(`change ${k}: median subscriber ${pct(lat, 50).toFixed(0)} ms, last of ${lat.length} ${Math.max(...lat).toFixed(0)} ms`);
          await sleep(300);
        }
        figures.pushP50 = `${pct(all, 50).toFixed(0)} ms`;
        figures.pushP99 = `${pct(all, 99).toFixed(0)} ms`;
        figures.pushMax = `${Math.max(...all).toFixed(0)} ms`;
        figures.lastP50 = `${pct(toLast, 50).toFixed(0)} ms`;
        figures.lastMax = `${Math.max(...toLast).toFixed(0)} ms`;
        console.log(`apply -> push over ${changes} changes x ${subs.length} subscribers (${all.length} deliveries): p50 ${figures.pushP50}, p99 ${figures.pushP99}, max ${figures.pushMax}; time to the last subscriber per change: median ${figures.lastP50}, max ${figures.lastMax}`);
        const end = await procStatus(pid);
        figures.rssEnd = `${end.rss} MB`;
        figures.hwm = `${end.hwm} MB`;
        figures.heapEnd = `${await heapMb()} MB`;
        console.log(`RSS after the changes ${end.rss} MB, V8 heap used ${figures.heapEnd}; peak RSS (VmHWM) ${end.hwm} MB`);
        const metrics = await (await fetch(`http://127.0.0.1:${controller.adminPort}/metrics`)).text();
        const sum = Number(/^weft_policy_push_latency_seconds_sum\{service="outbound"\} (\S+)/m.exec(metrics)?.[1] ?? NaN);
        const count = Number(/^weft_policy_push_latency_seconds_count\{service="outbound"\} (\S+)/m.exec(metrics)?.[1] ?? NaN);
        figures.inner = `${((sum / count) * 1000).toFixed(1)} ms over ${count} pushes`;
        console.log(`controller's own watch event -> push latency (weft_policy_push_latency_seconds, outbound): mean ${figures.inner}`);
        return { figures, subs: subs.length, deliveries: all.length };
      } finally {
        for (const c of closers.reverse()) c();
        await controller.stop();
        controllerStop = undefined;
      }
    };
    // The memory settings the install manifest gives the controller's container (NODE_OPTIONS,
    // MALLOC_ARENA_MAX); then, as the reference, the same build with Node's and glibc's defaults.
    // The reference runs second, so it finds every route status already written (less work).
    const runtime = CONTROLLER_RUNTIME_ENV.map((e) => `${e.name}=${e.value.includes(' ') ? `"${e.value}"` : e.value}`).join(' ');
    const tuned = await measure(`install manifest settings (${runtime})`, Object.fromEntries(CONTROLLER_RUNTIME_ENV.map((e) => [e.name, e.value])), 0);
    const reference = await measure('reference: Node and glibc defaults', Object.fromEntries(CONTROLLER_RUNTIME_ENV.map((e) => [e.name, undefined])), 1);
    Object.assign(figures, tuned.figures);
    const ref = reference.figures;
    const subs = { length: tuned.subs };
    const all = { length: tuned.deliveries };

    if (process.argv.includes('--write')) {
      const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
      const lines = [
        `Measured ${when} UTC on this ${cpus().length}-core machine (shared with other jobs), ${services.toLocaleString('en')} Services, ${(2 * services).toLocaleString('en')} HTTPRoutes, ${(subscribers + backends).toLocaleString('en')} pods on \`${SIM_NODE_NAME}\` (${subscribers} subscriber pods, ${backends.toLocaleString('en')} backends), ${subs.length} OutboundPolicy streams over ${channels} mTLS channels from one process, ${changes} route changes per controller. The controller ran with the install manifest's \`${runtime}\`; the reference is the same build started afterwards with Node's and glibc's defaults (as every controller ran before), against the same objects, with the same subscribers and as many changes.`,
        '',
        '| figure | measured | reference: defaults | design target |',
        '|---|---|---|---|',
        `| controller RSS (V8 heap used) after sync | ${figures.rssSync} (${figures.heapSync}) | ${ref.rssSync} (${ref.heapSync}) | <= 300 MB |`,
        `| controller RSS (V8 heap used) with ${subs.length} subscribers | ${figures.rssSubs} (${figures.heapSubs}) | ${ref.rssSubs} (${ref.heapSubs}) | <= 300 MB |`,
        `| controller RSS (V8 heap used) after the changes / peak RSS (VmHWM) | ${figures.rssEnd} (${figures.heapEnd}) / ${figures.hwm} | ${ref.rssEnd} (${ref.heapEnd}) / ${ref.hwm} | <= 300 MB |`,
        `| route change -> push, p50 / p99 / max of ${all.length.toLocaleString('en')} deliveries | ${figures.pushP50} / ${figures.pushP99} / ${figures.pushMax} | ${ref.pushP50} / ${ref.pushP99} / ${ref.pushMax} | p99 <= 1 s |`,
        `| route change -> push to the last of ${subs.length} subscribers, median / max of ${changes} changes | ${figures.lastP50} / ${figures.lastMax} | ${ref.lastP50} / ${ref.lastMax} | <= 1 s |`,
        `| controller: watch event -> push (its own histogram), mean | ${figures.inner} | ${ref.inner} | |`,
        `| sync: start -> ready | ${figures.sync} | ${ref.sync} | |`,
        `| compile, every outbound view (${views.toLocaleString('en')}) / every pod port's inbound policy (${ports.toLocaleString('en')}), best of 3 | ${figures.compileOut} / ${figures.compileIn} | | |`,
        `| open ${subs.length} subscriber streams (to the first snapshot each) | ${figures.open} | ${ref.open} | |`,
        ...(figures.create !== undefined ? [`| setup: apply all objects / pods Ready on ${SIM_NODE_NAME} | ${figures.create} / ${figures.podsReady ?? ''} | | |`] : []),
      ];
      await writeReadmeSection(join(REPO_ROOT, 'bench', 'README.md'), 'controller-scale', lines.join('\n'), '## controller-scale: memory, compile time and route change -> push');
      console.log('wrote bench/README.md (controller-scale)');
    }
  } finally {
    await controllerStop?.();
    await api.close();
    await rm(dir, { recursive: true, force: true });
    if (!keep) {
      const t = performance.now();
      await kubectl(['delete', 'namespace', ns, clientNs, '--ignore-not-found', '--wait=true', '--timeout=600s']).catch((err: unknown) => console.error(`cleanup: ${String(err)}`));
      console.log(`deleted namespaces ${ns} and ${clientNs} in ${secs(performance.now() - t)} s`);
    } else console.log(`kept namespaces ${ns} and ${clientNs} (--reuse ${tag})`);
    console.log(`total ${secs(performance.now() - t00)} s`);
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
