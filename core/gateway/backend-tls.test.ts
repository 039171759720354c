import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Service } from '../kube.js';
import {
  backendTlsAncestors, backendTlsFor, evaluateBackendTls, policyAncestors, type BackendTLSPolicy, type CaSource,
} from './backend-tls.js';

const svc = (name: string, ports: { name?: string; port: number }[] = [{ name: 'https', port: 443 }]): Service => ({
  metadata: { namespace: 'apps', name }, spec: { ports },
});
const cm = (name: string, data: Record<string, string>): CaSource => ({ metadata: { namespace: 'apps', name }, data });
const policy = (name: string, spec: Partial<NonNullable<BackendTLSPolicy['spec']>> & { validation?: NonNullable<BackendTLSPolicy['spec']>['validation'] }, created = '2026-01-01T00:00:00Z'): BackendTLSPolicy => ({
  metadata: { namespace: 'apps', name, generation: 2, creationTimestamp: created },
  spec: {
    targetRefs: [{ group: '', kind: 'Service', name: 'secure' }],
    validation: { caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'ca' }], hostname: 'secure.example' },
    ...spec,
  },
});
const GOOD = '-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n';
const check = (pem: string) => (pem.includes('BEGIN CERTIFICATE') ? undefined : 'ca.crt holds no PEM certificate');
const services = [svc('secure'), svc('other')];
const maps = [cm('ca', { 'ca.crt': GOOD }), cm('bad', { 'ca.crt': 'garbage' }), cm('empty', {})];
const status = (c: { status: string; reason?: string }) => `${c.status}/${c.reason ?? ''}`;

test('a ConfigMap CA makes the policy Accepted and configures its Service', () => {
  const e = evaluateBackendTls([policy('p', {})], services, maps, check);
  const p = e.policies.get('apps/p');
  assert.ok(p);
  assert.equal(status(p.accepted), 'True/Accepted');
  assert.equal(status(p.resolvedRefs), 'True/ResolvedRefs');
  assert.equal(p.accepted.observedGeneration, 2);
  const d = backendTlsFor(e, 'apps', 'secure', 'https');
  assert.ok(d?.ok);
  assert.deepEqual(d.config, { policy: { namespace: 'apps', name: 'p' }, hostname: 'secure.example', ca: { kind: 'pem', pem: GOOD }, subjectAltNames: [] });
  assert.equal(backendTlsFor(e, 'apps', 'other', 'https'), undefined);
});

test('the System store is supported; a Secret CA reference is InvalidKind', () => {
  const e = evaluateBackendTls([
    policy('from-secret', { validation: { caCertificateRefs: [{ group: '', kind: 'Secret', name: 's' }], hostname: 'a.example' } }),
    policy('system', { targetRefs: [{ group: '', kind: 'Service', name: 'other' }], validation: { wellKnownCACertificates: 'System', hostname: 'b.example' } }),
  ], services, [], check);
  const a = e.policies.get('apps/from-secret');
  assert.equal(status(a?.resolvedRefs ?? { status: '?' }), 'False/InvalidKind');
  assert.equal(status(a?.accepted ?? { status: '?' }), 'False/NoValidCACertificate');
  const b = backendTlsFor(e, 'apps', 'other', undefined);
  assert.ok(b?.ok);
  assert.deepEqual(b.config.ca, { kind: 'system' });
});

test('every CA reference invalid: Accepted=False NoValidCACertificate, and connections must fail with the reason', () => {
  for (const [name, reason, text] of [['bad', 'InvalidCACertificateRef', 'holds no PEM'], ['missing', 'InvalidCACertificateRef', 'not found'], ['empty', 'InvalidCACertificateRef', 'no ca.crt']] as const) {
    const e = evaluateBackendTls([policy('p', { validation: { caCertificateRefs: [{ group: '', kind: 'ConfigMap', name }], hostname: 'secure.example' } })], services, maps, check);
    const p = e.policies.get('apps/p');
    assert.ok(p);
    assert.equal(status(p.accepted), 'False/NoValidCACertificate');
    assert.equal(status(p.resolvedRefs), `False/${reason}`);
    assert.match(p.resolvedRefs.message ?? '', new RegExp(`ConfigMap apps/${name}: .*${text}`));
    const d = backendTlsFor(e, 'apps', 'secure', 'https');
    assert.ok(d !== undefined && !d.ok);
    assert.match(d.message, /BackendTLSPolicy apps\/p/);
  }
});

