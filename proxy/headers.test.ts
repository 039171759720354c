import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkH2Fields, forwardH2Headers, forwardRequestHeaders, forwardResponseHeaders, hasSafeFraming, http1HeadersOfH2, originForm } from './headers.js';

test('hop-by-hop headers, Connection-listed ones and client weft-* headers are not forwarded', () => {
  const f = forwardRequestHeaders(['Host', 'a', 'Connection', 'X-Drop, keep-alive', 'X-Drop', '1', 'Keep-Alive', 't=1',
    'TE', 'trailers', 'Upgrade', 'h2c', 'weft-client-id', 'forged', 'Weft-Anything', 'x', 'X-Keep', '2']);
  assert.deepEqual(f.headers, ['host', 'a', 'x-keep', '2']);
  assert.equal(f.hostIndex, 1);
});

test('body framing is noted: content-length, and only exactly "chunked" counts as safe', () => {
  assert.equal(forwardRequestHeaders(['Content-Length', '12']).contentLength, 12);
  assert.equal(forwardRequestHeaders([]).contentLength, -1);
  assert.ok(hasSafeFraming(forwardRequestHeaders(['Transfer-Encoding', 'chunked'])));
  assert.ok(!hasSafeFraming(forwardRequestHeaders(['Transfer-Encoding', 'xchunked'])));
  assert.ok(!hasSafeFraming(forwardRequestHeaders(['Transfer-Encoding', 'gzip, chunked'])));
  assert.ok(!hasSafeFraming(forwardRequestHeaders(['Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'chunked'])));
});

test('a repeated single-value header is refused (case 17): Host twice, or Content-Length with differing values', () => {
  const twoHosts = forwardRequestHeaders(['Host', 'a', 'host', 'b']);
  assert.equal(twoHosts.repeated, 'host');
  assert.ok(!hasSafeFraming(twoHosts));
  assert.ok(!hasSafeFraming(forwardRequestHeaders(['Host', 'a', 'Host', 'a'])), 'identical Host lines are refused too (RFC 9112 3.2)');
  assert.ok(!hasSafeFraming(forwardRequestHeaders(['Content-Length', '5', 'Content-Length', '6'])));
  const sameLength = forwardRequestHeaders(['Content-Length', '5', 'content-length', '5', 'Host', 'a']);
  assert.ok(hasSafeFraming(sameLength));
  assert.deepEqual(sameLength.headers, ['content-length', '5', 'host', 'a'], 'an identical Content-Length is forwarded once');
  assert.ok(hasSafeFraming(forwardRequestHeaders(['Host', 'a', 'X-Dup', '1', 'X-Dup', '2'])), 'list headers may repeat');
});

test('an absolute-form target becomes origin-form and its authority replaces Host', () => {
  const f = forwardRequestHeaders(['Host', 'a']);
  assert.equal(originForm('http://b.example:8080/p?q', f), '/p?q');
  assert.deepEqual(f.headers, ['host', 'b.example:8080']);
  assert.equal(originForm('/plain', f), '/plain');
  assert.equal(originForm('ftp://x/y', f), undefined);
  assert.equal(originForm('http://[bad', f), undefined);
});

test('response hop-by-hop headers are dropped', () => {
  assert.deepEqual(forwardResponseHeaders({ 'content-type': 'x', connection: 'close, x-h', 'x-h': '1', 'transfer-encoding': 'chunked', 'keep-alive': 't' }), { 'content-type': 'x' });
});

test('HTTP/2 fields: bad names or CR/LF/NUL values are malformed, big lists too large', () => {
  assert.equal(checkH2Fields({ ':path': '/', 'x-a': 'b' }, 1000), 'ok');
  assert.equal(checkH2Fields({ 'x-a': 'b\nc' }, 1000), 'malformed');
  assert.equal(checkH2Fields({ 'X-A': 'b' }, 1000), 'malformed');
  assert.equal(checkH2Fields({ 'x-a': ['ok', 'b\0'] }, 1000), 'malformed');
  assert.equal(checkH2Fields({ 'x-a': 'b'.repeat(2000) }, 1000), 'too-large');
});

test('an HTTP/2 request as HTTP/1.1 fields: :authority is Host, pseudo-headers and hop-by-hop go, cookies are joined', () => {
  const fwd = forwardH2Headers({
    ':method': 'POST', ':path': '/a?b', ':scheme': 'https', ':authority': 'gw.example', host: 'other.example',
    cookie: ['a=1', 'b=2'], 'x-multi': ['1', '2'], te: 'trailers', connection: 'keep-alive', 'content-length': '3',
  });
  assert.deepEqual(http1HeadersOfH2(fwd), ['host', 'gw.example', 'cookie', 'a=1; b=2', 'x-multi', '1', 'x-multi', '2', 'content-length', '3']);
  // Without :authority, a host field is kept as the Host.
  assert.deepEqual(http1HeadersOfH2({ ':method': 'GET', ':path': '/', host: 'h.example', cookie: 'c=3' }), ['host', 'h.example', 'cookie', 'c=3']);
});
