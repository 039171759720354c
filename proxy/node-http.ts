/**
 * node:http, loaded through require. An ES module import of node:http builds its whole namespace,
 * which runs the lazy getters that load Node's bundled undici (fetch, WebSocket): the proxy never
 * uses it (its own upstream client is the undici package's Pool). Measured on Node 24: a bare process
 * importing node:http held 60 MB RSS against 47 MB when requiring it.
 */
import { createRequire } from 'node:module';
import type * as Http from 'node:http';

const http = createRequire(import.meta.url)('node:http') as typeof Http;

export const createServer = http.createServer;
export const STATUS_CODES = http.STATUS_CODES;
export const request = http.request;
