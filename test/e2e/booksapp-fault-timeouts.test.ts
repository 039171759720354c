/**
 * booksapp scenarios on the real mesh, one booksapp deployment for the file:
 *
 * a. fault injection (examples/booksapp/manifests/fault-injection): an HTTPRoute sends 10% of books
 *    traffic to the error injector; >= 1,000 counted requests from a meshed client succeed 90% +/- 3
 *    points, and `weft routes svc/books -o json` (scrape mode, window spanning the traffic) shows the
 *    error-injector backend at 0% and the route within 3 points of the test's own count.
 * b. timeouts (timeouts/): request 1s / backendRequest 500ms on authors; a slow call answers 504 from
 *    the client's proxy after ~500 ms, and the success rate drops by the share of slow calls, as the
 *    test counts it and as `weft routes svc/authors` reports it (TIMEOUTS = the 504s).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { HEADER_PROXY_ERROR } from '../../core/contract.js';
import {
  deployBooksapp, describeTally, manifest, podName, send, sharedMeshedNamespace, sleep, tally, waitAvailable, waitRouteConditions,
  type Outcome,
} from '../support/booksapp.js';
import { useMesh, type Mesh, type WeftRun } from '../support/mesh.js';

let mesh: Mesh;
before(async () => { mesh = await useMesh(); }, { timeout: 600_000 });

interface RouteRow {
  route: { kind: string; namespace: string; name: string } | null;
  backend: { namespace: string; name: string; port: number | null } | null;
  windowSeconds: number;
  requests: number;
  successRate: number | null;
  timeouts: number;
}

/** How many seconds before the window's first scrape is surely taken, and after the traffic ends. */
const SCRAPE_MARGIN_MS = 8000;

/**
 * Runs `weft routes svc/<svc> --from deploy/client -o json` with a window that spans `traffic`:
 * the CLI starts first, the traffic after SCRAPE_MARGIN_MS, and the window is long enough that the
 * traffic ends at least SCRAPE_MARGIN_MS / 2 before the closing scrape (checked).
 */
async function routesDuring<T>(ns: string, svc: string, windowSeconds: number, traffic: () => Promise<T>): Promise<{ rows: RouteRow[]; result: T; trafficMs: number }> {
  const cli: Promise<WeftRun> = mesh.weft(['routes', `svc/${svc}`, '-n', ns, '--from', 'deploy/client', '-o', 'json', '--window', `${windowSeconds}s`]);
  await sleep(SCRAPE_MARGIN_MS);
  const t0 = Date.now();
  const result = await traffic();
  const trafficMs = Date.now() - t0;
  const out = await cli;
  assert.equal(out.code, 0, out.stderr);
  assert.ok(SCRAPE_MARGIN_MS + trafficMs + SCRAPE_MARGIN_MS / 2 <= windowSeconds * 1000,
    `the traffic took ${trafficMs} ms: too long for a ${windowSeconds}s window (raise it)`);
  return { rows: JSON.parse(out.stdout) as RouteRow[], result, trafficMs };
}

const successes = (rows: readonly RouteRow[]) => rows.reduce((s, r) => s + (r.successRate ?? 0) * r.requests, 0);
const requests = (rows: readonly RouteRow[]) => rows.reduce((s, r) => s + r.requests, 0);
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

let ns = '';
let client = '';
let removeNamespace: (() => Promise<void>) | undefined;
after(async () => {
  await removeNamespace?.();
  await mesh?.release();
}, { timeout: 300_000 });

test('the booksapp comes up meshed in a fresh namespace and books answers through the mesh', async () => {
  const shared = await sharedMeshedNamespace(mesh.cluster, 'booksapp-fault');
  ns = shared.ns;
  removeNamespace = shared.remove;
  await deployBooksapp(mesh.cluster, ns);
  client = await podName(mesh.cluster, ns, 'app=client');
  const [first] = await send(mesh.cluster, ns, client, 'echo', 'http://books:7002/books/1');
  assert.equal(first?.status, 200, 'books answers before any route');
});

