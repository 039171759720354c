/**
 * Both data sources on the same fixture data give the same figures: the scrape source with a fake
 * fetcher serving the two fixture scrapes, and the Prometheus source against a fake Prometheus HTTP
 * API (port 0) answering the increases of those scrapes as a PromQL vector. Also the PromQL asked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from '../../test/support/paths.js';
import { collectedNames, summarize } from './figures.js';
import { parseExposition } from './prom-text.js';
import { increaseQuery, prometheusSource, scrapeSource, upQuery } from './sources.js';
import { routeKeyOf } from './views.js';
import { increases, withTargetLabels } from './window.js';

const SCRAPES = join(REPO_ROOT, 'cli', 'testdata', 'scrapes');
const scrape = (i: number) => parseExposition(readFileSync(join(SCRAPES, `books-t${i}.prom`), 'utf8')).samples;
const POD = { namespace: 'booksapp', name: 'books-5d8f7c9b4-x2x7q' };
const AUTHORS = { namespace: 'booksapp', name: 'authors' };

test('the PromQL selects the metric over the window for exactly these namespaces and pods, regex-escaped inside PromQL strings', () => {
  // The regex a\.b is the PromQL string "a\\.b" (PromQL strings take Go's escapes; "a\.b" is a syntax error).
  assert.equal(
    increaseQuery('weft_outbound_requests_total', [POD, { namespace: 'other', name: 'a.b' }], 30),
    String.raw`increase(weft_outbound_requests_total{namespace=~"booksapp|other",pod=~"books-5d8f7c9b4-x2x7q|a\\.b"}[30s])`,
  );
  assert.equal(upQuery([POD]), 'up{namespace=~"booksapp",pod=~"books-5d8f7c9b4-x2x7q"}');
});

test('scrape and Prometheus sources give the same route figures for the same fixture data', async (t) => {
  let calls = 0;
  const viaScrape = await scrapeSource(async () => ({ ok: true, samples: scrape(calls++ === 0 ? 0 : 1) }), async () => undefined)
    .collect('outbound', [POD], 30);
  assert.deepEqual(viaScrape.problems, []);

  // The fake Prometheus answers each increase() query with the fixture's increases, labelled as
  // Weft's scrape config labels them (plus job/instance, which the CLI ignores).
  const deltas = withTargetLabels(increases(scrape(0), scrape(1), new Set(collectedNames('outbound'))), { namespace: POD.namespace, pod: POD.name });
  const queries: string[] = [];
  const server = createServer((req, res) => {
    let form = '';
    req.setEncoding('utf8').on('data', (d: string) => { form += d; }).on('end', () => {
      const q = new URLSearchParams(form).get('query') ?? '';
      queries.push(`${req.method ?? ''} ${q}`);
      const target = { job: 'weft-proxy', instance: '10.244.0.9:7191' };
      const name = /^increase\(([a-z_]+)\{/.exec(q)?.[1];
      const result = q.startsWith('up{')
        ? [{ metric: { __name__: 'up', ...target, namespace: POD.namespace, pod: POD.name }, value: [1700000000, '1'] }]
        : deltas.filter((d) => d.name === name).map((d) => ({ metric: { ...d.labels, ...target }, value: [1700000000, String(d.value)] }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const viaProm = await prometheusSource(`http://127.0.0.1:${(server.address() as AddressInfo).port}`).collect('outbound', [POD], 30);
  assert.equal(queries.length, 1 + collectedNames('outbound').length, 'up, then one increase() per collected metric');
  assert.match(queries[0] ?? '', /^POST up\{/);
  assert.match(queries[2] ?? '', /^POST increase\(weft_outbound_request_duration_seconds_bucket\{/);
  assert.deepEqual(viaProm.problems, []);

  const figures = (samples: typeof deltas) => summarize(samples, 'outbound', routeKeyOf(AUTHORS, true)).map((g) => [g.key, g.figures]);
  assert.deepEqual(figures([...viaProm.samples]), figures([...viaScrape.samples]));
  assert.equal(figures([...viaProm.samples]).length, 2);
});

test('the Prometheus source names the pods it has no target for and those it cannot scrape', async (t) => {
  const down = { namespace: 'booksapp', name: 'webapp-1' };
  const server = createServer((req, res) => {
    let form = '';
    req.setEncoding('utf8').on('data', (d: string) => { form += d; }).on('end', () => {
      const q = new URLSearchParams(form).get('query') ?? '';
      const result = q.startsWith('up{') ? [{ metric: { __name__: 'up', namespace: down.namespace, pod: down.name }, value: [1700000000, '0'] }] : [];
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const got = await prometheusSource(`http://127.0.0.1:${(server.address() as AddressInfo).port}`).collect('inbound', [POD, down], 30);
  assert.deepEqual(got.problems, [
    `pod booksapp/${POD.name}: not a target of this Prometheus (see manifests/prometheus/scrape-config.yaml)`,
    'pod booksapp/webapp-1: Prometheus cannot scrape it (up == 0)',
  ]);
  assert.deepEqual(got.samples, []);
});
