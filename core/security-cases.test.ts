/**
 * Security cases 19-24 (../shared/guide/security-cases.md) at the core level: request-target
 * variants go through the one normalisation (core/path.ts via core/request.ts), then route
 * selection (`selectRule`) and the inbound authorization decision.
 *
 * Each variant either is refused before any matching (a typed bad-target / bad-authority error,
 * which the proxy answers 400), or reaches exactly the decision of its canonical form: same
 * allowed/status, same route, same authorization, and routing saw the same normalised path, which
 * is also the path the proxy forwards.
 *
 * Fixture: Server `api` with routes
 *   admin   PathPrefix /admin      -> only ServiceAccount shop/admin
 *   exact   Exact /exact           -> only ServiceAccount shop/admin
 *   public  PathPrefix /           -> everyone (NetworkAuthentication 0.0.0.0/0, ::/0)
 * and the client is web/frontend, so "reached admin" and "reached public" differ visibly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HTTPRouteRule } from './kube.js';
import { makeRequestInfo, type RequestInfo } from './request.js';
import { httpStatusOf } from './reasons.js';
import { authorizeInbound, type InboundDecision } from './inbound/authorize.js';
import { selectRule } from './routes/match.js';
import type { InboundPortPolicy } from './inbound/types.js';
import {
  NS,
  authz,
  netRef,
  netauthn,
  policyFor,
  saRef,
  server,
  serverRoute,
  sid,
  snapshot,
  toHttpRoute,
} from './inbound/testdata/fixtures.js';

const FRONTEND = sid('web', 'frontend');
const ADMIN = sid(NS, 'admin');
const HOST = 'api.shop.svc.cluster.local';

function fixture(extraRoutes: { name: string; rules: HTTPRouteRule[]; adminOnly: boolean; created?: string }[] = []): InboundPortPolicy {
  const routes = [
    { name: 'admin', rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/admin' } }] }], adminOnly: true },
    { name: 'exact', rules: [{ matches: [{ path: { type: 'Exact', value: '/exact' } }] }], adminOnly: true },
    { name: 'public', rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }], adminOnly: false },
    ...extraRoutes,
  ];
  return policyFor(
    snapshot({
      servers: [server('api')],
      networkAuthentications: [netauthn('anywhere', [{ cidr: '0.0.0.0/0' }, { cidr: '::/0' }])],
      httpRoutes: routes.map((r) => serverRoute(r.name, 'api', r.rules, r.created)),
      authorizationPolicies: routes.map((r) =>
        authz(`to-${r.name}`, toHttpRoute(r.name), r.adminOnly ? [saRef('admin')] : [netRef('anywhere')]),
      ),
    }),
  );
}

function requestOf(method: string, target: string, host = HOST): ReturnType<typeof makeRequestInfo> {
  return makeRequestInfo({ method, target, headers: { host } });
}

function decide(policy: InboundPortPolicy, req: RequestInfo, identity = FRONTEND): InboundDecision {
  return authorizeInbound(policy, { clientIdentity: identity, tls: true, clientIp: '10.2.0.7', req });
}

/** The decision facts that must not differ between a variant and its canonical form. */
function facts(d: InboundDecision) {
  return { allowed: d.allowed, status: httpStatusOf(d), route: d.route, authorization: d.authorization };
}

/**
 * Asserts `variant` is either refused up front (when `refused`) or decided exactly like
 * `canonical`, with routing seeing the canonical path.
 */
function assertSameAsCanonical(
  policy: InboundPortPolicy,
  variant: string,
  canonical: string,
  opts: { method?: string; host?: string; canonicalHost?: string } = {},
): void {
  const method = opts.method ?? 'GET';
  const c = requestOf(method, canonical, opts.canonicalHost ?? HOST);
  const v = requestOf(method, variant, opts.host ?? HOST);
  assert.ok(c.ok, `canonical ${canonical} parses`);
  assert.ok(v.ok, `${JSON.stringify(variant)} should be accepted and normalised, got ${v.ok ? '' : v.reason}`);
  assert.equal(v.request.path, c.request.path, `${JSON.stringify(variant)}: routing and forwarding see the canonical path`);
  assert.equal(v.request.host, c.request.host, `${JSON.stringify(variant)}: same host`);
  const routedVariant = selectRule(policy.routes, v.request)?.route.name;
  const routedCanonical = selectRule(policy.routes, c.request)?.route.name;
  assert.equal(routedVariant, routedCanonical, `${JSON.stringify(variant)}: routing selects the canonical route`);
  for (const identity of [FRONTEND, ADMIN]) {
    const dv = decide(policy, v.request, identity);
    const dc = decide(policy, c.request, identity);
    assert.deepEqual(facts(dv), facts(dc), `${JSON.stringify(variant)} as ${identity}: same decision as ${canonical}`);
    assert.equal(dv.route, routedVariant, `${JSON.stringify(variant)}: authorization used the route routing selected`);
  }
}

