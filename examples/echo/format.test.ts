import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalHeaderName, canonicalHeaderPairs, echoLines, parseDuration, plainAddress } from './format.js';
import { parseClientArgs, parseServerFlags, withDefaultPorts, DEFAULT_CLIENT_TIMEOUT_MS } from './flags.js';
import { pickStatus } from './echo-server.js';

test('header names are canonicalised like Go (first letter and letters after hyphens upper case)', () => {
  assert.equal(canonicalHeaderName('x-header-set'), 'X-Header-Set');
  assert.equal(canonicalHeaderName('CONTENT-TYPE'), 'Content-Type');
  assert.equal(canonicalHeaderName('weft-client-id'), 'Weft-Client-Id');
  assert.equal(canonicalHeaderName('bad name'), 'bad name');
});

test('header pairs keep one line per value, names sorted, pseudo-headers and skipped names dropped', () => {
  const raw = [':authority', 'echo', 'x-b', '2', 'Host', 'echo', 'X-A', '1', 'x-b', '3'];
  assert.deepEqual(canonicalHeaderPairs(raw, new Set(['host'])), [['X-A', '1'], ['X-B', '2'], ['X-B', '3']]);
});

test('Go durations parse to milliseconds and malformed ones are refused', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2s'), 2000);
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('3'), 3000);
  assert.equal(parseDuration('2x'), undefined);
  assert.equal(parseDuration('s'), undefined);
  assert.equal(parseDuration(''), undefined);
});

test('addresses are shown without the IPv4-mapped prefix or brackets', () => {
  assert.equal(plainAddress('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(plainAddress('[fd00::7]'), 'fd00::7');
  assert.equal(plainAddress('::1'), '::1');
});

test('echo lines come in the documented order, Alpn only when negotiated', () => {
  const lines = echoLines({
    serviceVersion: 'v1', servicePort: 8080, host: 'echo', url: '/x?y=1', cluster: 'c', method: 'GET', proto: 'HTTP/1.1',
    ip: '10.0.0.1', alpn: '', requestHeaders: [['X-A', '1']], hostname: 'echo-v1-abc',
  });
  assert.deepEqual(lines, ['ServiceVersion=v1', 'ServicePort=8080', 'Host=echo', 'URL=/x?y=1', 'Cluster=c', 'Method=GET', 'Proto=HTTP/1.1', 'IP=10.0.0.1', 'RequestHeader=X-A:1', 'Hostname=echo-v1-abc']);
});

test('server flags accept the upstream echo image arguments, repeated --port, and warn on unknown flags', () => {
  const { flags, warnings, errors } = parseServerFlags(['--tcp=9090', '--port=8080', '--grpc=7070', '--port=8443', '--tls=8443', '--crt=/cert.crt', '--key=/cert.key', '--server-first', '--version', 'v2']);
  assert.deepEqual(errors, []);
  assert.deepEqual(flags, { httpPorts: [8080, 8443], grpcPorts: [7070], tcpPorts: [9090], tlsPorts: [8443], crt: '/cert.crt', key: '/cert.key', clientCa: '', version: 'v2', cluster: '', controlPort: undefined, codes: '' });
  assert.deepEqual(warnings, ['ignoring unknown flag --server-first']);
});

test('server flags: --control names the control port, --codes the default status list, a bad list is an error', () => {
  const { flags, errors } = parseServerFlags(['--port=8080', '--control=9000', '--codes=503:9,200:1']);
  assert.deepEqual(errors, []);
  assert.equal(flags.controlPort, 9000);
  assert.equal(flags.codes, '503:9,200:1');
  assert.deepEqual(parseServerFlags(['--codes=fail']).errors, ['--codes: not a status list (e.g. 503 or 503:3,200:7): fail']);
  assert.deepEqual(parseServerFlags(['--control=x']).errors, ['--control: not a port: x']);
});

test('server flags reject a port that is not a number in range', () => {
  assert.deepEqual(parseServerFlags(['--port=http']).errors, ['--port: not a port: http']);
  assert.deepEqual(parseServerFlags(['--port=70000']).errors, ['--port: not a port: 70000']);
});

test('client args: URL, method, repeated -H in both spellings, count, timeout, qps', () => {
  const { flags, errors } = parseClientArgs(['http://echo/x', '--method=head', '-H', 'Host: other', '-H=x-a:1:2', '--count=3', '--timeout=750ms', '--qps=10']);
  assert.deepEqual(errors, []);
  assert.deepEqual(flags, { url: 'http://echo/x', method: 'HEAD', headers: [['Host', 'other'], ['x-a', '1:2']], count: 3, timeoutMs: 750, qps: 10 });
  assert.equal(parseClientArgs(['http://echo']).flags.timeoutMs, DEFAULT_CLIENT_TIMEOUT_MS);
});

test('client args report a missing URL and malformed values together', () => {
  const { errors } = parseClientArgs(['--count=0', '-H', 'novalue', '--timeout=soon']);
  assert.equal(errors.length, 4);
});

test('codes picks the only status, or by weight from a list, and refuses malformed lists', () => {
  assert.equal(pickStatus('500'), 500);
  assert.equal(pickStatus('503:1,200:3', () => 0.1), 503);
  assert.equal(pickStatus('503:1,200:3', () => 0.9), 200);
  assert.equal(pickStatus('200:0,404:1', () => 0), 404);
  assert.equal(pickStatus('abc'), undefined);
  assert.equal(pickStatus('99'), undefined);
});

test('a server given no port flag listens on the conformance ports; any port flag replaces them all', () => {
  const none = withDefaultPorts(parseServerFlags([]).flags);
  assert.deepEqual([none.httpPorts, none.grpcPorts, none.tcpPorts, none.tlsPorts], [[8080], [7070], [9090], []]);
  const one = withDefaultPorts(parseServerFlags(['--grpc=7071']).flags);
  assert.deepEqual([one.httpPorts, one.grpcPorts, one.tcpPorts], [[], [7071], []]);
});
