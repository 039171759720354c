/**
 * The echo server's control port (`--control=N`, off by default), so a test can switch one pod
 * between failing and healthy while it runs and count what it received:
 *
 *   GET /        {"codes": "<status list or ''>", "requests": <HTTP requests answered since start>}
 *   PUT /codes   body `503`, `503:9,200:1` (weights, as the `codes` query parameter) or empty (200)
 *
 * The status list applies to HTTP requests without a `codes` query parameter. A manifest that meshes
 * the pod names the port in `config.weft.dev/skip-inbound-ports`, so the control requests (from the
 * test, to the pod IP) are not served through the proxy nor counted as traffic.
 */
import http from 'node:http';
import type net from 'node:net';
import { pickStatus } from './format.js';

export interface EchoControlState {
  /** The status list requests without a `codes` parameter get ('' answers 200). */
  codes: string;
  requests: number;
}

const MAX_BODY = 1024;

export function startControl(state: EchoControlState, port: number): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const reply = (status: number, body: string): void => {
      res.writeHead(status, { 'content-type': status === 200 ? 'application/json' : 'text/plain' });
      res.end(body);
    };
    if (req.method === 'GET' && req.url === '/') return reply(200, `${JSON.stringify({ codes: state.codes, requests: state.requests })}\n`);
    if (req.method !== 'PUT' || req.url !== '/codes') return reply(404, 'the control port serves GET / and PUT /codes\n');
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
      if (body.length > MAX_BODY) req.destroy();
    });
    req.on('end', () => {
      const codes = body.trim();
      if (codes !== '' && pickStatus(codes) === undefined) return reply(400, `not a status list (e.g. 503 or 503:9,200:1): ${JSON.stringify(codes)}\n`);
      state.codes = codes;
      reply(200, `${JSON.stringify({ codes: state.codes, requests: state.requests })}\n`);
    });
  });
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () => new Promise<void>((done) => {
          sockets.forEach((s) => s.destroy());
          server.close(() => done());
        }),
      });
    });
  });
}
