/**
 * A gateway's HTTP/2 clients reach HTTP/1.1 backends (core/gateway/upstream-protocol.ts,
 * proxy/adapters/h2-to-http1.ts): startGateway on a view computed by the controller's code, an HTTP
 * listener served h2c with prior knowledge (node:http2's client), three backends: node:http (HTTP/1.1
 * only, no appProtocol), an h2c server whose port says `kubernetes.io/h2c`, and gRPC.
 *
 * Checked: GET and HEAD, a small POST (buffered), a large body without content-length (streamed,
 * chunked upstream), request fields (Host from :authority, split cookies joined, pseudo-headers gone),
 * response fields (repeated set-cookie kept, hop-by-hop dropped), a header filter of the route, per-
 * route metrics counting the translated requests; the h2c backend still receives HTTP/2; a backend
 * that resets mid-body ends the stream with an error, not a hang.
 */
import assert from 'node:assert/strict';
import { connect, createServer as createH2cServer, type ClientHttp2Session, type IncomingHttpHeaders as H2Headers } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { computeGatewayStatuses } from '../../core/gateway/status.js';
import type { GatewayView } from '../../core/gateway/view.js';
import type { HTTPRoute, Service } from '../../core/kube.js';
import { GATEWAY_ROUTE_KINDS } from '../../policy-controller/status/gateway-writer.js';
import { startGateway } from '../../proxy/gateway/server.js';
import { RouteMetrics } from '../../proxy/metrics.js';
import { createPolicyHook, PolicyStore } from '../../proxy/policy/hook.js';
import { get } from '../support/proxy-client.js';
import { overTheWire, TestViewSource } from '../support/gateway-view.js';
import { id, StaticCertificates, StaticDiscovery, TEST_LIMITS, TestPki } from '../support/proxy-fixtures.js';
import { echoApp } from './proxy-policy-harness.js';

const svc = (name: string): Service => ({ metadata: { namespace: 'edge', name }, spec: { ports: [{ port: 80 }] } });