test('fault injection: 10% of books traffic to the error injector gives 90% +/- 3 points over 1,000 requests, and weft routes agrees', async () => {
  assert.ok(ns !== '' && client !== '', 'the booksapp is up');
  await mesh.cluster.apply(ns, manifest('fault-injection/error-injector.yaml', { booksapp: ns }));
  await waitAvailable(mesh.cluster, ns, ['error-injector']);
  await mesh.cluster.apply(ns, manifest('fault-injection/route.yaml', { booksapp: ns }));
  await waitRouteConditions(mesh.cluster, ns, 'books-fault-injection', { Accepted: 'True', ResolvedRefs: 'True' });
  // The client's proxy has the route once a 500 shows up (a 500 is impossible without it).
  await mesh.cluster.waitFor('the client proxy routes books through books-fault-injection', async () => {
    const got = tally(await send(mesh.cluster, ns, client, 'echo', 'http://books:7002/books/1', [], 30));
    return (got.get(500) ?? 0) > 0 ? true : describeTally(got);
  }, { timeoutMs: 90_000, intervalMs: 1000 });

  const PARALLEL = 4;
  const EACH = 250;
  const { rows, result, trafficMs } = await routesDuring(ns, 'books', 30, async () =>
    (await Promise.all(Array.from({ length: PARALLEL }, () => send(mesh.cluster, ns, client, 'echo', 'http://books:7002/books/1', [], EACH)))).flat());
  const counts = tally(result);
  const sent = result.length;
  const ok = counts.get(200) ?? 0;
  const rate = ok / sent;
  const detail = `sent ${sent} in ${trafficMs} ms: ${describeTally(counts)}; weft routes: ${JSON.stringify(rows)}`;
  process.stdout.write(`# fault injection: test counted ${ok}/${sent} = ${pct(rate)}; ${detail}\n`);
  assert.equal(sent, 1000);
  assert.equal(ok + (counts.get(500) ?? 0), sent, `every request answered 200 or 500: ${detail}`);
  assert.ok(Math.abs(rate - 0.9) <= 0.03, `success ${pct(rate)} is within 3 points of 90%: ${detail}`);

  const route = rows.filter((r) => r.route?.name === 'books-fault-injection');
  const injector = route.find((r) => r.backend?.name === 'error-injector');
  const books = route.find((r) => r.backend?.name === 'books');
  assert.ok(injector !== undefined && books !== undefined, `a row per backend: ${detail}`);
  assert.equal(injector.successRate, 0, `the error-injector backend is at 0%: ${detail}`);
  assert.equal(books.successRate, 1, `the books backend is at 100%: ${detail}`);
  assert.equal(requests(rows), sent, `the CLI counted every request the test sent from deploy/client, and only those: ${detail}`);
  const cliRate = successes(route) / requests(route);
  process.stdout.write(`# fault injection: weft routes says ${pct(cliRate)} over ${requests(route)} requests (error-injector share ${pct(injector.requests / requests(route))})\n`);
  assert.ok(Math.abs(cliRate - rate) <= 0.03, `weft routes' ${pct(cliRate)} agrees with the test's ${pct(rate)} within 3 points`);
  assert.ok(Math.abs(cliRate - 0.9) <= 0.03, `weft routes shows the route near 90%: ${pct(cliRate)}`);
  assert.equal(Math.round(injector.requests), counts.get(500) ?? 0, 'the error injector\'s requests are the 500s the test counted');

  // Undo: books is back to 100% for the next scenario.
  await mesh.cluster.kubectl(['-n', ns, 'delete', 'httproute', 'books-fault-injection']);
});

const proxyError = (o: Outcome | undefined) => o?.headers.find(([k]) => k === HEADER_PROXY_ERROR)?.[1];