test('an unsupported CA kind is InvalidKind; one good reference among bad ones still serves', () => {
  const e = evaluateBackendTls([policy('p', {
    validation: { caCertificateRefs: [{ group: 'example.com', kind: 'Bundle', name: 'x' }, { group: '', kind: 'ConfigMap', name: 'ca' }], hostname: 'secure.example' },
  })], services, maps, check);
  const p = e.policies.get('apps/p');
  assert.ok(p);
  assert.equal(status(p.accepted), 'True/Accepted');
  assert.equal(status(p.resolvedRefs), 'False/InvalidKind');
  assert.ok(backendTlsFor(e, 'apps', 'secure', undefined)?.ok);
});

test('invalid validation is Accepted=False Invalid and configures nothing', () => {
  const cases: NonNullable<NonNullable<BackendTLSPolicy['spec']>['validation']>[] = [
    { wellKnownCACertificates: 'Mozilla', hostname: 'a.example' },
    { caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'ca' }], wellKnownCACertificates: 'System', hostname: 'a.example' },
    { caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'ca' }], hostname: '' },
    { caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'ca' }], hostname: 'a.example', subjectAltNames: [{ type: 'URI' }] },
  ];
  for (const validation of cases) {
    const e = evaluateBackendTls([policy('p', { validation })], services, maps, check);
    assert.equal(status(e.policies.get('apps/p')?.accepted ?? { status: '?' }), 'False/Invalid', JSON.stringify(validation));
    assert.equal(backendTlsFor(e, 'apps', 'secure', undefined), undefined);
  }
});

test('targets: missing Service or port is TargetNotFound; a port-specific policy beats a whole-Service one', () => {
  const missing = evaluateBackendTls([policy('p', { targetRefs: [{ group: '', kind: 'Service', name: 'nope' }] })], services, maps, check);
  assert.equal(status(missing.policies.get('apps/p')?.accepted ?? { status: '?' }), 'False/TargetNotFound');
  const noPort = evaluateBackendTls([policy('p', { targetRefs: [{ group: '', kind: 'Service', name: 'secure', sectionName: 'grpc' }] })], services, maps, check);
  assert.match(noPort.policies.get('apps/p')?.accepted.message ?? '', /no port named grpc/);

  const e = evaluateBackendTls([
    policy('whole', {}, '2026-01-01T00:00:00Z'),
    policy('port', { targetRefs: [{ group: '', kind: 'Service', name: 'secure', sectionName: 'https' }], validation: { wellKnownCACertificates: 'System', hostname: 'port.example' } }, '2026-02-01T00:00:00Z'),
  ], services, maps, check);
  const d = backendTlsFor(e, 'apps', 'secure', 'https');
  assert.ok(d?.ok);
  assert.equal(d.config.policy.name, 'port');
  const other = backendTlsFor(e, 'apps', 'secure', 'admin');
  assert.ok(other?.ok);
  assert.equal(other.config.policy.name, 'whole');
});

