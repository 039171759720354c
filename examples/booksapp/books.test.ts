import assert from 'node:assert/strict';
import { test } from 'node:test';

import { startAuthors } from './authors.js';
import { startBooks, type BookWithAuthor } from './books.js';
import { call, requestsSeen, started } from './test-helpers.js';

async function stack(t: Parameters<typeof started>[0], authorsOver: { failureRate?: number; delayMs?: number } = {}, upstreamTimeoutMs = 5000) {
  const authors = await started(t, (log) => startAuthors({ port: 0, failureRate: 0, delayMs: 0, delayRate: 1, ...authorsOver, log }));
  const books = await started(t, (log) => startBooks({ port: 0, authorsUrl: authors.url, upstreamTimeoutMs, log }));
  return { authors, books };
}

/** A port nothing listens on: bound, then closed. */
/**
 * A port nothing listens on: 1 (tcpmux), outside the ephemeral range. A port freed by a closed server
 * (the old way) could be handed to another test file running in parallel before this one dialled it.
 */
const DEAD_PORT = 1;

test('books lists each book with its author, asking authors once per book', async (t) => {
  const { authors, books } = await stack(t);
  const r = await call(`${books.url}/books`);
  assert.equal(r.status, 200);
  const list = r.json<BookWithAuthor[]>();
  assert.equal(list.find((b) => b.title === 'Emma')?.author?.name, 'Jane Austen');
  assert.equal(requestsSeen(authors.logs).filter((l) => l.startsWith('GET /authors/')).length, list.length);
});

test('books creates, updates and deletes books; an author unknown to authors is 422', async (t) => {
  const { books } = await stack(t);
  assert.equal((await call(`${books.url}/books`, 'POST', { title: 'X', authorId: 999 })).status, 422);
  assert.equal((await call(`${books.url}/books`, 'POST', { title: 'X', authorId: 'one' })).status, 400);
  const created = await call(`${books.url}/books`, 'POST', { title: 'Mansfield Park', authorId: 3 });
  assert.equal(created.status, 201);
  const id = created.json<{ id: number }>().id;
  assert.equal((await call(`${books.url}/books/${id}`)).json<BookWithAuthor>().author?.name, 'Jane Austen');
  assert.equal((await call(`${books.url}/books/${id}`, 'PUT', { title: 'Mansfield Park (2nd ed.)', authorId: 1 })).status, 200);
  assert.deepEqual((await call(`${books.url}/books/${id}`)).json<BookWithAuthor>().author?.name, 'Mary Shelley');
  assert.equal((await call(`${books.url}/books/${id}`, 'DELETE')).status, 204);
  assert.equal((await call(`${books.url}/books/${id}`)).status, 404);
});

test('an authors 500 reaches the caller of books as 500', async (t) => {
  const { books } = await stack(t, { failureRate: 1 });
  const r = await call(`${books.url}/books`);
  assert.equal(r.status, 500);
  assert.match(r.json<{ error: string }>().error, /authors answered 500/);
});

test('authors unreachable is 502; authors slower than UPSTREAM_TIMEOUT_MS is 504', async (t) => {
  const lonely = await started(t, (log) => startBooks({ port: 0, authorsUrl: `http://127.0.0.1:${DEAD_PORT}`, upstreamTimeoutMs: 1000, log }));
  assert.equal((await call(`${lonely.url}/books/1`)).status, 502);
  const { books } = await stack(t, { delayMs: 500 }, 100);
  const r = await call(`${books.url}/books/1`);
  assert.equal(r.status, 504);
  assert.match(r.json<{ error: string }>().error, /within 100 ms/);
});
