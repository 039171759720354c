/**
 * Gateways in `weft stat|routes|explain`, pure: which Gateway an argument names (and why Weft does not
 * serve one), the routes table joined with the gateway's series, the stat rows, and explain's verdicts
 * (listener, route, rule, backends by weight, 404 with why, 500 not-permitted) on the controller's own
 * decision. Figures are worked out by hand from the samples below; docs/cli.md's gateway examples are
 * these tables as rendered (checked at the end).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../../test/support/paths.js';
import { GATEWAY_CONTROLLER_NAME, PROXY_METRICS } from '../../core/contract.js';
import type { Gateway, GatewayClass } from '../../core/gateway/types.js';
import type { ClusterSnapshot, HTTPRoute, Namespace, Pod, Service } from '../../core/kube.js';
import { summarize } from './figures.js';
import { explainGateway, renderGatewayExplanation } from './gateway-explain.js';
import {
  gatewayPods, gatewayRouteRows, gatewaySeriesKeyOf, gatewayStatKeyOf, lookupGateway, renderGatewayList, renderGatewayRoutes, renderGatewayStat,
  weftGateways, type GatewayFound, type GatewayObjects,
} from './gateway.js';
import { parseObserveArgs } from './command.js';
import { runExplain } from './explain-command.js';
import { parseResource } from './workloads.js';
import type { DeltaSample } from './window.js';

const ns = (name: string): Namespace => ({ metadata: { name } });
const svc = (namespace: string, name: string, port = 8080): Service => ({ metadata: { namespace, name }, spec: { ports: [{ port }], selector: { app: name } } });
const route = (namespace: string, name: string, spec: NonNullable<HTTPRoute['spec']>): HTTPRoute => ({ metadata: { namespace, name, creationTimestamp: '2026-01-01T00:00:00Z' }, spec });

const classes: GatewayClass[] = [
  { metadata: { name: 'weft' }, spec: { controllerName: GATEWAY_CONTROLLER_NAME } },
  { metadata: { name: 'other' }, spec: { controllerName: 'example.com/other' } },
];
const edge: Gateway = {
  metadata: { namespace: 'infra', name: 'edge', generation: 1 },
  spec: {
    gatewayClassName: 'weft',
    listeners: [
      { name: 'web', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } },
      { name: 'shop', port: 8080, protocol: 'HTTP', hostname: 'shop.example.com' },
      { name: 'secure', port: 443, protocol: 'HTTPS', tls: { certificateRefs: [{ name: 'cert' }] } },
    ],
  },
  status: {
    addresses: [{ type: 'IPAddress', value: '10.96.0.50' }],
    conditions: [{ type: 'Accepted', status: 'True', reason: 'ListenersNotValid' }, { type: 'Programmed', status: 'True', reason: 'Programmed' }],
    listeners: [
      { name: 'web', supportedKinds: [], attachedRoutes: 2, conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted' }, { type: 'Programmed', status: 'True', reason: 'Programmed' }] },
      { name: 'shop', supportedKinds: [], attachedRoutes: 0, conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted' }] },
      { name: 'secure', supportedKinds: [], attachedRoutes: 0, conditions: [{ type: 'Accepted', status: 'False', reason: 'UnsupportedProtocol', message: 'protocol HTTPS is not supported' }] },
    ],
  },
};
const foreign: Gateway = { metadata: { namespace: 'infra', name: 'theirs' }, spec: { gatewayClassName: 'other', listeners: [{ name: 'web', port: 80, protocol: 'HTTP' }] } };
const orphan: Gateway = { metadata: { namespace: 'infra', name: 'orphan' }, spec: { gatewayClassName: 'gone', listeners: [{ name: 'web', port: 80, protocol: 'HTTP' }] } };

const httpRoutes: HTTPRoute[] = [
  route('infra', 'split', {
    parentRefs: [{ name: 'edge', sectionName: 'web' }],
    rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/split' } }], backendRefs: [{ name: 'echo-v1', port: 8080, weight: 50 }, { name: 'echo-v2', port: 8080, weight: 50 }] }],
  }),
  route('apps', 'cross', {
    parentRefs: [{ name: 'edge', namespace: 'infra', sectionName: 'web' }],
    rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/cross' } }], backendRefs: [{ name: 'echo-v1', namespace: 'backend', port: 8080 }] }],
  }),
  route('infra', 'lost', { parentRefs: [{ name: 'edge', sectionName: 'nope' }], rules: [{ backendRefs: [{ name: 'echo-v1', port: 8080 }] }] }),
];

const world: GatewayObjects = {
  gatewayClasses: classes, gateways: [edge, foreign, orphan], httpRoutes, grpcRoutes: [],
  services: [svc('infra', 'echo-v1'), svc('infra', 'echo-v2'), svc('backend', 'echo-v1')],
  referenceGrants: [], namespaces: [ns('infra'), ns('apps'), ns('backend')],
};

const snapshot: ClusterSnapshot = {
  namespaces: world.namespaces, services: world.services, endpointSlices: [], pods: [], httpRoutes, grpcRoutes: [], referenceGrants: [],
  servers: [], authorizationPolicies: [], meshTLSAuthentications: [], networkAuthentications: [], faultInjections: [], inboundLimitPolicies: [],
} as unknown as ClusterSnapshot;

function found(): GatewayFound {
  const f = lookupGateway(world, 'infra', 'edge');
  assert.ok(f.ok, f.ok ? '' : f.error);
  return f;
}

test('lookupGateway: a Gateway of an accepted Weft class is found; others are errors naming why', () => {
  assert.equal(found().className, 'weft');
  const missing = lookupGateway(world, 'infra', 'nope');
  assert.ok(!missing.ok && /Gateway infra\/nope not found/.test(missing.error));
  const theirs = lookupGateway(world, 'infra', 'theirs');
  assert.ok(!theirs.ok && theirs.error.includes('controlled by example.com/other, not weft.dev/gateway-controller'), theirs.ok ? '' : theirs.error);
  const gone = lookupGateway(world, 'infra', 'orphan');
  assert.ok(!gone.ok && gone.error.includes('GatewayClass gone does not exist'));
  const unaccepted = lookupGateway({ ...world, gatewayClasses: [{ metadata: { name: 'weft' }, spec: { controllerName: GATEWAY_CONTROLLER_NAME, parametersRef: { group: 'x', kind: 'Y', name: 'z' } } }] }, 'infra', 'edge');
  assert.ok(!unaccepted.ok && unaccepted.error.includes('is not accepted (Accepted=False InvalidParameters'), unaccepted.ok ? '' : unaccepted.error);
  assert.deepEqual(weftGateways(world, undefined).map((g) => g.metadata.name), ['edge']);
  assert.deepEqual(weftGateways(world, 'apps').map((g) => g.metadata.name), []);
});

test('parseResource and the verbs: gateway kinds, --from and -l refused for gateways', () => {
  for (const t of ['gateway/edge', 'gateways/edge', 'gtw/edge', 'gw/edge', 'gateway.gateway.networking.k8s.io/edge']) assert.deepEqual(parseResource(t, ['gateway']), { kind: 'gateway', name: 'edge' }, t);
  const stat = parseObserveArgs('stat', ['gateway']);
  assert.ok(stat.ok && stat.args.resource.kind === 'gateway' && stat.args.resource.name === undefined);
  const routes = parseObserveArgs('routes', ['gateway/edge', '-n', 'infra']);
  assert.ok(routes.ok && routes.args.resource.name === 'edge');
  const from = parseObserveArgs('stat', ['gateway/edge', '--from', 'deploy/web']);
  assert.ok(!from.ok && from.text.includes("--from does not apply to gateways"), from.ok ? '' : from.text);
  const sel = parseObserveArgs('stat', ['gateway', '-l', 'a=b']);
  assert.ok(!sel.ok && sel.text.includes('-l does not apply to gateways'));
  const authz = parseObserveArgs('authz', ['gateway/edge']);
  assert.ok(!authz.ok && authz.text.includes('the resource kind must be one of'));
});

test('gatewayPods: the pods with the Gateway label; ready ones are Running with Ready=True', () => {
  const pod = (name: string, ready: boolean, gw = 'edge'): Pod => ({
    metadata: { namespace: 'infra', name, labels: { 'gateway.networking.k8s.io/gateway-name': gw } },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  } as unknown as Pod);
  const got = gatewayPods([pod('a', true), pod('b', false), pod('c', true, 'other')], 'infra', 'edge');
  assert.deepEqual(got.pods.map((p) => p.metadata.name), ['a', 'b']);
  assert.deepEqual(got.ready.map((p) => p.metadata.name), ['a']);
});

/** Series as `weft gateway` labels them (proxy/policy/hook.ts gatewayRoute): service_* name the Gateway and the listener port. */
function series(labels: Record<string, string>, requests: number, ok = true, bucketsMs: readonly [number, number][] = []): DeltaSample[] {
  const l = {
    service_namespace: 'infra', service_name: 'edge', service_port: '80', route_kind: 'http', route_namespace: '', route_name: '', route_rule: '',
    backend_namespace: '', backend_name: '', backend_port: '', ...labels,
  };
  const out: DeltaSample[] = [{ name: PROXY_METRICS.outboundRequests, labels: { ...l, status_code: ok ? '200' : '500', ...(ok ? {} : { error: 'not-permitted' }) }, value: requests }];
  for (const [le, n] of bucketsMs) out.push({ name: `${PROXY_METRICS.outboundDuration}_bucket`, labels: { ...l, le: String(le / 1000) }, value: n });
  return out;
}