test('timeouts: a slow authors call answers 504 from the client proxy at the backendRequest bound, and success drops by the share of slow calls', async () => {
  assert.ok(ns !== '' && client !== '', 'the booksapp is up');
  await mesh.cluster.apply(ns, manifest('timeouts/route.yaml', { booksapp: ns }));
  await waitRouteConditions(mesh.cluster, ns, 'authors-timeouts', { Accepted: 'True', ResolvedRefs: 'True' });
  await mesh.cluster.waitFor('a 3 s authors call is cut with 504', async () => {
    const [o] = await send(mesh.cluster, ns, client, 'echo', 'http://authors:7001/authors/1?delay=3s');
    return o?.status === 504 ? true : `status ${o?.status}`;
  }, { timeoutMs: 90_000, intervalMs: 1000 });

  const [fast] = await send(mesh.cluster, ns, client, 'echo', 'http://authors:7001/authors/1?delay=200ms');
  assert.equal(fast?.status, 200, 'a call under the bound is answered by authors');
  const t0 = Date.now();
  const [slow] = await send(mesh.cluster, ns, client, 'echo', 'http://authors:7001/authors/1?delay=3s');
  const took = Date.now() - t0;
  assert.equal(slow?.status, 504);
  assert.match(proxyError(slow) ?? '', /timeout/, `the ${HEADER_PROXY_ERROR} header names the timeout: ${JSON.stringify(slow?.headers)}`);
  assert.ok(took >= 450 && took < 2500, `cut at the 500 ms backendRequest bound, not after the 3 s delay (exec round trip included): ${took} ms`);

  // A counted mix: 160 plain calls and 40 that authors delays by 2 s (20% slow).
  const FAST = 160;
  const SLOW = 40;
  const { rows, result } = await routesDuring(ns, 'authors', 30, async () => {
    const parts = await Promise.all([
      send(mesh.cluster, ns, client, 'echo', 'http://authors:7001/authors/1', [], FAST / 2),
      send(mesh.cluster, ns, client, 'echo', 'http://authors:7001/authors/2', [], FAST / 2),
      send(mesh.cluster, ns, client, 'echo', 'http://authors:7001/authors/3?delay=2s', [], SLOW / 2),
      send(mesh.cluster, ns, client, 'echo', 'http://authors:7001/authors/3?delay=2s', [], SLOW / 2),
    ]);
    return { fast: [...parts[0], ...parts[1]], slow: [...parts[2], ...parts[3]] };
  });
  const fastCounts = tally(result.fast);
  const slowCounts = tally(result.slow);
  const sent = FAST + SLOW;
  const ok = (fastCounts.get(200) ?? 0) + (slowCounts.get(200) ?? 0);
  const rate = ok / sent;
  const detail = `fast: ${describeTally(fastCounts)}; slow: ${describeTally(slowCounts)}; weft routes: ${JSON.stringify(rows)}`;
  process.stdout.write(`# timeouts: test counted ${ok}/${sent} = ${pct(rate)} (slow share ${pct(SLOW / sent)}); ${detail}\n`);
  assert.equal(slowCounts.get(504), SLOW, `every slow call answered 504: ${detail}`);
  assert.ok(result.slow.every((o) => /timeout/.test(proxyError(o) ?? '')), 'each 504 names the timeout');
  assert.ok(Math.abs(rate - (1 - SLOW / sent)) <= 0.03, `success ${pct(rate)} = 100% minus the ${pct(SLOW / sent)} slow share, within 3 points: ${detail}`);

  const route = rows.filter((r) => r.route?.name === 'authors-timeouts');
  assert.equal(requests(route), sent, `weft routes counted the ${sent} requests on authors-timeouts: ${detail}`);
  const cliRate = successes(route) / requests(route);
  const timeouts = route.reduce((s, r) => s + r.timeouts, 0);
  process.stdout.write(`# timeouts: weft routes says ${pct(cliRate)}, ${timeouts} timeouts\n`);
  assert.equal(timeouts, (fastCounts.get(504) ?? 0) + (slowCounts.get(504) ?? 0), `TIMEOUTS are the 504s the test counted: ${detail}`);
  assert.ok(Math.abs(cliRate - rate) <= 0.03, `weft routes' ${pct(cliRate)} agrees with the test's ${pct(rate)}`);
});
