/**
 * manifests/prometheus/podmonitor.yaml against the Prometheus Operator's own PodMonitor CRD (v0.85.0,
 * from its Go module) in the real API server: a server-side dry run with strict field validation
 * accepts it unchanged (but for the namespace), and refuses a misspelt field, so the check is live.
 * The CRD is applied only if the cluster lacks it, and removed again.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseAllDocuments, stringify } from 'yaml';
import { useCluster } from '../cluster/fixture.js';
import type { Cluster } from '../cluster/fixture.js';
import { REPO_ROOT } from '../support/paths.js';
import { podMonitorCrdFile } from '../support/prometheus-operator.js';

const CRD = 'podmonitors.monitoring.coreos.com';
let cluster: Cluster;
let crdFile = '';
let createdCrd = false;

before(async () => {
  cluster = await useCluster();
  crdFile = await podMonitorCrdFile();
  if ((await cluster.kubectl(['get', 'crd', CRD])).code !== 0) {
    const r = await cluster.kubectl(['apply', '--server-side', '-f', crdFile], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    createdCrd = true;
    const w = await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', `crd/${CRD}`], { timeoutMs: 70_000 });
    assert.equal(w.code, 0, w.stderr);
  }
}, { timeout: 300_000 });

after(async () => {
  if (createdCrd) await cluster.kubectl(['delete', '--ignore-not-found', 'crd', CRD], { timeoutMs: 60_000 });
});

test('the shipped PodMonitors pass the Operator CRD\'s schema with strict field validation; a misspelt field does not', async (t) => {
  const ns = await cluster.freshNamespace(t);
  const pms = parseAllDocuments(readFileSync(join(REPO_ROOT, 'manifests', 'prometheus', 'podmonitor.yaml'), 'utf8'))
    .map((d) => d.toJS() as { metadata: Record<string, unknown>; spec: Record<string, unknown> });
  assert.equal(pms.length, 2, 'the meshed pods\' and the gateway pods\' PodMonitors');
  const shipped = pms.map((p) => stringify({ ...p, metadata: { ...p.metadata, namespace: ns } })).join('---\n');
  const ok = await cluster.kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], { input: shipped });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /podmonitor\.monitoring\.coreos\.com\/weft-proxy (created|configured) \(server dry run\)/);
  assert.match(ok.stdout, /podmonitor\.monitoring\.coreos\.com\/weft-gateway (created|configured) \(server dry run\)/);
  assert.equal(ok.stderr.trim(), '', 'no warnings');

  const pm = pms[0]!;

  const eps = pm.spec['podMetricsEndpoints'] as Record<string, unknown>[];
  const typo = stringify({ ...pm, metadata: { ...pm.metadata, namespace: ns }, spec: { ...pm.spec, podMetricsEndpoints: eps.map((e) => ({ ...e, pathh: '/metrics' })) } });
  const bad = await cluster.kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], { input: typo });
  assert.notEqual(bad.code, 0, 'strict validation is active');
  assert.match(bad.stderr, /unknown field "spec\.podMetricsEndpoints\[0\]\.pathh"/);
});
