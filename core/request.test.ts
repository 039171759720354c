import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeRequestInfo, normalizeAuthority, parseQuery } from './request.js';

describe('makeRequestInfo', () => {
  test('keeps every value of a repeated header under its lowercased name', () => {
    const r = makeRequestInfo({ method: 'GET', target: '/', headers: [['X-Role', 'a'], ['x-role', 'b'], ['Host', 'echo']] });
    assert.ok(r.ok);
    assert.deepEqual(r.request.headers.get('x-role'), ['a', 'b']);
  });

  test('accepts a header record with array values', () => {
    const r = makeRequestInfo({ method: 'GET', target: '/', headers: { 'X-A': ['1', '2'], host: 'echo', skipped: undefined } });
    assert.ok(r.ok);
    assert.deepEqual(r.request.headers.get('x-a'), ['1', '2']);
    assert.equal(r.request.headers.has('skipped'), false);
  });

  test('parses multi-valued, percent-decoded query parameters', () => {
    assert.deepEqual([...parseQuery('a=1&a=%32&b&c=x%zz&d=a+b')], [
      ['a', ['1', '2']],
      ['b', ['']],
      ['c', ['x%zz']],
      ['d', ['a+b']],
    ]);
  });

  test('host case, trailing dot and port variants normalise alike', () => {
    assert.deepEqual(normalizeAuthority('Echo.NS.'), { authority: 'echo.ns', host: 'echo.ns' });
    assert.deepEqual(normalizeAuthority('echo.ns.:8080'), { authority: 'echo.ns:8080', host: 'echo.ns', port: 8080 });
    assert.deepEqual(normalizeAuthority('[::1]:80'), { authority: '[::1]:80', host: '[::1]', port: 80 });
    assert.equal(normalizeAuthority('a@b'), undefined);
    assert.equal(normalizeAuthority('echo:99999'), undefined);
  });

  test('absolute-form authority wins over Host', () => {
    const r = makeRequestInfo({ method: 'GET', target: 'http://real/x', headers: [['Host', 'other']] });
    assert.ok(r.ok);
    assert.equal(r.request.host, 'real');
  });

  test('two Host headers are rejected', () => {
    const r = makeRequestInfo({ method: 'GET', target: '/', headers: [['Host', 'a'], ['Host', 'b']] });
    assert.deepEqual(r.ok ? undefined : r.code, 'bad-authority');
  });

  test('a bad target is a typed error', () => {
    const r = makeRequestInfo({ method: 'GET', target: '/a%2Fb', headers: [] });
    assert.deepEqual(r.ok ? undefined : r.code, 'bad-target');
  });

  test('a method that is not a token is rejected', () => {
    const r = makeRequestInfo({ method: 'G ET', target: '/', headers: [] });
    assert.deepEqual(r.ok ? undefined : r.code, 'bad-method');
  });

  test('gRPC calls carry service and method', () => {
    const r = makeRequestInfo({ method: 'POST', target: '/pkg.Svc/Do', headers: { 'content-type': 'application/grpc+proto' } });
    assert.ok(r.ok);
    assert.deepEqual(r.request.grpc, { service: 'pkg.Svc', method: 'Do' });
  });
});
