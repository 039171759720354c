import assert from 'node:assert/strict';
import { test } from 'node:test';

import { authorsConfig, booksConfig, podinfoConfig, trafficConfig, webappConfig } from './config.js';

test('with no environment every app gets the ports and upstream URLs of manifests/booksapp.yaml', () => {
  assert.deepEqual(webappConfig({}), {
    ok: true,
    config: { port: 7000, booksUrl: 'http://books:7002', authorsUrl: 'http://authors:7001', upstreamTimeoutMs: 5000 },
  });
  assert.deepEqual(booksConfig({}), { ok: true, config: { port: 7002, authorsUrl: 'http://authors:7001', upstreamTimeoutMs: 5000 } });
  assert.deepEqual(authorsConfig({}), { ok: true, config: { port: 7001, failureRate: 0, delayMs: 0, delayRate: 1 } });
  assert.deepEqual(podinfoConfig({}), { ok: true, config: { port: 9898, name: 'podinfo' } });
});

test('every bad value is reported at once, naming the variable', () => {
  const r = authorsConfig({ PORT: '70000', FAILURE_RATE: '1.5', DELAY_MS: '-1', DELAY_RATE: 'x' });
  assert.equal(r.ok, false);
  assert.deepEqual(!r.ok && r.errors.map((e) => e.split('=')[0]).sort(), ['DELAY_MS', 'DELAY_RATE', 'FAILURE_RATE', 'PORT']);
  const t = trafficConfig({ WEBAPP_URL: 'ftp://webapp', RATE_PER_SECOND: '0' });
  assert.deepEqual(!t.ok && t.errors.map((e) => e.split('=')[0]), ['WEBAPP_URL', 'RATE_PER_SECOND']);
});

test('upstream URLs lose their trailing slash so paths can be appended', () => {
  const r = webappConfig({ BOOKS_URL: 'http://127.0.0.1:9/', AUTHORS_URL: 'http://a.b.svc:1//' });
  assert.ok(r.ok);
  assert.equal(r.config.booksUrl, 'http://127.0.0.1:9');
  assert.equal(r.config.authorsUrl, 'http://a.b.svc:1');
});

test('parsed configuration is frozen', () => {
  const r = podinfoConfig({ NAME: 'a' });
  assert.ok(r.ok);
  assert.ok(Object.isFrozen(r.config));
});
