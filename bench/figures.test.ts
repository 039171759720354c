import assert from 'node:assert/strict';
import { test } from 'node:test';
import { counterSum, median, parseTlsSummary, parseWrk, range, ratios } from './figures.js';

const WRK = `Running 10s test @ https://127.0.0.1:40123/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     8.01ms    2.10ms  40.00ms   90.00%
    Req/Sec     2.01k   150.00     2.50k    70.00%
  40123 requests in 10.02s, 5.01MB read
  Socket errors: connect 0, read 2, write 1, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:   4004.29
Transfer/sec:    512.00KB
`;

test('parseWrk: requests, elapsed time, socket errors and non-2xx answers', () => {
  const r = parseWrk(WRK, 10);
  assert.equal(r.requests, 40123);
  assert.equal(r.seconds, 10.02);
  assert.equal(r.rps, 40123 / 10.02);
  assert.equal(r.errors, 6);
  assert.equal(r.non2xx, 7);
});

test('parseWrk: a clean run has no errors; minutes and milliseconds are converted', () => {
  const clean = '  1200 requests in 1.00m, 100KB read\nRequests/sec: 20.00\n';
  assert.deepEqual(parseWrk(clean, 60), { requests: 1200, seconds: 60, rps: 20, errors: 0, non2xx: 0 });
  assert.equal(parseWrk('  10 requests in 500.00ms, 1KB read\n', 1).seconds, 0.5);
});

test('parseWrk: output without a request count is an error naming it', () => {
  assert.throws(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused', 5), /wrk printed no request count: unable to connect/);
});

test('median, range and per-round ratios', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.equal(range([2.5, 1.234, 9]), '1.23-9.00');
  assert.equal(range([]), '-');
  assert.deepEqual(ratios([10, 30], [5, 10]), [2, 3]);
  assert.throws(() => ratios([1], [1, 2]), /different lengths \(1, 2\)/);
});

test('counterSum: adds the samples whose labels include the ones asked for', () => {
  const text = [
    '# HELP weft_outbound_requests_total Requests',
    '# TYPE weft_outbound_requests_total counter',
    'weft_outbound_requests_total{route_name="web-route",status_code="200",route_rule="0"} 10',
    'weft_outbound_requests_total{route_name="web-route",status_code="200",route_rule="1"} 5',
    'weft_outbound_requests_total{route_name="web-route",status_code="503"} 2',
    'weft_outbound_requests_total{route_name="other",status_code="200"} 100',
    'weft_outbound_requests_total_other{route_name="web-route",status_code="200"} 1000',
    'weft_proxy_up 1',
  ].join('\n');
  assert.equal(counterSum(text, 'weft_outbound_requests_total', { route_name: 'web-route', status_code: '200' }), 15);
  assert.equal(counterSum(text, 'weft_outbound_requests_total', {}), 117);
  assert.equal(counterSum(text, 'weft_proxy_up', {}), 1);
  assert.equal(counterSum(text, 'missing_total', {}), 0);
});

test('parseTlsSummary: protocol, cipher and group of an openssl s_client session; none without one', () => {
  const ok = 'CONNECTED(00000003)\n---\nServer Temp Key: X25519, 253 bits\n---\nNew, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384\nServer public key is 2048 bit\n';
  assert.deepEqual(parseTlsSummary(ok), { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', keyExchange: 'X25519, 253 bits' });
  assert.deepEqual(parseTlsSummary('New, TLSv1.2, Cipher is ECDHE-RSA-AES128-GCM-SHA256\n'), { protocol: 'TLSv1.2', cipher: 'ECDHE-RSA-AES128-GCM-SHA256' });
  assert.equal(parseTlsSummary('CONNECTED(00000003)\nNew, (NONE), Cipher is (NONE)\n'), undefined);
  assert.equal(parseTlsSummary('connect: Connection refused'), undefined);
});
