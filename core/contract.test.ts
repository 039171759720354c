import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/support/paths.js';
import * as c from './contract.js';

test('the contract version is the package version', () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(c.WEFT_VERSION, pkg.version);
  assert.equal(c.DEFAULT_IMAGE, `ghcr.io/weft-dev/weft:${pkg.version}`);
});

test('SPIFFE IDs follow spiffe://<trust-domain>/ns/<ns>/sa/<sa>', () => {
  assert.equal(c.spiffeId('cluster.local', 'booksapp', 'books'), 'spiffe://cluster.local/ns/booksapp/sa/books');
});

test('the contract values are those of design.md section 2', () => {
  assert.deepEqual(
    [c.PROXY_OUTBOUND_PORT, c.PROXY_INBOUND_PORT, c.PROXY_ADMIN_PORT, c.PROXY_UID, c.CONTROLLER_GRPC_PORT, c.CONTROLLER_WEBHOOK_PORT, c.CONTROLLER_ADMIN_PORT],
    [7140, 7143, 7191, 7102, 8090, 8443, 9990],
  );
  assert.equal(c.HEADER_CLIENT_ID, 'weft-client-id');
  assert.equal(c.HEADER_PROXY_ERROR, 'weft-proxy-error');
  assert.equal(c.IDENTITY_TOKEN_AUDIENCE, 'identity.weft.dev');
  assert.equal(c.POLICY_API, 'policy.weft.dev/v1alpha1');
  assert.equal(c.ROUTE_CONTROLLER_NAME, 'weft.dev/policy-controller');
  assert.deepEqual(c.controllerDnsNames(), ['weft-controller.weft-system.svc', 'weft-controller.weft-system.svc.cluster.local']);
});

test('every WEFT_* environment name is unique and prefixed', () => {
  const names = Object.values(c.PROXY_ENV);
  assert.equal(new Set(names).size, names.length);
  for (const n of names) assert.match(n, /^WEFT_[A-Z_]+$/);
});
