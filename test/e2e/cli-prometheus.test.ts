/**
 * `weft routes|stat|authz` in both data-source modes on the real mesh, with the booksapp
 * fault-injection scenario (examples/booksapp/manifests/fault-injection: 10% of books traffic to an
 * error injector) and a real upstream Prometheus (test/support/prometheus.ts) that discovers the
 * meshed pods through Kubernetes service discovery with Weft's shipped scrape config
 * (manifests/prometheus/scrape-config.yaml).
 *
 * One counted run of 1,000 requests from a meshed client; during it the scrape-mode commands measure
 * a window spanning the traffic; after it the `--prometheus` commands ask for the last window starting
 * after the warm-up and before the traffic. Both must show the error-injector backend at 0%, the books
 * backend at 100% and the route within 3 points of the test's own count (and of 90%). Scrape mode counts
 * exactly; Prometheus' increase() extrapolates its samples to the window's edges, so its counts are
 * checked within the band that extrapolation allows (never below the count, at most about two scrape
 * intervals' worth above it).
 *
 * Last, with a Server that denies everything put on the error injector, every PromQL query of the Grafana
 * dashboard (manifests/grafana/weft-routes.json) runs against the same Prometheus and returns series.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  deployBooksapp, describeTally, manifest, podName, send, sharedMeshedNamespace, sleep, tally, waitAvailable, waitRouteConditions,
  type Outcome,
} from '../support/booksapp.js';
import { ensurePrometheus } from '../cluster/prometheus-build.js';
import { useMesh, type Mesh, type WeftRun } from '../support/mesh.js';
import { dashboardQueries, substitute } from '../support/grafana.js';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus.js';

let mesh: Mesh;
before(async () => { mesh = await useMesh(); }, { timeout: 600_000 });
// A cold build (a fresh CI machine) takes minutes: its own hook and timeout, so no test's 10 minutes include it.
before(async () => {
  const started = Date.now();
  const binary = await ensurePrometheus((line) => process.stdout.write(`# ${line}\n`));
  process.stdout.write(`# prometheus: ${binary} in ${Date.now() - started} ms\n`);
}, { timeout: 1_800_000 });

let ns = '';
let client = '';
let prom: RunningPrometheus | undefined;
let removeNamespace: (() => Promise<void>) | undefined;
after(async () => {
  if (prom !== undefined) await prom.stop();
  await removeNamespace?.();
  await mesh?.release();
}, { timeout: 300_000 });

const SCRAPE_INTERVAL_S = 2;
/** The scrape-mode commands' window; the traffic starts LEAD_MS into it and must end MARGIN_MS before its end. */
const SCRAPE_WINDOW_S = 60;
const LEAD_MS = 20_000;
const MARGIN_MS = 6_000;
/**
 * Where the Prometheus window starts, relative to the scrape-mode commands' start: after the warm-up's
 * requests were scraped (a scrape interval after they ended, plus the window's rounding to seconds)
 * and long enough before the traffic that a slow `weft` start (a busy API server) still queries a
 * window holding pre-traffic samples (checked for each command).
 */
const PROM_START_MS = 4_000;
const DEPLOYMENTS = ['webapp', 'books', 'authors', 'client', 'error-injector'];

