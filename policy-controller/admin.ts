/**
 * The controller's admin HTTP server (port 9990): /live (the process answers), /ready (every
 * component reports ready: issuer loaded, gRPC bound), /metrics (Prometheus text).
 */
import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface AdminServerOptions {
  readonly registry: Registry;
  /** Names of components not ready yet; empty when ready. */
  readonly notReady: () => readonly string[];
  /** Facts worth showing on /ready even when ready (e.g. CRDs not installed). */
  readonly details?: () => readonly string[];
  /** Extra read-only GET routes (e.g. /debug/policy); returns false for a path it does not serve. */
  readonly handle?: (path: string, url: URL, res: ServerResponse) => boolean;
}

export function createAdminServer(opts: AdminServerOptions): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const text = (code: number, body: string) => res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
    switch (path) {
      case '/live':
        text(200, 'live\n');
        return;
      case '/ready': {
        const pending = opts.notReady();
        const details = (opts.details?.() ?? []).map((d) => `${d}\n`).join('');
        if (pending.length === 0) text(200, `ready\n${details}`);
        else text(503, `not ready: ${pending.join(', ')}\n${details}`);
        return;
      }
      case '/metrics':
        opts.registry.metrics().then(
          (body) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(body),
          (err: unknown) => text(500, `metrics failed: ${(err as Error).message}\n`),
        );
        return;
      default:
        if (opts.handle?.(path ?? '/', new URL(req.url ?? '/', 'http://admin'), res) === true) return;
        text(404, 'not found: try /ready, /live or /metrics\n');
    }
  });
}

export async function listen(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}