const samples: DeltaSample[] = [
  // split: 30 to v1 (all under 5 ms), 10 to v2 (all under 10 ms, none under 5).
  ...series({ route_namespace: 'infra', route_name: 'split', route_rule: '0', backend_namespace: 'infra', backend_name: 'echo-v1', backend_port: '8080' }, 30, true, [[5, 30], [10, 30], [Infinity, 30]]),
  ...series({ route_namespace: 'infra', route_name: 'split', route_rule: '0', backend_namespace: 'infra', backend_name: 'echo-v2', backend_port: '8080' }, 10, true, [[5, 0], [10, 10], [Infinity, 10]]),
  // cross: 5 refused on the rule's series (no backend labels): 500 not-permitted.
  ...series({ route_namespace: 'apps', route_name: 'cross', route_rule: '0' }, 5, false),
  // 7 requests no rule matched: 404, route_kind none.
  { name: PROXY_METRICS.outboundRequests, labels: { service_namespace: 'infra', service_name: 'edge', service_port: '80', route_kind: 'none', route_namespace: '', route_name: '', route_rule: '', backend_namespace: '', backend_name: '', backend_port: '', status_code: '404', error: 'no-route' }, value: 7 },
  // another Gateway's series: left out.
  ...series({ service_name: 'other', route_namespace: 'infra', route_name: 'split', route_rule: '0' }, 99),
];

