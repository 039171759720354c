import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IDENTITY_TOKEN_AUDIENCE, PROXY_ENV } from './contract.js';
import { IDENTITY_TOKEN_DIR, identityTokenMount, identityTokenVolume, proxyBaseEnv } from './proxy-env.js';

const base = { trustDomain: 'cluster.local', trustAnchorsPem: 'PEM', controllerAddr: 'weft-controller.weft-system.svc:8090', logLevel: 'info', clusterNetworks: ['10.0.0.0/8', 'fd00::/8'], shutdownGraceSeconds: 30 };
const names = (env: readonly Record<string, unknown>[]) => env.map((e) => e['name']);

test('the base environment: downward-API identity first, then trust, controller, token file, log level, networks, grace', () => {
  const env = proxyBaseEnv(base);
  assert.deepEqual(names(env), [
    PROXY_ENV.podName, PROXY_ENV.podNamespace, PROXY_ENV.podIp, PROXY_ENV.serviceAccount, PROXY_ENV.nodeIp, PROXY_ENV.trustDomain,
    PROXY_ENV.trustAnchorsPem, PROXY_ENV.controllerAddr, PROXY_ENV.identityTokenFile, PROXY_ENV.logLevel, PROXY_ENV.clusterNetworks,
    PROXY_ENV.shutdownGraceSeconds,
  ]);
  assert.deepEqual(env[3], { name: PROXY_ENV.serviceAccount, valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } });
  assert.equal(env.find((e) => e['name'] === PROXY_ENV.clusterNetworks)?.['value'], '10.0.0.0/8,fd00::/8');
  assert.equal(env.find((e) => e['name'] === PROXY_ENV.identityTokenFile)?.['value'], `${IDENTITY_TOKEN_DIR}/weft-identity-token`);
});

test('the sidecar\'s default inbound policy goes between the log level and the networks; absent, it is not set', () => {
  const env = proxyBaseEnv({ ...base, defaultInboundPolicy: 'all-unauthenticated' });
  const i = names(env).indexOf(PROXY_ENV.defaultInboundPolicy);
  assert.equal(names(env)[i - 1], PROXY_ENV.logLevel);
  assert.equal(names(env)[i + 1], PROXY_ENV.clusterNetworks);
  assert.equal(env[i]?.['value'], 'all-unauthenticated');
  assert.equal(names(proxyBaseEnv(base)).includes(PROXY_ENV.defaultInboundPolicy), false);
});

test('the identity token: a projected ServiceAccount token for the identity audience, mounted read-only', () => {
  const v = identityTokenVolume() as { name: string; projected: { sources: { serviceAccountToken: { audience: string; path: string } }[] } };
  assert.equal(v.projected.sources[0]?.serviceAccountToken.audience, IDENTITY_TOKEN_AUDIENCE);
  assert.equal(v.projected.sources[0]?.serviceAccountToken.path, v.name);
  assert.deepEqual(identityTokenMount(), { name: v.name, mountPath: IDENTITY_TOKEN_DIR, readOnly: true });
});