function assertRefused(variant: string, code: 'bad-target' | 'bad-authority' = 'bad-target', host = HOST): void {
  const r = requestOf('GET', variant, host);
  assert.equal(r.ok, false, `${JSON.stringify(variant)} must be refused before matching`);
  if (!r.ok) assert.equal(r.code, code, variant);
}

test('case 19: path variants of /admin normalise to /admin before routing and authorization', () => {
  const policy = fixture();
  const canonical = decide(policy, (requestOf('GET', '/admin/users') as { request: RequestInfo }).request);
  assert.equal(canonical.allowed, false, 'the fixture protects /admin');
  assert.equal(canonical.route, 'admin');
  for (const v of ['//admin/users', '/a/../admin/users', '/%2e%2e/admin/users', '/%2E%2E/admin/users', '/./admin/users', '/admin/./users', '/admin//users', '/x/y/../../admin/users', '/../../admin/users']) {
    assertSameAsCanonical(policy, v, '/admin/users');
  }
  assertSameAsCanonical(policy, '//admin', '/admin');
  assertSameAsCanonical(policy, `http://${HOST}/admin`, '/admin');
  assertSameAsCanonical(policy, `HTTP://${HOST}//x/../admin`, '/admin');
});

test('case 19: encoded slash and backslash variants are refused rather than routed differently', () => {
  for (const v of ['/public%2F..%2Fadmin', '/admin%2fusers', '/%2Fadmin', '/public%5C..%5Cadmin', '/admin%5cusers', '/public\\..\\admin', '\\admin', '/admin\\users', '/public/..;/admin']) {
    assertRefused(v);
  }
});

test('case 20: a fragment in the request target is refused before matching', () => {
  for (const v of ['/admin#x', '/public#/../admin', '/exact#', '/#/admin', 'http://api.shop/admin#frag']) assertRefused(v);
});

test('case 21: ? or an empty query after an exact path cannot escape the exact-path rule', () => {
  const policy = fixture();
  const canonical = decide(policy, (requestOf('GET', '/exact') as { request: RequestInfo }).request);
  assert.equal(canonical.route, 'exact');
  assert.equal(canonical.allowed, false);
  for (const v of ['/exact?', '/exact?x=1', '/exact?/public', '/exact?#', '/%65xact?a']) {
    if (v.includes('#')) assertRefused(v);
    else assertSameAsCanonical(policy, v, '/exact');
  }
  // A trailing slash is a different path: it does not match Exact /exact and is not the same resource.
  const slash = requestOf('GET', '/exact/');
  assert.ok(slash.ok);
  assert.equal(slash.request.path, '/exact/');
});

test('case 22: host case, trailing dot and host:port variants are the same host', () => {
  const policy = fixture();
  for (const host of ['API.Shop.SVC.cluster.local', `${HOST}.`, `${HOST}:8080`, `API.SHOP.svc.CLUSTER.local.:8080`]) {
    assertSameAsCanonical(policy, '/admin', '/admin', { host });
    assertSameAsCanonical(policy, '/books', '/books', { host });
  }
  const r = requestOf('GET', '/', `${HOST}.:8080`);
  assert.ok(r.ok);
  assert.equal(r.request.host, HOST);
  assertRefused('/', 'bad-authority', `${HOST}:99999`);
  assertRefused('/', 'bad-authority', `evil@${HOST}`);
});

