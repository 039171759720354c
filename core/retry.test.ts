import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isIdempotentMethod, retryOnClosedConnection } from './retry.js';

const base = { method: 'GET', errorCode: 'UND_ERR_SOCKET', responseStarted: false, replayable: true, staleRetries: 0 };

test('idempotent methods are the six of RFC 9110 9.2.2, case-sensitive', () => {
  for (const m of ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']) assert.equal(isIdempotentMethod(m), true, m);
  for (const m of ['POST', 'PATCH', 'CONNECT', 'get', 'QUERY', '']) assert.equal(isIdempotentMethod(m), false, m);
});

test('a GET whose connection closed before any response header is retried once', () => {
  assert.equal(retryOnClosedConnection(base), true);
  assert.equal(retryOnClosedConnection({ ...base, errorCode: 'ECONNRESET' }), true);
  assert.equal(retryOnClosedConnection({ ...base, errorCode: 'EPIPE', method: 'DELETE' }), true);
  assert.equal(retryOnClosedConnection({ ...base, staleRetries: 1 }), false);
});

test('non-idempotent methods, started responses, unreplayable bodies and other errors are not retried', () => {
  assert.equal(retryOnClosedConnection({ ...base, method: 'POST' }), false);
  assert.equal(retryOnClosedConnection({ ...base, method: 'PATCH' }), false);
  assert.equal(retryOnClosedConnection({ ...base, responseStarted: true }), false);
  assert.equal(retryOnClosedConnection({ ...base, replayable: false }), false);
  assert.equal(retryOnClosedConnection({ ...base, errorCode: 'UND_ERR_HEADERS_TIMEOUT' }), false);
  assert.equal(retryOnClosedConnection({ ...base, errorCode: undefined }), false);
});