test('routes gateway/NAME: listeners with status, a row per listener, route, rule and backend with its figures, [no route], refused routes', () => {
  const f = found();
  const rows = gatewayRouteRows(f.view, summarize(samples, 'outbound', gatewaySeriesKeyOf(f)));
  const brief = rows.map((r) => [r.listener, r.route?.name ?? '[no route]', r.backend, r.weight ?? '-', Math.round(r.figures?.requests ?? -1)]);
  assert.deepEqual(brief, [
    ['web', 'cross', 'unresolved (RefNotPermitted)', 1, 5],
    ['web', 'split', 'infra/echo-v1:8080', 50, 30],
    ['web', 'split', 'infra/echo-v2:8080', 50, 10],
    ['web', '[no route]', '-', '-', 7],
  ]);
  const text = renderGatewayRoutes(f, rows, 10, 'table').text;
  assert.match(text, /^Gateway infra\/edge \(class weft\), address 10\.96\.0\.50: /);
  assert.match(text, /\nweb +80 +HTTP +\* +2 +Accepted, Programmed\n/);
  // The controller has not written a new route yet: the decision's count is shown beside the written one.
  const stale = lookupGateway({ ...world, gateways: [{ ...edge, status: { ...edge.status, listeners: edge.status!.listeners!.map((l) => (l.name === 'web' ? { ...l, attachedRoutes: 1 } : l)) } }] }, 'infra', 'edge');
  assert.ok(stale.ok);
  assert.match(renderGatewayRoutes(stale, rows, 10, 'table').text, /\nweb +80 +HTTP +\* +1 \(decision: 2; status not written yet\)/);
  assert.match(text, /\nsecure +443 +HTTPS +\* +0 +Accepted=False UnsupportedProtocol\n/);
  assert.match(text, /listener secure: Accepted=False UnsupportedProtocol: protocol HTTPS is not supported/);
  // 30 requests in 10 s = 3.0rps, all under 5 ms: p50 = 2.5 ms (linear in the 0-5 ms bucket).
  assert.match(text, /\nweb:80 +httproute\/split +0 +PathPrefix \/split +infra\/echo-v1:8080 +50 +100\.00% +3\.0rps +2\.5ms/);
  assert.match(text, /\nweb:80 +httproute\/apps\/cross +0 +PathPrefix \/cross +unresolved \(RefNotPermitted\) +1 +0\.00% +0\.50rps/);
  assert.match(text, /\nweb:80 +\[no route\] +- +- +- +- +0\.00% +0\.70rps/);
  assert.match(text, /Routes naming this Gateway with problems:\n {2}httproute\/apps\/cross: sectionName web: ResolvedRefs=False RefNotPermitted: .*no ReferenceGrant in backend/);
  assert.match(text, /httproute\/lost: sectionName nope: Accepted=False NoMatchingParent/);
  const json = JSON.parse(renderGatewayRoutes(f, rows, 10, 'json').text) as { listeners: { name: string }[]; routes: { requests: number; backend: string | null }[] };
  assert.deepEqual(json.listeners.map((l) => l.name), ['web', 'shop', 'secure']);
  assert.deepEqual(json.routes.map((r) => r.requests), [5, 30, 10, 7]);
});

