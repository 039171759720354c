/**
 * The real node (kubelet v1.36.3, containerd, runc, CNI bridge): what the stand-in agent cannot show.
 * Every pod of the cluster runs here; these select it by label all the same. They run the Weft image
 * that `npm run images` builds (`npm run test:e2e` builds it; `up` imports it into containerd). Logs,
 * exec and port-forward go through the API server to the kubelet.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';

import { DEFAULT_IMAGE } from '../../core/contract.js';
import { useCluster } from '../cluster/fixture.js';

const cluster = await useCluster();
const { info } = cluster;

function placement(): Record<string, unknown> {
  return { nodeSelector: { 'weft.dev/node': 'real' } };
}

/** The securityContext `weft install` and the injector give non-root containers. */
const RESTRICTED = {
  runAsUser: 1000,
  runAsGroup: 1000,
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

async function kubectlOk(args: string[], timeoutMs = 60_000): Promise<string> {
  const r = await cluster.kubectl(args, { timeoutMs });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

test('the real node is registered, Ready, untainted and runs the pinned kubelet on containerd; the stand-in node is gone', async () => {
  const node = await cluster.core.readNode({ name: info.realNodeName });
  assert.equal(node.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
  assert.equal(node.status?.nodeInfo?.kubeletVersion, 'v1.36.3');
  // containerd reports its version without the tag's "v".
  assert.equal(node.status?.nodeInfo?.containerRuntimeVersion, 'containerd://2.3.7');
  assert.deepEqual(node.spec?.podCIDRs, [info.realPodCIDR]);
  assert.deepEqual(node.spec?.taints ?? [], [], 'pods need no toleration to run on the real node');
  // Besides it only the simulated node, which runs nothing and takes only pods that tolerate its taint.
  const nodes = (await cluster.core.listNode()).items.map((n) => n.metadata?.name).sort();
  assert.deepEqual(nodes, [info.realNodeName, info.simNodeName].sort());
  assert.deepEqual(node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address, info.realNodeIP);
});

test('the Weft image from `npm run images` is on the real node', async () => {
  const node = await cluster.core.readNode({ name: info.realNodeName });
  const names = (node.status?.images ?? []).flatMap((i) => i.names ?? []);
  assert.ok(names.includes(DEFAULT_IMAGE), `${DEFAULT_IMAGE} is not in containerd (run \`npm run images\`, then \`npm run cluster -- up\`); node images: ${names.join(', ')}`);
});

test('the kubelet enforces the restricted securityContext on the Weft image; logs, exec and port-forward work through the API server', async (t) => {
  const ns = await cluster.freshNamespace(t);
  const script = [
    "const { createServer } = require('node:http');",
    "const { hostname } = require('node:os');",
    'console.log(`weft-real-node uid=${process.getuid()} gid=${process.getgid()}`);',
    "createServer((req, res) => res.end(`served from ${hostname()}`)).listen(8080);",
  ].join(' ');
  await cluster.apply(
    ns,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'restricted' },
      spec: {
        ...placement(),
        automountServiceAccountToken: false,
        containers: [
          {
            name: 'app',
            image: DEFAULT_IMAGE,
            imagePullPolicy: 'Never',
            command: ['node', '-e', script],
            ports: [{ containerPort: 8080 }],
            securityContext: RESTRICTED,
            volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
            readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
          },
        ],
        volumes: [{ name: 'scratch', emptyDir: {} }],
      },
    }),
  );
  const pod = await cluster.waitPodReady(ns, 'restricted', { timeoutMs: 90_000 });
  assert.equal(pod.spec?.nodeName, info.realNodeName);
  assert.match(pod.status?.podIP ?? '', /^10\.246\./, `pod IP ${pod.status?.podIP ?? 'none'} is not in ${info.realPodCIDR}`);

  // logs: from containerd's log file, read by the kubelet, proxied by the API server.
  await cluster.waitFor('the container log through kubectl logs', async () => {
    const r = await cluster.kubectl(['logs', '-n', ns, 'restricted', '-c', 'app']);
    return r.code === 0 && r.stdout.includes('weft-real-node uid=1000 gid=1000') ? true : `exit ${r.code}: ${r.stdout}${r.stderr}`;
  });

  // exec: the process runs as 1000, without capabilities, under seccomp filtering.
  assert.equal((await kubectlOk(['exec', '-n', ns, 'restricted', '-c', 'app', '--', 'id', '-u'])).trim(), '1000');
  const status = await kubectlOk(['exec', '-n', ns, 'restricted', '-c', 'app', '--', 'cat', '/proc/self/status']);
  assert.match(status, /^CapEff:\s+0000000000000000$/m);
  assert.match(status, /^CapBnd:\s+0000000000000000$/m);
  assert.match(status, /^NoNewPrivs:\s+1$/m);
  assert.match(status, /^Seccomp:\s+2$/m, 'seccomp mode 2 (filter) from the RuntimeDefault profile');

  // The root filesystem is read-only; the emptyDir is writable (so the failure is the read-only root).
  const write = await cluster.kubectl(['exec', '-n', ns, 'restricted', '-c', 'app', '--', 'touch', '/written']);
  assert.notEqual(write.code, 0, 'writing to / succeeded');
  assert.match(write.stderr, /Read-only file system/);
  await kubectlOk(['exec', '-n', ns, 'restricted', '-c', 'app', '--', 'touch', '/scratch/written']);
  const mounts = await kubectlOk(['exec', '-n', ns, 'restricted', '-c', 'app', '--', 'cat', '/proc/self/mounts']);
  assert.match(mounts, /^overlay \/ overlay ro[,\s]/m);

  // port-forward: kubectl -> API server -> kubelet -> containerd's stream server -> the pod's netns.
  const body = await portForwardGet(ns, 'restricted', 8080);
  assert.match(body, /served from restricted/);
});

