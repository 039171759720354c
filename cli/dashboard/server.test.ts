/**
 * The dashboard's collector and HTTP server without a cluster: the window and history arithmetic on
 * hand-made scrapes, the collector driven by a fetcher that returns fixture samples, and the real
 * server on port 0 answering the page, the API, bad input and foreign Host headers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { EMPTY_SNAPSHOT, type ClusterSnapshot } from '../../core/kube.js';
import type { Sample } from '../observe/prom-text.js';
import { appendHistory, Collector, samplesBetween, windowStart, type Scrape } from './collector.js';
import { allowedHost, createDashboardServer, parseExplainBody, parseWindow } from './server.js';

const series = (value: number, extra: Record<string, string> = {}): Sample => ({
  name: 'weft_inbound_requests_total',
  labels: { target_port: '7002', server: 's', route: '', authorization: 'a', decision: 'allow', client_id: 'c', tls: 'true', status_code: '200', grpc_status: '', error: '', ...extra },
  value,
});
const scrape = (mono: number, pods: Record<string, Sample[]>): Scrape => ({ at: 1_000_000 + mono, mono, pods: new Map(Object.entries(pods)) });

test('samplesBetween: increases per pod present in both scrapes, labelled with its namespace and pod', () => {
  const a = scrape(0, { 'ns/p1': [series(10)], 'ns/gone': [series(5)] });
  const b = scrape(5000, { 'ns/p1': [series(25), series(3, { decision: 'deny' })], 'ns/new': [series(7)] });
  const d = samplesBetween(a, b, 'inbound');
  assert.deepEqual(d.map((s) => [s.labels['pod'], s.labels['decision'], s.value]), [['p1', 'allow', 15], ['p1', 'deny', 3]]);
  assert.equal(d[0]?.labels['namespace'], 'ns');
  assert.deepEqual(samplesBetween(a, b, 'outbound'), []);
});

test('windowStart: the kept scrape nearest the window before the newest, never the newest itself', () => {
  const s = [0, 5000, 10_000, 15_000, 20_000].map((m) => scrape(m, {}));
  assert.equal(windowStart(s, 10)?.mono, 10_000);
  assert.equal(windowStart(s, 600)?.mono, 0);
  assert.equal(windowStart(s, 1)?.mono, 15_000);
  assert.equal(windowStart(s.slice(0, 1), 10), undefined);
});

test('appendHistory: one point per key and interval, each series cut to the newest max points', () => {
  let h = appendHistory(new Map(), new Map([['a', { t: 1, rps: 1, successRate: 1, deniedRps: 0 }]]), 2);
  h = appendHistory(h, new Map([['a', { t: 2, rps: 2, successRate: 1, deniedRps: 0 }], ['b', { t: 2, rps: 9, successRate: null, deniedRps: 0 }]]), 2);
  h = appendHistory(h, new Map([['a', { t: 3, rps: 3, successRate: 1, deniedRps: 0 }]]), 2);
  assert.deepEqual(h.get('a')?.map((p) => p.t), [2, 3]);
  assert.deepEqual(h.get('b')?.map((p) => p.rps), [9]);
});

const SNAP: ClusterSnapshot = {
  ...EMPTY_SNAPSHOT,
  namespaces: [{ metadata: { name: 'ns' } }],
  pods: [{ metadata: { name: 'p1', namespace: 'ns', labels: { 'weft.dev/meshed': 'true' } }, status: { phase: 'Running' } }],
};

function fixtureCollector(failSecond = false) {
  let clock = 0;
  let count = 0;
  const c = new Collector({
    listSnapshot: () => Promise.resolve(SNAP),
    fetcher: () => {
      count += 1;
      if (failSecond && count === 2) return Promise.resolve({ ok: false, why: 'HTTP 503: proxy not ready' });
      return Promise.resolve({ ok: true, samples: [series(count * 10), { name: 'unrelated_total', labels: {}, value: 1 }] });
    },
    intervalMs: 5000, keepMs: 60_000, now: () => 1_700_000_000_000 + clock, mono: () => clock,
  });
  return { c, advance: (ms: number) => { clock += ms; }, pods: () => SNAP.pods.map((p) => p.metadata.name) };
}

test('collector: a window needs two scrapes; then it spans them and the history grows per interval', async () => {
  const { c, advance } = fixtureCollector();
  await c.tick();
  assert.equal(await c.window(30), undefined);
  advance(5000);
  await c.tick();
  advance(5000);
  await c.tick();
  const w = await c.window(10);
  assert.equal(w?.windowSeconds, 10);
  assert.deepEqual(w?.inbound.map((s) => s.value), [20]);
  assert.deepEqual(c.history.get('ns/pod/p1')?.map((p) => p.rps), [2, 2]);
  assert.deepEqual(c.status().errors, []);
  assert.equal(c.status().scrapes, 3);
});

test('collector: a pod it cannot read is reported in status, not thrown', async () => {
  const { c, advance } = fixtureCollector(true);
  await c.tick();
  advance(5000);
  await c.tick();
  assert.deepEqual(c.status().errors, ['pod ns/p1: HTTP 503: proxy not ready']);
});

test('collector with Prometheus: windows are its increases over exactly the asked seconds; history grows per tick', async () => {
  const asked: [string, number, string[]][] = [];
  const c = new Collector({
    listSnapshot: () => Promise.resolve(SNAP),
    fetcher: () => Promise.reject(new Error('scrapes are not used with Prometheus')),
    prometheus: {
      collect: (direction, pods, windowSeconds) => {
        asked.push([direction, windowSeconds, pods.map((p) => p.name)]);
        const samples = direction === 'inbound' ? [{ name: 'weft_inbound_requests_total', labels: { ...series(0).labels, namespace: 'ns', pod: 'p1' }, value: 3 * windowSeconds }] : [];
        return Promise.resolve({ samples, windowSeconds, problems: direction === 'inbound' ? ['pod ns/p2: not a target of this Prometheus'] : [] });
      },
    },
    intervalMs: 5000, keepMs: 60_000,
  });
  await c.tick();
  assert.deepEqual(c.history.get('ns/pod/p1')?.map((p) => p.rps), [3]);
  assert.deepEqual(c.status().errors, ['pod ns/p2: not a target of this Prometheus']);
  const w = await c.window(120);
  assert.equal(w?.windowSeconds, 120);
  assert.deepEqual(w?.inbound.map((s) => s.value), [360]);
  assert.deepEqual(asked.filter(([, secs]) => secs === 120).map(([d, , pods]) => [d, pods]), [['outbound', ['p1']], ['inbound', ['p1']]]);
  assert.equal(c.status().source, 'prometheus');
});

test('request parsing: window bounds and explain bodies name what is wrong', () => {
  assert.equal(parseWindow(null), 30);
  assert.equal(parseWindow('60'), 60);
  assert.throws(() => parseWindow('1m'), /whole seconds/);
  assert.throws(() => parseWindow('0'), /between 1 and 600/);
  assert.deepEqual(parseExplainBody({ namespace: 'booksapp', pod: 'books-1', method: 'delete', url: 'http://authors:7001/a', headers: ['x-a: 1'] }),
    { namespace: 'booksapp', pod: 'books-1', method: 'DELETE', url: 'http://authors:7001/a', headers: [['x-a', '1']] });
  assert.throws(() => parseExplainBody({ namespace: 'booksapp', url: 'http://a' }), /exactly one of pod and serviceAccount/);
  assert.throws(() => parseExplainBody({ namespace: 'Books', serviceAccount: 'x', url: 'http://a' }), /namespace "Books" is not a valid name/);
  assert.throws(() => parseExplainBody({ namespace: 'b', serviceAccount: 'x', url: 'http://a', headers: ['nocolon'] }), /"Name: value"/);
  assert.throws(() => parseExplainBody([]), /JSON object/);
});

test('Host check: loopback answers its own address and localhost only; a wildcard address answers any', () => {
  assert.ok(allowedHost('127.0.0.1:7180', '127.0.0.1', 7180));
  assert.ok(allowedHost('localhost:7180', '127.0.0.1', 7180));
  assert.ok(!allowedHost('evil.example:7180', '127.0.0.1', 7180));
  assert.ok(!allowedHost('127.0.0.1:7181', '127.0.0.1', 7180));
  assert.ok(!allowedHost(undefined, '127.0.0.1', 7180));
  assert.ok(allowedHost('anything:1', '0.0.0.0', 7180));
});

test('server: serves the page, its assets, the overview and explain, and answers bad input with 400', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-dash-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>weft</title>');
  writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
  const { c, advance } = fixtureCollector();
  await c.tick();
  advance(5000);
  await c.tick();
  const explained: unknown[] = [];
  const { server, url } = await createDashboardServer({
    collector: c, assetsDir: dir,
    explain: (q) => { explained.push(q); return Promise.resolve({ ok: false, error: 'no Service answers to nowhere (from namespace b)' }); },
  }, '127.0.0.1', 0);
  t.after(() => server.close());
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const r = await request(new URL(path, url), { headers });
    return { status: r.statusCode, type: String(r.headers['content-type']), text: await r.body.text() };
  };
  assert.equal((await get('/')).status, 200);
  assert.deepEqual([(await get('/assets/app.js')).status, (await get('/assets/app.js')).type], [200, 'text/javascript; charset=utf-8']);
  assert.equal((await get('/assets/../index.html')).status, 200, 'the URL parser resolves dot segments to /index.html');
  assert.equal((await get('/assets/missing.js')).status, 404);
  const o = await get('/api/overview?window=5');
  assert.equal(o.status, 200);
  const body = JSON.parse(o.text) as { ready: boolean; windowSeconds: number; workloads: { key: string; figures: { requests: number } }[] };
  assert.deepEqual([body.ready, body.windowSeconds, body.workloads[0]?.key, body.workloads[0]?.figures.requests], [true, 5, 'ns/pod/p1', 10]);
  assert.equal((await get('/api/overview?window=abc')).status, 400);
  assert.equal((await get('/api/route?key=bad')).status, 400);
  assert.equal((await get('/api/route?key=ns/httproute/none')).status, 404);
  assert.equal((await get('/', { host: 'rebound.example:80' })).status, 403);
  const post = async (body: string, type: string) => {
    const r = await request(new URL('/api/explain', url), { method: 'POST', body, headers: { 'content-type': type } });
    return { status: r.statusCode, body: await r.body.json() as { error?: string } };
  };
  assert.deepEqual(await post('namespace=b', 'application/x-www-form-urlencoded'), { status: 400, body: { error: 'send the body as application/json' } });
  assert.equal((await post('{', 'application/json')).status, 400);
  const r = await post(JSON.stringify({ namespace: 'b', serviceAccount: 'x', url: 'http://nowhere:80/' }), 'application/json');
  assert.deepEqual(r, { status: 400, body: { error: 'no Service answers to nowhere (from namespace b)' } });
  assert.equal(explained.length, 1);
});
