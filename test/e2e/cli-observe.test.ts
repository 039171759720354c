/**
 * The scrape path of `weft stat|routes|authz` on the local cluster, without the mesh: two
 * Deployments whose pods serve the fixture scrapes (cli/testdata/scrapes) on the proxy admin port,
 * alternating the scrape taken at the start and at the end of a window, stand in for proxies. The
 * CLI lists the pods, scrapes /metrics through the API server's pod proxy at both ends of --window,
 * and must print the figures worked out by hand in cli/observe/observe.test.ts.
 *
 * What this does not cover: real proxies' metrics (the injector and the per-route metrics are being
 * finished elsewhere); the figures' computation is the same code either way.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_EXAMPLES_IMAGE, PROXY_ADMIN_PORT } from '../../core/contract.js';
import { REPO_ROOT } from '../support/paths.js';
import { useCluster, type Cluster } from '../cluster/fixture.js';
import { runWeft, type WeftRun } from '../support/weft-cli.js';

let cluster: Cluster;
before(async () => {
  cluster = await useCluster();
});

const weft = (args: readonly string[]): Promise<WeftRun> => runWeft(args);

/** Serves <fixture>-t0.prom and -t1.prom in turn, with the fixture's namespace replaced by the test's. */
const SERVER = [
  "const fs = require('fs'), http = require('http');",
  "const dir = '/scrapes/';",
  'const [fixture, ns] = process.argv.slice(1);',
  "const bodies = [0, 1].map((i) => fs.readFileSync(dir + fixture + '-t' + i + '.prom', 'utf8').replaceAll('\"booksapp\"', JSON.stringify(ns)));",
  'let n = 0;',
  "http.createServer((req, res) => { if (req.url !== '/metrics') { res.writeHead(404).end(); return; }",
  "  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(bodies[n++ % 2]); }).listen(" + String(PROXY_ADMIN_PORT) + ');',
].join('\n');

function deployment(name: string, ns: string): string {
  return `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: 1
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}, weft.dev/meshed: "true"}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: weft-proxy
        image: ${DEFAULT_EXAMPLES_IMAGE}
        command: [node, -e, ${JSON.stringify(SERVER)}, ${name}, ${ns}]
        ports: [{name: weft-admin, containerPort: ${PROXY_ADMIN_PORT}}]
        readinessProbe: {tcpSocket: {port: ${PROXY_ADMIN_PORT}}, periodSeconds: 1}
        volumeMounts: [{name: scrapes, mountPath: /scrapes, readOnly: true}]
      volumes: [{name: scrapes, configMap: {name: scrapes}}]
`;
}

/** The fixture scrapes (cli/testdata/scrapes) as a ConfigMap the pods mount at /scrapes. */
function scrapesConfigMap(): string {
  const dir = join(REPO_ROOT, 'cli', 'testdata', 'scrapes');
  const data = Object.fromEntries(readdirSync(dir).filter((f) => f.endsWith('.prom')).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
  return JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'scrapes' }, data });
}

test('weft routes, authz and stat scrape the pods through the API server and print the fixture figures', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await cluster.apply(ns, scrapesConfigMap());
  await cluster.apply(ns, `${deployment('authors', ns)}---${deployment('books', ns)}---
apiVersion: v1
kind: Service
metadata: {name: authors}
spec:
  selector: {app: authors}
  ports: [{name: http, port: 7001}]
`);
  await cluster.waitDeploymentAvailable(ns, 'authors');
  await cluster.waitDeploymentAvailable(ns, 'books');
  const kc = ['--kubeconfig', cluster.info.kubeconfig, '-n', ns, '--window', '2s'];

  // --from keeps other tests' meshed pods (clients anywhere in the cluster by default) out of the window.
  const routes = await weft(['routes', 'svc/authors', ...kc, '--from', `ns/${ns}`, '-o', 'json']);
  assert.equal(routes.code, 0, routes.stderr);
  assert.doesNotMatch(routes.stderr, /could not read/, 'every pod was scraped (stderr carries only the progress)');
  assert.match(routes.stderr, /^weft routes: scraping \d+ meshed pods?' proxies now and after 2s/);
  const rows = JSON.parse(routes.stdout) as { backend: { name: string }; requests: number; successRate: number; timeouts: number; p50Seconds: number; p95Seconds: number; p99Seconds: number; rps: number; windowSeconds: number }[];
  assert.deepEqual(rows.map((r) => [r.backend.name, r.requests, r.successRate, r.timeouts, r.p50Seconds, r.p95Seconds, r.p99Seconds]), [
    ['authors', 66, 0.9091, 3, 0.011875, 0.205, 4.45],
    ['authors-v2', 15, 1, 0, 0.00625, 0.009625, 0.009925],
  ]);
  assert.ok(rows[0]!.windowSeconds >= 2 && rows[0]!.windowSeconds < 5, `measured window ${rows[0]!.windowSeconds}`);
  assert.ok(Math.abs(rows[0]!.rps - 66 / rows[0]!.windowSeconds) < 0.001);

  const authz = await weft(['authz', 'deploy/authors', ...kc]);
  assert.equal(authz.code, 0, authz.stderr);
  const lines = authz.stdout.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^SERVER +ROUTE +AUTHORIZATION +ALLOWED_RPS +DENIED_RPS +LIMITED_RPS +SUCCESS +LATENCY_P50 +LATENCY_P95 +LATENCY_P99 +LIMITS$/);
  assert.match(lines[1] ?? '', /^authors +authors-get +authors-get +\S+rps +0rps +\S+rps +98\.36% +3\.79ms +9\.32ms +16ms +-$/, 'no InboundLimitPolicy in the namespace: LIMITS is -');
  assert.match(lines[2] ?? '', /^authors +authors-modify +- +0rps +\S+rps +0rps +- +- +- +- +-$/);

  const stat = await weft(['stat', 'deploy', ...kc, '-o', 'wide']);
  assert.equal(stat.code, 0, stat.stderr);
  assert.match(stat.stdout, /\ndeploy\/authors +1\/1 +98\.51% +\S+rps +3\.79ms +9\.89ms +33ms +152 +2 +6 +12\n/);
  assert.match(stat.stdout, /\ndeploy\/books +1\/1 +- +- +- +- +- +0 +0 +0 +0\n/);
});
