/**
 * The injector's servers: HTTPS for the API server's webhook calls (POST INJECTOR_WEBHOOK_PATH), and
 * a plain admin server (/live, /ready, /metrics). The serving certificate is read from tls.crt and
 * tls.key and re-read when the files change (a rotated Secret), without dropping connections.
 */
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Counter, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { INJECTOR_WEBHOOK_PATH, WEBHOOK_KEEP_ALIVE_TIMEOUT_MS } from '../core/contract.js';
import { AdmissionError, review } from './admission.js';
import type { NamespaceLookup } from './admission.js';
import type { InjectionConfig } from './patch.js';

/** The API server sends one pod; anything far larger is not an AdmissionReview we want to parse. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface TlsFiles { readonly cert: string; readonly key: string }

export async function readTlsDir(dir: string): Promise<TlsFiles> {
  const [cert, key] = await Promise.all([readFile(join(dir, 'tls.crt'), 'utf8'), readFile(join(dir, 'tls.key'), 'utf8')]);
  return { cert, key };
}

export interface WebhookOptions {
  readonly tls: TlsFiles;
  readonly injection: InjectionConfig;
  readonly lookupNamespace: NamespaceLookup;
  readonly registry: Registry;
  readonly log: Logger;
}

export function webhookMetrics(registry: Registry) {
  return {
    admissions: new Counter({
      name: 'weft_injector_admissions_total',
      help: 'Pod admissions by outcome (inject, skip, none, error) and reason code',
      labelNames: ['outcome', 'code'] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'weft_injector_admission_seconds',
      help: 'Time to answer an admission review',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new AdmissionError('BAD_REVIEW', 'request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function createWebhookServer(opts: WebhookOptions): HttpsServer {
  const metrics = webhookMetrics(opts.registry);
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== INJECTOR_WEBHOOK_PATH) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: the webhook is POST ${INJECTOR_WEBHOOK_PATH}\n`);
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    const end = metrics.duration.startTimer();
    try {
      const body = JSON.parse(await readBody(req)) as unknown;
      const out = await review(body, opts.lookupNamespace, opts.injection);
      const r = out.result;
      if (r !== undefined) {
        metrics.admissions.inc({ outcome: r.action, code: r.action === 'skip' ? r.code : '' });
        opts.log.info({ pod: out.pod, action: r.action, reason: r.reason }, 'pod admission');
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out.review));
    } catch (err) {
      const code = err instanceof AdmissionError ? err.code : err instanceof SyntaxError ? 'BAD_REVIEW' : 'INTERNAL';
      metrics.admissions.inc({ outcome: 'error', code });
      opts.log.warn({ err, code }, 'admission review failed; the API server applies the failurePolicy');
      res.writeHead(code === 'BAD_REVIEW' ? 400 : 500, { 'content-type': 'text/plain' }).end(`${code}: ${(err as Error).message}\n`);
    } finally {
      end();
    }
  };
  const server = createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(req, res).catch((err: unknown) => opts.log.error({ err }, 'webhook handler failed'));
  });
  server.keepAliveTimeout = WEBHOOK_KEEP_ALIVE_TIMEOUT_MS;
  return server;
}

export function createAdminServer(registry: Registry, notReady: () => readonly string[]): HttpServer {
  return createHttpServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const text = (code: number, body: string) => res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/live') {
      text(200, 'live\n');
    } else if (path === '/ready') {
      const pending = notReady();
      text(pending.length === 0 ? 200 : 503, pending.length === 0 ? 'ready\n' : `not ready: ${pending.join(', ')}\n`);
    } else if (path === '/metrics') {
      registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
        (err: unknown) => text(500, `metrics failed: ${(err as Error).message}\n`),
      );
    } else {
      text(404, 'not found: try /ready, /live or /metrics\n');
    }
  });
}

export async function listen(server: HttpServer | HttpsServer, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}
