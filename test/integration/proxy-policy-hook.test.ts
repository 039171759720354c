/**
 * What the transport does with the policy hook's decisions (the next task fills the hook): respond
 * decisions, request header operations (case 10: values with CR, LF or NUL are never emitted), route
 * timeouts on HTTP/1 and HTTP/2, and a hook that throws (fail closed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as h2connect, createServer as createH2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import { HEADER_PROXY_ERROR } from '../../core/contract.js';
import type { PolicyHook } from '../../proxy/policy-hook.js';
import { get } from '../support/proxy-client.js';
import { allowAll, listenHttp, meshPair } from '../support/proxy-fixtures.js';

const hook: PolicyHook = {
  inbound: allowAll.inbound,
  outbound: {
    route(ctx, req) {
      if (req.path === '/teapot') return { kind: 'respond', status: 418, headers: [['x-why', 'policy'], ['x-bad', 'a\r\nx-injected: 1']], body: 'short and stout' };
      if (req.path === '/throw') throw new Error('hook bug');
      if (req.path.startsWith('/slow')) return { kind: 'forward', backend: ctx.target, timeoutMs: 200 };
      return {
        kind: 'forward', backend: ctx.target,
        requestHeaders: { set: [['x-set', 'v'], ['x-evil', 'a\r\nx-injected: 1'], ['x-nul', 'a\0b']], add: [['x-add', '1']], remove: ['x-drop'] },
      };
    },
  },
};

test('policy decisions: respond, header operations without CR/LF/NUL, fail closed when the hook throws', async (t) => {
  let seen: IncomingHttpHeaders = {};
  const app = await listenHttp((req, res) => {
    seen = req.headers;
    if (req.url?.startsWith('/slow') === true) setTimeout(() => res.end('late'), 1_000);
    else res.end('ok');
  });
  const mesh = await meshPair({ appPorts: [app.port], clientPolicy: hook });
  t.after(async () => {
    await mesh.close();
    app.close();
  });
  const teapot = await get(mesh.client.outboundPort, '/teapot');
  assert.equal(teapot.status, 418);
  assert.equal(teapot.headers['x-why'], 'policy');
  assert.equal(teapot.headers['x-bad'], undefined);
  assert.equal(teapot.headers['x-injected'], undefined);
  assert.equal(teapot.body.toString(), 'short and stout');

  const ok = await get(mesh.client.outboundPort, '/x', { headers: { 'x-drop': 'gone', 'x-add': '0' } });
  assert.equal(ok.status, 200);
  assert.equal(seen['x-set'], 'v');
  assert.equal(seen['x-add'], '0, 1');
  assert.equal(seen['x-drop'], undefined);
  assert.equal(seen['x-evil'], undefined, 'a value with CR/LF is never emitted');
  assert.equal(seen['x-injected'], undefined);
  assert.equal(seen['x-nul'], undefined);

  const thrown = await get(mesh.client.outboundPort, '/throw');
  assert.equal(thrown.status, 500);
  assert.equal(thrown.headers[HEADER_PROXY_ERROR], 'policy-failed');

  const t0 = Date.now();
  const slow = await get(mesh.client.outboundPort, '/slow');
  assert.equal(slow.status, 504);
  assert.equal(slow.headers[HEADER_PROXY_ERROR], 'timeout');
  assert.ok(Date.now() - t0 < 900);
});

test('an HTTP/2 route timeout answers gRPC DEADLINE_EXCEEDED', async (t) => {
  const app = createH2Server();
  app.on('stream', (s) => {
    s.on('error', () => undefined);
    setTimeout(() => {
      if (s.closed) return;
      s.respond({ ':status': 200, 'content-type': 'application/grpc' });
      s.end();
    }, 1_000);
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const mesh = await meshPair({ appPorts: [(app.address() as AddressInfo).port], clientPolicy: hook });
  t.after(async () => {
    await mesh.close();
    app.close();
  });
  const session = h2connect(`http://127.0.0.1:${mesh.client.outboundPort}`);
  t.after(() => session.close());
  const h = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': '/slow.Svc/Call', 'content-type': 'application/grpc' });
    req.on('response', resolve);
    req.on('error', reject);
    req.resume();
    req.end();
  });
  assert.equal(h['grpc-status'], '4');
  assert.equal(h[HEADER_PROXY_ERROR], 'timeout');
});
