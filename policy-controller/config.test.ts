import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig as parse } from './config.js';

/** The config from flags as the dispatcher hands them over (parsing itself: cli/components.test.ts). */
const parseConfig = (flags: Record<string, string>, env: Readonly<Record<string, string | undefined>>) => parse(new Map(Object.entries(flags)), env);

test('defaults: weft-system, cluster.local, 24 h leaves, the issuer Secret, ports 8090 and 9990', () => {
  const r = parseConfig({}, {});
  assert.ok(r.ok);
  assert.equal(r.config.namespace, 'weft-system');
  assert.equal(r.config.trustDomain, 'cluster.local');
  assert.equal(r.config.certLifetimeMs, 24 * 3_600_000);
  assert.deepEqual(r.config.issuer, { kind: 'secret', namespace: 'weft-system', name: 'weft-identity-issuer' });
  assert.equal(r.config.grpcPort, 8090);
  assert.equal(r.config.adminPort, 9990);
  assert.ok(Object.isFrozen(r.config));
});

test('flags win over environment, environment over defaults', () => {
  const r = parseConfig({ 'cert-lifetime': '60s', 'grpc-port': '18090' }, {
    WEFT_CERT_LIFETIME: '2h',
    WEFT_GRPC_PORT: '1',
    WEFT_ADMIN_PORT: '19990',
    WEFT_TRUST_DOMAIN: 'example.org',
    WEFT_ISSUER_SECRET: 'ca-ns/my-issuer',
  });
  assert.ok(r.ok);
  assert.equal(r.config.certLifetimeMs, 60_000);
  assert.equal(r.config.grpcPort, 18090);
  assert.equal(r.config.adminPort, 19990);
  assert.equal(r.config.trustDomain, 'example.org');
  assert.deepEqual(r.config.issuer, { kind: 'secret', namespace: 'ca-ns', name: 'my-issuer' });
});

test('every error is reported at once', () => {
  const r = parseConfig({ 'grpc-port': '99999', 'log-level': 'loud', 'cert-lifetime': 'soon', 'trust-domain': 'Bad_TD' }, {
    WEFT_TOKEN_REVIEW_CONCURRENCY: '0',
  });
  assert.ok(!r.ok);
  assert.equal(r.errors.length, 5, r.errors.join('\n'));
  assert.match(r.errors.join('\n'), /--trust-domain/);
  assert.match(r.errors.join('\n'), /WEFT_TOKEN_REVIEW_CONCURRENCY/);
});

test('an issuer directory and an issuer Secret together are ambiguous', () => {
  const r = parseConfig({ 'issuer-dir': '/x' }, { WEFT_ISSUER_SECRET: 'a' });
  assert.ok(!r.ok);
  assert.match(r.errors[0] ?? '', /both name an issuer/);
});

test('the issuer directory replaces the Secret', () => {
  const r = parseConfig({}, { WEFT_ISSUER_DIR: '/etc/weft/issuer' });
  assert.ok(r.ok);
  assert.deepEqual(r.config.issuer, { kind: 'dir', path: '/etc/weft/issuer' });
});

test('--cert-lifetime and WEFT_CERT_LIFETIME take the CLI\'s one duration grammar (core/duration.ts)', () => {
  for (const [text, ms] of [['1h30m', 5_400_000], ['1500ms', 1500], ['90s', 90_000], ['1.5h', 5_400_000]] as const) {
    const r = parseConfig({ 'cert-lifetime': text }, {});
    assert.ok(r.ok, text);
    assert.equal(r.config.certLifetimeMs, ms, text);
  }
  const bare = parseConfig({ 'cert-lifetime': '90' }, {});
  assert.ok(!bare.ok);
  assert.deepEqual(bare.errors, ['--cert-lifetime: "90" is not a duration: a number needs a unit (ms, s, m or h), e.g. 90s']);
  const env = parseConfig({}, { WEFT_CERT_LIFETIME: '1d' });
  assert.ok(!env.ok);
  assert.match(env.errors[0] ?? '', /^WEFT_CERT_LIFETIME: "1d" is not a duration: unexpected "1d"/);
  const short = parseConfig({ 'cert-lifetime': '500ms' }, {});
  assert.ok(!short.ok);
  assert.deepEqual(short.errors, ['--cert-lifetime: "500ms" is not between 1s and 8784h']);
});

test('gateway image: Weft\'s image by default, WEFT_GATEWAY_IMAGE or --gateway-image otherwise; whitespace is refused', () => {
  const d = parseConfig({}, {});
  assert.ok(d.ok);
  assert.match(d.config.gatewayImage, /^ghcr\.io\/weft-dev\/weft:/);
  const e = parseConfig({}, { WEFT_GATEWAY_IMAGE: 'registry.example/weft:dev' });
  assert.ok(e.ok);
  assert.equal(e.config.gatewayImage, 'registry.example/weft:dev');
  const bad = parseConfig({ 'gateway-image': 'a b' }, {});
  assert.ok(!bad.ok);
  if (!bad.ok) assert.deepEqual(bad.errors, ['gateway image "a b" is not an image reference']);
});
