/**
 * The observability manifests checked against what Weft exports: the Grafana dashboard's queries use
 * only metrics and labels the proxy's registry produces (and docs/metrics.md documents) and only the
 * dashboard's own variables; the PodMonitor and the scrape job select the injector's admin port and
 * the meshed label, and leave the target address to service discovery (IPv6 pod IPs bracketed).
 * test/e2e/cli-prometheus.test.ts runs every query against a real Prometheus.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { GATEWAY_NAME_LABEL, renderGatewayWorkload } from '../../core/gateway/render.js';
import { MESHED_LABEL, MESHED_LABEL_VALUE, PROXY_ADMIN_PORT, PROXY_ADMIN_PORT_NAME } from '../../core/contract.js';
import { createRegistry, ProxyStats, RouteMetrics } from '../../proxy/metrics.js';
import { dashboardQueries, readDashboard, substitute } from './grafana.js';
import { REPO_ROOT } from './paths.js';

/** Metric name -> label names, from the proxy's own /metrics text with one outbound and one inbound series. */
async function exported(): Promise<Map<string, Set<string>>> {
  const routes = new RouteMetrics();
  routes.outbound({
    service_namespace: 'ns', service_name: 's', service_port: '80', route_kind: 'http', route_namespace: 'ns', route_name: 'r',
    route_rule: '0', backend_namespace: 'ns', backend_name: 'b', backend_port: '80',
  }).record({ status: 200, grpcStatus: undefined, error: undefined, durationMs: 1 });
  routes.inbound({ target_port: '80', server: 'srv', route: '', authorization: '', decision: 'deny' }, 'unauthenticated', false)
    .record({ status: 403, grpcStatus: undefined, error: 'FORBIDDEN', durationMs: 0 });
  const text = await createRegistry(new ProxyStats(), routes).metrics();
  const out = new Map<string, Set<string>>();
  for (const m of text.matchAll(/^([a-z_]+)\{([^}]*)\} /gm)) {
    const labels = out.get(m[1]!) ?? new Set<string>();
    for (const l of m[2]!.matchAll(/([a-z_]+)="/g)) labels.add(l[1]!);
    out.set(m[1]!, labels);
  }
  return out;
}

/** Labels every series gets from the scrape (the job's relabelling, the PodMonitor's defaults). */
const TARGET_LABELS = ['namespace', 'pod', 'job', 'instance'];

test('every dashboard query uses metrics and labels the proxy exports and docs/metrics.md documents', async () => {
  const metrics = await exported();
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'metrics.md'), 'utf8');
  const queries = dashboardQueries();
  assert.ok(queries.length >= 6, `${queries.length} queries`);
  for (const q of queries) {
    const names = [...q.expr.matchAll(/\b(weft_[a-z_]+)\b/g)].map((m) => m[1]!);
    assert.ok(names.length > 0, `${q.panel}/${q.refId} reads no Weft metric`);
    const labels = new Set<string>(TARGET_LABELS);
    for (const n of names) {
      const series = metrics.get(n);
      assert.ok(series !== undefined, `${q.panel}: ${n} is not exported by the proxy`);
      assert.ok(doc.includes(`\`${n.replace(/_(bucket|count|sum)$/, '')}\``), `${q.panel}: ${n} is not in docs/metrics.md`);
      for (const l of series) labels.add(l);
    }
    const used = [
      ...[...q.expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((s) => s.trim())),
      ...[...q.expr.matchAll(/([a-z_]+)\s*(?:=~|!~|!=|=)\s*"/g)].map((m) => m[1]!),
    ];
    for (const l of used) assert.ok(labels.has(l), `${q.panel}/${q.refId}: label ${l} is not on ${names.join(', ')}`);
  }
});

test('the dashboard has the four views, and its queries use only its own variables', () => {
  const d = readDashboard();
  const vars = new Set((d.templating?.list ?? []).map((v) => v.name));
  assert.deepEqual([...vars].sort(), ['datasource', 'namespace', 'route_namespace']);
  const queries = dashboardQueries(d);
  for (const q of queries) {
    for (const m of q.expr.matchAll(/\$\{?(\w+)\}?/g)) assert.ok(vars.has(m[1]!) || m[1] === '__rate_interval', `${q.panel}: unknown variable ${m[0]}`);
  }
  const byPanel = (re: RegExp) => queries.filter((q) => re.test(q.panel)).map((q) => q.expr);
  assert.match(byPanel(/^Success rate per route/).join(), /classification="success"/);
  assert.match(byPanel(/^Requests per second per route/).join(), /rate\(weft_outbound_requests_total/);
  const latency = byPanel(/^Latency per route/).join('\n');
  for (const q of ['0.5', '0.95', '0.99']) assert.ok(latency.includes(`histogram_quantile(${q},`), `latency panel has p${q}`);
  assert.match(byPanel(/^Authorization denials/).join(), /weft_inbound_requests_total\{[^}]*decision="deny"/);
  assert.equal(substitute('x{a=~"$namespace"}[$__rate_interval]', { namespace: 'n', __rate_interval: '1m' }), 'x{a=~"n"}[1m]');
  assert.throws(() => substitute('$nope', {}), /\$nope/);
});

test('the PodMonitors and the scrape job select the meshed pods\' and the gateway pods\' admin port and leave the address to service discovery', () => {
  type PodMonitor = {
    apiVersion: string; kind: string; metadata: { name: string };
    spec: {
      selector: { matchLabels: Record<string, string>; matchExpressions?: { key: string; operator: string }[] }; namespaceSelector: { any: boolean };
      podMetricsEndpoints: { port: string; path: string; relabelings?: { targetLabel?: string }[] }[];
    };
  };
  const pms = parseAllDocuments(readFileSync(join(REPO_ROOT, 'manifests', 'prometheus', 'podmonitor.yaml'), 'utf8')).map((d) => d.toJS() as PodMonitor);
  assert.deepEqual(pms.map((p) => p.metadata.name), ['weft-proxy', 'weft-gateway']);
  for (const pm of pms) {
    assert.equal(pm.apiVersion, 'monitoring.coreos.com/v1');
    assert.equal(pm.kind, 'PodMonitor');
    assert.equal(pm.spec.namespaceSelector.any, true);
    assert.equal(pm.spec.podMetricsEndpoints.length, 1);
    assert.equal(pm.spec.podMetricsEndpoints[0]?.port, PROXY_ADMIN_PORT_NAME);
    assert.equal(pm.spec.podMetricsEndpoints[0]?.path, '/metrics');
    assert.ok(!(pm.spec.podMetricsEndpoints[0]?.relabelings ?? []).some((r) => r.targetLabel === '__address__'));
  }
  assert.deepEqual(pms[0]?.spec.selector, { matchLabels: { [MESHED_LABEL]: MESHED_LABEL_VALUE } });
  // The gateway pods carry the labels core/gateway/render.ts puts on them.
  const gatewayPod = renderGatewayWorkload({ metadata: { namespace: 'infra', name: 'gw', uid: 'u' }, spec: { gatewayClassName: 'weft', listeners: [] } }, [], {
    image: 'i', trustDomain: 'cluster.local', trustAnchorsPem: '', controllerAddr: 'c:1', clusterNetworks: [], logLevel: 'info',
  }).find((o) => o.kind === 'Deployment') as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } };
  const podLabels = gatewayPod.spec.template.metadata.labels;
  assert.deepEqual(pms[1]?.spec.selector, { matchLabels: { 'app.kubernetes.io/managed-by': 'weft' }, matchExpressions: [{ key: GATEWAY_NAME_LABEL, operator: 'Exists' }] });
  assert.equal(podLabels['app.kubernetes.io/managed-by'], 'weft');
  assert.equal(podLabels[GATEWAY_NAME_LABEL], 'gw');

  const sc = parse(readFileSync(join(REPO_ROOT, 'manifests', 'prometheus', 'scrape-config.yaml'), 'utf8')) as {
    scrape_configs: { relabel_configs: { source_labels?: string[]; separator?: string; target_label?: string; action?: string; regex?: string; replacement?: string }[] }[];
  };
  const rules = sc.scrape_configs[0]?.relabel_configs ?? [];
  assert.equal(rules.some((r) => r.target_label === '__address__'), false, 'no rule builds host:port by hand (it broke IPv6 pod IPs)');
  assert.ok(!rules.some((r) => (r.replacement ?? '').includes(':7191')));
  const keepPort = rules.find((r) => r.action === 'keep' && r.source_labels?.[0] === '__meta_kubernetes_pod_container_port_number');
  assert.equal(keepPort?.regex, String(PROXY_ADMIN_PORT));
  // The pod rule as Prometheus applies it: source values joined by ";", the regex anchored at both ends.
  const keepPods = rules.find((r) => r.action === 'keep' && r.source_labels?.[0] === `__meta_kubernetes_pod_label_${MESHED_LABEL.replace(/[./-]/g, '_')}`);
  assert.ok(keepPods?.regex !== undefined && keepPods.source_labels !== undefined);
  const meta = (labels: Record<string, string>) => Object.fromEntries(Object.entries(labels).flatMap(([k, v]) => {
    const n = k.replace(/[./-]/g, '_');
    return [[`__meta_kubernetes_pod_label_${n}`, v], [`__meta_kubernetes_pod_labelpresent_${n}`, 'true']];
  })) as Record<string, string>;
  const kept = (labels: Record<string, string>) => new RegExp(`^(?:${keepPods.regex})$`).test(keepPods.source_labels!.map((l) => meta(labels)[l] ?? '').join(keepPods.separator ?? ';'));
  assert.equal(kept({ [MESHED_LABEL]: MESHED_LABEL_VALUE, app: 'books' }), true, 'a meshed pod');
  assert.equal(kept(podLabels), true, 'a gateway pod');
  assert.equal(kept({ app: 'books' }), false, 'a pod outside the mesh');
  assert.equal(kept({ 'app.kubernetes.io/managed-by': 'weft', 'app.kubernetes.io/name': 'weft-policy-controller' }), false, 'another pod Weft manages');
  assert.equal(kept({ [GATEWAY_NAME_LABEL]: 'gw' }), false, 'another implementation\'s gateway pod');
});
