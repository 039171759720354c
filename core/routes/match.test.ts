import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { GRPCRoute, GRPCRouteMatch, HTTPRoute, HTTPRouteMatch } from '../kube.js';
import { makeRequestInfo, type RequestInfo } from '../request.js';
import { compileGrpcRoute, compileHttpRoute, type BackendResolver } from './compile.js';
import { buildRouteTable, compileHttpMatch, selectInTable, selectRule } from './match.js';
import type { RouteTable } from './match.js';
import type { CompiledRoute } from './types.js';

const resolve: BackendResolver = (ref) => ({ kind: 'service', namespace: ref.namespace ?? 'ns', name: ref.name, port: ref.port ?? 80 });

interface RouteOpts {
  readonly ns?: string;
  readonly created?: string;
}

function http(name: string, rules: readonly (readonly HTTPRouteMatch[])[], o: RouteOpts = {}): CompiledRoute {
  const obj: HTTPRoute = {
    metadata: { name, namespace: o.ns ?? 'ns', creationTimestamp: o.created ?? '2026-01-01T00:00:00Z' },
    spec: { rules: rules.map((matches) => ({ matches, backendRefs: [{ name: 'svc', port: 80 }] })) },
  };
  const r = compileHttpRoute(obj, resolve);
  assert.ok(r.route, r.fatal);
  return r.route;
}

function grpc(name: string, rules: readonly (readonly GRPCRouteMatch[])[], o: RouteOpts = {}): CompiledRoute {
  const obj: GRPCRoute = {
    metadata: { name, namespace: o.ns ?? 'ns', creationTimestamp: o.created ?? '2026-01-01T00:00:00Z' },
    spec: { rules: rules.map((matches) => ({ matches, backendRefs: [{ name: 'svc', port: 80 }] })) },
  };
  const r = compileGrpcRoute(obj, resolve);
  assert.ok(r.route, r.fatal);
  return r.route;
}

function req(method: string, target: string, headers: readonly (readonly [string, string])[] = []): RequestInfo {
  const r = makeRequestInfo({ method, target, headers: [['host', 'svc'], ...headers] });
  assert.ok(r.ok);
  return r.request;
}

/** `route/ruleIndex` of the selected rule, or 'none'. */
function pick(routes: readonly CompiledRoute[], r: RequestInfo): string {
  const s = selectRule(routes, r);
  return s === undefined ? 'none' : `${s.route.name}/${s.rule.index}`;
}

describe('selectRule precedence', () => {
  test('Exact path beats a longer PathPrefix', () => {
    const routes = [http('a', [[{ path: { type: 'PathPrefix', value: '/foo/bar' } }], [{ path: { type: 'Exact', value: '/foo/bar' } }]])];
    assert.equal(pick(routes, req('GET', '/foo/bar')), 'a/1');
  });

  test('the longest PathPrefix wins', () => {
    const routes = [http('a', [[{ path: { type: 'PathPrefix', value: '/foo' } }], [{ path: { type: 'PathPrefix', value: '/foo/bar' } }]])];
    assert.equal(pick(routes, req('GET', '/foo/bar/baz')), 'a/1');
    assert.equal(pick(routes, req('GET', '/foo/baz')), 'a/0');
  });

  test('PathPrefix beats RegularExpression', () => {
    const routes = [http('a', [[{ path: { type: 'RegularExpression', value: '/foo/.*' } }], [{ path: { type: 'PathPrefix', value: '/foo' } }]])];
    assert.equal(pick(routes, req('GET', '/foo/x')), 'a/1');
  });

  test('RegularExpression is used when no prefix matches', () => {
    const routes = [http('a', [[{ path: { type: 'RegularExpression', value: '/items/[0-9]+' } }], [{ path: { type: 'PathPrefix', value: '/other' } }]])];
    assert.equal(pick(routes, req('GET', '/items/42')), 'a/0');
    assert.equal(pick(routes, req('GET', '/items/42x')), 'none');
  });

  test('a method match beats none on an equal path', () => {
    const routes = [http('a', [[{ path: { value: '/' } }], [{ path: { value: '/' }, method: 'POST' }]])];
    assert.equal(pick(routes, req('POST', '/')), 'a/1');
    assert.equal(pick(routes, req('GET', '/')), 'a/0');
  });

  test('more header matches win over fewer', () => {
    const routes = [
      http('a', [
        [{ headers: [{ name: 'x-a', value: '1' }] }],
        [{ headers: [{ name: 'x-a', value: '1' }, { name: 'x-b', value: '2' }] }],
      ]),
    ];
    assert.equal(pick(routes, req('GET', '/', [['x-a', '1'], ['x-b', '2']])), 'a/1');
    assert.equal(pick(routes, req('GET', '/', [['x-a', '1']])), 'a/0');
  });

  test('a method match beats more header matches', () => {
    const routes = [http('a', [[{ headers: [{ name: 'x-a', value: '1' }] }], [{ method: 'GET' }]])];
    assert.equal(pick(routes, req('GET', '/', [['x-a', '1']])), 'a/1');
  });

  test('more query matches win when headers tie', () => {
    const routes = [http('a', [[{ queryParams: [{ name: 'q', value: '1' }] }], [{ queryParams: [{ name: 'q', value: '1' }, { name: 'r', value: '2' }] }]])];
    assert.equal(pick(routes, req('GET', '/?q=1&r=2')), 'a/1');
  });

  test('on a full tie the oldest route wins', () => {
    const newer = http('a-newer', [[{ path: { value: '/x' } }]], { created: '2026-02-01T00:00:00Z' });
    const older = http('z-older', [[{ path: { value: '/x' } }]], { created: '2026-01-01T00:00:00Z' });
    assert.equal(pick([newer, older], req('GET', '/x')), 'z-older/0');
  });

  test('on equal age namespace/name decides alphabetically', () => {
    const b = http('b', [[{ path: { value: '/x' } }]], { ns: 'ns' });
    const a = http('a', [[{ path: { value: '/x' } }]], { ns: 'ns' });
    const other = http('a', [[{ path: { value: '/x' } }]], { ns: 'aa' });
    assert.equal(pick([b, a], req('GET', '/x')), 'a/0');
    const s = selectRule([b, a, other], req('GET', '/x'));
    assert.equal(s?.route.namespace, 'aa');
  });

  test('within one route the first rule wins a tie', () => {
    const routes = [http('a', [[{ path: { value: '/x' } }], [{ path: { value: '/x' } }]])];
    assert.equal(pick(routes, req('GET', '/x')), 'a/0');
  });

  test('the matches of a rule are ORed, conditions inside a match ANDed', () => {
    const routes = [http('a', [[{ path: { value: '/a' }, method: 'GET' }, { path: { value: '/b' } }]])];
    assert.equal(pick(routes, req('GET', '/a')), 'a/0');
    assert.equal(pick(routes, req('POST', '/a')), 'none');
    assert.equal(pick(routes, req('POST', '/b')), 'a/0');
  });
});

