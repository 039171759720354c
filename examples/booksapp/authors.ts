/**
 * The authors service: a JSON CRUD API over an in-memory table, and the place the scenarios make
 * trouble. FAILURE_RATE answers that share of API requests with 500; DELAY_MS (for a DELAY_RATE share)
 * or `?delay=<ms>` makes a request slow, for the timeouts scenario. Probes are never failed or delayed.
 *
 *   GET /authors            list
 *   GET /authors/:id        one (404 if absent)
 *   POST /authors {name}    create (201)
 *   PUT /authors/:id {name} rename (404 if absent)
 *   DELETE /authors/:id     delete (204; 404 if absent)
 */
import { setTimeout as sleep } from 'node:timers/promises';

import type { AuthorsConfig } from './config.js';
import { answerProbe, HttpError, idAfter, readJsonObject, sendJson, startServer, stringField, type Log, type RunningServer } from './http.js';
import { SEED_AUTHORS, Table, type Author } from './store.js';

export interface AuthorsOptions extends AuthorsConfig {
  readonly log: Log;
  /** Uniform in [0, 1): decides which requests fail or are slow. Tests pass a fixed sequence. */
  readonly random?: () => number;
}

/** The largest `?delay=` honoured, so a typo cannot park a request for hours. */
const MAX_QUERY_DELAY_MS = 120_000;

/** `?delay=1500`, `1500ms` or `1.5s` -> milliseconds; 400 for anything else. */
export function parseDelay(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text);
  if (!m) throw new HttpError(400, `delay=${text}: want milliseconds, or a number with ms or s`);
  const ms = Number(m[1]) * (m[2] === 's' ? 1000 : 1);
  if (ms > MAX_QUERY_DELAY_MS) throw new HttpError(400, `delay=${text}: at most ${MAX_QUERY_DELAY_MS} ms`);
  return Math.round(ms);
}

export function startAuthors(opts: AuthorsOptions): Promise<RunningServer> {
  const authors = new Table<Author>(SEED_AUTHORS);
  const random = opts.random ?? Math.random;
  return startServer('authors', opts.port, async (req, res, url) => {
    if (answerProbe(res, url)) return;
    const queryDelay = url.searchParams.get('delay');
    const delay = queryDelay !== null ? parseDelay(queryDelay) : opts.delayMs > 0 && random() < opts.delayRate ? opts.delayMs : 0;
    if (delay > 0) await sleep(delay);
    if (opts.failureRate > 0 && random() < opts.failureRate) {
      sendJson(res, 500, { error: 'authors: failure injected by FAILURE_RATE' });
      return;
    }
    const method = req.method ?? 'GET';
    if (url.pathname === '/authors') {
      if (method === 'GET') return sendJson(res, 200, authors.list());
      if (method === 'POST') {
        const body = await readJsonObject(req);
        return sendJson(res, 201, authors.insert({ name: stringField(body, 'name', true) as string }));
      }
      throw new HttpError(405, `${method} not allowed on /authors`);
    }
    const id = idAfter('/authors', url.pathname);
    if (id === undefined) throw new HttpError(404, `no such path: ${url.pathname}`);
    switch (method) {
      case 'GET': {
        const a = authors.get(id);
        if (a === undefined) throw new HttpError(404, `no author ${id}`);
        return sendJson(res, 200, a);
      }
      case 'PUT': {
        const body = await readJsonObject(req);
        const a = authors.update(id, { name: stringField(body, 'name', true) as string });
        if (a === undefined) throw new HttpError(404, `no author ${id}`);
        return sendJson(res, 200, a);
      }
      case 'DELETE':
        if (!authors.delete(id)) throw new HttpError(404, `no author ${id}`);
        res.writeHead(204).end();
        return;
      default:
        throw new HttpError(405, `${method} not allowed on /authors/${id}`);
    }
  }, opts.log);
}
