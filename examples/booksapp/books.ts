/**
 * The books service: a JSON CRUD API over an in-memory table of books, each naming an author by id.
 * Every answer that shows a book asks the authors service for its author (one GET per book), so books
 * traffic makes authors traffic, and an authors failure shows up here as the status authors gave
 * (or 502 unreachable, 504 too slow).
 *
 *   GET /books                     list, each with its author
 *   GET /books/:id                 one, with its author
 *   POST /books {title, authorId}  create (201); 422 when authors does not know the author
 *   PUT /books/:id {title?, authorId?}
 *   DELETE /books/:id              204
 */
import type { BooksConfig } from './config.js';
import { answerProbe, callUpstream, HttpError, idAfter, readJsonObject, sendJson, startServer, stringField, type Log, type RunningServer } from './http.js';
import { SEED_BOOKS, Table, type Author, type Book } from './store.js';

export interface BooksOptions extends BooksConfig {
  readonly log: Log;
}

export interface BookWithAuthor {
  readonly id: number;
  readonly title: string;
  readonly authorId: number;
  /** null when authors no longer has this id. */
  readonly author: Author | null;
}

function authorIdField(body: Record<string, unknown>, required: boolean): number | undefined {
  const v = body['authorId'];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new HttpError(400, '"authorId" must be a positive integer');
  return v;
}

export function startBooks(opts: BooksOptions): Promise<RunningServer> {
  const books = new Table<Book>(SEED_BOOKS);

  const lookupAuthor = async (id: number): Promise<Author | null> => {
    const r = await callUpstream('authors', opts.authorsUrl, 'GET', `/authors/${id}`, opts.upstreamTimeoutMs);
    if (r.status === 404) return null;
    if (r.status !== 200) throw new HttpError(502, `authors answered ${r.status} to GET /authors/${id}`);
    return r.body as Author;
  };
  const withAuthor = async (b: Book): Promise<BookWithAuthor> => ({ ...b, author: await lookupAuthor(b.authorId) });
  const requireAuthor = async (id: number): Promise<void> => {
    if ((await lookupAuthor(id)) === null) throw new HttpError(422, `authors has no author ${id}`);
  };

  return startServer('books', opts.port, async (req, res, url) => {
    if (answerProbe(res, url)) return;
    const method = req.method ?? 'GET';
    if (url.pathname === '/books') {
      if (method === 'GET') return sendJson(res, 200, await Promise.all(books.list().map(withAuthor)));
      if (method === 'POST') {
        const body = await readJsonObject(req);
        const title = stringField(body, 'title', true) as string;
        const authorId = authorIdField(body, true) as number;
        await requireAuthor(authorId);
        return sendJson(res, 201, books.insert({ title, authorId }));
      }
      throw new HttpError(405, `${method} not allowed on /books`);
    }
    const id = idAfter('/books', url.pathname);
    if (id === undefined) throw new HttpError(404, `no such path: ${url.pathname}`);
    const book = books.get(id);
    if (book === undefined) throw new HttpError(404, `no book ${id}`);
    switch (method) {
      case 'GET':
        return sendJson(res, 200, await withAuthor(book));
      case 'PUT': {
        const body = await readJsonObject(req);
        const title = stringField(body, 'title', false);
        const authorId = authorIdField(body, false);
        if (authorId !== undefined && authorId !== book.authorId) await requireAuthor(authorId);
        const updated = books.update(id, { ...(title === undefined ? {} : { title }), ...(authorId === undefined ? {} : { authorId }) });
        return sendJson(res, 200, updated);
      }
      case 'DELETE':
        books.delete(id);
        res.writeHead(204).end();
        return;
      default:
        throw new HttpError(405, `${method} not allowed on /books/${id}`);
    }
  }, opts.log);
}
