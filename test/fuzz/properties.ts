/**
 * The properties of the request pipeline (request -> normalisation -> route -> authorization), shared
 * by the unit-tier test (pipeline.test.ts, a few thousand runs, fixed seed) and the full run (run.ts,
 * at least 1,000,000 inputs). Each property has a weight: its share of the total run count, smaller
 * for the properties that compile a cluster per input.
 *
 * Known bugs found by these properties are listed in KNOWN_BUGS with their input; the properties
 * exclude exactly those inputs (so the suite stays green without asserting wrong behaviour) and
 * pipeline.test.ts keeps each as a `todo` test that shows the failure until it is fixed. Once fixed,
 * a bug moves to FIXED_BUGS (its input kept as a regression test) and its exclusion is removed.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { authorizeInbound } from '../../core/inbound/authorize.js';
import { compileInboundPolicy } from '../../core/inbound/compile.js';
import type { ClusterSnapshot } from '../../core/kube.js';
import { compileOutbound, indexSnapshot } from '../../core/outbound/policy.js';
import { routeOutbound } from '../../core/outbound/route.js';
import { MAX_TARGET_LENGTH, normalizeRequestTarget } from '../../core/path.js';
import { httpStatusOf } from '../../core/reasons.js';
import { makeRequestInfo, parseQuery, type RequestInfo } from '../../core/request.js';
import {
  absoluteAuthority, applyDisguise, disguise, headers, host, method, rawQuery, routePath, routeSpecs, target, vocabularyTarget,
} from './arbitraries.js';
import {
  buildWorld, decideInbound, decideOutbound, identityOf, inboundAttribution, outboundAttribution, referenceSelection, snapshotOf, type World,
} from './world.js';

export interface NamedProperty {
  readonly name: string;
  /** Share of the total run count. */
  readonly weight: number;
  /** Runs the property with fast-check's parameters (numRuns, seed) and returns the run's details. */
  readonly check: (params: { numRuns: number; seed?: number }) => fc.RunDetails<unknown>;
}

/** Erases a property's input type behind its `check` function. */
function checker<T>(p: fc.IProperty<T>): NamedProperty['check'] {
  return (params) => fc.check(p, params) as fc.RunDetails<unknown>;
}

export interface KnownBug {
  readonly id: string;
  readonly where: string;
  readonly input: string;
  readonly expected: string;
  readonly actual: string;
  /** Runs the failing check; throws while the bug is there. */
  readonly check: () => void;
}

// --- normalisation ---------------------------------------------------------------------------------

const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;
const UNRESERVED_BYTE = /%(?:[46][1-9A-F]|[57][0-9A]|3[0-9]|2D|2E|5F|7E)/i;

