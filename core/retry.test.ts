import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BACKOFF_CAP_MS, backoffDelayMs, decideRetry, isIdempotentMethod, isRetryableOutcome, retryOnClosedConnection } from './retry.js';
import type { RetryPolicy } from './retry.js';

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

const policy: RetryPolicy = { attempts: 2, codes: [503], backoffMs: 100 };
const input = { policy, outcome: { kind: 'status', status: 503 } as const, retries: 0, bodyReplayable: true, rand: () => 0.5 };

test('a listed status, a connection error, an attempt timeout and an unreachable app are retryable', () => {
  assert.equal(isRetryableOutcome(policy, { kind: 'status', status: 503 }), true);
  assert.equal(isRetryableOutcome(policy, { kind: 'status', status: 500 }), false);
  assert.equal(isRetryableOutcome(policy, { kind: 'connection' }), true);
  assert.equal(isRetryableOutcome(policy, { kind: 'attempt-timeout' }), true);
  assert.equal(isRetryableOutcome(policy, { kind: 'peer-unreachable' }), true);
});

test('attempts 0 disables every retry', () => {
  assert.equal(isRetryableOutcome({ ...policy, attempts: 0 }, { kind: 'connection' }), false);
  assert.deepEqual(decideRetry({ ...input, policy: { ...policy, attempts: 0 } }), { kind: 'no', why: 'not-retryable' });
});

test('attempts counts retries after the first request', () => {
  assert.equal(decideRetry({ ...input, retries: 1 }).kind, 'retry');
  assert.deepEqual(decideRetry({ ...input, retries: 2 }), { kind: 'no', why: 'attempts' });
});

test('a body that was not kept is not retried, and says why', () => {
  assert.deepEqual(decideRetry({ ...input, bodyReplayable: false }), { kind: 'no', why: 'body' });
  // A status the route does not retry is not a skipped retry.
  assert.deepEqual(decideRetry({ ...input, bodyReplayable: false, outcome: { kind: 'status', status: 500 } }), { kind: 'no', why: 'not-retryable' });
});

test('backoff doubles from the base with equal jitter, capped at the larger of the cap and the base', () => {
  assert.equal(backoffDelayMs(100, 1, () => 0), 50);
  assert.equal(backoffDelayMs(100, 1, () => 0.999999), 100);
  assert.equal(backoffDelayMs(100, 2, () => 0), 100);
  assert.equal(backoffDelayMs(100, 3, () => 0), 200);
  assert.equal(backoffDelayMs(100, 20, () => 0.999999), BACKOFF_CAP_MS);
  assert.equal(backoffDelayMs(5000, 4, () => 0.999999), 5000);
  for (let i = 1; i < 50; i++) {
    const d = backoffDelayMs(25, i, Math.random);
    assert.ok(d >= 12 && d <= BACKOFF_CAP_MS, String(d));
  }
  // A random source outside [0, 1) never pushes the delay past the curve.
  assert.equal(backoffDelayMs(100, 1, () => Number.NaN), 50);
});
