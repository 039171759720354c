import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/support/paths.js';
import { ERROR_TABLE, RETRYABLE_PEER_ERROR } from './reasons.js';

test('every error code has an HTTP status, a gRPC status and a unique lower-case header token', () => {
  const tokens = new Set<string>();
  for (const [code, m] of Object.entries(ERROR_TABLE)) {
    assert.ok(m.http >= 400 && m.http <= 599, code);
    assert.ok(Number.isInteger(m.grpc) && m.grpc > 0 && m.grpc <= 16, code);
    assert.match(m.header, /^[a-z][a-z-]*$/, code);
    assert.ok(!tokens.has(m.header), `duplicate ${m.header}`);
    tokens.add(m.header);
  }
});

test('the error the client proxy retries on is the server proxy unreachable-app answer', () => {
  assert.equal(RETRYABLE_PEER_ERROR, ERROR_TABLE.APP_UNREACHABLE.header);
  assert.equal(ERROR_TABLE.NO_ENDPOINTS.http, 503);
  assert.equal(ERROR_TABLE.FORBIDDEN.grpc, 7);
  assert.equal(ERROR_TABLE.ROUTE_NOT_FOUND.grpc, 12);
});

test('docs/errors.md lists exactly the rows of ERROR_TABLE (one table, documented)', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'errors.md'), 'utf8');
  const block = doc.slice(doc.indexOf('<!-- errors:begin -->'), doc.indexOf('<!-- errors:end -->'));
  const rows = [...block.matchAll(/^\| ([A-Z_]+) \| (\d+) \| (\d+) [A-Z_]+ \| `([a-z-]+)` \|/gm)].map((m) => [m[1], Number(m[2]), Number(m[3]), m[4]]);
  const table = Object.entries(ERROR_TABLE).map(([code, m]) => [code, m.http, m.grpc, m.header]);
  assert.deepEqual(rows, table);
});
