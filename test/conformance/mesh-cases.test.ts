import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { parseClientOutput, type ParsedResponse } from '../../examples/echo/echo-client.js';
import { TRANSCRIBED_CONFORMANCE_DIR } from '../support/paths.js';
import {
  checkResponse,
  clientArgv,
  ConsistencyTracker,
  evaluateWeights,
  parseMeshCases,
  parseTolerance,
  podIpPlaceholder,
  weightRequestUrl,
  type MeshCase,
  type WeightCheck,
} from './mesh-cases.js';

const CASES = parseMeshCases(readFileSync(join(TRANSCRIBED_CONFORMANCE_DIR, 'mesh-cases.yaml'), 'utf8'));

const one = (text: string): ParsedResponse => {
  const r = parseClientOutput(text)[0];
  assert.ok(r);
  return r;
};

const base: MeshCase = { client: { namespace: 'n', selector: 'app=echo,version=v1' }, request: { url: 'http://echo/' }, expect: { status: 200 } };

test('the transcription holds the 22 upstream mesh tests with 81 cases and 2 weight checks', () => {
  assert.equal(CASES.tests.length, 22);
  assert.equal(CASES.tests.reduce((n, t) => n + t.cases.length, 0), 81);
  assert.deepEqual(CASES.tests.filter((t) => t.weightCheck).map((t) => t.shortName), ['MeshHTTPRouteWeight', 'MeshGRPCRouteWeight']);
  assert.equal(CASES.tests[0]?.shortName, 'MeshBasic');
});

test('status, backend pod prefix and response headers are checked; header names are case-insensitive', () => {
  const c: MeshCase = { ...base, expect: { status: 200, backendPodPrefix: 'echo-v2', responseHeaders: { 'X-Header-Set': 'set' }, responseHeadersAbsent: ['X-Other'] } };
  const good = one('[0] StatusCode=200\n[0] ResponseHeader=X-Header-Set:set\n[0] ResponseHeader=X-Header-Set:second\n[0] Hostname=echo-v2-abc-1');
  assert.deepEqual(checkResponse(c, good), []);
  const bad = one('[0] StatusCode=404\n[0] ResponseHeader=x-other:1\n[0] Hostname=echo-v1-abc-1');
  assert.deepEqual(checkResponse(c, bad), [
    'status 404, want 200',
    'response header X-Header-Set: absent, want "set"',
    'response header X-Other present ("1"), want absent',
    'answered by echo-v1-abc-1, want a pod echo-v2*',
  ]);
});

test('request headers at the backend are compared with their values joined by commas', () => {
  const c: MeshCase = { ...base, expect: { status: 200, requestHeadersAtBackend: { 'X-Header-Add': 'some-other-value,add-appends-values' }, requestHeadersAbsentAtBackend: ['x-header-remove'] } };
  const good = one('[0] StatusCode=200\n[0] RequestHeader=X-Header-Add:some-other-value\n[0] RequestHeader=X-Header-Add:add-appends-values');
  assert.deepEqual(checkResponse(c, good), []);
  const bad = one('[0] StatusCode=200\n[0] RequestHeader=X-Header-Add:add-appends-values\n[0] RequestHeader=X-Header-Remove:val');
  assert.deepEqual(checkResponse(c, bad), [
    'backend saw X-Header-Add: "add-appends-values", want "some-other-value,add-appends-values"',
    'backend saw x-header-remove: "val", want absent',
  ]);
});

test('redirect Location and the rewritten path are checked although the upstream harness does not', () => {
  const c: MeshCase = { ...base, expect: { status: 302 }, notCheckedByUpstreamMeshHarness: { location: 'http://echo:8083/port' } };
  assert.deepEqual(checkResponse(c, one('[0] StatusCode=302\n[0] ResponseHeader=Location:http://echo:8083/port')), []);
  assert.deepEqual(checkResponse(c, one('[0] StatusCode=302\n[0] ResponseHeader=Location:http://echo/port')), ['Location "http://echo/port", want "http://echo:8083/port"']);
  const rw: MeshCase = { ...base, notCheckedByUpstreamMeshHarness: { pathAtBackend: '/one/two' } };
  assert.deepEqual(checkResponse(rw, one('[0] StatusCode=200\n[0] URL=/one/two?x=1')), []);
  assert.deepEqual(checkResponse(rw, one('[0] StatusCode=200\n[0] URL=/prefix/one/two')), ['backend saw path "/prefix/one/two", want "/one/two"']);
});

test('a case passes only after 3 passing responses in a row; a failure or a missing response resets the streak', () => {
  const t = new ConsistencyTracker();
  t.record([]);
  t.record([]);
  t.record(['status 500, want 200']);
  assert.equal(t.passed, false);
  assert.equal(t.why, 'status 500, want 200');
  t.record([]);
  t.record([]);
  t.recordNoResponse('timeout');
  t.record([]);
  t.record([]);
  assert.equal(t.passed, false);
  t.record([]);
  assert.equal(t.passed, true);
  assert.equal(t.checked, 8);
});

test('weights pass within the tolerance and fail outside it or when a weight-0 backend answers', () => {
  const w = CASES.tests.find((t) => t.shortName === 'MeshHTTPRouteWeight')?.weightCheck as WeightCheck;
  assert.equal(parseTolerance(w.tolerance), 0.05);
  assert.equal(weightRequestUrl(w), 'http://echo/');
  const answers = (v1: number, v2: number, other = 0): ParsedResponse[] => [
    ...Array.from({ length: v1 }, (_, i) => one(`[${i}] StatusCode=200\n[${i}] Hostname=echo-v1-a`)),
    ...Array.from({ length: v2 }, (_, i) => one(`[${i}] StatusCode=200\n[${i}] Hostname=echo-v2-b`)),
    ...Array.from({ length: other }, (_, i) => one(`[${i}] StatusCode=200\n[${i}] Hostname=echo-v3-c`)),
  ];
  assert.equal(evaluateWeights(w, answers(360, 140)).ok, true);
  const even = evaluateWeights(w, answers(250, 250));
  assert.equal(even.ok, false);
  assert.deepEqual(even.problems, ['echo-v1: 0.500 of requests, want 0.7 +/- 0.05', 'echo-v2: 0.500 of requests, want 0.3 +/- 0.05']);
  assert.match(evaluateWeights(w, answers(340, 150, 10)).problems.join(), /echo-v3-c answered 10 requests, want none/);
  assert.match(evaluateWeights(w, answers(70, 30)).problems.join(), /100 of 500 requests got a response/);
});

test('client argv: GET by default for HTTP, no method for gRPC, headers as -H; pod-IP placeholders are found', () => {
  const c: MeshCase = { ...base, request: { url: 'http://echo-v2', headers: { Host: 'echo-v1' } } };
  assert.deepEqual(clientArgv('http://echo-v2', c, 3), ['client', 'http://echo-v2', '--method=GET', '-H', 'Host:echo-v1', '--count=3']);
  assert.deepEqual(clientArgv('grpc://echo:7070', base, 500), ['client', 'grpc://echo:7070', '--count=500']);
  const url = CASES.tests.find((t) => t.shortName === 'MeshFrontend')?.cases[1]?.request.url ?? '';
  assert.deepEqual(podIpPlaceholder(url), {
    text: '<podIP of first pod app=echo,version=v2 in gateway-conformance-mesh>', selector: 'app=echo,version=v2', namespace: 'gateway-conformance-mesh',
  });
  assert.equal(podIpPlaceholder('http://echo'), undefined);
});