interface RouteRow {
  route: { kind: string; namespace: string; name: string } | null;
  backend: { namespace: string; name: string; port: number | null } | null;
  windowSeconds: number;
  requests: number;
  successRate: number | null;
}
interface StatRow { name: string; requests: number; successRate: number | null; windowSeconds: number }
interface AuthzRow { server: string; route: string | null; authorization: string | null; allowedRps: number; deniedRps: number; successRate: number | null; windowSeconds: number }

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const parse = <T>(what: string, run: WeftRun): T => {
  assert.equal(run.code, 0, `${what}: ${run.stderr}`);
  assert.doesNotMatch(run.stderr, /could not read/, `${what} read every pod (stderr carries only the progress): ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
};

test('the booksapp with the fault-injection route comes up meshed, and Prometheus scrapes every proxy through Kubernetes service discovery', async () => {
  const shared = await sharedMeshedNamespace(mesh.cluster, 'cli-prometheus');
  ns = shared.ns;
  removeNamespace = shared.remove;
  await deployBooksapp(mesh.cluster, ns);
  await mesh.cluster.apply(ns, manifest('fault-injection/error-injector.yaml', { booksapp: ns }));
  await waitAvailable(mesh.cluster, ns, ['error-injector']);
  client = await podName(mesh.cluster, ns, 'app=client');

  const started = Date.now();
  prom = await startPrometheus({ kubeconfig: mesh.cluster.info.kubeconfig, namespaces: [ns], scrapeIntervalSeconds: SCRAPE_INTERVAL_S });
  process.stdout.write(`# prometheus: ready in ${Date.now() - started} ms\n`);
  const running = prom;
  const pods = (await mesh.cluster.core.listNamespacedPod({ namespace: ns })).items
    .filter((p) => p.metadata?.deletionTimestamp === undefined && p.status?.phase === 'Running')
    .map((p) => p.metadata?.name ?? '');
  assert.equal(pods.length, DEPLOYMENTS.length, `one running pod per deployment: ${pods.join(', ')}`);
  await mesh.cluster.waitFor(`Prometheus scrapes the proxies of ${pods.join(', ')}`, async () => {
    const targets = (await running.targets()).filter((t) => t.labels['namespace'] === ns);
    const lines = targets.map((t) => `${t.labels['pod'] ?? '?'} ${t.scrapeUrl} ${t.health} ${t.lastError}`).join('\n');
    for (const pod of pods) {
      const mine = targets.filter((t) => t.labels['pod'] === pod);
      if (mine.length !== 1) return `pod ${pod}: ${mine.length} targets (want exactly the proxy's admin port):\n${lines}`;
      if (mine[0]?.health !== 'up') return `pod ${pod} not up yet:\n${lines}`;
    }
    return true;
  }, { timeoutMs: 90_000, intervalMs: 1000 });
  const targets = (await running.targets()).filter((t) => t.labels['namespace'] === ns);
  for (const t of targets) {
    assert.match(t.scrapeUrl, /^http:\/\/10\.246\.\d+\.\d+:7191\/metrics$/, 'the proxy admin port on the pod IP');
    assert.equal(t.labels['job'], 'weft-proxy');
  }
  const proxies = await running.query(`count by (pod) (weft_outbound_requests_total{namespace="${ns}"}) or count by (pod) (process_start_time_seconds{namespace="${ns}"})`);
  assert.equal(proxies.length, pods.length, `every proxy's series carry the namespace and pod labels: ${JSON.stringify(proxies)}`);
});

