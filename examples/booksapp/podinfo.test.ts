import assert from 'node:assert/strict';
import { test } from 'node:test';

import { startErrorInjector } from './error-injector.js';
import { startPodinfo } from './podinfo.js';
import { call, started } from './test-helpers.js';

test('podinfo answers with its NAME and hostname as JSON', async (t) => {
  const s = await started(t, (log) => startPodinfo({ port: 0, name: 'backend-b', hostname: 'podinfo-b-1', log }));
  const r = await call(`${s.url}/anything?q=1`, 'POST', { x: 1 });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json(), { name: 'backend-b', hostname: 'podinfo-b-1', method: 'POST', path: '/anything' });
});

test('podinfo answers Key=value lines, request headers included, when asked for text', async (t) => {
  const s = await started(t, (log) => startPodinfo({ port: 0, name: 'a', hostname: 'h', log }));
  const r = await call(`${s.url}/`, 'GET', undefined, { accept: 'text/plain', 'x-canary': 'yes' });
  const lines = r.text.trim().split('\n');
  assert.deepEqual(lines.slice(0, 4), ['Name=a', 'Hostname=h', 'Method=GET', 'Path=/']);
  assert.ok(lines.includes('RequestHeader=x-canary:yes'));
});

test('podinfo /headers shows the request headers it received', async (t) => {
  const s = await started(t, (log) => startPodinfo({ port: 0, name: 'a', log }));
  const r = await call(`${s.url}/headers`, 'GET', undefined, { 'x-request-id': 'alternative' });
  assert.deepEqual(r.json<Record<string, string[]>>()['x-request-id'], ['alternative']);
  assert.equal((await call(`${s.url}/ready`)).status, 200);
});

test('the error injector answers 500 to every method and path, probes included', async (t) => {
  const s = await started(t, (log) => startErrorInjector({ port: 0, log }));
  for (const [method, path] of [['GET', '/'], ['GET', '/books'], ['POST', '/books'], ['DELETE', '/x'], ['GET', '/ready']] as const) {
    const r = await call(`${s.url}${path}`, method);
    assert.equal(r.status, 500, `${method} ${path}`);
  }
});