describe('selectRule semantics', () => {
  test('PathPrefix matches whole segments only', () => {
    const routes = [http('a', [[{ path: { type: 'PathPrefix', value: '/v2' } }]])];
    assert.equal(pick(routes, req('GET', '/v2')), 'a/0');
    assert.equal(pick(routes, req('GET', '/v2/')), 'a/0');
    assert.equal(pick(routes, req('GET', '/v2/x')), 'a/0');
    assert.equal(pick(routes, req('GET', '/v2x')), 'none');
  });

  test('a PathPrefix with a trailing slash behaves like one without', () => {
    const routes = [http('a', [[{ path: { type: 'PathPrefix', value: '/v2/' } }]])];
    assert.equal(pick(routes, req('GET', '/v2')), 'a/0');
    assert.equal(pick(routes, req('GET', '/v2x')), 'none');
  });

  test('HEAD does not match a GET rule', () => {
    const routes = [http('a', [[{ method: 'GET' }]])];
    assert.equal(pick(routes, req('HEAD', '/')), 'none');
    assert.equal(pick(routes, req('GET', '/')), 'a/0');
  });

  test('header names match case-insensitively, values exactly', () => {
    const routes = [http('a', [[{ headers: [{ name: 'X-Version', value: 'One' }] }]])];
    assert.equal(pick(routes, req('GET', '/', [['x-VERSION', 'One']])), 'a/0');
    assert.equal(pick(routes, req('GET', '/', [['x-version', 'one']])), 'none');
  });

  test('a repeated header matches only when every value matches', () => {
    const routes = [http('a', [[{ headers: [{ name: 'x-role', value: 'admin' }] }]])];
    assert.equal(pick(routes, req('GET', '/', [['x-role', 'admin'], ['x-role', 'user']])), 'none');
    assert.equal(pick(routes, req('GET', '/', [['x-role', 'admin'], ['x-role', 'admin']])), 'a/0');
  });

  test('a repeated query parameter matches only when every value matches', () => {
    const routes = [http('a', [[{ queryParams: [{ name: 'animal', value: 'whale' }] }]])];
    assert.equal(pick(routes, req('GET', '/?animal=whale&animal=dog')), 'none');
    assert.equal(pick(routes, req('GET', '/?animal=whale')), 'a/0');
  });

  test('header and query RegularExpression matches are anchored', () => {
    const routes = [http('a', [[{ headers: [{ type: 'RegularExpression', name: 'x', value: 'v[0-9]' }] }]])];
    assert.equal(pick(routes, req('GET', '/', [['x', 'v1']])), 'a/0');
    assert.equal(pick(routes, req('GET', '/', [['x', 'v1x']])), 'none');
  });

  test('route path values are normalised like requests', () => {
    const routes = [http('a', [[{ path: { type: 'Exact', value: '/a//b/%7e' } }]])];
    assert.equal(pick(routes, req('GET', '/a/b/~')), 'a/0');
  });

  test('a rule without matches matches everything', () => {
    const routes = [http('a', [[]])];
    assert.equal(pick(routes, req('DELETE', '/anything?x=1')), 'a/0');
  });

  test('gRPC matches on service and method, exact and regex', () => {
    const routes = [
      grpc('g', [
        [{ method: { service: 'pkg.Svc', method: 'Get' } }],
        [{ method: { type: 'RegularExpression', service: 'pkg\\..*' } }],
      ]),
    ];
    const call = (path: string): RequestInfo => req('POST', path, [['content-type', 'application/grpc']]);
    assert.equal(pick(routes, call('/pkg.Svc/Get')), 'g/0');
    assert.equal(pick(routes, call('/pkg.Svc/Put')), 'g/1');
    assert.equal(pick(routes, call('/other.Svc/Get')), 'none');
    assert.equal(pick(routes, req('GET', '/pkg.Svc/Get')), 'none');
  });

  test('the sorted table is reused for the same routes array', () => {
    const routes = [http('a', [[{ path: { value: '/x' } }]])];
    const first = selectRule(routes, req('GET', '/x'));
    const second = selectRule(routes, req('GET', '/x'));
    assert.equal(first?.rule, second?.rule);
  });
});