test('fault injection: weft routes, stat and authz agree with the counted requests within 3 points in scrape mode and with --prometheus', async () => {
  assert.ok(ns !== '' && client !== '' && prom !== undefined, 'the booksapp and Prometheus are up');
  const running = prom;
  await mesh.cluster.apply(ns, manifest('fault-injection/route.yaml', { booksapp: ns }));
  await waitRouteConditions(mesh.cluster, ns, 'books-fault-injection', { Accepted: 'True', ResolvedRefs: 'True' });
  await mesh.cluster.waitFor('the client proxy routes books through books-fault-injection', async () => {
    const got = tally(await send(mesh.cluster, ns, client, 'echo', 'http://books:7002/books/1', [], 30));
    return (got.get(500) ?? 0) > 0 ? true : describeTally(got);
  }, { timeoutMs: 90_000, intervalMs: 1000 });

  // Scrape mode: the three commands measure one window that spans the traffic.
  const common = ['-n', ns, '-o', 'json'];
  const scrapeWindow = ['--window', `${SCRAPE_WINDOW_S}s`];
  const t0 = Date.now();
  const scrapeRuns = Promise.all([
    mesh.weft(['routes', 'svc/books', '--from', 'deploy/client', ...common, ...scrapeWindow]),
    mesh.weft(['stat', 'deploy', '--from', 'deploy/client', ...common, ...scrapeWindow]),
    mesh.weft(['authz', 'deploy/error-injector', ...common, ...scrapeWindow]),
  ]);
  await sleep(LEAD_MS);
  const trafficStart = Date.now();
  const result: Outcome[] = (await Promise.all(Array.from({ length: 4 }, () => send(mesh.cluster, ns, client, 'echo', 'http://books:7002/books/1', [], 250)))).flat();
  const trafficEnd = Date.now();
  const [routesScrape, statScrape, authzScrape] = await scrapeRuns;
  assert.ok(trafficEnd - t0 + MARGIN_MS <= SCRAPE_WINDOW_S * 1000, `the traffic took ${trafficEnd - trafficStart} ms: too long for a ${SCRAPE_WINDOW_S}s window`);

  const counts = tally(result);
  const sent = result.length;
  const ok = counts.get(200) ?? 0;
  const failed = counts.get(500) ?? 0;
  const rate = ok / sent;
  process.stdout.write(`# counted: ${ok}/${sent} = ${pct(rate)} (${describeTally(counts)}) in ${trafficEnd - trafficStart} ms\n`);
  assert.equal(sent, 1000);
  assert.equal(ok + failed, sent, `every request answered 200 or 500: ${describeTally(counts)}`);
  assert.ok(Math.abs(rate - 0.9) <= 0.03, `success ${pct(rate)} is within 3 points of 90%`);

  // Prometheus mode: the last window, from PROM_START_MS into the scrape window (after the warm-up's
  // requests were scraped, before the traffic) to now, once Prometheus has scraped past the traffic.
  await sleep(Math.max(0, trafficEnd + 3 * SCRAPE_INTERVAL_S * 1000 - Date.now()));
  const viaPrometheus = async (args: readonly string[]): Promise<WeftRun> => {
    const windowSeconds = Math.ceil((Date.now() - t0 - PROM_START_MS) / 1000);
    const run = await mesh.weft([...args, '--prometheus', running.url, '--window', `${windowSeconds}s`]);
    // The query ran before the command exited, so its window started before this instant.
    const latestStart = Date.now() - windowSeconds * 1000;
    assert.ok(latestStart <= trafficStart - SCRAPE_INTERVAL_S * 1000,
      `weft ${args[0] ?? ''} --prometheus took so long that its ${windowSeconds}s window may start after the traffic did (${latestStart - t0} ms vs ${trafficStart - t0} ms into the run): raise LEAD_MS`);
    return run;
  };
  const routesProm = await viaPrometheus(['routes', 'svc/books', '--from', 'deploy/client', ...common]);
  const statProm = await viaPrometheus(['stat', 'deploy', '--from', 'deploy/client', ...common]);
  const authzProm = await viaPrometheus(['authz', 'deploy/error-injector', ...common]);

  const modes = [
    { mode: 'scrape', routes: routesScrape, stat: statScrape, authz: authzScrape },
    { mode: 'prometheus', routes: routesProm, stat: statProm, authz: authzProm },
  ];
  for (const m of modes) {
    const exact = m.mode === 'scrape';
    /**
     * Scrape mode counts exactly. Prometheus' increase() over a window of w seconds holding every
     * traffic sample is the sampled increase (the count) stretched to the window's edges by at most 1.1
     * average scrape intervals at each end; scrapes that run late on a busy machine stretch the average,
     * so the bound allows 1.5: count <= got <= count * w / (w - 3 * interval), give or take rounding.
     */
    const countOk = (got: number, want: number, w: number) => exact
      ? Math.round(got) === want
      : got >= want - 1 && got <= (want * w) / (w - 3 * SCRAPE_INTERVAL_S) + 1;

    // routes
    const rows = parse<RouteRow[]>(`${m.mode} weft routes`, m.routes);
    const route = rows.filter((r) => r.route?.name === 'books-fault-injection');
    const injector = route.find((r) => r.backend?.name === 'error-injector');
    const books = route.find((r) => r.backend?.name === 'books');
    const detail = `${m.mode} weft routes: ${JSON.stringify(rows)}`;
    assert.ok(injector !== undefined && books !== undefined, `a row per backend: ${detail}`);
    const routeRequests = injector.requests + books.requests;
    const routeRate = ((books.successRate ?? 0) * books.requests + (injector.successRate ?? 0) * injector.requests) / routeRequests;
    process.stdout.write(`# ${m.mode} routes: route ${pct(routeRate)} over ${routeRequests.toFixed(1)} requests in ${books.windowSeconds.toFixed(1)}s; `
      + `books ${pct(books.successRate ?? NaN)} (${books.requests.toFixed(1)}), error-injector ${pct(injector.successRate ?? NaN)} (${injector.requests.toFixed(1)}); `
      + `test counted ${pct(rate)} (${ok} + ${failed})\n`);
    assert.equal(injector.successRate, 0, `the error-injector backend is at 0%: ${detail}`);
    assert.equal(books.successRate, 1, `the books backend is at 100%: ${detail}`);
    assert.ok(Math.abs(routeRate - rate) <= 0.03, `${m.mode}: the route's ${pct(routeRate)} agrees with the counted ${pct(rate)} within 3 points`);
    assert.ok(Math.abs(routeRate - 0.9) <= 0.03, `${m.mode}: the route is near 90%: ${pct(routeRate)}`);
    assert.ok(countOk(routeRequests, sent, books.windowSeconds), `${m.mode}: the route's ${routeRequests} requests match the ${sent} sent: ${detail}`);
    assert.ok(countOk(injector.requests, failed, injector.windowSeconds), `${m.mode}: the error injector's ${injector.requests} requests match the ${failed} 500s: ${detail}`);

    // stat --from deploy/client: the client's requests per workload behind each Service.
    const stat = parse<StatRow[]>(`${m.mode} weft stat`, m.stat);
    const statBooks = stat.find((r) => r.name === 'deploy/books');
    const statInjector = stat.find((r) => r.name === 'deploy/error-injector');
    const statDetail = `${m.mode} weft stat: ${JSON.stringify(stat)}`;
    process.stdout.write(`# ${m.mode} stat --from deploy/client: books ${pct(statBooks?.successRate ?? NaN)} (${statBooks?.requests.toFixed(1)}), `
      + `error-injector ${pct(statInjector?.successRate ?? NaN)} (${statInjector?.requests.toFixed(1)})\n`);
    assert.ok(statBooks !== undefined && statInjector !== undefined, statDetail);
    assert.equal(statBooks.successRate, 1, statDetail);
    assert.equal(statInjector.successRate, 0, statDetail);
    assert.ok(countOk(statBooks.requests, ok, statBooks.windowSeconds), `${m.mode}: books' ${statBooks.requests} requests match the ${ok} 200s: ${statDetail}`);
    assert.ok(countOk(statInjector.requests, failed, statInjector.windowSeconds), `${m.mode}: the error injector's ${statInjector.requests} requests match the ${failed} 500s: ${statDetail}`);

    // authz deploy/error-injector: what its inbound proxy let through (probes aside) all failed.
    const authz = parse<AuthzRow[]>(`${m.mode} weft authz`, m.authz);
    const authzDetail = `${m.mode} weft authz: ${JSON.stringify(authz)}`;
    const served = authz.filter((r) => r.authorization !== 'probe' && r.allowedRps > 0);
    const allowed = served.reduce((s, r) => s + r.allowedRps * r.windowSeconds, 0);
    process.stdout.write(`# ${m.mode} authz deploy/error-injector: ${served.map((r) => `${r.server}/${r.route ?? '-'}/${r.authorization ?? '-'} ${pct(r.successRate ?? NaN)} ${(r.allowedRps * r.windowSeconds).toFixed(1)}`).join('; ')}\n`);
    assert.ok(served.length > 0, authzDetail);
    for (const r of served) assert.equal(r.successRate, 0, `the error injector answered 500 to everything it was let through: ${authzDetail}`);
    assert.ok(authz.every((r) => r.deniedRps === 0), `nothing denied: ${authzDetail}`);
    assert.ok(countOk(allowed, failed, served[0]?.windowSeconds ?? 0), `${m.mode}: ${allowed} requests allowed into the error injector match the ${failed} 500s: ${authzDetail}`);
  }
});

