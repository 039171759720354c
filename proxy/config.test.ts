import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_OPAQUE_PORTS, PROXY_ENV } from '../core/contract.js';
import { parseProxyConfig } from './config.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const base = {
  [PROXY_ENV.podName]: 'web-0', [PROXY_ENV.podNamespace]: 'demo', [PROXY_ENV.podIp]: '10.1.2.3',
  [PROXY_ENV.serviceAccount]: 'web', [PROXY_ENV.trustAnchorsPem]: PEM, [PROXY_ENV.controllerAddr]: 'weft-controller.weft-system.svc:8090',
};

test('a complete environment parses into a frozen config with the contract defaults', () => {
  const r = parseProxyConfig(base);
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.ok(Object.isFrozen(r.config));
  assert.equal(r.config.outboundPort, 7140);
  assert.equal(r.config.inboundPort, 7143);
  assert.equal(r.config.adminPort, 7191);
  assert.equal(r.config.trustDomain, 'cluster.local');
  for (const p of DEFAULT_OPAQUE_PORTS) assert.ok(r.config.opaquePorts.has(p));
  assert.equal(r.config.limits.detectTimeoutMs, 10_000);
});

test('every error is reported at once', () => {
  const r = parseProxyConfig({
    [PROXY_ENV.podIp]: 'not-an-ip', [PROXY_ENV.outboundPort]: '70000', [PROXY_ENV.opaquePorts]: '25,x,10-5',
    [PROXY_ENV.logLevel]: 'loud', [PROXY_ENV.defaultInboundPolicy]: 'maybe', [PROXY_ENV.clusterNetworks]: '10.0.0.0/33',
    [PROXY_ENV.shutdownGraceSeconds]: '-1', [PROXY_ENV.trustAnchorsPem]: 'nope',
  });
  assert.equal(r.ok, false);
  if (r.ok) return;
  const text = r.errors.join('\n');
  for (const needle of [PROXY_ENV.podIp, PROXY_ENV.outboundPort, '"x"', '"10-5"', PROXY_ENV.logLevel, PROXY_ENV.defaultInboundPolicy,
    '10.0.0.0/33', PROXY_ENV.shutdownGraceSeconds, PROXY_ENV.trustAnchorsPem, PROXY_ENV.podName, PROXY_ENV.controllerAddr]) {
    assert.ok(text.includes(needle), `missing ${needle} in:\n${text}`);
  }
});

test('port lists accept ranges; listener ports must differ', () => {
  const r = parseProxyConfig({ ...base, [PROXY_ENV.opaquePorts]: '4000-4002, 9000', [PROXY_ENV.inboundPorts]: '8080' });
  assert.ok(r.ok && [4000, 4001, 4002, 9000].every((p) => r.config.opaquePorts.has(p)));
  assert.deepEqual(r.ok ? r.config.inboundPorts : null, [8080]);
  const clash = parseProxyConfig({ ...base, [PROXY_ENV.adminPort]: '7140' });
  assert.equal(clash.ok, false);
});

test('headers with underscores: drop by default, reject or allow on request, anything else is an error', () => {
  const d = parseProxyConfig(base);
  assert.equal(d.ok ? d.config.limits.headersWithUnderscores : null, 'drop');
  for (const v of ['reject', 'allow', 'drop'] as const) {
    const r = parseProxyConfig({ ...base, [PROXY_ENV.headersWithUnderscores]: v });
    assert.equal(r.ok ? r.config.limits.headersWithUnderscores : null, v);
  }
  const bad = parseProxyConfig({ ...base, [PROXY_ENV.headersWithUnderscores]: 'strip' });
  assert.equal(bad.ok, false);
  assert.match(bad.ok ? '' : bad.errors.join('\n'), /WEFT_HEADERS_WITH_UNDERSCORES=strip: expected one of drop, reject, allow/);
});

test('durations take the one duration grammar; a bare number and the old millisecond variables are refused by name', () => {
  const r = parseProxyConfig({ ...base, [PROXY_ENV.detectTimeout]: '1m30s', [PROXY_ENV.destinationIdleTimeout]: '500ms' });
  assert.ok(r.ok);
  assert.equal(r.ok ? r.config.limits.detectTimeoutMs : 0, 90_000);
  assert.equal(r.ok ? r.config.limits.destinationIdleTimeoutMs : 0, 500);
  const bare = parseProxyConfig({ ...base, [PROXY_ENV.detectTimeout]: '90', [PROXY_ENV.destinationIdleTimeout]: '0s' });
  assert.equal(bare.ok, false);
  const text = bare.ok ? '' : bare.errors.join('\n');
  assert.match(text, /WEFT_DETECT_TIMEOUT=90: a number needs a unit \(ms, s, m or h\), e\.g\. 90s/);
  assert.match(text, /WEFT_DESTINATION_IDLE_TIMEOUT=0s: expected a duration above 0, e\.g\. 1m/);
  const old = parseProxyConfig({ ...base, WEFT_DETECT_TIMEOUT_MS: '5000' });
  assert.equal(old.ok, false);
  assert.match(old.ok ? '' : old.errors.join('\n'), /WEFT_DETECT_TIMEOUT_MS is no longer read: set WEFT_DETECT_TIMEOUT to a duration/);
});