describe('match compilation', () => {
  test('a RegularExpression RE2 rejects (backreference) is a compile error', () => {
    const r = compileHttpMatch({ path: { type: 'RegularExpression', value: '(a)\\1' } });
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.code, 'bad-match');
      assert.match(r.reason, /RE2 cannot compile/);
    }
  });

  test('a header regex RE2 rejects (lookahead) is a compile error', () => {
    assert.equal(compileHttpMatch({ headers: [{ type: 'RegularExpression', name: 'x', value: '(?=a)' }] }).ok, false);
  });

  test('an unknown match type is a compile error', () => {
    assert.equal(compileHttpMatch({ path: { type: 'Glob', value: '/a*' } }).ok, false);
  });

  test('a path containing an encoded slash is a compile error', () => {
    assert.equal(compileHttpMatch({ path: { type: 'Exact', value: '/a%2Fb' } }).ok, false);
  });
});

describe('the path index of large route tables', () => {
  /** A seeded generator, so that a failure reproduces. */
  function rng(seed: number): () => number {
    let x = seed >>> 0;
    return () => {
      x = (x * 1664525 + 1013904223) >>> 0;
      return x / 2 ** 32;
    };
  }
  const SEGMENTS = ['api', 'v1', 'v10', 'a', 'b', '', 'books', 'x.y'];

  test('selects exactly what a scan of the sorted table selects, over random tables and paths', () => {
    const r = rng(17);
    const segs = (n: number) => Array.from({ length: n }, () => SEGMENTS[Math.floor(r() * SEGMENTS.length)]!);
    for (let round = 0; round < 40; round++) {
      const routes: CompiledRoute[] = [];
      const n = 16 + Math.floor(r() * 60);
      for (let i = 0; i < n; i++) {
        const kind = r();
        const value = `/${segs(1 + Math.floor(r() * 3)).join('/')}`;
        const match: HTTPRouteMatch = kind < 0.4 ? { path: { type: 'PathPrefix', value: value.replace(/\/+$/, '') || '/' } }
          : kind < 0.7 ? { path: { type: 'Exact', value } }
          : kind < 0.8 ? { path: { type: 'RegularExpression', value: '/a.*' } }
          : kind < 0.9 ? { path: { type: 'PathPrefix', value: '/' }, headers: [{ name: 'x-n', value: String(i % 3) }] }
          : { method: 'POST' };
        const compiled = compileHttpMatch(match);
        if (!compiled.ok) continue;
        routes.push(http(`r${i}`, [[match]], { created: `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}Z` }));
      }
      const table = buildRouteTable(routes);
      assert.ok(table.index !== undefined, 'a table of 16 or more entries is indexed');
      const scan: RouteTable = { entries: table.entries };
      for (let k = 0; k < 60; k++) {
        const path = `/${segs(Math.floor(r() * 4)).join('/')}${r() < 0.2 ? '/' : ''}`;
        const rq = req(r() < 0.2 ? 'POST' : 'GET', path, [['x-n', String(k % 3)]]);
        const a = selectInTable(table, rq);
        const b = selectInTable(scan, rq);
        assert.equal(a === undefined ? 'none' : `${a.route.name}/${a.matchIndex}`, b === undefined ? 'none' : `${b.route.name}/${b.matchIndex}`, `${path} in round ${round}`);
      }
    }
  });

  test('1,000 prefixes under one segment: a request for one of them and one for none', () => {
    const routes = Array.from({ length: 1000 }, (_, i) => http(`v${i}`, [[{ path: { type: 'PathPrefix', value: `/api/v${i}` } }]]));
    routes.push(http('all', [[{ path: { type: 'PathPrefix', value: '/' } }]]));
    assert.equal(pick(routes, req('GET', '/api/v999/x')), 'v999/0');
    assert.equal(pick(routes, req('GET', '/api/v1')), 'v1/0');
    assert.equal(pick(routes, req('GET', '/api/v1000')), 'all/0');
    assert.equal(pick(routes, req('GET', '/')), 'all/0');
  });
});
