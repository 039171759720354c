/**
 * booksapp per-route authorization on the real mesh (examples/booksapp/manifests/authorization): a
 * Server on authors that denies everything, GET routes allowed to the books and webapp ServiceAccounts
 * (MeshTLSAuthentication), POST/PUT/DELETE only to webapp, probes through a NetworkAuthentication.
 * Every request is sent from a meshed pod with a known ServiceAccount and counted; each denial must be a
 * 403 counted on the right route in the authors proxy's metrics (scraped through the API server's pod
 * proxy) and in `weft authz deploy/authors -o json`.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PROXY_METRICS } from '../../core/contract.js';
import {
  deployBooksapp, describeTally, manifest, podName, proxyMetrics, send, sharedMeshedNamespace, sleep, sumSeries, tally,
  type Outcome,
} from '../support/booksapp.js';
import { useMesh, type Mesh } from '../support/mesh.js';

let mesh: Mesh;
let ns = '';
const cleanups: (() => Promise<void>)[] = [];

before(async () => {
  mesh = await useMesh();
  const shared = await sharedMeshedNamespace(mesh.cluster, 'booksapp-authz');
  ns = shared.ns;
  cleanups.push(shared.remove);
  await deployBooksapp(mesh.cluster, ns);
}, { timeout: 600_000 });

after(async () => {
  for (const fn of cleanups) await fn();
  await mesh?.release();
}, { timeout: 300_000 });

interface AuthzRow { server: string; route: string | null; authorization: string | null; windowSeconds: number; allowedRps: number; deniedRps: number }

const AUTHORS = 'http://authors:7001';
const spiffe = (sa: string) => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

test('authors under a deny Server: reads for books and webapp, writes for webapp only, probes for all; each 403 counted on its route by the proxy and weft authz', async () => {
  const map = { booksapp: ns };
  // Authentications and policies first, the Server last: no moment where the Server denies what a policy will allow.
  for (const f of ['authentications.yaml', 'policies.yaml', 'routes.yaml', 'server.yaml']) await mesh.cluster.apply(ns, manifest(`authorization/${f}`, map));

  const traffic = await podName(mesh.cluster, ns, 'app=client'); // ServiceAccount traffic
  const books = await podName(mesh.cluster, ns, 'app=books');
  const webapp = await podName(mesh.cluster, ns, 'app=webapp');
  const authors = await podName(mesh.cluster, ns, 'app=authors');
  await mesh.cluster.waitFor('the authors proxy enforces the Server', async () => {
    const [o] = await send(mesh.cluster, ns, traffic, 'echo', `${AUTHORS}/authors`);
    return o?.status === 403 ? true : `status ${o?.status}`;
  }, { timeoutMs: 90_000, intervalMs: 1000 });
  await mesh.cluster.waitFor('books may read', async () => {
    const [o] = await send(mesh.cluster, ns, books, 'books', `${AUTHORS}/authors/1`);
    return o?.status === 200 ? true : `status ${o?.status}`;
  }, { timeoutMs: 90_000, intervalMs: 1000 });

  const series = PROXY_METRICS.inboundRequests;
  const before0 = await proxyMetrics(mesh.cluster, ns, authors);
  const count = (text: string, labels: Record<string, string>) => sumSeries(text, series, { server: 'authors', ...labels });

  // Counted requests. Writes name ids that do not exist, so the allowed ones change nothing (404).
  const cli = mesh.weft(['authz', 'deploy/authors', '-n', ns, '-o', 'json', '--window', '30s']);
  await sleep(8000);
  const trafficStart = Date.now();
  const run = (pod: string, container: string, path: string, method: string, n: number) =>
    send(mesh.cluster, ns, pod, container, `${AUTHORS}${path}`, [`--method=${method}`], n);
  const [trafficGet, trafficDelete, booksGet, booksDelete, booksPut, webappGet, webappPost, webappPut, webappDelete, webappOther] = await Promise.all([
    run(traffic, 'echo', '/authors', 'GET', 20),
    run(traffic, 'echo', '/authors/999', 'DELETE', 10),
    run(books, 'books', '/authors/1', 'GET', 20),
    run(books, 'books', '/authors/999', 'DELETE', 10),
    run(books, 'books', '/authors/999', 'PUT', 5),
    run(webapp, 'webapp', '/authors/1', 'GET', 20),
    run(webapp, 'webapp', '/authors', 'POST', 5),
    run(webapp, 'webapp', '/authors/999', 'PUT', 5),
    run(webapp, 'webapp', '/authors/999', 'DELETE', 5),
    run(webapp, 'webapp', '/metrics', 'GET', 5),
  ]);
  const trafficMs = Date.now() - trafficStart;
  assert.ok(trafficMs < 18_000, `the counted traffic (${trafficMs} ms) fits the 30 s window after its 8 s lead`);
  const out = await cli;
  assert.equal(out.code, 0, out.stderr);
  const rows = JSON.parse(out.stdout) as AuthzRow[];
  const after0 = await proxyMetrics(mesh.cluster, ns, authors);
  const delta = (labels: Record<string, string>) => count(after0, labels) - count(before0, labels);

  const all = (xs: readonly Outcome[], status: number, what: string) =>
    assert.deepEqual(tally(xs), new Map([[status, xs.length]]), `${what}: ${describeTally(tally(xs))}`);
  const notDenied = (xs: readonly Outcome[], what: string) =>
    assert.ok(xs.every((o) => o.status !== 403 && o.status !== 0), `${what} allowed: ${describeTally(tally(xs))}`);
  all(trafficGet, 403, 'traffic GET');
  all(trafficDelete, 403, 'traffic DELETE');
  all(booksGet, 200, 'books GET');
  all(booksDelete, 403, 'books DELETE');
  all(booksPut, 403, 'books PUT');
  all(webappGet, 200, 'webapp GET');
  notDenied(webappPost, 'webapp POST');
  notDenied(webappPut, 'webapp PUT');
  notDenied(webappDelete, 'webapp DELETE');
  all(webappOther, 404, 'a path outside every route');

  const deniedGet = trafficGet.length;
  const deniedModify = trafficDelete.length + booksDelete.length + booksPut.length;
  const m = {
    getDenied: delta({ route: 'authors-get', decision: 'deny' }),
    getDeniedTraffic: delta({ route: 'authors-get', decision: 'deny', client_id: spiffe('traffic') }),
    modifyDenied: delta({ route: 'authors-modify', decision: 'deny' }),
    modifyDeniedBooks: delta({ route: 'authors-modify', decision: 'deny', client_id: spiffe('books') }),
    getAllowed: delta({ route: 'authors-get', authorization: 'authors-get', decision: 'allow' }),
    modifyAllowedWebapp: delta({ route: 'authors-modify', authorization: 'authors-modify', decision: 'allow', client_id: spiffe('webapp') }),
    probesAllowed: delta({ route: 'authors-probes', decision: 'allow' }),
    noRoute: delta({ route: '', decision: 'deny' }),
  };
  process.stdout.write(`# authorization: sent 403-expected GET ${deniedGet}, writes ${deniedModify}; proxy metrics deltas ${JSON.stringify(m)}; weft authz ${JSON.stringify(rows)}\n`);
  assert.equal(m.getDenied, deniedGet, 'each denied GET counted on authors-get');
  assert.equal(m.getDeniedTraffic, deniedGet, 'with the caller\'s identity');
  assert.equal(m.modifyDenied, deniedModify, 'each denied write counted on authors-modify');
  assert.equal(m.modifyDeniedBooks, booksDelete.length + booksPut.length);
  assert.ok(m.getAllowed >= booksGet.length + webappGet.length, 'the allowed reads counted as allowed by authors-get');
  assert.equal(m.modifyAllowedWebapp, webappPost.length + webappPut.length + webappDelete.length, 'webapp\'s writes allowed by authors-modify');
  assert.ok(m.noRoute >= webappOther.length, 'the 404s counted with no route');

  // Probes: the authors pod stays Ready under the Server, and its probes are counted as allowed.
  const pod = await mesh.cluster.core.readNamespacedPod({ namespace: ns, name: authors });
  assert.equal(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True', 'the authors pod stays Ready');
  assert.ok(m.probesAllowed > 0, 'the kubelet\'s probes went through the authors-probes route');

  // weft authz: the same denials on the same routes (counts = rps x measured window).
  const denied = (route: string) => rows.filter((r) => r.route === route && r.authorization === null).reduce((s, r) => s + r.deniedRps * r.windowSeconds, 0);
  assert.equal(Math.round(denied('authors-get')), deniedGet, `weft authz shows the GET denials on authors-get: ${out.stdout}`);
  assert.equal(Math.round(denied('authors-modify')), deniedModify, `weft authz shows the write denials on authors-modify: ${out.stdout}`);
  assert.ok(rows.some((r) => r.route === 'authors-get' && r.authorization === 'authors-get' && r.allowedRps > 0), 'and the allowed reads under authors-get');
  assert.equal(rows.filter((r) => r.deniedRps > 0 && r.route !== 'authors-get' && r.route !== 'authors-modify' && r.route !== null).length, 0, 'no denial elsewhere');
});
