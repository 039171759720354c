import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { HEADER_PROXY_ERROR } from '../core/contract.js';
import { ERROR_TABLE } from '../core/reasons.js';
import { DirectionStats } from './metrics.js';
import type { ExchangeOutcome } from './policy-hook.js';
import { http1Responder } from './respond.js';

/** Just enough of a ServerResponse for the HTTP/1 responder. */
function fakeResponse() {
  const r = {
    headersSent: false, statusCode: 200, shouldKeepAlive: true, headers: {} as Record<string, unknown>, body: '',
    writeHead(status: number, headers: Record<string, unknown>) {
      r.statusCode = status;
      r.headers = headers;
      r.headersSent = true;
      return r;
    },
    end(body?: string) {
      r.body = body ?? '';
    },
    destroy() {},
  };
  return r;
}

test('the HTTP/1 responder answers a reason through the table, counts it and tells the route observer', () => {
  const stats = new DirectionStats();
  const seen: ExchangeOutcome[] = [];
  const res = fakeResponse();
  http1Responder({ stats, countRefusals: true, closeOnBadRequest: false })
    .answer(res as unknown as ServerResponse, { kind: 'reason', code: 'ROUTE_NOT_FOUND' }, (o) => seen.push(o));
  assert.equal(res.statusCode, ERROR_TABLE.ROUTE_NOT_FOUND.http);
  assert.equal(res.headers[HEADER_PROXY_ERROR], ERROR_TABLE.ROUTE_NOT_FOUND.header);
  assert.equal(stats.errors.get('ROUTE_NOT_FOUND'), 1);
  assert.equal(stats.responses['4xx'], 1);
  assert.deepEqual(seen, [{ status: 404, grpcStatus: undefined, error: 'ROUTE_NOT_FOUND', durationMs: 0 }]);
});

test('the inbound HTTP/1 responder closes after a BAD_REQUEST and does not count refusals by status class', () => {
  const stats = new DirectionStats();
  const res = fakeResponse();
  http1Responder({ stats, countRefusals: false, closeOnBadRequest: true })
    .answer(res as unknown as ServerResponse, { kind: 'reason', code: 'BAD_REQUEST' }, undefined);
  assert.equal(res.statusCode, 400);
  assert.equal(res.shouldKeepAlive, false);
  assert.equal(stats.responses['4xx'], 0);
  assert.equal(stats.errors.get('BAD_REQUEST'), 1);
});
