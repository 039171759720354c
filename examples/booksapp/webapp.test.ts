import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';

import { startAuthors } from './authors.js';
import { startBooks } from './books.js';
import { call, requestsSeen, started } from './test-helpers.js';
import { renderBookList, startWebapp } from './webapp.js';

async function stack(t: TestContext, failureRate = 0) {
  const authors = await started(t, (log) => startAuthors({ port: 0, failureRate, delayMs: 0, delayRate: 1, log }));
  const books = await started(t, (log) => startBooks({ port: 0, authorsUrl: authors.url, upstreamTimeoutMs: 5000, log }));
  const webapp = await started(t, (log) => startWebapp({ port: 0, booksUrl: books.url, authorsUrl: authors.url, upstreamTimeoutMs: 5000, log }));
  return { authors, books, webapp };
}

test('GET / lists the books with their authors, from books and authors', async (t) => {
  const { authors, books, webapp } = await stack(t);
  const r = await call(`${webapp.url}/`);
  assert.equal(r.status, 200);
  assert.match(r.type, /^text\/plain/);
  assert.match(r.text, /^Books \(5\)\n/);
  assert.match(r.text, /  Persuasion, by Jane Austen\n/);
  assert.match(r.text, /Authors \(4\)\n$/);
  assert.deepEqual(requestsSeen(books.logs), ['GET /books -> 200']);
  assert.ok(requestsSeen(authors.logs).includes('GET /authors -> 200'));
});

test('POST, PUT and DELETE /books reach books and authors with those methods', async (t) => {
  const { authors, books, webapp } = await stack(t);
  const created = await call(`${webapp.url}/books`, 'POST', { title: 'Middlemarch', author: 'George Eliot' });
  assert.equal(created.status, 201);
  const book = created.json<{ id: number; authorId: number; author: { name: string } }>();
  assert.equal(book.author.name, 'George Eliot');
  assert.ok(requestsSeen(authors.logs).includes('POST /authors -> 201'));
  assert.ok(requestsSeen(books.logs).includes('POST /books -> 201'));

  const updated = await call(`${webapp.url}/books/${book.id}`, 'PUT', { title: 'Middlemarch: A Study', author: 'Mary Ann Evans' });
  assert.equal(updated.status, 200);
  assert.ok(requestsSeen(books.logs).includes(`PUT /books/${book.id} -> 200`));
  assert.ok(requestsSeen(authors.logs).includes(`PUT /authors/${book.authorId} -> 200`));
  assert.match((await call(`${webapp.url}/`)).text, /Middlemarch: A Study, by Mary Ann Evans/);

  const deleted = await call(`${webapp.url}/books/${book.id}`, 'DELETE');
  assert.deepEqual(deleted.json(), { deleted: book.id, authorDeleted: true });
  assert.ok(requestsSeen(books.logs).includes(`DELETE /books/${book.id} -> 204`));
  assert.ok(requestsSeen(authors.logs).includes(`DELETE /authors/${book.authorId} -> 204`));
});

test('deleting a book keeps its author while another book names them; a known author is reused', async (t) => {
  const { authors, webapp } = await stack(t);
  const created = await call(`${webapp.url}/books`, 'POST', { title: 'Sense and Sensibility', author: 'Jane Austen' });
  assert.equal(created.json<{ authorId: number }>().authorId, 3);
  assert.ok(!requestsSeen(authors.logs).some((l) => l.startsWith('POST')));
  const id = created.json<{ id: number }>().id;
  assert.deepEqual((await call(`${webapp.url}/books/${id}`, 'DELETE')).json(), { deleted: id, authorDeleted: false });
  assert.ok(!requestsSeen(authors.logs).some((l) => l.startsWith('DELETE')));
});

test('an upstream failure reaches the user with its status; a missing book is 404', async (t) => {
  const { webapp } = await stack(t, 1);
  const r = await call(`${webapp.url}/`);
  assert.equal(r.status, 500);
  assert.match(r.json<{ error: string }>().error, /answered 500/);
  const healthy = await stack(t);
  assert.equal((await call(`${healthy.webapp.url}/books/999`, 'DELETE')).status, 404);
  assert.equal((await call(`${healthy.webapp.url}/nowhere`)).status, 404);
  assert.equal((await call(`${healthy.webapp.url}/ready`)).status, 200);
});

test('the book list names an author authors no longer knows', () => {
  const text = renderBookList([{ id: 1, title: 'T', authorId: 9, author: null }], [{ id: 2, name: 'Idle Writer' }]);
  assert.equal(text, 'Books (1)\n  T, by unknown author 9\nAuthors (1); without books here: Idle Writer\n');
});