test('stat gateway/NAME: a row per listener and route (percentiles over merged buckets); wide splits rules; the list has one row per Gateway', () => {
  const f = found();
  const text = renderGatewayStat(f, summarize(samples, 'outbound', gatewayStatKeyOf(f, false)), 10, 'table').text;
  const lines = text.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^LISTENER +ROUTE +SUCCESS +RPS +LATENCY_P50/);
  // split: 40 requests, 30 under 5 ms: p50 is the 20th of 30 in 0-5 ms = 3.33 ms.
  assert.match(lines[2] ?? '', /^web:80 +httproute\/split +100\.00% +4\.0rps +3\.33ms/);
  assert.match(lines[1] ?? '', /^web:80 +httproute\/apps\/cross +0\.00% +0\.50rps/);
  assert.match(lines[3] ?? '', /^web:80 +\[no route\] +0\.00% +0\.70rps/);
  assert.equal(lines.length, 4);
  const wide = renderGatewayStat(f, summarize(samples, 'outbound', gatewayStatKeyOf(f, true)), 10, 'wide').text;
  assert.match(wide, /\nweb:80 +httproute\/split +0 +100\.00% +4\.0rps .* +40 +0 +0 +0\n/);
  const list = renderGatewayList([{ namespace: 'infra', name: 'edge', ready: 1, pods: 1, figures: summarize(samples, 'outbound', () => 'x')[0]!.figures }], 10, 'table').text;
  assert.match(list, /^NAME +READY +SUCCESS +RPS/);
  assert.match(list, /\ngateway\/edge +1\/1 /);
});

