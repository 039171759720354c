/**
 * The admin server (PROXY_ADMIN_PORT), on its own port, never reachable through the data listeners (case 38):
 *
 *   GET /live     200 while the process runs
 *   GET /ready    200 once the certificate, policy and discovery have all arrived (and not draining)
 *   GET /metrics  prom-client text exposition
 *   GET /config   a read-only JSON dump of the effective configuration (no key material)
 *   GET /endpoints every Service port the outbound side balances now, with each endpoint's
 *                 circuit-breaking state (ready, ejected and for how long, probing): `weft diagnostics endpoints`
 *
 * No endpoint changes state: every other method answers 405, so an app reaching it on loopback (SSRF)
 * learns nothing it could not already see and can stop nothing.
 */
import { createServer } from './node-http.js';
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface AdminOptions {
  readonly registry: Registry;
  readonly ready: () => boolean;
  readonly configDump: () => unknown;
  /** The balanced Service ports and their endpoints (absent: an empty list). */
  readonly endpoints?: () => unknown;
}

export function createAdminServer(o: AdminOptions): Server {
  const server = createServer({ requireHostHeader: false, headersTimeout: 5_000, requestTimeout: 10_000 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
      res.end('read-only: only GET and HEAD\n');
      return;
    }
    const text = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    switch (path) {
      case '/live':
        text(200, 'live\n');
        return;
      case '/ready': {
        const ok = o.ready();
        text(ok ? 200 : 503, ok ? 'ready\n' : 'not ready\n');
        return;
      }
      case '/metrics':
        o.registry.metrics().then((m) => text(200, m, o.registry.contentType), () => text(500, 'metrics failed\n'));
        return;
      case '/endpoints':
        text(200, `${JSON.stringify(o.endpoints?.() ?? [], null, 2)}\n`, 'application/json');
        return;
      case '/config':
        text(200, `${JSON.stringify(o.configDump(), null, 2)}\n`, 'application/json');
        return;
      default:
        text(404, 'not found\n');
    }
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  return server;
}

/** Closes an admin server on shutdown: its keep-alive connections at once, then the listener. */
export async function closeAdmin(admin: Server | undefined): Promise<void> {
  if (admin === undefined) return;
  admin.closeAllConnections();
  await new Promise((r) => admin.close(r));
}
