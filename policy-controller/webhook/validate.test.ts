import assert from 'node:assert/strict';
import { test } from 'node:test';
import { review } from './server.js';
import { validate } from './validate.js';

const o = { trustDomain: 'cluster.local' };
const meta = { name: 'r', namespace: 'shop' };
const svcParent = { group: '', kind: 'Service', name: 'web' };

test('a RegularExpression path with a backreference is refused, naming the field and the fix', () => {
  const v = validate('HTTPRoute', { metadata: meta, spec: { parentRefs: [svcParent], rules: [{ matches: [{ path: { type: 'RegularExpression', value: '/(a)\\1' } }] }] } }, o);
  assert.equal(v.allowed, false);
  assert.match(v.message ?? '', /^spec\.rules\[0\]\.matches\[0\]\.path\.value: /);
  assert.match(v.message ?? '', /backreferences/);
});

test('header, query and gRPC method patterns are checked field by field', () => {
  const h = validate('HTTPRoute', { metadata: meta, spec: { parentRefs: [svcParent], rules: [{}, { matches: [{ headers: [{ name: 'x', value: 'ok' }, { type: 'RegularExpression', name: 'y', value: '(?=a)' }] }] }] } }, o);
  assert.match(h.message ?? '', /^spec\.rules\[1\]\.matches\[0\]\.headers\[1\]\.value: /);
  const q = validate('HTTPRoute', { metadata: meta, spec: { parentRefs: [svcParent], rules: [{ matches: [{ queryParams: [{ type: 'RegularExpression', name: 'q', value: '(b)\\1' }] }] }] } }, o);
  assert.match(q.message ?? '', /^spec\.rules\[0\]\.matches\[0\]\.queryParams\[0\]\.value: /);
  const g = validate('GRPCRoute', { metadata: meta, spec: { parentRefs: [svcParent], rules: [{ matches: [{ method: { type: 'RegularExpression', service: 'ok\\..*', method: '(x)\\1' } }] }] } }, o);
  assert.match(g.message ?? '', /^spec\.rules\[0\]\.matches\[0\]\.method\.method: /);
});

test('a route without a Service or Server parent is not Weft\'s and is allowed', () => {
  const v = validate('HTTPRoute', { metadata: meta, spec: { parentRefs: [{ name: 'gw' }], rules: [{ matches: [{ path: { type: 'RegularExpression', value: '(a)\\1' } }] }] } }, o);
  assert.equal(v.allowed, true);
});

test('an unsupported filter is allowed with a warning so that status can explain it', () => {
  const v = validate('HTTPRoute', { metadata: meta, spec: { parentRefs: [svcParent], rules: [{ filters: [{ type: 'ExternalAuth' }] }] } }, o);
  assert.equal(v.allowed, true);
  assert.match(v.warnings.join(), /ExternalAuth/);
});

test('NetworkAuthentication exceptions must lie inside their network', () => {
  const bad = validate('NetworkAuthentication', { metadata: meta, spec: { networks: [{ cidr: '10.0.0.0/8', except: ['192.168.0.0/16'] }] } }, o);
  assert.match(bad.message ?? '', /^spec\.networks\[0\]\.except\[0\]: /);
  const good = validate('NetworkAuthentication', { metadata: meta, spec: { networks: [{ cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] }] } }, o);
  assert.equal(good.allowed, true);
});

test('MeshTLSAuthentication identities must be this trust domain\'s SPIFFE IDs or "*"', () => {
  const v = validate('MeshTLSAuthentication', { metadata: meta, spec: { identities: ['spiffe://other.org/ns/a/sa/b'] } }, o);
  assert.match(v.message ?? '', /^spec\.identities\[0\]: trust domain other\.org/);
  assert.equal(validate('MeshTLSAuthentication', { metadata: meta, spec: { identities: ['*'] } }, o).allowed, true);
});

test('an AuthorizationPolicy may target only its own Namespace', () => {
  const v = validate('AuthorizationPolicy', { metadata: meta, spec: { targetRef: { kind: 'Namespace', name: 'other' }, requiredAuthenticationRefs: [] } }, o);
  assert.match(v.message ?? '', /^spec\.targetRef\.name: /);
});

test('review answers an AdmissionReview with the request uid and a 400 status message when refused', () => {
  const out = review(
    {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'u1', operation: 'CREATE', kind: { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }, object: { metadata: meta, spec: { parentRefs: [svcParent], rules: [{ matches: [{ path: { type: 'RegularExpression', value: '(a)\\1' } }] }] } } },
    },
    o,
  );
  const r = (out.response as { response: { uid: string; allowed: boolean; status?: { code: number; message: string } } }).response;
  assert.equal(r.uid, 'u1');
  assert.equal(r.allowed, false);
  assert.equal(r.status?.code, 400);
  assert.match(r.status?.message ?? '', /spec\.rules\[0\]\.matches\[0\]\.path\.value/);
  assert.equal(review({}, o).status, 400);
});

test('an InboundLimitPolicy is refused naming each bad field; a good one is allowed', () => {
  const bad = validate('InboundLimitPolicy', { metadata: meta, spec: { targetRef: { kind: 'Service', name: 'web' }, rateLimit: { requestsPerSecond: 0, burst: 5 } } }, o);
  assert.equal(bad.allowed, false);
  assert.match(bad.message ?? '', /spec\.targetRef\.kind: "Service" is not Server, HTTPRoute or GRPCRoute/);
  assert.match(bad.message ?? '', /spec\.rateLimit\.requestsPerSecond: 0 must be an integer from 1/);
  const good = validate('InboundLimitPolicy', { metadata: meta, spec: { targetRef: { group: 'policy.weft.dev', kind: 'Server', name: 'web' }, concurrency: { maxInFlight: 10 } } }, o);
  assert.equal(good.allowed, true);
});
