/**
 * The validating admission webhook's HTTPS server (port 8443): POST an AdmissionReview (v1) to
 * any path under /validate, get one back. The serving certificate comes from a directory
 * (tls.crt, tls.key; re-read when they change, for cert-manager or a test's own CA) or, without
 * one, is issued by the mesh issuer for the controller's DNS names.
 */
import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { WEBHOOK_KEEP_ALIVE_TIMEOUT_MS } from '../../core/contract.js';
import { validate, type ValidateOptions } from './validate.js';

interface AdmissionRequest {
  readonly uid: string;
  readonly kind?: { readonly group?: string; readonly kind?: string };
  readonly operation?: string;
  readonly object?: unknown;
}

/** Answers one AdmissionReview body; malformed input is an error response, never a throw. */
export function review(body: unknown, options: ValidateOptions): { status: number; response: unknown } {
  const req = (body as { request?: AdmissionRequest } | undefined)?.request;
  if (req === undefined || typeof req.uid !== 'string') return { status: 400, response: { error: 'expected an admission.k8s.io/v1 AdmissionReview with a request' } };
  const kind = req.kind?.kind ?? '';
  const verdict = req.operation === 'DELETE' || req.object === undefined ? { allowed: true, warnings: [] } : validate(kind, req.object, options);
  return {
    status: 200,
    response: {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: {
        uid: req.uid,
        allowed: verdict.allowed,
        ...(verdict.allowed ? {} : { status: { code: 400, reason: 'Invalid', message: `${kind} rejected by weft: ${verdict.message ?? ''}` } }),
        ...(verdict.warnings.length > 0 ? { warnings: verdict.warnings.slice(0, 20).map((w) => w.slice(0, 512)) } : {}),
      },
    },
  };
}

export interface WebhookServerOptions {
  readonly validate: ValidateOptions;
  readonly log: Logger;
  readonly registry: Registry;
  /** Directory holding tls.crt and tls.key; else `issue` provides the certificate. */
  readonly tlsDir?: string;
  readonly issue?: () => Promise<{ certPem: string; keyPem: string }>;
}

const MAX_BODY = 3 * 1024 * 1024;
const RELOAD_MS = 30_000;

export class WebhookServer {
  private server: Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  private loadedMtime = 0;
  private readonly decisions: Counter<'kind' | 'allowed'>;

  constructor(private readonly o: WebhookServerOptions) {
    this.decisions = new Counter({ name: 'weft_webhook_reviews_total', help: 'Admission reviews answered', labelNames: ['kind', 'allowed'], registers: [o.registry] });
  }

  private async credentials(): Promise<SecureContextOptions> {
    if (this.o.tlsDir !== undefined) {
      const [cert, key] = await Promise.all([readFile(join(this.o.tlsDir, 'tls.crt')), readFile(join(this.o.tlsDir, 'tls.key'))]);
      this.loadedMtime = (await stat(join(this.o.tlsDir, 'tls.crt'))).mtimeMs;
      return { cert, key };
    }
    if (this.o.issue === undefined) throw new Error('the webhook needs a TLS directory or an issuer');
    const c = await this.o.issue();
    return { cert: c.certPem, key: c.keyPem };
  }

  async listen(host: string, port: number): Promise<number> {
    const creds = await this.credentials();
    const server = createServer({ ...creds, minVersion: 'TLSv1.2' }, (req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (req.method !== 'POST' || !path.startsWith('/validate')) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('POST an AdmissionReview to /validate\n');
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy();
        else chunks.push(c);
      });
      req.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'body is not JSON' }));
          return;
        }
        const out = review(body, this.o.validate);
        const r = (out.response as { response?: { allowed?: boolean } }).response;
        const kind = (body as { request?: AdmissionRequest }).request?.kind?.kind ?? 'unknown';
        if (r !== undefined) {
          this.decisions.inc({ kind, allowed: String(r.allowed) });
          if (r.allowed === false) this.o.log.info({ kind, response: r }, 'admission refused');
        }
        res.writeHead(out.status, { 'content-type': 'application/json' }).end(JSON.stringify(out.response));
      });
    });
    server.keepAliveTimeout = WEBHOOK_KEEP_ALIVE_TIMEOUT_MS;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    if (this.o.tlsDir !== undefined) {
      this.timer = setInterval(() => {
        void this.reload();
      }, RELOAD_MS);
      this.timer.unref();
    }
    const addr = server.address();
    return typeof addr === 'object' && addr !== null ? addr.port : port;
  }

  /** Re-reads the certificate when its file changed, or (issuer mode) always. */
  async reload(): Promise<void> {
    try {
      if (this.o.tlsDir !== undefined) {
        const m = (await stat(join(this.o.tlsDir, 'tls.crt'))).mtimeMs;
        if (m === this.loadedMtime) return;
      }
      this.server?.setSecureContext(await this.credentials());
      this.o.log.info('webhook certificate reloaded');
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'reloading the webhook certificate failed; keeping the current one');
    }
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    const s = this.server;
    if (s === undefined) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