test('routes and stat gateway/NAME: a TLS passthrough listener\'s TLSRoute has a row per backend with its connections', () => {
  const tlsWorld: GatewayObjects = {
    ...world,
    gateways: [{ ...edge, spec: { ...edge.spec!, listeners: [...(edge.spec!.listeners ?? []), { name: 'pass', port: 8443, protocol: 'TLS', hostname: '*.db.example', tls: { mode: 'Passthrough' } }] } }],
    tlsRoutes: [{
      metadata: { namespace: 'infra', name: 'db', generation: 1 },
      spec: { parentRefs: [{ name: 'edge', sectionName: 'pass' }], hostnames: ['pg.db.example'], rules: [{ backendRefs: [{ name: 'echo-v1', port: 8080, weight: 3 }, { name: 'echo-v2', port: 8080, weight: 1 }] }] },
    }],
  };
  const f = lookupGateway(tlsWorld, 'infra', 'edge');
  assert.ok(f.ok, f.ok ? '' : f.error);
  // Connections as proxy/policy/hook.ts counts them: route_kind tls, rule 0, no status code.
  const conn = (backend: string, n: number): DeltaSample => ({
    name: PROXY_METRICS.outboundRequests,
    labels: { service_namespace: 'infra', service_name: 'edge', service_port: '8443', route_kind: 'tls', route_namespace: 'infra', route_name: 'db', route_rule: '0', backend_namespace: 'infra', backend_name: backend, backend_port: '8080', status_code: '', error: '' },
    value: n,
  });
  const tlsSamples = [conn('echo-v1', 12), conn('echo-v2', 4)];
  const rows = gatewayRouteRows(f.view, summarize(tlsSamples, 'outbound', gatewaySeriesKeyOf(f))).filter((r) => r.port === 8443);
  assert.deepEqual(rows.map((r) => [r.listener, r.route?.kind, r.route?.name, r.hostnames.join(), r.backend, r.weight, r.figures?.requests]), [
    ['pass', 'TLSRoute', 'db', 'pg.db.example', 'infra/echo-v1:8080', 3, 12],
    ['pass', 'TLSRoute', 'db', 'pg.db.example', 'infra/echo-v2:8080', 1, 4],
  ]);
  const stat = renderGatewayStat(f, summarize(tlsSamples, 'outbound', gatewayStatKeyOf(f, false)), 10, 'table').text;
  assert.match(stat, /\npass:8443 +tlsroute\/db +100\.00% +1\.6rps/);
});

test('explain gateway: a matching request names the listener, route, rule and both backends by weight', () => {
  const e = explainGateway(found(), snapshot, { method: 'GET', port: 80, host: 'anything.example', path: '/split/x', headers: [] });
  assert.ok(e.ok);
  assert.equal(e.outcome, 'routed');
  assert.deepEqual(e.listener, { name: 'web', port: 80, hostname: '*' });
  assert.equal(e.route?.name, 'split');
  assert.equal(e.route?.matched, 'PathPrefix /split');
  assert.deepEqual(e.backends.map((b) => [b.target, b.share, b.decision.kind]), [['infra/echo-v1:8080', 0.5, 'forward'], ['infra/echo-v2:8080', 0.5, 'forward']]);
  assert.equal(e.gateway.identity, 'spiffe://cluster.local/ns/infra/sa/edge-weft-gateway');
  const text = renderGatewayExplanation(e);
  assert.match(text, /listener: web \(port 80, hostname \*\)/);
  assert.match(text, /route: {4}HTTPRoute infra\/split, rule 0/);
  assert.match(text, /backend infra\/echo-v1:8080: weight 50 \(50\.0%\): forwarded to infra\/echo-v1:8080 as \/split\/x/);
  assert.match(text, /Service infra\/echo-v1 has no pods/);
});

test('explain gateway: no matching rule is 404 with the rules and the refused routes; a cross-namespace backend without a grant is 500 not-permitted', () => {
  const miss = explainGateway(found(), snapshot, { method: 'GET', port: 80, host: 'x', path: '/nothing', headers: [] });
  assert.ok(miss.ok);
  assert.equal(miss.outcome, 'not-found');
  assert.equal(miss.answer?.status, 404);
  assert.equal(miss.answer?.header, 'no-route');
  const text = renderGatewayExplanation(miss);
  assert.match(text, /result: {3}answered 404 \(weft-proxy-error: no-route\) by the gateway: no route rule of listener web/);
  assert.match(text, /- HTTPRoute infra\/split rule 0 \(host \*\): PathPrefix \/split/);
  assert.match(text, /- httproute\/lost: sectionName nope: Accepted=False NoMatchingParent/);

  const cross = explainGateway(found(), snapshot, { method: 'GET', port: 80, host: 'x', path: '/cross', headers: [] });
  assert.ok(cross.ok);
  const b = cross.backends[0];
  assert.ok(b !== undefined && b.decision.kind === 'error' && b.decision.code === 'NOT_PERMITTED' && b.decision.status === 500);
  assert.match(renderGatewayExplanation(cross), /backend unresolved \(RefNotPermitted: .*\): weight 1 \(100\.0%\): answered 500 by the gateway: .* \(weft-proxy-error: not-permitted\)/);
});