test('a 64Mi memory limit OOM-kills a 200 MB allocation in the Weft image (reason OOMKilled)', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await cluster.apply(
    ns,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'oom' },
      spec: {
        ...placement(),
        restartPolicy: 'Never',
        automountServiceAccountToken: false,
        containers: [
          {
            name: 'hog',
            image: DEFAULT_IMAGE,
            imagePullPolicy: 'Never',
            // 200 MB outside the V8 heap, every page written.
            command: ['node', '-e', 'const b = Buffer.alloc(200 * 1024 * 1024, 1); console.log(`allocated ${b.length}`);'],
            resources: { requests: { memory: '64Mi', cpu: '50m' }, limits: { memory: '64Mi', cpu: '500m' } },
            securityContext: RESTRICTED,
          },
        ],
      },
    }),
  );
  let reason = '';
  let phase = '';
  // The container's terminated state can be reported one status update before the pod's phase.
  await cluster.waitFor(
    'the container to be terminated and the pod to be finished',
    async () => {
      const pod = await cluster.core.readNamespacedPod({ name: 'oom', namespace: ns });
      const term = pod.status?.containerStatuses?.[0]?.state?.terminated;
      phase = pod.status?.phase ?? 'none';
      if (!term || phase === 'Pending' || phase === 'Running') return `phase ${phase}, terminated ${term ? 'yes' : 'no'}`;
      reason = `${term.reason ?? ''} exit ${term.exitCode}`;
      return true;
    },
    { timeoutMs: 90_000 },
  );
  assert.equal(reason, 'OOMKilled exit 137');
  assert.equal(phase, 'Failed');
  const pod = await cluster.core.readNamespacedPod({ name: 'oom', namespace: ns });
  assert.equal(pod.spec?.nodeName, info.realNodeName);
});

/** Runs `kubectl port-forward` to a free local port and GETs / through it. */
async function portForwardGet(ns: string, pod: string, port: number): Promise<string> {
  const kubectl = join(info.binDir, 'kubectl');
  const child = spawn(kubectl, [`--kubeconfig=${info.kubeconfig}`, 'port-forward', '-n', ns, `pod/${pod}`, `:${port}`, '--address=127.0.0.1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const local = await new Promise<number>((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => reject(new Error(`port-forward did not start: ${out}${err}`)), 20_000);
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /Forwarding from 127\.0\.0\.1:(\d+) ->/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      child.on('exit', (code) => reject(new Error(`port-forward exited ${code}: ${out}${err}`)));
    });
    return await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: local, path: '/', timeout: 10_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET / through port-forward: ${res.statusCode}: ${body}`))));
      });
      req.on('timeout', () => req.destroy(new Error('GET through port-forward timed out')));
      req.on('error', reject);
      req.end();
    });
  } finally {
    child.kill('SIGTERM');
  }
}

test('kubectl attach reaches a running container\'s stdin and stdout through the API server', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await cluster.apply(
    ns,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'attached' },
      spec: {
        ...placement(),
        automountServiceAccountToken: false,
        terminationGracePeriodSeconds: 1,
        containers: [{
          name: 'echo', image: info.toolboxImage, stdin: true,
          command: ['sh', '-c', 'echo started; while read line; do echo "got $line"; done'],
        }],
      },
    }),
  );
  await cluster.waitPodReady(ns, 'attached', { timeoutMs: 90_000 });
  // A line written to kubectl's stdin reaches the container; its reply comes back on kubectl's stdout.
  const child = spawn(join(info.binDir, 'kubectl'), [`--kubeconfig=${info.kubeconfig}`, 'attach', '-i', '-n', ns, 'attached', '-c', 'echo'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  try {
    await cluster.waitFor('the reply through kubectl attach', async () => {
      if (child.exitCode !== null) throw new Error(`kubectl attach exited ${child.exitCode}: ${out} ${err}`);
      child.stdin.write('through the kubelet\n');
      return /^got through the kubelet$/m.test(out) ? true : `stdout so far: ${JSON.stringify(out)}`;
    }, { timeoutMs: 20_000, intervalMs: 1000 });
  } finally {
    child.stdin.end();
    child.kill();
  }
});
