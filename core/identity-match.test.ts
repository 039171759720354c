import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileMeshTLSAuthentication, identityMatches, parseSpiffeId } from './identity-match.js';
import type { MeshTLSAuthenticationSpec } from './kube-policy.js';

const TD = 'cluster.local';
const id = (ns: string, sa: string, td = TD) => `spiffe://${td}/ns/${ns}/sa/${sa}`;

function matcher(spec: MeshTLSAuthenticationSpec) {
  const r = compileMeshTLSAuthentication(spec, 'shop', TD);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.matcher;
}

test('parseSpiffeId accepts only the workload shape', () => {
  assert.deepEqual(parseSpiffeId(id('a', 'b')), { trustDomain: TD, namespace: 'a', serviceAccount: 'b' });
  for (const bad of ['spiffe://td/ns/a/sa/b/c', 'spiffe://td/ns/a', 'https://td/ns/a/sa/b', 'spiffe:///ns/a/sa/b', '']) {
    assert.equal(parseSpiffeId(bad), undefined, bad);
  }
});

test('MeshTLSAuthentication matching: identities exact and *, identityRefs ServiceAccount and Namespace', () => {
  const cases: { rule: string; spec: MeshTLSAuthenticationSpec; client: string | undefined; expected: boolean }[] = [
    { rule: 'exact identity matches itself', spec: { identities: [id('web', 'frontend')] }, client: id('web', 'frontend'), expected: true },
    { rule: 'exact identity rejects another SA', spec: { identities: [id('web', 'frontend')] }, client: id('web', 'other'), expected: false },
    { rule: 'exact identity rejects another trust domain', spec: { identities: [id('web', 'frontend')] }, client: id('web', 'frontend', 'evil.local'), expected: false },
    { rule: '* matches any authenticated client', spec: { identities: ['*'] }, client: id('x', 'y', 'other.td'), expected: true },
    { rule: '* does not match a client without identity', spec: { identities: ['*'] }, client: undefined, expected: false },
    { rule: 'ServiceAccount ref defaults to the authentication namespace', spec: { identityRefs: [{ kind: 'ServiceAccount', name: 'api' }] }, client: id('shop', 'api'), expected: true },
    { rule: 'ServiceAccount ref with namespace names that namespace', spec: { identityRefs: [{ kind: 'ServiceAccount', name: 'api', namespace: 'web' }] }, client: id('web', 'api'), expected: true },
    { rule: 'ServiceAccount ref rejects the same name elsewhere', spec: { identityRefs: [{ kind: 'ServiceAccount', name: 'api', namespace: 'web' }] }, client: id('shop', 'api'), expected: false },
    { rule: 'Namespace ref matches any SA in it', spec: { identityRefs: [{ kind: 'Namespace', name: 'web' }] }, client: id('web', 'anything'), expected: true },
    { rule: 'Namespace ref rejects other namespaces', spec: { identityRefs: [{ kind: 'Namespace', name: 'web' }] }, client: id('webx', 'a'), expected: false },
    { rule: 'Namespace ref rejects other trust domains', spec: { identityRefs: [{ kind: 'Namespace', name: 'web' }] }, client: id('web', 'a', 'evil.local'), expected: false },
    { rule: 'Namespace ref rejects a lookalike with extra path', spec: { identityRefs: [{ kind: 'Namespace', name: 'web' }] }, client: 'spiffe://cluster.local/ns/web/sa/a/b', expected: false },
  ];
  for (const c of cases) assert.equal(identityMatches(matcher(c.spec), c.client), c.expected, c.rule);
});

test('MeshTLSAuthentication fails closed on what Weft does not implement', () => {
  const bad: [string, MeshTLSAuthenticationSpec][] = [
    ['Linkerd DNS-style identity', { identities: ['*.web.serviceaccount.identity.linkerd.cluster.local'] }],
    ['partial wildcard', { identities: ['spiffe://cluster.local/ns/web/sa/*'] }],
    ['unknown identityRef kind', { identityRefs: [{ kind: 'Group', name: 'admins' }] }],
    ['identityRef in a foreign group', { identityRefs: [{ group: 'example.com', kind: 'ServiceAccount', name: 'a' }] }],
    ['both identities and identityRefs', { identities: ['*'], identityRefs: [{ kind: 'Namespace', name: 'web' }] }],
    ['neither identities nor identityRefs', {}],
    ['unknown spec field', { identities: ['*'], identitySelector: { app: 'x' } }],
  ];
  for (const [rule, spec] of bad) {
    const r = compileMeshTLSAuthentication(spec, 'shop', TD);
    assert.equal(r.ok, false, rule);
  }
});
