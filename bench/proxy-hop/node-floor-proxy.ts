/**
 * The "Node.js floor" reference pair of the hop benchmark: the HTTP stack Weft's proxy is built on
 * (node:http / node:https servers, undici's Pool, the same TLS 1.3 mutual authentication) with no mesh
 * logic at all: no routing, policy, identity header, metrics, deadlines or error mapping. Whatever a
 * Weft pair costs above this pair is Weft's own code; what this pair costs above nginx is the runtime
 * and the two libraries. One process per role:
 *   client: plain HTTP listener -> undici Pool over TLS with a client certificate -> the server
 *   server: HTTPS listener requiring a client certificate -> undici Pool -> the backend
 * Each request is dispatched with a raw undici handler that writes the answer straight into node's
 * ServerResponse, the way proxy/http1-exchange.ts does (no intermediate streams).
 * bench/gateway-tls uses the server role without `caPem`: an HTTPS listener that asks for no client
 * certificate (TLS termination at an edge, like a Gateway's HTTPS listener) in front of a plaintext backend.
 * Usage: node-floor-proxy.js <spec.json>  (spec: role, listenPort, targetPort, keyPem, certPem, caPem)
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Dispatcher, Pool as UndiciPool } from 'undici';

interface Spec { role: 'client' | 'server'; listenPort: number; targetPort: number; keyPem: string; certPem: string; caPem?: string }
const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Spec;
// undici's Pool alone, as proxy/pool.ts loads it.
const Pool = createRequire(import.meta.url)('undici/lib/dispatcher/pool.js') as typeof UndiciPool;

const connect = spec.role === 'client'
  ? (_opts: object, cb: (err: Error | null, socket: unknown) => void) => {
    const s = tlsConnect({ host: '127.0.0.1', port: spec.targetPort, key: spec.keyPem, cert: spec.certPem, ca: spec.caPem, servername: 'web.demo', minVersion: 'TLSv1.3' });
    s.setNoDelay(true);
    s.once('secureConnect', () => cb(null, s));
    s.once('error', (e) => cb(e, null));
  }
  : { noDelay: true };
const pool = new Pool(`http://127.0.0.1:${spec.targetPort}`, {
  connect: connect as unknown as NonNullable<UndiciPool.Options['connect']>,
  connections: 256,
  pipelining: 1,
  keepAliveTimeout: 60_000,
  bodyTimeout: 0,
  headersTimeout: 0,
});

/** Hop-by-hop fields a forwarder drops (RFC 9110 section 7.6.1). */
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);

function forward(req: IncomingMessage, res: ServerResponse): void {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP.has(k)) headers[k] = v;
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart() {},
    onResponseStart(_c, statusCode, h) {
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP.has(k)) out[k] = v;
      res.writeHead(statusCode, out);
    },
    onResponseData(_c, chunk) {
      res.write(chunk);
    },
    onResponseEnd() {
      res.end();
    },
    onResponseError(_c, err) {
      process.stderr.write(`node-floor-proxy: ${err.message}\n`);
      if (!res.headersSent) res.writeHead(502);
      res.end();
    },
  };
  const bodyless = req.method === 'GET' || req.method === 'HEAD';
  pool.dispatch({ origin: `http://127.0.0.1:${spec.targetPort}`, path: req.url ?? '/', method: req.method as Dispatcher.HttpMethod, headers, body: bodyless ? null : req }, handler);
  if (bodyless) req.resume();
}

const server = spec.role === 'client'
  ? createServer({ keepAliveTimeout: 65_000 }, forward)
  : createHttpsServer({
    key: spec.keyPem, cert: spec.certPem, minVersion: 'TLSv1.3', keepAliveTimeout: 65_000,
    ...(spec.caPem === undefined ? {} : { ca: spec.caPem, requestCert: true, rejectUnauthorized: true }),
  }, forward);
server.listen(spec.listenPort, '127.0.0.1', () => process.stdout.write(`READY ${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`));
// Exits normally on SIGTERM, so that a profiler (`--cpu-prof`) writes its profile.
process.once('SIGTERM', () => process.exit(0));
