import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';

import { formatReport, startTraffic, type TrafficOptions } from './traffic.js';

/** A stand-in webapp: every 10th GET / answers 500; writes answer as the real one does. */
async function fakeWebapp(t: TestContext): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  let gets = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    seen.push(`${req.method} ${req.url}`);
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method === 'GET') {
      gets++;
      res.writeHead(gets % 10 === 0 ? 500 : 200).end('ok');
    } else if (req.method === 'POST') json(201, { id: 42 });
    else json(200, {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const opts = (url: string, over: Partial<TrafficOptions>, logs: string[]): TrafficOptions => ({
  webappUrl: url, ratePerSecond: 500, reportIntervalMs: 50, maxRequests: 0, writeEvery: 0, upstreamTimeoutMs: 2000, log: (l) => logs.push(l), ...over,
});

test('traffic sends MAX_REQUESTS requests and counts every answer by class', async (t) => {
  const webapp = await fakeWebapp(t);
  const logs: string[] = [];
  const totals = await startTraffic(opts(webapp.url, { maxRequests: 100 }, logs)).finished;
  assert.equal(totals.requests, 100);
  assert.equal(webapp.seen.length, 100);
  assert.equal(totals.ok, 90);
  assert.equal(totals.serverError, 10);
  assert.deepEqual(totals.byStatus, { 200: 90, 500: 10 });
  assert.match(logs.at(-1) ?? '', /^final: total 100 requests: 2xx=90 4xx=0 5xx=10 no-answer=0, success 90\.00%$/);
});

test('every WRITE_EVERY-th tick is a POST, PUT and DELETE cycle', async (t) => {
  const webapp = await fakeWebapp(t);
  const totals = await startTraffic(opts(webapp.url, { maxRequests: 30, writeEvery: 4 }, [])).finished;
  assert.equal(totals.requests, 30);
  const methods = webapp.seen.map((l) => l.split(' ')[0]);
  assert.ok(methods.includes('POST') && methods.includes('PUT') && methods.includes('DELETE'), methods.join(','));
  assert.ok(webapp.seen.includes('DELETE /books/42'));
});

test('traffic keeps a steady rate whatever the answers take', async (t) => {
  const webapp = await fakeWebapp(t);
  const t0 = Date.now();
  await startTraffic(opts(webapp.url, { maxRequests: 20, ratePerSecond: 50 }, [])).finished;
  const ms = Date.now() - t0;
  // 20 starts at 50/s: the last starts at 380 ms.
  assert.ok(ms >= 350 && ms < 2000, `took ${ms} ms`);
});

test('an unreachable webapp counts as no answer, and periodic reports show the interval', async () => {
  const logs: string[] = [];
  const run = startTraffic(opts('http://127.0.0.1:1', { ratePerSecond: 100 }, logs));
  await new Promise((r) => setTimeout(r, 250));
  const totals = await run.stop();
  assert.ok(totals.requests > 0);
  assert.equal(totals.noAnswer, totals.requests);
  assert.ok(logs.some((l) => / \| last 0\.\ds: \d+ requests, success 0\.00%$/.test(l)), logs.join('\n'));
});

test('the report line reads as documented', () => {
  const c = { requests: 1000, ok: 901, clientError: 0, serverError: 99, noAnswer: 0, skipped: 0, byStatus: {} };
  assert.equal(formatReport(c, { ...c, requests: 50, ok: 46 }, 10_000),
    'total 1000 requests: 2xx=901 4xx=0 5xx=99 no-answer=0, success 90.10% | last 10.0s: 50 requests, success 92.00%');
});