/** What every normalised path looks like (core/path.ts's documented output). */
function assertCanonical(path: string, query: string, input: string): void {
  const at = JSON.stringify(input);
  assert.ok(path.startsWith('/'), `path of ${at} does not start with /`);
  assert.ok(!path.includes('//'), `path of ${at} keeps //`);
  for (const seg of path.split('/')) assert.ok(seg !== '.' && seg !== '..', `path of ${at} keeps a dot segment`);
  assert.ok(PATH_CHARS.test(path), `path of ${at} has a character outside the path set: ${JSON.stringify(path)}`);
  assert.ok(!/%(?![0-9A-F]{2})/.test(path), `path of ${at} has a lower-case or malformed escape`);
  assert.ok(!UNRESERVED_BYTE.test(path), `path of ${at} keeps an encoded unreserved character`);
  assert.ok(!/%2F|%5C/.test(path) && !path.includes('\\'), `path of ${at} keeps an encoded or raw separator`);
  assert.ok(!/[\u0000-\u0020\u007f#]/.test(query), `query of ${at} keeps a control character, space or #`);
}

const idempotent: NamedProperty = {
  name: 'normalising twice changes nothing, and the output is canonical',
  weight: 40,
  check: checker(fc.property(target, (t) => {
    const once = normalizeRequestTarget(t);
    if (!once.ok) {
      assert.equal(once.code, 'bad-target');
      return;
    }
    assert.ok(!t.includes('#'), 'a target with a fragment was accepted');
    assertCanonical(once.path, once.query, t);
    const again = once.path + (once.query !== '' ? `?${once.query}` : '');
    assert.ok(again.length <= MAX_TARGET_LENGTH, `output of ${again.length} characters is above the limit`);
    const twice = normalizeRequestTarget(again);
    assert.deepEqual(twice, { ok: true, path: once.path, query: once.query }, `re-normalising ${JSON.stringify(again)}`);
  })),
};

// --- no input throws --------------------------------------------------------------------------------

/** A fixed pool of generated route tables, so the high-volume property compiles nothing per input. */
let pool: World[] | undefined;
function worlds(): World[] {
  pool ??= fc.sample(routeSpecs, { numRuns: 24, seed: 7 }).map(buildWorld);
  return pool;
}

const rawRequest = fc.record({
  method,
  target,
  headers,
  authority: fc.option(host, { freq: 3 }),
  host: fc.option(host, { freq: 2 }),
});

type RawRequestInput = typeof rawRequest extends fc.Arbitrary<infer T> ? T : never;

function build(r: RawRequestInput) {
  const hs = r.host === null ? r.headers : [...r.headers, ['host', r.host] as [string, string]];
  return makeRequestInfo({ method: r.method, target: r.target, headers: hs, ...(r.authority !== null ? { authority: r.authority } : {}) });
}

const noThrowPipeline: NamedProperty = {
  name: 'no request throws: arbitrary methods, targets, headers, hosts and queries through routing and authorization',
  weight: 25,
  check: checker(fc.property(rawRequest, fc.nat(), fc.option(fc.constantFrom(identityOf('r0'), identityOf('r1'), 'spiffe://other/ns/x/sa/y'), { freq: 2 }), (r, w, id: string | null) => {
    const built = build(r);
    if (!built.ok) {
      assert.ok(['bad-target', 'bad-authority', 'bad-method'].includes(built.code));
      return;
    }
    const world = worlds()[w % worlds().length]!;
    const out = decideOutbound(world, built.request);
    assert.ok(['forward', 'error', 'redirect'].includes(out.kind));
    if (out.kind === 'forward') assert.equal(out.path, built.request.path, 'an unrewritten route forwards the normalised path');
    const inb = decideInbound(world, built.request, id ?? undefined);
    assert.equal(typeof inb.allowed, 'boolean');
  })),
};

const headersKept: NamedProperty = {
  name: 'request building keeps every header value in order and decodes every query parameter without throwing',
  weight: 10,
  check: checker(fc.property(headers, rawQuery, (hs, q) => {
    const built = makeRequestInfo({ method: 'GET', target: `/x?${q}`, headers: hs });
    const parsed = parseQuery(q);
    let n = 0;
    for (const values of parsed.values()) n += values.length;
    assert.ok(n <= q.split('&').length);
    if (!built.ok) {
      // Only the target or Host can be refused here: the method is GET.
      assert.ok(built.code === 'bad-target' || built.code === 'bad-authority');
      return;
    }
    const want = new Map<string, string[]>();
    for (const [k, v] of hs) want.set(k.toLowerCase(), [...(want.get(k.toLowerCase()) ?? []), v]);
    assert.deepEqual(new Map([...built.request.headers].map(([k, v]) => [k, [...v]])), want);
  })),
};

/**
 * One change to a generated object, kept within what the API server's schema admits (the CRDs type
 * every field, so a list never arrives as a boolean): a value replaced by another of the same JSON
 * type, a list emptied or shortened, an optional field removed (never one the kube types declare
 * required, such as metadata, names or a host IP's `ip`), or an unknown field added with any value (kube.ts keeps them).
 */
interface Edit {
  readonly at: number;
  readonly op: 'replace' | 'delete' | 'add-field';
  readonly str: string;
  readonly int: number;
  readonly bool: boolean;
  readonly extra: unknown;
}

const editArb: fc.Arbitrary<Edit> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('replace', 'replace', 'delete', 'add-field'),
  str: fc.oneof(fc.string({ maxLength: 12, unit: 'binary' }), fc.constantFrom('*', '', 'Exact', 'PathPrefix', 'RegularExpression', '/', '(', 'ServiceAccount', 'Server', 'HTTPRoute', '0.0.0.0/0', '::/0', '10.0.0.0/33', 'deny', 'audit', 'spiffe://cluster.local/ns/shop/sa/sa-r0')),
  int: fc.integer({ min: -2, max: 70_000 }),
  bool: fc.boolean(),
  extra: fc.anything({ maxDepth: 2 }),
}) as fc.Arbitrary<Edit>;

/**
 * Field names core/kube.ts and core/kube-policy.ts declare required somewhere (the API server's
 * validation or the CRD schema guarantees them): never deleted, and a name never emptied.
 */
