/**
 * The observability math on fixture scrapes (cli/testdata/scrapes: one client proxy, books, and one
 * server proxy, authors, scraped 30 s apart): the text-format parser, counter increases with resets,
 * Prometheus' histogram_quantile, and the grouped figures. Expected values are worked out by hand
 * from the fixture (see the comments) rather than read back from the code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../test/support/paths.js';
import { collectedNames, isFailure, successRate, summarize } from './figures.js';
import { histogramQuantile } from './histogram.js';
import { ExpositionError, parseExposition } from './prom-text.js';
import { authzKeyOf, renderAuthz, renderRoutes, renderStat, routeKeyOf, type OutputFormat, type Rendered } from './views.js';
import { increases, withTargetLabels } from './window.js';

const SCRAPES = join(REPO_ROOT, 'cli', 'testdata', 'scrapes');
const load = (f: string) => parseExposition(readFileSync(join(SCRAPES, f), 'utf8'));

function fixtureDeltas(pod: 'books' | 'authors', direction: 'outbound' | 'inbound') {
  const d = increases(load(`${pod}-t0.prom`).samples, load(`${pod}-t1.prom`).samples, new Set(collectedNames(direction)));
  return withTargetLabels(d, { namespace: 'booksapp', pod: `${pod}-5d8f7c9b4-x2x7q` });
}

test('parser: labels, escapes, special values, timestamps and TYPE lines', () => {
  const e = parseExposition([
    '# HELP a_total help with "quotes"',
    '# TYPE a_total counter',
    'a_total{x="1",y="a\\"b\\\\c\\nd"} 3 1700000000000',
    'b{le="+Inf"} +Inf',
    'c NaN',
    'd{ x = "v" , } -1.5e3',
    '',
  ].join('\n'));
  assert.equal(e.types.get('a_total'), 'counter');
  assert.deepEqual(e.samples[0], { name: 'a_total', labels: { x: '1', y: 'a"b\\c\nd' }, value: 3 });
  assert.equal(e.samples[1]?.value, Number.POSITIVE_INFINITY);
  assert.ok(Number.isNaN(e.samples[2]?.value));
  assert.deepEqual(e.samples[3], { name: 'd', labels: { x: 'v' }, value: -1500 });
});

test('parser: NaN in any case (prom-client writes "Nan", Prometheus "NaN")', () => {
  for (const v of ['NaN', 'Nan', 'nan', 'NAN', 'nAn']) {
    const e = parseExposition(`x ${v}\n`);
    assert.ok(Number.isNaN(e.samples[0]?.value), v);
  }
});

test('parser: +Inf in any case, with or without its sign, short or spelled out', () => {
  for (const v of ['+Inf', 'Inf', '+inf', 'inf', 'INF', '+INF', 'Infinity', '+Infinity', 'infinity', 'INFINITY']) {
    assert.equal(parseExposition(`x{le="+Inf"} ${v}\n`).samples[0]?.value, Number.POSITIVE_INFINITY, v);
  }
});

test('parser: -Inf in any case, short or spelled out', () => {
  for (const v of ['-Inf', '-inf', '-INF', '-iNf', '-Infinity', '-infinity', '-INFINITY']) {
    assert.equal(parseExposition(`x ${v}\n`).samples[0]?.value, Number.NEGATIVE_INFINITY, v);
  }
});

test('parser: near misses of the special values are still errors naming the line', () => {
  for (const bad of ['Na', 'nann', '+nan', '-nan', 'in', 'infinit', 'infinityy', '--Inf', '+-Inf', 'Inf1']) {
    assert.throws(() => parseExposition(`ok 1\nx ${bad}\n`), (err: unknown) => err instanceof ExpositionError && err.line === 2, bad);
  }
});

test('parser: a scrape whose event-loop gauges read "Nan" (an empty prom-client window) still yields every weft sample', () => {
  const text = readFileSync(join(SCRAPES, 'books-t1.prom'), 'utf8');
  const odd = [
    '# HELP nodejs_eventloop_lag_mean_seconds Mean event-loop delay.',
    '# TYPE nodejs_eventloop_lag_mean_seconds gauge',
    'nodejs_eventloop_lag_mean_seconds Nan',
    '# HELP nodejs_eventloop_lag_stddev_seconds Standard deviation of the event-loop delay.',
    '# TYPE nodejs_eventloop_lag_stddev_seconds gauge',
    'nodejs_eventloop_lag_stddev_seconds Nan',
  ].join('\n');
  const plain = parseExposition(text).samples;
  const withOdd = parseExposition(`${odd}\n${text}`).samples;
  assert.equal(withOdd.length, plain.length + 2);
  assert.deepEqual(withOdd.filter((x) => x.name.startsWith('weft_')), plain);
});

test('parser: a malformed line is an error naming the line, never skipped', () => {
  for (const bad of ['a{x="1"', 'a{x=1} 2', 'a 1 2 3', 'a one', 'a{x="1",x="2"} 1', '# TYPE a bogus', '{x="1"} 1', 'a{x="\\q"} 1']) {
    assert.throws(() => parseExposition(`ok 1\n${bad}\n`), (err: unknown) => err instanceof ExpositionError && err.line === 2, bad);
  }
});

test('parser: reads the fixture scrapes whole (every sample of every family)', () => {
  const e = load('books-t1.prom');
  assert.equal(e.types.get('weft_outbound_request_duration_seconds'), 'histogram');
  // 5 request counter series; 4 histogram series x (15 buckets + sum + count); 5 resilience counter
  // series (retries, 2 retries skipped, ejections, limited).
  assert.equal(e.samples.length, 5 + 4 * 17 + 5);
});

test('increase: difference of the two scrapes; a new series counts from 0; a reset counts its new value', () => {
  const before = [
    { name: 'c', labels: { a: '1' }, value: 10 },
    { name: 'c', labels: { a: '2' }, value: 50 },
    { name: 'c', labels: { a: 'gone' }, value: 5 },
    { name: 'other', labels: {}, value: 1 },
  ];
  const after = [
    { name: 'c', labels: { a: '1' }, value: 14 },
    { name: 'c', labels: { a: '2' }, value: 7 },
    { name: 'c', labels: { a: 'new' }, value: 3 },
    { name: 'other', labels: {}, value: 9 },
  ];
  assert.deepEqual(increases(before, after, new Set(['c'])).map((s) => [s.labels['a'], s.value]), [['1', 4], ['2', 7], ['new', 3]]);
});

test('histogram_quantile: interpolates inside the bucket that reaches the rank, from 0 in the first', () => {
  const b = [{ le: 0.1, count: 10 }, { le: 0.2, count: 30 }, { le: 0.4, count: 40 }, { le: Number.POSITIVE_INFINITY, count: 40 }];
  const near = (a: number | undefined, b: number) => assert.ok(a !== undefined && Math.abs(a - b) < 1e-12, `${a} != ${b}`);
  near(histogramQuantile(0.5, b), 0.15); // rank 20: 0.1 + 0.1 * (10 / 20)
  near(histogramQuantile(0.1, b), 0.04); // rank 4 in the first bucket: 0 + 0.1 * 4/10
  near(histogramQuantile(1, b), 0.4); // rank 40 is first reached in the 0.4 bucket
});

test('histogram_quantile: a rank in the +Inf bucket answers the largest finite bound; no data answers nothing', () => {
  const b = [{ le: 0.1, count: 1 }, { le: 0.2, count: 2 }, { le: Number.POSITIVE_INFINITY, count: 10 }];
  assert.equal(histogramQuantile(0.99, b), 0.2);
  assert.equal(histogramQuantile(0.5, [{ le: 0.1, count: 0 }, { le: Number.POSITIVE_INFINITY, count: 0 }]), undefined);
  assert.equal(histogramQuantile(0.5, [{ le: 0.1, count: 3 }, { le: 0.2, count: 3 }]), undefined, 'no +Inf bucket');
  assert.equal(histogramQuantile(0.5, [{ le: Number.POSITIVE_INFINITY, count: 3 }]), undefined, 'one bucket');
  assert.equal(histogramQuantile(-0.1, b), Number.NEGATIVE_INFINITY);
  assert.equal(histogramQuantile(1.1, b), Number.POSITIVE_INFINITY);
});

test('histogram_quantile: buckets with one bound are merged and non-monotonic counts are raised', () => {
  const merged = [{ le: 0.1, count: 2 }, { le: 0.1, count: 2 }, { le: Number.POSITIVE_INFINITY, count: 4 }];
  assert.equal(histogramQuantile(0.5, merged), 0.05); // one bucket of 4 up to 0.1: rank 2 -> 0.1 * 2/4
  const uneven = [{ le: 0.1, count: 5 }, { le: 0.2, count: 3 }, { le: 0.4, count: 8 }, { le: Number.POSITIVE_INFINITY, count: 8 }];
  // 0.2's count is raised to 5, so rank 6 lies in (0.2, 0.4] holding 3 from 5: 0.2 + 0.2 * 1/3
  assert.ok(Math.abs((histogramQuantile(0.75, uneven) ?? 0) - (0.2 + 0.2 / 3)) < 1e-12);
});

test('failure classification: proxy error, 5xx, or gRPC non-OK; 4xx and gRPC OK are successes', () => {
  assert.equal(isFailure({ status_code: '503', grpc_status: '', error: '' }), true);
  assert.equal(isFailure({ status_code: '504', grpc_status: '', error: 'timeout' }), true);
  assert.equal(isFailure({ status_code: '200', grpc_status: '14', error: '' }), true);
  assert.equal(isFailure({ status_code: '200', grpc_status: '0', error: '' }), false);
  assert.equal(isFailure({ status_code: '404', grpc_status: '', error: '' }), false);
});

test('routes figures of the fixture: per route and backend of Service booksapp/authors, other Services left out', () => {
  const groups = summarize(fixtureDeltas('books', 'outbound'), 'outbound', routeKeyOf({ namespace: 'booksapp', name: 'authors' }, false));
  assert.deepEqual(groups.map((g) => g.key.backendName), ['authors', 'authors-v2']);
  const [main, v2] = groups.map((g) => g.figures);
  // authors:7001: +60 x 200, +3 x 503, +3 timeouts (504, error=timeout).
  assert.equal(main?.requests, 66);
  assert.equal(main?.successes, 60);
  assert.equal(main?.failures, 6);
  assert.equal(main?.timeouts, 3);
  assert.equal(successRate(main!), 60 / 66);
  // Resilience: +7 retries, +2 budget skips (body_too_large is not a budget skip), +1 ejection,
  // +4 answers a server proxy's rate limit refused (a series new since t0 counts whole).
  assert.deepEqual([main?.retries, main?.budgetSkipped, main?.ejections, main?.limited], [7, 2, 1, 4]);
  assert.deepEqual([v2?.retries, v2?.budgetSkipped, v2?.ejections, v2?.limited], [0, 0, 0, 0]);
  // Bucket increases (cumulative): 0 0 6 30 54 60 62 63 63 63 63 66 ...
  // p50: rank 33 in (0.01, 0.025] holding 24 from 30: 0.01 + 0.015 * 3/24
  assert.ok(Math.abs((main?.latency[0] ?? 0) - 0.011875) < 1e-12);
  // p95: rank 62.7 in (0.1, 0.25] holding 1 from 62: 0.1 + 0.15 * 0.7
  assert.ok(Math.abs((main?.latency[1] ?? 0) - 0.205) < 1e-12);
  // p99: rank 65.34 in (2.5, 5] holding 3 from 63: 2.5 + 2.5 * 2.34/3
  assert.ok(Math.abs((main?.latency[2] ?? 0) - 4.45) < 1e-12);
  // authors-v2:7001: +15 x 200; buckets 0 0 5 15: p50 rank 7.5 in (0.005, 0.01]: 0.005 + 0.005 * 2.5/10
  assert.equal(v2?.requests, 15);
  assert.ok(Math.abs((v2?.latency[0] ?? 0) - 0.00625) < 1e-12);
});

test('authz figures of the fixture: denials and limited requests apart from failures, per server, route and authorization', () => {
  const groups = summarize(fixtureDeltas('authors', 'inbound'), 'inbound', authzKeyOf(false));
  const get = groups.find((g) => g.key.route === 'authors-get' && g.key.authorization === 'authors-get')!.figures;
  const denied = groups.find((g) => g.key.route === 'authors-modify' && g.key.authorization === '')!.figures;
  // authors-get: +90 and +30 x 200, +2 x 500, +12 x 429 rate-limited (limited: neither a failure nor a denial).
  assert.deepEqual([get.requests, get.successes, get.failures, get.denied, get.limited], [134, 120, 2, 0, 12]);
  // The books client's DELETEs: +6 denied, none a failure, no latency (denied requests are left out).
  assert.deepEqual([denied.requests, denied.successes, denied.failures, denied.denied], [6, 0, 0, 6]);
  assert.equal(successRate(denied), undefined);
  assert.deepEqual(denied.latency, [undefined, undefined, undefined]);
});

// --- golden tables (WEFT_UPDATE_GOLDEN=1 rewrites them) ------------------------------------------------

const GOLDEN = join(REPO_ROOT, 'cli', 'testdata');
const UPDATE = process.env['WEFT_UPDATE_GOLDEN'] === '1';
const WINDOW = 30;

function golden(file: string, r: Rendered): void {
  const path = join(GOLDEN, file);
  if (UPDATE) writeFileSync(path, r.text);
  assert.equal(r.text, readFileSync(path, 'utf8'), `${file} differs; rerun with WEFT_UPDATE_GOLDEN=1 if the change is intended`);
}

const AUTHORS = { namespace: 'booksapp', name: 'authors' };
for (const format of ['table', 'wide', 'json'] satisfies OutputFormat[]) {
  test(`golden: weft routes svc/authors -o ${format}`, () => {
    const groups = summarize(fixtureDeltas('books', 'outbound'), 'outbound', routeKeyOf(AUTHORS, format === 'wide'));
    golden(`routes.${format}.golden`, renderRoutes(AUTHORS, groups, WINDOW, format));
  });
  test(`golden: weft authz deploy/authors -o ${format}`, () => {
    const groups = summarize(fixtureDeltas('authors', 'inbound'), 'inbound', authzKeyOf(format === 'wide'));
    const limits = new Map([['HTTPRoute/authors-get', { policy: 'authors-get-rate', limits: '5/s burst 10' }], ['Server/authors', { policy: 'authors-conc', limits: '100 in flight' }]]);
    golden(`authz.${format}.golden`, renderAuthz(groups, WINDOW, format, limits));
  });
  test(`golden: weft stat deploy -n booksapp -o ${format} (a workload without traffic shows dashes)`, () => {
    const owners = new Map([['booksapp/authors-5d8f7c9b4-x2x7q', 'deploy/authors']]);
    const groups = summarize(fixtureDeltas('authors', 'inbound'), 'inbound', (l) => owners.get(`${l['namespace']}/${l['pod']}`));
    const resources = [
      { name: 'deploy/authors', namespace: 'booksapp', meshed: 1, pods: 1 },
      { name: 'deploy/books', namespace: 'booksapp', meshed: 1, pods: 1 },
      { name: 'deploy/webapp', namespace: 'booksapp', meshed: 0, pods: 2 },
    ];
    golden(`stat.${format}.golden`, renderStat(resources, groups, WINDOW, format));
  });
}
