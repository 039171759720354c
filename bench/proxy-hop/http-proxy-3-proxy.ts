/**
 * The bare http-proxy-3 reference pair of the hop benchmark (one process per role), with keep-alive
 * agents on both sides (http-proxy-3's default opens a connection per request):
 *   client: plain HTTP listener -> http-proxy-3 -> HTTPS with a client certificate (mTLS) to the server
 *   server: HTTPS listener requiring a client certificate -> http-proxy-3 -> the backend
 * No routing, identity headers or metrics: it measures the library, not a mesh.
 * Usage: http-proxy-3-proxy.js <spec.json>  (spec: role, listenPort, targetPort, keyPem, certPem, caPem)
 */
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, createServer } from 'node:http';
import { Agent as HttpsAgent, createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createProxyServer } from 'http-proxy-3';

interface Spec { role: 'client' | 'server'; listenPort: number; targetPort: number; keyPem: string; certPem: string; caPem: string }
const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Spec;

if (spec.role === 'client') {
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: 256, key: spec.keyPem, cert: spec.certPem, ca: spec.caPem, checkServerIdentity: () => undefined });
  const proxy = createProxyServer({ target: `https://127.0.0.1:${spec.targetPort}`, agent, secure: true });
  proxy.on('error', (_e, _req, res) => {
    if ('writeHead' in res && !res.headersSent) res.writeHead(502);
    res.end();
  });
  const server = createServer((req, res) => proxy.web(req, res));
  server.listen(spec.listenPort, '127.0.0.1', () => process.stdout.write(`READY ${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`));
} else {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 256 });
  const proxy = createProxyServer({ target: `http://127.0.0.1:${spec.targetPort}`, agent });
  proxy.on('error', (_e, _req, res) => {
    if ('writeHead' in res && !res.headersSent) res.writeHead(502);
    res.end();
  });
  const server = createHttpsServer({ key: spec.keyPem, cert: spec.certPem, ca: spec.caPem, requestCert: true, rejectUnauthorized: true, keepAliveTimeout: 65_000 }, (req, res) => proxy.web(req, res));
  server.listen(spec.listenPort, '127.0.0.1', () => process.stdout.write(`READY ${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`));
}
