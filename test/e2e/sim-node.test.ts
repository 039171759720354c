/**
 * The simulated node (test/cluster/agent/): pods bound to it are written Running and Ready with an
 * address of its own CIDR and never run, so scale tests and the controller benchmark can create
 * thousands of pods. Every pod that runs, runs on the real node.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { useCluster } from '../cluster/fixture.js';
import type { Cluster } from '../cluster/fixture.js';

let cluster: Cluster;

before(async () => {
  cluster = await useCluster();
});

test('pods bound to the simulated node become Running and Ready with distinct addresses of its CIDR, and no container runs', async (t) => {
  const ns = await cluster.freshNamespace(t);
  const replicas = 200;
  const t0 = Date.now();
  await cluster.apply(ns, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: many}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: many}}
  template:
    metadata: {labels: {app: many}}
    spec:
      nodeSelector: {weft.dev/simulated: "true"}
      tolerations: [{key: weft.dev/simulated, operator: Exists, effect: NoSchedule}]
      containers: [{name: c, image: registry.k8s.io/pause:3.10}]
`);
  await cluster.waitFor(`${replicas} ready`, async () => {
    const d = await cluster.apps.readNamespacedDeployment({ name: 'many', namespace: ns });
    return d.status?.readyReplicas === replicas ? true : `ready ${d.status?.readyReplicas ?? 0}`;
  }, { timeoutMs: 120_000 });
  t.diagnostic(`${replicas} simulated pods Ready in ${Date.now() - t0} ms`);
  const pods = (await cluster.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=many' })).items;
  const ips = pods.map((p) => p.status?.podIP ?? '');
  assert.equal(new Set(ips).size, replicas);
  const prefix = cluster.info.simPodCIDR.split('.').slice(0, 2).join('.');
  for (const p of pods) {
    assert.equal(p.spec?.nodeName, cluster.info.simNodeName);
    assert.ok((p.status?.podIP ?? '').startsWith(`${prefix}.`), `${p.metadata?.name}: ${p.status?.podIP}`);
  }
  // The image exists nowhere: a pod that ran would fail to pull it; these report running containers.
  assert.ok(pods.every((p) => p.status?.containerStatuses?.every((c) => c.state?.running !== undefined)));
});