const REQUIRED_FIELDS: ReadonlySet<string> = new Set([
  'metadata', 'name', 'kind', 'value', 'type', 'port', 'group', 'ip', 'uid', 'status', 'operator', 'numerator', 'key',
  'containers', 'containerPort', 'cidr', 'backendRef', 'parentRef', 'addresses', 'addressType', 'controllerName', 'apiVersion',
]);

function corrupt(snap: ClusterSnapshot, edits: readonly Edit[]): ClusterSnapshot {
  const copy = structuredClone(snap) as unknown as Record<string, unknown>;
  for (const e of edits) {
    const slots: { obj: Record<string, unknown>; key: string; parent: string }[] = [];
    const walk = (o: unknown, parent: string, depth: number): void => {
      if (o === null || typeof o !== 'object') return;
      for (const key of Object.keys(o)) {
        if (depth > 0) slots.push({ obj: o as Record<string, unknown>, key, parent });
        walk((o as Record<string, unknown>)[key], key, depth + 1);
      }
    };
    walk(copy, '', 0);
    const slot = slots[e.at % slots.length];
    if (slot === undefined) continue;
    const { obj, key } = slot;
    const old = obj[key];
    const guaranteed = REQUIRED_FIELDS.has(key) || (slot.parent === 'metadata' && key === 'namespace');
    if (e.op === 'delete') {
      if (Array.isArray(obj)) obj.splice(Number(key), 1);
      else if (!guaranteed) delete obj[key];
    } else if (e.op === 'add-field') {
      if (old !== null && typeof old === 'object' && !Array.isArray(old)) (old as Record<string, unknown>)[`x${e.int}`] = e.extra;
    } else if (typeof old === 'string') obj[key] = guaranteed && e.str === '' ? 'n' : e.str;
    else if (typeof old === 'number') obj[key] = e.int;
    else if (typeof old === 'boolean') obj[key] = e.bool;
    else if (Array.isArray(old)) obj[key] = old.slice(0, e.int % (old.length + 1));
  }
  return copy as unknown as ClusterSnapshot;
}

const noThrowPolicies: NamedProperty = {
  name: 'no route table or policy throws: generated objects with fields replaced, removed or added (within the CRD schemas\' types) compile and decide',
  weight: 3,
  check: checker(fc.property(routeSpecs, fc.array(editArb, { minLength: 1, maxLength: 6 }), vocabularyTarget, (routes, edits, t) => {
    const snap = corrupt(snapshotOf(routes), edits);
    const index = indexSnapshot(snap);
    for (const s of index.statuses) assert.ok(Array.isArray(s.parents));
    const inbound = compileInboundPolicy(snap, { namespace: 'shop', name: 'api-0' }, 8080);
    const req = makeRequestInfo({ method: 'GET', target: t, headers: [['host', 'web.shop']] });
    if (!req.ok) return;
    if (inbound !== undefined) authorizeInbound(inbound, { tls: true, clientIdentity: identityOf('r0'), clientIp: '10.2.0.7', req: req.request });
    for (const view of compileOutbound(snap).policies.values()) routeOutbound(view, req.request, () => 0.5);
  })),
};

// --- routing and authorization agree ---------------------------------------------------------------

const requestOnVocabulary = fc.record({
  target: vocabularyTarget,
  method: fc.constantFrom('GET', 'GET', 'HEAD', 'POST'),
  headers: fc.array(fc.tuple(fc.constantFrom('x-user', 'X-User', 'x-env'), fc.constantFrom('alice', 'bob', 'prod', 'canary')), { maxLength: 3 }),
});

function request(r: { target: string; method: string; headers: [string, string][] }): RequestInfo | undefined {
  const built = makeRequestInfo({ method: r.method, target: r.target, headers: [['host', 'web.shop'], ...r.headers] });
  return built.ok ? built.request : undefined;
}

function assertAgreement(world: World, req: RequestInfo, label: string): void {
  const out = outboundAttribution(decideOutbound(world, req));
  const expected = referenceSelection(world.routes, req);
  assert.deepEqual(out, expected, `${label}: outbound routing picked another rule than Gateway API precedence`);
  const names = world.routes.map((_, i) => `r${i}`);
  if (expected === 'none') {
    const d = decideInbound(world, req, identityOf('r0'));
    assert.equal(d.allowed, false, `${label}: a request no route matches was allowed inbound`);
    assert.equal(httpStatusOf(d), 404, label);
    return;
  }
  const owner = decideInbound(world, req, identityOf(expected.route));
  assert.deepEqual(inboundAttribution(owner), expected, `${label}: authorization attributed the request to another rule`);
  assert.equal(owner.allowed, true, `${label}: the selected route's own client was denied: ${owner.reason}`);
  assert.equal(owner.authorization?.name, `shop/ap-${expected.route}`, label);
  for (const other of names) {
    if (other === expected.route) continue;
    const d = decideInbound(world, req, identityOf(other));
    assert.equal(d.allowed, false, `${label}: the client of ${other} passed the authorization of ${expected.route}`);
    assert.deepEqual(inboundAttribution(d), expected, label);
  }
  assert.equal(decideInbound(world, req, undefined).allowed, false, `${label}: an unauthenticated client was allowed`);
}

