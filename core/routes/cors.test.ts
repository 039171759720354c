import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileCors, corsFilterOf, corsOriginAllowed, corsOutcome, type CorsOutcome, type CorsPolicy } from './cors.js';
import { applyHeaderOps } from './filters.js';

function policy(f: Parameters<typeof compileCors>[0]): CorsPolicy {
  const problems: string[] = [];
  const p = compileCors(f, 'cors', problems);
  assert.deepEqual(problems, []);
  assert.ok(p);
  return p;
}
const h = (o: Record<string, string>) => new Map(Object.entries(o).map(([k, v]) => [k.toLowerCase(), [v]]));
const headersOf = (o: CorsOutcome | undefined) => Object.fromEntries([...applyHeaderOps(new Map(), o === undefined ? [] : [o.headers])].map(([k, v]) => [k, v.join(',')]));

const listed = policy({
  allowOrigins: ['https://www.foo.com', 'https://*.bar.com'], allowMethods: ['GET', 'OPTIONS'], allowHeaders: ['x-header-1', 'x-header-2'],
  exposeHeaders: ['x-header-3', 'x-header-4'], allowCredentials: true, maxAge: 3600,
});

test('origins: exact, a wildcard covering any number of labels, the port and scheme must agree', () => {
  assert.equal(corsOriginAllowed(listed, 'https://www.foo.com'), true);
  assert.equal(corsOriginAllowed(listed, 'https://WWW.foo.com'), true);
  assert.equal(corsOriginAllowed(listed, 'https://www.bar.com'), true);
  assert.equal(corsOriginAllowed(listed, 'https://xpto.www.bar.com'), true);
  assert.equal(corsOriginAllowed(listed, 'https://bar.com'), false);
  assert.equal(corsOriginAllowed(listed, 'https://foobar.com'), false);
  assert.equal(corsOriginAllowed(listed, 'http://www.foo.com'), false);
  assert.equal(corsOriginAllowed(listed, 'https://www.foo.com:8443'), false);
  assert.equal(corsOriginAllowed(listed, 'https://www.foo.com:443'), true);
  assert.equal(corsOriginAllowed(listed, 'null'), false);
  assert.equal(corsOriginAllowed(policy({ allowOrigins: ['*'] }), 'https://anything.example'), true);
});

test('a preflight from an allowed origin is answered with the allow headers', () => {
  const o = corsOutcome(listed, 'OPTIONS', h({ origin: 'https://xpto.www.bar.com', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-header-1, x-header-2' }));
  assert.equal(o?.kind, 'preflight');
  assert.deepEqual(headersOf(o), {
    'access-control-allow-origin': 'https://xpto.www.bar.com',
    'access-control-allow-credentials': 'true',
    'access-control-allow-methods': 'GET, OPTIONS',
    'access-control-allow-headers': 'x-header-1, x-header-2',
    'access-control-expose-headers': 'x-header-3, x-header-4',
    'access-control-max-age': '3600',
    vary: 'Origin',
  });
});

test('a preflight from another origin is answered without any allow header; an actual request from it is left alone', () => {
  const pre = corsOutcome(listed, 'OPTIONS', h({ origin: 'https://foobar.com', 'access-control-request-method': 'GET' }));
  assert.equal(pre?.kind, 'preflight');
  assert.deepEqual(Object.keys(headersOf(pre)), ['vary']);
  assert.equal(corsOutcome(listed, 'GET', h({ origin: 'https://foobar.com' })), undefined);
});

test('an actual request from an allowed origin gets allow-origin, credentials and expose headers', () => {
  const o = corsOutcome(listed, 'GET', h({ origin: 'https://www.foo.com' }));
  assert.equal(o?.kind, 'actual');
  assert.deepEqual(headersOf(o), {
    'access-control-allow-origin': 'https://www.foo.com', 'access-control-allow-credentials': 'true', 'access-control-expose-headers': 'x-header-3, x-header-4', vary: 'Origin',
  });
  assert.equal(corsOutcome(listed, 'GET', h({})), undefined, 'no Origin: not CORS');
  assert.equal(corsOutcome(listed, 'OPTIONS', h({ origin: 'https://www.foo.com' }))?.kind, 'actual', 'OPTIONS without Access-Control-Request-Method is not a preflight');
});

test('wildcard methods and headers echo the request; no credentials header unless allowed; maxAge defaults to 5', () => {
  const any = policy({ allowOrigins: ['*'], allowMethods: ['*'], allowHeaders: ['*'] });
  const o = corsOutcome(any, 'OPTIONS', h({ origin: 'https://other.foo.com', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-header-1, x-header-2' }));
  assert.deepEqual(headersOf(o), {
    'access-control-allow-origin': 'https://other.foo.com', 'access-control-allow-methods': 'PUT', 'access-control-allow-headers': 'x-header-1, x-header-2', 'access-control-max-age': '5', vary: 'Origin',
  });
});

test('bad configuration is refused by name; the API shape round-trips', () => {
  const problems: string[] = [];
  assert.equal(compileCors({ allowOrigins: ['www.foo.com', 'https://*'], maxAge: -1 }, 'f', problems), undefined);
  assert.equal(problems.length, 3, problems.join('\n'));
  assert.match(problems[0] ?? '', /"www\.foo\.com" is not scheme:\/\/host/);
  const again = policy(corsFilterOf(listed));
  assert.deepEqual(again, listed);
});
