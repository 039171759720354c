import { test } from 'node:test';
import assert from 'node:assert/strict';
import { upstreamVersionOfH2 } from './upstream-protocol.js';

test('an HTTP/2 request goes to the backend as HTTP/2 only when it is gRPC or the port says h2c; otherwise HTTP/1.1', () => {
  assert.equal(upstreamVersionOfH2(true, undefined), 'http2');
  assert.equal(upstreamVersionOfH2(true, 'http1'), 'http2', 'gRPC needs HTTP/2 whatever the port says');
  assert.equal(upstreamVersionOfH2(false, 'http2'), 'http2');
  for (const hint of [undefined, 'detect', 'http1', 'opaque'] as const) assert.equal(upstreamVersionOfH2(false, hint), 'http1', String(hint));
});
