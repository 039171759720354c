/**
 * GAMMA routing through a real client proxy: HTTPRoutes and GRPCRoutes compiled by core, converted to
 * the wire by the controller's converter and back by the proxy, then exercised with real requests over
 * loopback sockets to echo apps behind each Service. Every rule of core's outbound tests appears here
 * once more, end to end.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { HEADER_PROXY_ERROR } from '../../core/contract.js';
import type { GRPCRoute, HTTPRoute, HTTPRouteRule, ParentReference, ReferenceGrant } from '../../core/kube.js';
import { OutboundWorld, scrape, sum } from './proxy-policy-harness.js';

const SERVICES = [
  { namespace: 'prod', name: 'web', clusterIP: '10.96.1.1', ports: [{ port: 80, name: 'http' }, { port: 8080, name: 'admin' }], pods: ['web-0'] },
  { namespace: 'prod', name: 'v1', clusterIP: '10.96.1.2', ports: [{ port: 80 }], pods: ['v1-0'] },
  { namespace: 'prod', name: 'v2', clusterIP: '10.96.1.3', ports: [{ port: 80 }], pods: ['v2-0'] },
  { namespace: 'prod', name: 'v3', clusterIP: '10.96.1.4', ports: [{ port: 80 }], pods: ['v3-0'] },
  { namespace: 'prod', name: 'v4', clusterIP: '10.96.1.5', ports: [{ port: 80 }], pods: ['v4-0'] },
  { namespace: 'prod', name: 'shadow', clusterIP: '10.96.1.6', ports: [{ port: 80 }], pods: ['shadow-0'] },
  { namespace: 'other', name: 'remote', clusterIP: '10.96.2.1', ports: [{ port: 80 }], pods: ['remote-0'] },
  { namespace: 'prod', name: 'rpc', clusterIP: '10.96.1.9', ports: [{ port: 7070, name: 'grpc', h2: true }], pods: ['rpc-0'] },
  { namespace: 'prod', name: 'rpc-v2', clusterIP: '10.96.1.10', ports: [{ port: 7070, h2: true }], pods: ['rpc-v2-0'] },
];

let seq = 0;
function route(ns: string, name: string, rules: readonly HTTPRouteRule[], parentRefs: readonly ParentReference[] = [svc('web')]): HTTPRoute {
  seq++;
  return {
    metadata: { name, namespace: ns, generation: 1, creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString() },
    spec: { parentRefs, rules },
  };
}
function svc(name: string, extra: Partial<ParentReference> = {}): ParentReference {
  return { group: '', kind: 'Service', name, namespace: 'prod', ...extra };
}
const to = (name: string, weight?: number, ns?: string, port = 80) => ({ name, port, ...(weight !== undefined ? { weight } : {}), ...(ns !== undefined ? { namespace: ns } : {}) });

let world: OutboundWorld;
before(async () => {
  world = await OutboundWorld.start({ services: SERVICES });
});
after(async () => {
  await world.close();
});

async function podFor(path: string, o: { method?: string; headers?: Record<string, string>; from?: string; url?: string } = {}): Promise<string> {
  const r = await world.request(o.from ?? 'prod', `${o.url ?? 'http://web.prod'}${path}`, { ...(o.method !== undefined ? { method: o.method } : {}), ...(o.headers !== undefined ? { headers: o.headers } : {}) });
  if (r.status !== 200) return `${r.status} ${String(r.headers[HEADER_PROXY_ERROR] ?? '')}`;
  return r.pod;
}

describe('selection', () => {
  test('no route attached: the request passes through to the Service; routes attached but none matching: 404 no-route', async () => {
    world.setSnapshot({});
    assert.equal(await podFor('/anything'), 'web-0');
    world.setSnapshot({ httpRoutes: [route('prod', 'only-api', [{ matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [to('v1')] }])] });
    assert.equal(await podFor('/api/x'), 'v1-0');
    const miss = await world.request('prod', 'http://web.prod/other');
    assert.equal(miss.status, 404);
    assert.equal(miss.headers[HEADER_PROXY_ERROR], 'no-route');
  });

  test('precedence: Exact > longest PathPrefix > RegularExpression > method > most headers > most query params', async () => {
    world.setSnapshot({
      httpRoutes: [route('prod', 'precedence', [
        { matches: [{ path: { type: 'PathPrefix', value: '/a' } }], backendRefs: [to('v1')] },
        { matches: [{ path: { type: 'PathPrefix', value: '/a/b' } }], backendRefs: [to('v2')] },
        { matches: [{ path: { type: 'Exact', value: '/a/b/c' } }], backendRefs: [to('v3')] },
        { matches: [{ path: { type: 'RegularExpression', value: '/r/[0-9]+' } }], backendRefs: [to('v1')] },
        { matches: [{ path: { type: 'PathPrefix', value: '/r' } }], backendRefs: [to('v2')] },
        { matches: [{ path: { type: 'RegularExpression', value: '/m.*' } }], backendRefs: [to('v1')] },
        { matches: [{ path: { type: 'RegularExpression', value: '/m.*' }, method: 'POST' }], backendRefs: [to('v2')] },
        { matches: [{ path: { type: 'PathPrefix', value: '/h' }, headers: [{ name: 'x-a', value: '1' }] }], backendRefs: [to('v1')] },
        { matches: [{ path: { type: 'PathPrefix', value: '/h' }, headers: [{ name: 'x-a', value: '1' }, { name: 'x-b', value: '2' }] }], backendRefs: [to('v2')] },
        { matches: [{ path: { type: 'PathPrefix', value: '/h' }, queryParams: [{ name: 'q', value: '1' }], headers: [{ name: 'x-a', value: '1' }] }], backendRefs: [to('v3')] },
      ])],
    });
    assert.equal(await podFor('/a/b/c'), 'v3-0', 'Exact beats every prefix');
    assert.equal(await podFor('/a/b/c/d'), 'v2-0', 'longest prefix');
    assert.equal(await podFor('/a/x'), 'v1-0');
    assert.equal(await podFor('/r/12'), 'v2-0', 'a PathPrefix beats a RegularExpression');
    assert.equal(await podFor('/mx', { method: 'POST' }), 'v2-0', 'a method match beats none');
    assert.equal(await podFor('/mx'), 'v1-0');
    assert.equal(await podFor('/h', { headers: { 'x-a': '1', 'x-b': '2' } }), 'v2-0', 'more header matches win');
    assert.equal(await podFor('/h?q=1', { headers: { 'x-a': '1' } }), 'v3-0', 'then more query matches');
    assert.equal(await podFor('/h', { headers: { 'x-a': '1' } }), 'v1-0');
  });

  test('ties go to the oldest route, then namespace/name, then rule order', async () => {
    const older = route('prod', 'zz-older', [{ matches: [{ path: { type: 'PathPrefix', value: '/t' } }], backendRefs: [to('v1')] }]);
    const newer = route('prod', 'aa-newer', [{ matches: [{ path: { type: 'PathPrefix', value: '/t' } }], backendRefs: [to('v2')] }]);
    world.setSnapshot({ httpRoutes: [newer, older] });
    assert.equal(await podFor('/t'), 'v1-0', 'the oldest route wins');
    const sameTime = (r: HTTPRoute): HTTPRoute => ({ ...r, metadata: { ...r.metadata, creationTimestamp: '2026-02-01T00:00:00Z' } });
    world.setSnapshot({ httpRoutes: [sameTime(older), sameTime(newer)] });
    assert.equal(await podFor('/t'), 'v2-0', 'same age: namespace/name order (aa-newer < zz-older)');
    world.setSnapshot({
      httpRoutes: [route('prod', 'order', [
        { matches: [{ path: { type: 'PathPrefix', value: '/o' } }], backendRefs: [to('v3')] },
        { matches: [{ path: { type: 'PathPrefix', value: '/o' } }], backendRefs: [to('v4')] },
      ])],
    });
    assert.equal(await podFor('/o'), 'v3-0', 'same route: rule order');
  });

  test('PathPrefix matches per segment; HEAD does not match a GET rule', async () => {
    world.setSnapshot({
      httpRoutes: [route('prod', 'segments', [
        { matches: [{ path: { type: 'PathPrefix', value: '/v2' } }], backendRefs: [to('v2')] },
        { matches: [{ path: { type: 'Exact', value: '/get' }, method: 'GET' }], backendRefs: [to('v1')] },
      ])],
    });
    assert.equal(await podFor('/v2'), 'v2-0');
    assert.equal(await podFor('/v2/x'), 'v2-0');
    assert.equal(await podFor('/v2x'), '404 no-route', '/v2 does not match /v2x');
    assert.equal(await podFor('/get'), 'v1-0');
    assert.equal(await podFor('/get', { method: 'HEAD' }), '404 no-route');
  });

  test('a consumer route applies to its own namespace only and replaces the producer routes there', async () => {
    const grant: ReferenceGrant = {
      metadata: { name: 'from-client-a', namespace: 'prod' },
      spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'client-a' }], to: [{ group: '', kind: 'Service' }] },
    };
    world.setSnapshot({
      httpRoutes: [
        route('prod', 'producer', [{ backendRefs: [to('v1')] }]),
        route('client-a', 'consumer', [{ backendRefs: [to('v2', undefined, 'prod')] }]),
      ],
      referenceGrants: [grant],
    });
    assert.equal(await podFor('/', { from: 'client-a' }), 'v2-0');
    assert.equal(await podFor('/', { from: 'client-b' }), 'v1-0');
    assert.equal(await podFor('/', { from: 'prod' }), 'v1-0');
  });

  test('a parentRef port or sectionName limits the route to that Service port', async () => {
    world.setSnapshot({
      httpRoutes: [
        route('prod', 'admin-only', [{ backendRefs: [to('v1')] }], [svc('web', { port: 8080 })]),
        route('prod', 'http-section', [{ backendRefs: [to('v2')] }], [svc('web', { sectionName: 'http' })]),
      ],
    });
    assert.equal(await podFor('/', { url: 'http://web.prod:8080' }), 'v1-0');
    assert.equal(await podFor('/'), 'v2-0');
  });

  test('a GRPCRoute beats an HTTPRoute on the same port; a call no rule matches is UNIMPLEMENTED', async () => {
    const grpc: GRPCRoute = {
      metadata: { name: 'rpc-route', namespace: 'prod', creationTimestamp: '2026-01-02T00:00:00Z' },
      spec: { parentRefs: [svc('rpc')], rules: [{ matches: [{ method: { service: 'demo.Echo', method: 'Say' } }], backendRefs: [{ name: 'rpc-v2', port: 7070 }] }] },
    };
    const http = route('prod', 'rpc-http', [{ backendRefs: [{ name: 'rpc', port: 7070 }] }], [svc('rpc')]);
    world.setSnapshot({ httpRoutes: [http], grpcRoutes: [grpc] });
    const hit = await world.h2('prod', 'http://rpc.prod:7070/demo.Echo/Say', { grpc: true });
    assert.equal(hit.headers['x-echo-pod'], 'rpc-v2-0');
    assert.equal(hit.trailers['grpc-status'], '0');
    const miss = await world.h2('prod', 'http://rpc.prod:7070/demo.Echo/Other', { grpc: true });
    assert.equal(miss.headers['grpc-status'], '12', 'UNIMPLEMENTED, not the HTTPRoute');
    assert.equal(miss.headers[HEADER_PROXY_ERROR], 'no-route');
    world.setSnapshot({ httpRoutes: [http] });
    const viaHttp = await world.h2('prod', 'http://rpc.prod:7070/demo.Echo/Other', { grpc: true });
    assert.equal(viaHttp.headers['x-echo-pod'], 'rpc-0', 'without the GRPCRoute the HTTPRoute applies');
  });
});

describe('backends', () => {
  test('weight 0 is never picked; an unresolvable backend answers 500 backend-unresolved for its share', async () => {
    world.setSnapshot({ httpRoutes: [route('prod', 'weights', [{ backendRefs: [to('v1', 1), to('v2', 0), to('missing', 1)] }])] });
    const seen = new Map<string, number>();
    for (let i = 0; i < 120; i++) {
      const p = await podFor(`/w${i}`);
      seen.set(p, (seen.get(p) ?? 0) + 1);
    }
    assert.equal(seen.get('v2-0'), undefined, 'weight 0 never chosen');
    assert.deepEqual([...seen.keys()].sort(), ['500 backend-unresolved', 'v1-0']);
    const failed = seen.get('500 backend-unresolved') ?? 0;
    assert.ok(failed > 30 && failed < 90, `about half answered 500 (got ${failed}/120)`);
  });

  test('a cross-namespace backend needs a ReferenceGrant (500 not-permitted without); the route\'s own parent needs none', async () => {
    world.setSnapshot({ httpRoutes: [route('prod', 'cross', [{ backendRefs: [to('remote', 1, 'other')] }])] });
    const denied = await world.request('prod', 'http://web.prod/');
    assert.equal(denied.status, 500);
    assert.equal(denied.headers[HEADER_PROXY_ERROR], 'not-permitted');
    const grant: ReferenceGrant = {
      metadata: { name: 'from-prod', namespace: 'other' },
      spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'prod' }], to: [{ group: '', kind: 'Service' }] },
    };
    world.setSnapshot({ httpRoutes: [route('prod', 'cross', [{ backendRefs: [to('remote', 1, 'other')] }])], referenceGrants: [grant] });
    assert.equal(await podFor('/'), 'remote-0');
    world.setSnapshot({ httpRoutes: [route('client-a', 'own-parent', [{ backendRefs: [to('web', 1, 'prod')] }])] });
    assert.equal(await podFor('/', { from: 'client-a' }), 'web-0', 'a consumer route may send to its parent Service');
  });

  test('a 10/90 weight split over 2,000 requests lands within 2 points', async () => {
    world.setSnapshot({ httpRoutes: [route('prod', 'split', [{ backendRefs: [to('v1', 10), to('v2', 90)] }])] });
    const c = await world.client('prod');
    const agent = new Agent({ keepAlive: true, maxSockets: 16, localAddress: world.sourceFor('web.prod', 80) });
    const counts = { 'v1-0': 0, 'v2-0': 0, other: 0 };
    const one = () => new Promise<void>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port: c.proxy.outboundPort, path: '/split', agent, headers: { host: 'web.prod' } }, (res) => {
        const pod = String(res.headers['x-echo-pod']);
        if (pod === 'v1-0' || pod === 'v2-0') counts[pod]++;
        else counts.other++;
        res.resume();
        res.on('end', resolve);
      }).on('error', reject).end();
    });
    for (let i = 0; i < 2_000; i += 16) await Promise.all(Array.from({ length: Math.min(16, 2_000 - i) }, one));
    agent.destroy();
    assert.equal(counts.other, 0);
    const share = (counts['v1-0'] * 100) / 2_000;
    assert.ok(Math.abs(share - 10) <= 2, `v1 got ${share}% (want 10 +- 2)`);
  });
});

describe('filters', () => {
  test('request header modifiers at rule and backend level (set, add, remove; names case-insensitive)', async () => {
    world.setSnapshot({
      httpRoutes: [route('prod', 'headers', [{
        filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-Set', value: 'rule' }], add: [{ name: 'x-add', value: 'r' }], remove: ['X-Drop'] } }],
        backendRefs: [{ ...to('v1'), filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name: 'x-backend', value: 'b' }] } }] }],
      }])],
    });
    const r = await world.request('prod', 'http://web.prod/h', { headers: { 'x-set': 'client', 'x-add': 'client', 'x-drop': 'gone' } });
    assert.equal(r.pod, 'v1-0');
    const seen = world.app('v1-0').seen.at(-1)!;
    assert.equal(seen.headers['x-set'], 'rule');
    assert.equal(seen.headers['x-add'], 'client, r');
    assert.equal(seen.headers['x-drop'], undefined);
    assert.equal(seen.headers['x-backend'], 'b');
  });

  test('response header modifiers change what the client receives', async () => {
    world.setSnapshot({
      httpRoutes: [route('prod', 'resp', [{
        filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'x-resp', value: 'set' }], add: [{ name: 'x-echo-keep', value: 'more' }], remove: ['x-echo-pod'] } }],
        backendRefs: [to('v1')],
      }])],
    });
    const r = await world.request('prod', 'http://web.prod/');
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-resp'], 'set');
    assert.equal(r.headers['x-echo-keep'], 'k, more');
    assert.equal(r.headers['x-echo-pod'], undefined);
  });

  test('RequestRedirect answers with the composed Location (scheme, host, port, path; query kept)', async () => {
    world.setSnapshot({
      httpRoutes: [route('prod', 'redirects', [
        { matches: [{ path: { type: 'PathPrefix', value: '/old' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/new' }, statusCode: 301 } }] },
        { matches: [{ path: { type: 'PathPrefix', value: '/secure' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https' } }] },
        { matches: [{ path: { type: 'PathPrefix', value: '/elsewhere' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: 'example.org', port: 8443, path: { type: 'ReplaceFullPath', replaceFullPath: '/landing' } } }] },
      ])],
    });
    const a = await world.request('prod', 'http://web.prod/old/page?x=1');
    assert.equal(a.status, 301);
    assert.equal(a.headers.location, 'http://web.prod/new/page?x=1');
    const b = await world.request('prod', 'http://web.prod/secure/x');
    assert.equal(b.status, 302);
    assert.equal(b.headers.location, 'https://web.prod/secure/x');
    const c = await world.request('prod', 'http://web.prod/elsewhere/deep');
    assert.equal(c.headers.location, 'http://example.org:8443/landing');
    assert.equal(world.app('web-0').seen.filter((s) => s.path.startsWith('/old')).length, 0, 'a redirect never reaches a backend');
  });

  test('URLRewrite: ReplacePrefixMatch per segment, ReplaceFullPath and hostname reach the backend', async () => {
    world.setSnapshot({
      httpRoutes: [route('prod', 'rewrites', [
        { matches: [{ path: { type: 'PathPrefix', value: '/api/v1' } }], filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v1' }, hostname: 'internal.example' } }], backendRefs: [to('v1')] },
        { matches: [{ path: { type: 'PathPrefix', value: '/full' } }], filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplaceFullPath', replaceFullPath: '/fixed' } } }], backendRefs: [to('v2')] },
      ])],
    });
    await world.request('prod', 'http://web.prod/api/v1/users?id=7');
    const a = world.app('v1-0').seen.at(-1)!;
    assert.equal(a.path, '/v1/users?id=7');
    assert.equal(a.headers.host, 'internal.example');
    await world.request('prod', 'http://web.prod/api/v1');
    assert.equal(world.app('v1-0').seen.at(-1)!.path, '/v1');
    await world.request('prod', 'http://web.prod/full/anything');
    assert.equal(world.app('v2-0').seen.at(-1)!.path, '/fixed');
  });

  test('an upgrade request follows its route like any other: rewrite and header filters reach the backend, a redirect answers', async () => {
    world.setSnapshot({
      httpRoutes: [route('prod', 'sockets', [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/ws' } }],
          filters: [
            { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/socket' } } },
            { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-ws', value: 'routed' }] } },
          ],
          backendRefs: [to('v1')],
        },
        { matches: [{ path: { type: 'PathPrefix', value: '/moved' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { statusCode: 301, path: { type: 'ReplaceFullPath', replaceFullPath: '/here' } } }] },
      ])],
    });
    const head = await world.upgrade('prod', 'http://web.prod/ws/chat?room=1');
    assert.match(head, /^HTTP\/1\.1 101 /, head);
    assert.match(head, /x-echo-pod: v1-0/i);
    const seen = world.app('v1-0').seen.at(-1)!;
    assert.equal(seen.path, '/socket/chat?room=1');
    assert.equal(seen.headers['x-ws'], 'routed');
    const moved = await world.upgrade('prod', 'http://web.prod/moved/x');
    assert.match(moved, /^HTTP\/1\.1 301 /, moved);
    assert.match(moved, /location: http:\/\/web\.prod\/here/i);
    const none = await world.upgrade('prod', 'http://web.prod/elsewhere');
    assert.match(none, /^HTTP\/1\.1 404 /, none);
    assert.match(none, new RegExp(`${HEADER_PROXY_ERROR}: no-route`, 'i'));
  });

  test('RequestMirror sends a fire-and-forget copy (bounded body) that never changes the main response', async () => {
    world.setSnapshot({
      httpRoutes: [route('prod', 'mirror', [{ filters: [{ type: 'RequestMirror', requestMirror: { backendRef: to('shadow') } }], backendRefs: [to('v1')] }])],
    });
    const shadow = world.app('shadow-0');
    const before = shadow.seen.length;
    shadow.handler = (_req, res) => {
      res.writeHead(500);
      res.end('mirror answers are dropped');
      return true;
    };
    const r = await world.request('prod', 'http://web.prod/m', { method: 'POST', body: 'payload', headers: { 'content-type': 'text/plain' } });
    assert.equal(r.status, 200);
    assert.equal(r.pod, 'v1-0');
    for (let i = 0; i < 50 && shadow.seen.length === before; i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(shadow.seen.length, before + 1, 'the mirror got one copy');
    assert.equal(shadow.seen.at(-1)!.path, '/m');
    const big = await world.request('prod', 'http://web.prod/big', { method: 'POST', body: Buffer.alloc(100 * 1024, 1) });
    assert.equal(big.status, 200, 'a body above 64 KiB is forwarded, not mirrored');
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(shadow.seen.filter((s) => s.path === '/big').length, 0);
    shadow.handler = undefined;
  });

  test('a filter Weft does not support answers 500 unsupported, never forwarding without it', async () => {
    world.setSnapshot({
      httpRoutes: [route('prod', 'ext-auth', [
        { matches: [{ path: { type: 'PathPrefix', value: '/ext-auth' } }], filters: [{ type: 'ExternalAuth' } as never], backendRefs: [to('v1')] },
        { matches: [{ path: { type: 'PathPrefix', value: '/ok' } }], backendRefs: [to('v2')] },
      ])],
    });
    const before = world.app('v1-0').seen.length;
    const r = await world.request('prod', 'http://web.prod/ext-auth');
    assert.equal(r.status, 500);
    assert.equal(r.headers[HEADER_PROXY_ERROR], 'unsupported');
    assert.equal(world.app('v1-0').seen.length, before);
    assert.equal(await podFor('/ok'), 'v2-0', 'other rules keep working');
  });
});

describe('timeouts, route changes and metrics', () => {
  test('a 100 ms timeout against a backend that sleeps 1 s answers 504 within 300 ms and releases the backend connection', async () => {
    world.setSnapshot({ httpRoutes: [route('prod', 'slow', [{ timeouts: { request: '100ms' }, backendRefs: [to('v3')] }])] });
    const app = world.app('v3-0');
    let closedAfter = -1;
    const t0 = Date.now();
    app.handler = (req, res) => {
      const timer = setTimeout(() => res.end('late'), 1_000);
      res.on('close', () => {
        clearTimeout(timer);
        closedAfter = Date.now() - t0;
      });
      req.socket.on('close', () => undefined);
      return true;
    };
    const r = await world.request('prod', 'http://web.prod/slow');
    const took = Date.now() - t0;
    assert.equal(r.status, 504);
    assert.equal(r.headers[HEADER_PROXY_ERROR], 'timeout');
    assert.ok(took < 300, `answered in ${took} ms`);
    for (let i = 0; i < 40 && closedAfter < 0; i++) await new Promise((res) => setTimeout(res, 10));
    assert.ok(closedAfter >= 0 && closedAfter < 500, `the backend saw its connection go at ${closedAfter} ms, before it answered`);
    app.handler = undefined;
  });

  test('replacing a route under load loses no request; new requests see the new route', async () => {
    const toV = (n: 1 | 2) => ({ httpRoutes: [route('prod', 'flip', [{ backendRefs: [to(`v${n}`)] }])] });
    world.setSnapshot(toV(1));
    const c = await world.client('prod');
    const agent = new Agent({ keepAlive: true, maxSockets: 8, localAddress: world.sourceFor('web.prod', 80) });
    let stop = false;
    const statuses = new Map<number, number>();
    const pods = new Set<string>();
    const worker = async () => {
      while (!stop) {
        await new Promise<void>((resolve) => {
          httpRequest({ host: '127.0.0.1', port: c.proxy.outboundPort, path: '/flip', method: 'POST', agent, headers: { host: 'web.prod', 'content-length': 4 } }, (res) => {
            statuses.set(res.statusCode ?? 0, (statuses.get(res.statusCode ?? 0) ?? 0) + 1);
            pods.add(String(res.headers['x-echo-pod']));
            res.resume();
            res.on('end', resolve);
          }).on('error', () => {
            statuses.set(-1, (statuses.get(-1) ?? 0) + 1);
            resolve();
          }).end('body');
        });
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    for (let i = 0; i < 40; i++) {
      world.setSnapshot(toV(i % 2 === 0 ? 2 : 1));
      await new Promise((res) => setTimeout(res, 25));
    }
    stop = true;
    await Promise.all(workers);
    agent.destroy();
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    assert.deepEqual([...statuses.keys()], [200], `every request answered 200 (${JSON.stringify([...statuses])})`);
    assert.ok(total > 100, `${total} requests`);
    assert.deepEqual([...pods].sort(), ['v1-0', 'v2-0']);
    world.setSnapshot(toV(2));
    assert.equal(await podFor('/after'), 'v2-0');
  });

  test('per-route counters equal the requests sent, labelled by route, rule and backend, never by path', async () => {
    world.setSnapshot({
      httpRoutes: [route('prod', 'counted', [
        { name: 'main', matches: [{ path: { type: 'PathPrefix', value: '/c' } }], backendRefs: [to('v1')] },
        { matches: [{ path: { type: 'PathPrefix', value: '/gone' } }], backendRefs: [to('missing')] },
      ])],
    });
    const c = await world.client('prod');
    const before = await scrape(c.proxy.adminPort!);
    const labels = { route_name: 'counted', route_rule: 'main', backend_name: 'v1', service_name: 'web', service_port: '80', route_kind: 'http' };
    const base = sum(before, 'weft_outbound_requests_total', labels);
    for (let i = 0; i < 25; i++) assert.equal((await world.request('prod', `http://web.prod/c/secret-${i}?token=${i}`)).status, 200);
    for (let i = 0; i < 3; i++) await world.request('prod', 'http://web.prod/gone');
    for (let i = 0; i < 2; i++) await world.request('prod', 'http://web.prod/nothing-matches');
    const after = await scrape(c.proxy.adminPort!);
    assert.equal(sum(after, 'weft_outbound_requests_total', labels) - base, 25);
    assert.equal(sum(after, 'weft_outbound_requests_total', { ...labels, status_code: '200', error: '', grpc_status: '' }) - base, 25);
    assert.equal(sum(after, 'weft_outbound_requests_total', { route_name: 'counted', route_rule: '1', error: 'backend-unresolved', status_code: '500', backend_name: '' }), 3);
    assert.ok(sum(after, 'weft_outbound_requests_total', { route_kind: 'none', error: 'no-route', status_code: '404', service_name: 'web' }) >= 2);
    const hist = sum(after, 'weft_outbound_request_duration_seconds_count', { route_name: 'counted', route_rule: 'main', classification: 'success' });
    assert.equal(hist - sum(before, 'weft_outbound_request_duration_seconds_count', { route_name: 'counted', route_rule: 'main', classification: 'success' }), 25);
    assert.equal(sum(after, 'weft_outbound_request_duration_seconds_count', { route_name: 'counted', route_rule: '1', classification: 'failure' }), 3);
    for (const s of after) {
      for (const v of Object.values(s.labels)) assert.ok(!/secret|token|\/c/.test(v), `label value ${v} of ${s.name} comes from the request`);
    }
    assert.ok(after.some((s) => s.name === 'process_resident_memory_bytes'), 'process metrics are exposed');
  });
});
