import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadProxyInitConfig } from './config.js';
import { chainRules, restoreInput } from './rules.js';

/** The config from flags as the dispatcher hands them over (parsing itself: cli/components.test.ts). */
const proxyInitConfig = (flags: Record<string, string>) => loadProxyInitConfig(new Map(Object.entries(flags)));

test('proxy-init defaults to the contract ports and UID', () => {
  const r = proxyInitConfig({});
  assert.ok(r.ok);
  assert.deepEqual([r.config.redirect.inboundPort, r.config.redirect.outboundPort, r.config.redirect.adminPort, r.config.redirect.proxyUid], [7143, 7140, 7191, 7102]);
  assert.equal(r.config.ipv6, 'auto');
});

test('skipped port lists accept ports and ranges, merged and sorted', () => {
  const r = proxyInitConfig({ 'skip-inbound-ports': '9000-9010,8080,9005', 'skip-outbound-ports': '5432' });
  assert.ok(r.ok);
  assert.deepEqual(r.config.redirect.skipInboundPorts, [{ lo: 8080, hi: 8080 }, { lo: 9000, hi: 9010 }]);
  assert.deepEqual(r.config.redirect.skipOutboundPorts, [{ lo: 5432, hi: 5432 }]);
});

test('bad values are all reported', () => {
  const bad = proxyInitConfig({ 'skip-inbound-ports': 'http', 'inbound-port': '70000', ipv6: 'maybe' });
  assert.ok(!bad.ok);
  assert.equal(bad.errors.length, 3);
  const same = proxyInitConfig({ 'inbound-port': '7140' });
  assert.ok(!same.ok);
  assert.match(same.errors.join(), /must differ/);
});

test('the outbound chain sends the proxy\'s own-pod calls inbound (IPv4), exempts the proxy UID and loopback before any redirect; the inbound chain exempts the admin port', () => {
  const { inbound, outbound } = chainRules({ inboundPort: 1, outboundPort: 2, adminPort: 3, proxyUid: 42, skipInboundPorts: [{ lo: 10, hi: 20 }], skipOutboundPorts: [] }, 4);
  assert.deepEqual(inbound, ['-p tcp -m tcp --dport 3 -j RETURN', '-p tcp -m tcp --dport 10:20 -j RETURN', '-p tcp -j REDIRECT --to-ports 1']);
  assert.deepEqual(outbound.slice(0, 3), [
    '-s 127.0.0.6/32 -o lo -j RETURN',
    '! -d 127.0.0.0/8 -o lo -m owner --uid-owner 42 -j WEFT_INBOUND',
    '-m owner --uid-owner 42 -j RETURN',
  ]);
  assert.equal(outbound.at(-1), '-p tcp -j REDIRECT --to-ports 2');
  const v6 = chainRules({ inboundPort: 1, outboundPort: 2, adminPort: 3, proxyUid: 42, skipInboundPorts: [], skipOutboundPorts: [] }, 6).outbound;
  assert.equal(v6[0], '-m owner --uid-owner 42 -j RETURN', 'over IPv6 the self-call is not redirected');
});

test('the restore input declares (and so flushes) both chains before filling them', () => {
  const text = restoreInput({ inboundPort: 1, outboundPort: 2, adminPort: 3, proxyUid: 42, skipInboundPorts: [], skipOutboundPorts: [] }, 6);
  const lines = text.split('\n');
  assert.equal(lines[0], '*nat');
  assert.deepEqual(lines.slice(1, 3), [':WEFT_INBOUND - [0:0]', ':WEFT_OUTBOUND - [0:0]']);
  assert.ok(text.includes('-d ::1/128 -j RETURN'));
  assert.equal(lines.at(-2), 'COMMIT');
});
