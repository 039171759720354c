/**
 * The web front end. It keeps no data: every request becomes calls to books and authors, with the
 * same method, so routes and authorization policies on those services see realistic traffic.
 *
 *   GET /                            the book list as text: GET books /books and GET authors /authors
 *   POST /books {title, author}      POST authors /authors (unless an author of that name exists), POST books /books
 *   PUT /books/:id {title?, author?} PUT books /books/:id; with author, PUT authors /authors/:authorId
 *   DELETE /books/:id                DELETE books /books/:id; DELETE authors /authors/:authorId once no book names it
 *
 * A failing upstream answers with its status (502 unreachable, 504 too slow) and a JSON error naming it.
 */
import type { WebappConfig } from './config.js';
import { answerProbe, callUpstream, HttpError, idAfter, readJsonObject, sendJson, sendText, startServer, stringField, type Log, type RunningServer, type UpstreamReply } from './http.js';
import type { BookWithAuthor } from './books.js';
import type { Author, Book } from './store.js';

export interface WebappOptions extends WebappConfig {
  readonly log: Log;
}

/** The page GET / answers: one line per book, then the authors with no book. */
export function renderBookList(books: readonly BookWithAuthor[], authors: readonly Author[]): string {
  const lines = [`Books (${books.length})`];
  for (const b of books) lines.push(`  ${b.title}, by ${b.author?.name ?? `unknown author ${b.authorId}`}`);
  const withBooks = new Set(books.map((b) => b.authorId));
  const idle = authors.filter((a) => !withBooks.has(a.id));
  lines.push(`Authors (${authors.length})${idle.length > 0 ? `; without books here: ${idle.map((a) => a.name).join(', ')}` : ''}`);
  return `${lines.join('\n')}\n`;
}

export function startWebapp(opts: WebappOptions): Promise<RunningServer> {
  const books = (method: string, path: string, body?: unknown): Promise<UpstreamReply> =>
    callUpstream('books', opts.booksUrl, method, path, opts.upstreamTimeoutMs, body);
  const authors = (method: string, path: string, body?: unknown): Promise<UpstreamReply> =>
    callUpstream('authors', opts.authorsUrl, method, path, opts.upstreamTimeoutMs, body);
  /** A 4xx from an upstream, passed on to the user as it is. */
  const expect = (r: UpstreamReply, ok: number, what: string): unknown => {
    if (r.status !== ok) throw new HttpError(r.status, `${what}: ${JSON.stringify(r.body)}`);
    return r.body;
  };

  return startServer('webapp', opts.port, async (req, res, url) => {
    if (answerProbe(res, url)) return;
    const method = req.method ?? 'GET';
    if (url.pathname === '/') {
      if (method !== 'GET') throw new HttpError(405, `${method} not allowed on /`);
      const [bookList, authorList] = await Promise.all([books('GET', '/books'), authors('GET', '/authors')]);
      return sendText(res, 200, renderBookList(expect(bookList, 200, 'books') as BookWithAuthor[], expect(authorList, 200, 'authors') as Author[]));
    }
    if (url.pathname === '/books' && method === 'POST') {
      const body = await readJsonObject(req);
      const title = stringField(body, 'title', true) as string;
      const name = stringField(body, 'author', true) as string;
      const known = (expect(await authors('GET', '/authors'), 200, 'authors') as Author[]).find((a) => a.name === name);
      const author = known ?? (expect(await authors('POST', '/authors', { name }), 201, 'authors') as Author);
      const book = expect(await books('POST', '/books', { title, authorId: author.id }), 201, 'books') as Book;
      return sendJson(res, 201, { ...book, author });
    }
    const id = idAfter('/books', url.pathname);
    if (id === undefined) throw new HttpError(404, `no such page: ${method} ${url.pathname}`);
    if (method === 'PUT') {
      const body = await readJsonObject(req);
      const title = stringField(body, 'title', false);
      const name = stringField(body, 'author', false);
      let book = expect(await books('GET', `/books/${id}`), 200, 'books') as BookWithAuthor;
      if (title !== undefined) book = expect(await books('PUT', `/books/${id}`, { title }), 200, 'books') as BookWithAuthor;
      const author = name === undefined ? undefined : (expect(await authors('PUT', `/authors/${book.authorId}`, { name }), 200, 'authors') as Author);
      return sendJson(res, 200, { id: book.id, title: book.title, authorId: book.authorId, ...(author === undefined ? {} : { author }) });
    }
    if (method === 'DELETE') {
      const book = expect(await books('GET', `/books/${id}`), 200, 'books') as BookWithAuthor;
      expect(await books('DELETE', `/books/${id}`), 204, 'books');
      const rest = expect(await books('GET', '/books'), 200, 'books') as BookWithAuthor[];
      const authorDeleted = !rest.some((b) => b.authorId === book.authorId);
      if (authorDeleted) {
        const r = await authors('DELETE', `/authors/${book.authorId}`);
        if (r.status !== 204 && r.status !== 404) expect(r, 204, 'authors');
      }
      return sendJson(res, 200, { deleted: id, authorDeleted });
    }
    throw new HttpError(405, `${method} not allowed on /books/${id}`);
  }, opts.log);
}