test('case 23: encoded unreserved characters, mixed-case hex, double encoding and ; parameters reach one decision', () => {
  const policy = fixture();
  // Encoded unreserved characters decode once: the same resource as the literal path.
  for (const v of ['/%61dmin/users', '/%61%64%6D%69%6E/users', '/%61%64%6d%69%6e/users', '/admin/%75sers']) {
    assertSameAsCanonical(policy, v, '/admin/users');
  }
  // Reserved escapes keep their encoding with uppercase hex: mixed-case hex is one path.
  assertSameAsCanonical(policy, '/caf%c3%a9', '/caf%C3%A9');
  assertSameAsCanonical(policy, '/a%3ab', '/a%3Ab');
  // Double encoding is decoded once only: %2561 stays %2561 (the app decodes it to %61, not to a).
  assertSameAsCanonical(policy, '/%2561dmin', '/%2561dmin');
  const dbl = requestOf('GET', '/%2561dmin');
  assert.ok(dbl.ok);
  assert.equal(dbl.request.path, '/%2561dmin');
  assert.notEqual(selectRule(policy.routes, dbl.request)?.route.name, 'admin');
  // %25 is the escaped '%'; the characters after it are literal, so this is not a dot segment.
  const dots = requestOf('GET', '/%252e%252e/admin');
  assert.ok(dots.ok);
  assert.equal(dots.request.path, '/%252e%252e/admin');
  assert.equal(decide(policy, dots.request).route, 'public');
  // `;` parameters are part of the segment for routing AND authorization alike.
  assertSameAsCanonical(policy, '/admin/users;jsessionid=1', '/admin/users;jsessionid=1');
  const semi = requestOf('GET', '/admin/users;jsessionid=1');
  assert.ok(semi.ok);
  assert.equal(decide(policy, semi.request).route, 'admin');
});

test('case 24: Gateway API precedence decides which route (and so which authorization) applies', () => {
  const open = false;
  const policy = fixture([
    { name: 'login', rules: [{ matches: [{ path: { type: 'Exact', value: '/admin/login' } }] }], adminOnly: open },
    { name: 'admin-regex', rules: [{ matches: [{ path: { type: 'RegularExpression', value: '/admin/.*' } }] }], adminOnly: open },
    { name: 'admin-deep', rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/admin/deep' } }] }], adminOnly: open },
    { name: 'books-get', rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/books' }, method: 'GET' }] }], adminOnly: open },
    { name: 'books', rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/books' } }] }], adminOnly: true },
    { name: 'beta', rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/shelf' }, headers: [{ name: 'x-beta', value: '1' }] }] }], adminOnly: open },
    { name: 'shelf', rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/shelf' } }] }], adminOnly: true },
    { name: 'old', rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/tie' } }] }], adminOnly: true, created: '2020-01-01T00:00:00Z' },
    { name: 'new', rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/tie' } }] }], adminOnly: open, created: '2030-01-01T00:00:00Z' },
  ]);
  const cases: { rule: string; method: string; path: string; headers?: Record<string, string>; route: string; allowed: boolean }[] = [
    { rule: 'Exact beats PathPrefix', method: 'GET', path: '/admin/login', route: 'login', allowed: true },
    { rule: 'PathPrefix beats RegularExpression', method: 'GET', path: '/admin/x', route: 'admin', allowed: false },
    { rule: 'longest PathPrefix wins', method: 'GET', path: '/admin/deep/x', route: 'admin-deep', allowed: true },
    { rule: 'PathPrefix matches per segment', method: 'GET', path: '/adminx', route: 'public', allowed: true },
    { rule: 'a method match beats none', method: 'GET', path: '/books/1', route: 'books-get', allowed: true },
    { rule: 'HEAD does not match a GET rule', method: 'HEAD', path: '/books/1', route: 'books', allowed: false },
    { rule: 'POST does not match a GET rule', method: 'POST', path: '/books/1', route: 'books', allowed: false },
    { rule: 'methods compare exactly (get is not GET)', method: 'get', path: '/books/1', route: 'books', allowed: false },
    { rule: 'more header matches win', method: 'GET', path: '/shelf', headers: { 'x-beta': '1' }, route: 'beta', allowed: true },
    { rule: 'a repeated header must match in every value', method: 'GET', path: '/shelf', headers: { 'x-beta': '1, 2' }, route: 'shelf', allowed: false },
    { rule: 'without the header the plain route applies', method: 'GET', path: '/shelf', route: 'shelf', allowed: false },
    { rule: 'on a tie the oldest route wins', method: 'GET', path: '/tie', route: 'old', allowed: false },
  ];
  for (const c of cases) {
    const r = makeRequestInfo({ method: c.method, target: c.path, headers: { host: HOST, ...(c.headers ?? {}) } });
    assert.ok(r.ok, c.rule);
    const d = decide(policy, r.request);
    assert.equal(selectRule(policy.routes, r.request)?.route.name, c.route, `${c.rule}: routing`);
    assert.equal(d.route, c.route, `${c.rule}: authorization route`);
    assert.equal(d.allowed, c.allowed, `${c.rule}: decision`);
  }
});