test('every query of the Grafana dashboard returns series from Prometheus (routes, latency, and denials after a deny-all Server)', async () => {
  assert.ok(ns !== '' && client !== '' && prom !== undefined, 'the booksapp and Prometheus are up');
  const running = prom;
  await mesh.cluster.apply(ns, `
apiVersion: policy.weft.dev/v1alpha1
kind: Server
metadata: {name: error-injector-deny}
spec:
  podSelector: {matchLabels: {app: error-injector}}
  port: http
  proxyProtocol: HTTP/1
  accessPolicy: deny
`);
  await mesh.cluster.waitFor('the error injector denies the client (403)', async () => {
    const got = tally(await send(mesh.cluster, ns, client, 'echo', 'http://error-injector:8080/', [], 10));
    return (got.get(403) ?? 0) > 0 ? true : describeTally(got);
  }, { timeoutMs: 90_000, intervalMs: 1000 });
  // rate() counts only what grows between two samples of a series: the deny series is born with its first
  // denial, so wait until Prometheus holds it, then deny more, then let it scrape at least twice.
  await mesh.cluster.waitFor('Prometheus has scraped the deny-all Server\'s denials', async () => {
    const got = await running.query(`weft_inbound_requests_total{namespace="${ns}", server="error-injector-deny", decision="deny"}`);
    return got.length > 0 ? true : 'no series yet';
  }, { timeoutMs: 60_000, intervalMs: 1000 });
  await send(mesh.cluster, ns, client, 'echo', 'http://books:7002/books/1', [], 50);
  await send(mesh.cluster, ns, client, 'echo', 'http://error-injector:8080/', [], 20);
  await sleep(3 * SCRAPE_INTERVAL_S * 1000);

  const vars = { datasource: 'unused', namespace: ns, route_namespace: ns, __rate_interval: '5m' };
  const queries = dashboardQueries();
  assert.ok(queries.length >= 6);
  const failures: string[] = [];
  for (const q of queries) {
    const expr = substitute(q.expr, vars);
    const got = await running.query(expr);
    const numbers = got.map((s) => Number(s.value[1])).filter((v) => Number.isFinite(v));
    process.stdout.write(`# dashboard ${q.panel} ${q.refId}: ${got.length} series, e.g. ${JSON.stringify(got[0]?.metric ?? {})} = ${got[0]?.value[1] ?? '-'}\n`);
    if (got.length === 0 || numbers.length === 0) failures.push(`${q.panel} ${q.refId}: ${got.length} series, ${numbers.length} finite: ${expr}`);
  }
  assert.deepEqual(failures, [], `dashboard queries without series:\n${failures.join('\n')}`);
  const denials = await running.query(substitute(queries.find((q) => q.panel.startsWith('Authorization denials'))?.expr ?? '', vars));
  assert.ok(denials.some((s) => s.metric['server'] === 'error-injector-deny' && Number(s.value[1]) > 0), `the deny-all Server's denials: ${JSON.stringify(denials)}`);
  const success = await running.query(substitute(queries.find((q) => q.panel.startsWith('Success rate'))?.expr ?? '', vars));
  const route = success.find((s) => s.metric['route_name'] === 'books-fault-injection');
  assert.ok(route !== undefined && Number(route.value[1]) > 0 && Number(route.value[1]) < 1, `books-fault-injection is between 0 and 100%: ${JSON.stringify(success)}`);
});