function view(): GatewayView | undefined {
  const httpRoutes: HTTPRoute[] = [
    {
      metadata: { namespace: 'edge', name: 'www', creationTimestamp: '2026-01-01T00:00:00Z' },
      spec: {
        parentRefs: [{ name: 'gw' }], hostnames: ['www.example'],
        rules: [{ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-route', value: 'www' }] } }], backendRefs: [{ name: 'web', port: 80 }] }],
      },
    },
    { metadata: { namespace: 'edge', name: 'h2', creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { parentRefs: [{ name: 'gw' }], hostnames: ['h2.example'], rules: [{ backendRefs: [{ name: 'h2web', port: 80 }] }] } },
  ];
  const s = computeGatewayStatuses({
    gatewayClasses: [{ metadata: { name: 'weft' }, spec: { controllerName: 'weft.dev/gateway-controller' } }],
    gateways: [{ metadata: { namespace: 'edge', name: 'gw' }, spec: { gatewayClassName: 'weft', listeners: [{ name: 'web', port: 8080, protocol: 'HTTP' }] } }],
    httpRoutes, grpcRoutes: [], services: [svc('web'), svc('h2web')], referenceGrants: [], namespaces: [],
  }, { controllerName: 'weft.dev/gateway-controller', secrets: [], checkKeyPair: () => undefined, protocols: new Set(['HTTP']), routeKinds: GATEWAY_ROUTE_KINDS, runtime: () => ({ ready: true }) });
  return overTheWire({ namespace: 'edge', name: 'gw' }, s.views.get('edge/gw'));
}


interface H2Reply {
  readonly headers: H2Headers;
  readonly body: Buffer;
  readonly error?: string;
}

function request(session: ClientHttp2Session, headers: Record<string, string | string[]>, body?: Buffer | Buffer[]): Promise<H2Reply> {
  return new Promise((resolve) => {
    const s = session.request(headers, { endStream: body === undefined });
    let head: H2Headers = {};
    const chunks: Buffer[] = [];
    s.on('response', (h) => (head = h));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve({ headers: head, body: Buffer.concat(chunks) }));
    s.on('error', (e: Error) => resolve({ headers: head, body: Buffer.concat(chunks), error: e.message }));
    if (Array.isArray(body)) {
      // Written in pieces, no content-length: the gateway cannot know the size before the end.
      let i = 0;
      const next = () => {
        if (i === body.length) {
          s.end();
          return;
        }
        if (s.write(body[i++]!)) setImmediate(next);
        else s.once('drain', next);
      };
      next();
    } else if (body !== undefined) s.end(body);
  });
}

test('HTTP/2 clients of a gateway reach an HTTP/1.1 backend translated; an h2c backend gets HTTP/2', async (t) => {
  const pki = await TestPki.create();
  const web = await echoApp('web-0');
  // The HTTP/1.1 backend: echoes what it received (version, Host, cookie, body size) and sets two cookies.
  web.handler = (req, res) => {
    let size = 0;
    req.on('data', (c: Buffer) => (size += c.length));
    req.once('end', () => {
      if (req.url === '/reset') {
        res.socket?.destroy();
        return;
      }
      const body = JSON.stringify({
        version: req.httpVersion, host: req.headers.host, cookie: req.headers.cookie ?? null, route: req.headers['x-route'] ?? null,
        te: req.headers['transfer-encoding'] ?? null, length: req.headers['content-length'] ?? null, size, method: req.method, path: req.url,
      });
      res.writeHead(200, [
        'content-type', 'application/json', 'x-echo-pod', 'web-0', 'set-cookie', 'a=1', 'set-cookie', 'b=2', 'keep-alive', 'timeout=5',
        'content-length', String(Buffer.byteLength(body)),
      ]);
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    return true;
  };
  const h2web = createH2cServer();
  h2web.on('stream', (s, h) => {
    s.on('error', () => undefined);
    s.resume();
    s.once('end', () => {
      s.respond({ ':status': 200, 'x-echo-pod': 'h2web-0', 'x-seen-scheme': String(h[':scheme']) });
      s.end('h2');
    });
  });
  await new Promise<void>((resolve) => h2web.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    web.close();
    h2web.close();
  });

  const discovery = new StaticDiscovery();
  discovery.setEndpoints({ namespace: 'edge', name: 'web', port: 80 }, [{ ip: '127.0.0.1', port: web.port, meshed: false }]);
  discovery.setEndpoints({ namespace: 'edge', name: 'h2web', port: 80 }, [{ ip: '127.0.0.1', port: (h2web.address() as AddressInfo).port, meshed: false, protocol: 'http2' }]);
  const metrics = new RouteMetrics();
  const source = new TestViewSource(view());
  const gateway = await startGateway({
    limits: TEST_LIMITS, podIp: '127.0.0.1', endpoints: discovery,
    policy: createPolicyHook({ store: new PolicyStore(), metrics, gateway: () => source.current() }),
    certificates: new StaticCertificates(await pki.certificate(id('edge', 'gw-weft-gateway'))), readiness: [], view: source,
    host: '127.0.0.1', bindPort: () => 0, admin: { host: '127.0.0.1', port: 0 }, routeMetrics: metrics,
  });
  t.after(() => gateway.shutdown(0));
  const port = gateway.ports().get(8080);
  assert.ok(port !== undefined);
  const session = connect(`http://127.0.0.1:${port}`);
  t.after(() => session.close());

  const www = { ':authority': 'www.example', ':scheme': 'http' };
  const got = await request(session, { ...www, ':method': 'GET', ':path': '/a?b=c', cookie: ['x=1', 'y=2'] });
  assert.equal(got.error, undefined);
  assert.equal(got.headers[':status'], 200, got.body.toString());
  assert.deepEqual(got.headers['set-cookie'], ['a=1', 'b=2'], 'repeated response fields are kept');
  assert.equal(got.headers['keep-alive'], undefined, 'hop-by-hop response fields are dropped');
  const seen = JSON.parse(got.body.toString()) as Record<string, unknown>;
  assert.deepEqual(seen, { version: '1.1', host: 'www.example', cookie: 'x=1; y=2', route: 'www', te: null, length: null, size: 0, method: 'GET', path: '/a?b=c' });

  const head = await request(session, { ...www, ':method': 'HEAD', ':path': '/h' });
  assert.equal(head.headers[':status'], 200);
  assert.equal(head.body.length, 0);

  const small = await request(session, { ...www, ':method': 'POST', ':path': '/p', 'content-length': '5' }, Buffer.from('hello'));
  assert.equal(small.headers[':status'], 200);
  assert.deepEqual(JSON.parse(small.body.toString()), { ...seen, method: 'POST', path: '/p', cookie: null, length: '5', size: 5 });

  // Bigger than the retry bound and of unknown length: streamed, chunked to the HTTP/1.1 backend.
  const pieces = Array.from({ length: 40 }, () => Buffer.alloc(16_384, 0x61));
  const big = await request(session, { ...www, ':method': 'PUT', ':path': '/big' }, pieces);
  assert.equal(big.headers[':status'], 200, big.error);
  const bigSeen = JSON.parse(big.body.toString()) as Record<string, unknown>;
  assert.equal(bigSeen['size'], 40 * 16_384);
  assert.equal(bigSeen['te'], 'chunked');

  // The h2c backend (appProtocol kubernetes.io/h2c, hinted http2) still gets HTTP/2.
  const h2 = await request(session, { ':authority': 'h2.example', ':scheme': 'http', ':method': 'GET', ':path': '/' });
  assert.equal(h2.headers[':status'], 200);
  assert.equal(h2.headers['x-echo-pod'], 'h2web-0');
  assert.equal(h2.body.toString(), 'h2');

  // A backend that drops the connection before answering: the proxy's error, not a hang.
  const reset = await request(session, { ...www, ':method': 'GET', ':path': '/reset' });
  assert.equal(reset.headers[':status'], 502, JSON.stringify(reset.headers));
  assert.equal(reset.headers['weft-proxy-error'], 'upstream-reset');

  // Per-route metrics count the translated requests like any other.
  const text = (await get(gateway.adminPort!, '/metrics')).body.toString();
  const line = text.split('\n').find((l) => l.startsWith('weft_outbound_requests_total{') && l.includes('route_name="www"') && l.includes('status_code="200"'));
  assert.ok(line !== undefined, text.split('\n').filter((l) => l.startsWith('weft_outbound_requests_total')).join('\n'));
  assert.equal(Number(line.split(' ').at(-1)), 4);
});