test('explain gateway: a port with no valid listener, and a Host no listener serves, are 404 with why', () => {
  const https = explainGateway(found(), snapshot, { method: 'GET', port: 443, host: 'x', path: '/', headers: [] });
  assert.ok(https.ok && https.outcome === 'not-found');
  assert.match(renderGatewayExplanation(https), /listener secure \(port 443, HTTPS\) is not served: Accepted=False UnsupportedProtocol[\s\S]*the gateway serves ports 80, 8080/);
  const host = explainGateway(found(), snapshot, { method: 'GET', port: 8080, host: 'other.example.com', path: '/', headers: [] });
  assert.ok(host.ok && host.outcome === 'not-found');
  assert.match(renderGatewayExplanation(host), /no HTTP listener of Gateway infra\/edge on port 8080 serves host other\.example\.com[\s\S]*listener shop serves HTTP for host shop\.example\.com/);
  const shop = explainGateway(found(), snapshot, { method: 'GET', port: 8080, host: 'shop.example.com:8080', path: '/', headers: [] });
  assert.ok(shop.ok && shop.outcome === 'not-found' && shop.listener?.name === 'shop');
  assert.match(renderGatewayExplanation(shop), /no route is attached to listener shop/);
});

test('docs/cli.md shows the stat and routes tables and an explanation of this fixture as the code renders them', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'cli.md'), 'utf8');
  const f = found();
  const stat = `$ weft stat gateway/edge -n infra\n${renderGatewayStat(f, summarize(samples, 'outbound', gatewayStatKeyOf(f, false)), 10, 'table').text}`;
  const routes = `$ weft routes gateway/edge -n infra\n${renderGatewayRoutes(f, gatewayRouteRows(f.view, summarize(samples, 'outbound', gatewaySeriesKeyOf(f))), 10, 'table').text}`;
  assert.ok(doc.includes(stat), `docs/cli.md lacks, verbatim:\n${stat}`);
  assert.ok(doc.includes(routes), `docs/cli.md lacks, verbatim:\n${routes}`);
  const e = explainGateway(f, snapshot, { method: 'GET', port: 80, host: 'shop.example', path: '/split/x', headers: [] });
  const explained = `$ weft explain gateway/edge -n infra --host shop.example --path /split/x\n${renderGatewayExplanation(e)}`;
  assert.ok(doc.includes(explained), `docs/cli.md lacks, verbatim:\n${explained}`);
});

test('explain gateway/NAME: usage errors name the cause before the cluster is asked', async () => {
  const run = async (argv: string[]) => {
    const err: string[] = [];
    const code = await runExplain(argv, { out: () => undefined, err: (t) => err.push(t) }, () => assert.fail('no kubeconfig is loaded for a usage error'));
    return { code, err: err.join('') };
  };
  const from = await run(['gateway/edge', '--from', 'pod/web', 'http://x/']);
  assert.equal(from.code, 2);
  assert.match(from.err, /--from, --service-account and --client-ip do not go with gateway\/NAME/);
  const scheme = await run(['gw/edge', 'https://shop.example/']);
  assert.equal(scheme.code, 2);
  assert.match(scheme.err, /https:\/\/ is not served: the gateway serves HTTP listeners only/);
  const port = await run(['gateway/edge', '--port', '99999']);
  assert.match(port.err, /--port "99999" is not a port/);
  const path = await run(['gateway/edge', '--path', 'x']);
  assert.match(path.err, /--path "x" must start with \//);
  const mesh = await run(['--service-account', 'web', '--port', '80', 'http://web:80/']);
  assert.equal(mesh.code, 2);
  assert.match(mesh.err, /--port, --host and --path go with gateway\/NAME/);
});
