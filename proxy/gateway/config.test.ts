import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROXY_ENV } from '../../core/contract.js';
import { GATEWAY_NAME_ENV } from '../../core/gateway/render.js';
import { GATEWAY_SETTINGS, parseGatewayConfig } from './config.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const base = {
  [PROXY_ENV.podName]: 'gw-weft-gateway-0', [PROXY_ENV.podNamespace]: 'edge', [PROXY_ENV.podIp]: '10.1.2.3',
  [PROXY_ENV.serviceAccount]: 'gw-weft-gateway', [PROXY_ENV.trustAnchorsPem]: PEM, [PROXY_ENV.controllerAddr]: 'weft-controller.weft-system.svc:8090',
};

test('the proxy\'s environment plus the Gateway\'s name parse into the gateway\'s config', () => {
  const r = parseGatewayConfig({ ...base, [GATEWAY_NAME_ENV]: 'gw' });
  assert.ok(r.ok, JSON.stringify(r));
  if (!r.ok) return;
  assert.equal(r.config.gatewayName, 'gw');
  assert.equal(r.config.proxy.podNamespace, 'edge');
  assert.equal(r.config.proxy.adminPort, 7191);
});

test('a missing or malformed Gateway name and the proxy\'s own errors are reported together', () => {
  const missing = parseGatewayConfig({ ...base, [PROXY_ENV.podIp]: 'nope' });
  assert.ok(!missing.ok);
  if (missing.ok) return;
  assert.ok(missing.errors.includes(`${GATEWAY_NAME_ENV} is required`), missing.errors.join('; '));
  assert.ok(missing.errors.some((e) => e.startsWith(`${PROXY_ENV.podIp}=nope`)));
  const bad = parseGatewayConfig({ ...base, [GATEWAY_NAME_ENV]: 'Not_A_Name' });
  assert.ok(!bad.ok);
  if (bad.ok) return;
  assert.deepEqual(bad.errors, [`${GATEWAY_NAME_ENV}=Not_A_Name: not a Kubernetes object name`]);
});

test('the help lists the Gateway\'s name and leaves out the sidecar-only settings', () => {
  const names = (GATEWAY_SETTINGS.environment ?? []).map((e) => e.name);
  assert.equal(names[0], GATEWAY_NAME_ENV);
  assert.ok(names.includes(PROXY_ENV.controllerAddr));
  for (const sidecarOnly of [PROXY_ENV.inboundPorts, PROXY_ENV.outboundPort, PROXY_ENV.defaultInboundPolicy]) assert.ok(!names.includes(sidecarOnly), sidecarOnly);
});