const agree: NamedProperty = {
  name: 'routing and authorization attribute every request to the same rule, the one Gateway API precedence selects',
  weight: 11,
  check: checker(fc.property(routeSpecs, fc.array(requestOnVocabulary, { minLength: 1, maxLength: 6 }), (routes, reqs) => {
    const world = buildWorld(routes);
    for (const s of world.statuses) {
      for (const p of s.parents) {
        const accepted = p.conditions.find((c) => c.type === 'Accepted');
        assert.equal(accepted?.status, 'True', `generated route ${s.name} was not accepted: ${accepted?.message ?? ''}`);
      }
    }
    for (const r of reqs) {
      const req = request(r);
      if (req !== undefined) assertAgreement(world, req, `${r.method} ${JSON.stringify(r.target)}`);
    }
  })),
};

const disguised: NamedProperty = {
  name: 'a disguised target (encoded unreserved characters, dot segments, //, absolute form) reaches the same decisions',
  weight: 11,
  check: checker(fc.property(routeSpecs, routePath, fc.array(disguise, { minLength: 1, maxLength: 4 }), absoluteAuthority, fc.option(rawQuery), (routes, base, ds, authority, q) => {
    const plain = normalizeRequestTarget(base);
    assert.ok(plain.ok);
    let variant = plain.path;
    for (const d of ds) variant = applyDisguise(variant, d);
    const suffix = q === null ? '' : `?${q}`;
    const v = normalizeRequestTarget((authority === null ? '' : `http://${authority}`) + variant + suffix);
    const p = normalizeRequestTarget(plain.path + suffix);
    assert.deepEqual(v.ok && v.path, p.ok && p.path, `${JSON.stringify(variant)} normalises unlike ${JSON.stringify(plain.path)}`);
    const a = request({ target: plain.path + suffix, method: 'GET', headers: [] });
    const b = request({ target: (authority === null ? '' : `http://${authority}`) + variant + suffix, method: 'GET', headers: [] });
    if (a === undefined || b === undefined) {
      assert.equal(a, b);
      return;
    }
    const world = buildWorld(routes);
    assert.deepEqual(outboundAttribution(decideOutbound(world, b)), outboundAttribution(decideOutbound(world, a)));
    for (const id of [identityOf('r0'), identityOf('r1'), undefined]) {
      const x = decideInbound(world, a, id);
      const y = decideInbound(world, b, id);
      assert.equal(y.allowed, x.allowed);
      assert.deepEqual(inboundAttribution(y), inboundAttribution(x));
    }
  })),
};

export const PROPERTIES: readonly NamedProperty[] = [idempotent, noThrowPipeline, headersKept, noThrowPolicies, agree, disguised];

// --- known bugs -------------------------------------------------------------------------------------

export const KNOWN_BUGS: readonly KnownBug[] = [];

// --- fixed bugs (their inputs, kept as regression tests) ----------------------------------------------

const longUnicode = '/' + 'é'.repeat(1400);

export const FIXED_BUGS: readonly KnownBug[] = [
  {
    id: 'path-output-unbounded',
    where: 'core/path.ts normalizeRequestTarget',
    input: `"/" + "é".repeat(1400) (1,401 characters; any target whose percent-encoded output passes ${MAX_TARGET_LENGTH} characters, e.g. "/" + '"'.repeat(2731))`,
    expected: 'a target whose normalised output passes the length limit is refused by the first normalisation, so normalising an output again never refuses it',
    actual: 'was: the first call accepted it and returned an 8,401-character path; normalising that path was refused ("request target longer than 8192 characters")',
    check: () => {
      for (const input of [longUnicode, '/' + '"'.repeat(2731)]) {
        const once = normalizeRequestTarget(input);
        assert.ok(!once.ok, `${input.length}-character input whose output passes the limit was accepted (${once.ok ? once.path.length : 0} characters out)`);
        assert.equal(once.code, 'bad-target');
      }
    },
  },
];
