import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseDelay, startAuthors, type AuthorsOptions } from './authors.js';
import { call, sequence, started } from './test-helpers.js';
import type { Author } from './store.js';

const base: Omit<AuthorsOptions, 'log'> = { port: 0, failureRate: 0, delayMs: 0, delayRate: 1 };

test('authors serves GET, POST, PUT and DELETE over its in-memory table', async (t) => {
  const s = await started(t, (log) => startAuthors({ ...base, log }));
  const list = await call(`${s.url}/authors`);
  assert.equal(list.status, 200);
  assert.ok(list.json<Author[]>().some((a) => a.name === 'Jane Austen'));

  const created = await call(`${s.url}/authors`, 'POST', { name: 'Anne Brontë' });
  assert.equal(created.status, 201);
  const id = created.json<Author>().id;
  assert.equal((await call(`${s.url}/authors/${id}`)).json<Author>().name, 'Anne Brontë');

  const renamed = await call(`${s.url}/authors/${id}`, 'PUT', { name: 'Acton Bell' });
  assert.deepEqual(renamed.json(), { id, name: 'Acton Bell' });

  assert.equal((await call(`${s.url}/authors/${id}`, 'DELETE')).status, 204);
  assert.equal((await call(`${s.url}/authors/${id}`)).status, 404);
  assert.equal((await call(`${s.url}/authors/${id}`, 'DELETE')).status, 404);
});

test('authors refuses bad bodies with 400 and unknown methods with 405', async (t) => {
  const s = await started(t, (log) => startAuthors({ ...base, log }));
  assert.equal((await call(`${s.url}/authors`, 'POST', { name: '' })).status, 400);
  assert.equal((await call(`${s.url}/authors`, 'POST', [1])).status, 400);
  assert.equal((await call(`${s.url}/authors`, 'PATCH')).status, 405);
  assert.equal((await call(`${s.url}/authors/x`)).status, 404);
});

test('FAILURE_RATE answers 500 for that share of API requests and never fails a probe', async (t) => {
  // The random draws cycle 0.1, 0.5, 0.9: a request fails when its draw is below the rate (0.5).
  const s = await started(t, (log) => startAuthors({ ...base, failureRate: 0.5, random: sequence(0.1, 0.5, 0.9), log }));
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await call(`${s.url}/authors/1`)).status);
  assert.deepEqual(statuses, [500, 200, 200, 500, 200, 200]);
  const always = await started(t, (log) => startAuthors({ ...base, failureRate: 1, log }));
  assert.equal((await call(`${always.url}/authors`)).status, 500);
  assert.equal((await call(`${always.url}/ready`)).status, 200);
  assert.equal((await call(`${always.url}/live`)).status, 200);
});

test('?delay= slows one request; DELAY_MS with DELAY_RATE slows that share', async (t) => {
  const s = await started(t, (log) => startAuthors({ ...base, log }));
  let t0 = Date.now();
  assert.equal((await call(`${s.url}/authors/1?delay=300ms`)).status, 200);
  assert.ok(Date.now() - t0 >= 290, 'delay=300ms waited');
  assert.equal((await call(`${s.url}/authors/1?delay=soon`)).status, 400);

  const slow = await started(t, (log) => startAuthors({ ...base, delayMs: 300, delayRate: 0.5, random: sequence(0.2, 0.8), log }));
  t0 = Date.now();
  await call(`${slow.url}/authors/1`);
  const first = Date.now() - t0;
  t0 = Date.now();
  await call(`${slow.url}/authors/1`);
  const second = Date.now() - t0;
  assert.ok(first >= 290, `first request (random 0.2 < 0.5) was slow: ${first} ms`);
  assert.ok(second < 250, `second request (random 0.8) was not: ${second} ms`);
  t0 = Date.now();
  await call(`${slow.url}/ready`);
  assert.ok(Date.now() - t0 < 250, 'probes are never delayed');
});

test('delay values are milliseconds or carry ms/s, bounded at two minutes', () => {
  assert.equal(parseDelay('250'), 250);
  assert.equal(parseDelay('250ms'), 250);
  assert.equal(parseDelay('1.5s'), 1500);
  assert.throws(() => parseDelay('1m'), /delay=1m/);
  assert.throws(() => parseDelay('121s'), /at most/);
});