test('two policies on one target: the older wins, then namespace/name; the other is Conflicted', () => {
  const e = evaluateBackendTls([
    policy('young', { validation: { wellKnownCACertificates: 'System', hostname: 'young.example' } }, '2026-03-01T00:00:00Z'),
    policy('old', {}, '2026-01-01T00:00:00Z'),
  ], services, maps, check);
  assert.equal(status(e.policies.get('apps/old')?.accepted ?? { status: '?' }), 'True/Accepted');
  const young = e.policies.get('apps/young');
  assert.equal(status(young?.accepted ?? { status: '?' }), 'False/Conflicted');
  assert.match(young?.accepted.message ?? '', /apps\/old/);
  const d = backendTlsFor(e, 'apps', 'secure', undefined);
  assert.ok(d?.ok && d.config.policy.name === 'old');

  const tie = evaluateBackendTls([policy('b', {}), policy('a', {})], services, maps, check);
  assert.equal(status(tie.policies.get('apps/a')?.accepted ?? { status: '?' }), 'True/Accepted');
  assert.equal(status(tie.policies.get('apps/b')?.accepted ?? { status: '?' }), 'False/Conflicted');
});

test('subjectAltNames are carried, hostnames lower-cased', () => {
  const e = evaluateBackendTls([policy('p', {
    validation: {
      caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'ca' }], hostname: 'Secure.Example',
      subjectAltNames: [{ type: 'Hostname', hostname: 'Alt.Example' }, { type: 'URI', uri: 'spiffe://td/ns/apps/sa/secure' }],
    },
  })], services, maps, check);
  const d = backendTlsFor(e, 'apps', 'secure', undefined);
  assert.ok(d?.ok);
  assert.equal(d.config.hostname, 'secure.example');
  assert.deepEqual(d.config.subjectAltNames, [{ type: 'Hostname', value: 'alt.example' }, { type: 'URI', value: 'spiffe://td/ns/apps/sa/secure' }]);
});

test('ancestors: one entry per Gateway for our controller, other controllers kept', () => {
  const p: BackendTLSPolicy = {
    ...policy('p', {}),
    status: { ancestors: [{ ancestorRef: { name: 'theirs' }, controllerName: 'example.com/gw', conditions: [] }] },
  };
  const e = evaluateBackendTls([p], services, maps, check);
  const pe = e.policies.get('apps/p');
  assert.ok(pe);
  const a = backendTlsAncestors(p, pe, [{ namespace: 'infra', name: 'gw2' }, { namespace: 'infra', name: 'gw1' }], 'weft.dev/gateway-controller');
  assert.deepEqual(a.map((x) => `${x.controllerName}:${x.ancestorRef.name}`), ['example.com/gw:theirs', 'weft.dev/gateway-controller:gw1', 'weft.dev/gateway-controller:gw2']);
  assert.deepEqual(a[1]?.conditions.map(status), ['True/Accepted', 'True/ResolvedRefs']);
});

test('policyAncestors: the Gateways whose routes send to a target, a sectionName narrowing it to that port', () => {
  const route = (ns: string, name: string, port: number) => ({
    kind: 'http' as const, namespace: 'edge', name: `to-${name}`, rules: [{
      index: 0, matches: [], filters: [], timeouts: {}, totalWeight: 1,
      backends: [{ weight: 1, filters: [], target: { kind: 'service' as const, namespace: ns, name, port } }],
    }],
  });
  const views = new Map([
    ['edge/a', { namespace: 'edge', name: 'a', routes: [route('apps', 'secure', 443)] }],
    ['edge/b', { namespace: 'edge', name: 'b', routes: [route('apps', 'other', 443)] }],
    ['edge/c', { namespace: 'edge', name: 'c', routes: [route('apps', 'secure', 8443)] }],
  ]) as unknown as Parameters<typeof policyAncestors>[1];
  const svcs = [svc('secure', [{ name: 'https', port: 443 }, { name: 'alt', port: 8443 }]), svc('other')];
  assert.deepEqual(policyAncestors(policy('p', {}), views, svcs).map((g) => g.name), ['a', 'c']);
  const narrowed = policy('p', { targetRefs: [{ group: '', kind: 'Service', name: 'secure', sectionName: 'alt' }] });
  assert.deepEqual(policyAncestors(narrowed, views, svcs).map((g) => g.name), ['c']);
});
