/**
 * The pure parts of the upstream-suite runner: the flags passed to upstream's binary, and how its
 * ConformanceReport is judged and summarized (on reports written here, shaped as the suite writes them).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { belowFloor, failedInReport, GATEWAY_SUITE, GATEWAY_SUPPORTED_FEATURES, parseReport, shortfalls, summarize, testOutcome, upstreamArgs, SUPPORTED_FEATURES } from './upstream-suite.js';

const report = (meshHttpExtended: string, grpcCore: string): string => `apiVersion: gateway.networking.k8s.io/v1
kind: ConformanceReport
date: "2026-12-07T06:00:00Z"
gatewayAPIChannel: standard
gatewayAPIVersion: v1.7.0
implementation: {organization: weft-dev, project: weft, url: "https://github.com/weft-dev/weft", version: v0.1.0-abc, contact: [x]}
mode: default
profiles:
- name: MESH-GRPC
  summary: s
  core:
${grpcCore}
- name: MESH-HTTP
  summary: s
  core:
    result: success
    statistics: {Failed: 0, Passed: 7, Skipped: 0}
  extended:
${meshHttpExtended}
`;
const ok = `    result: success
    statistics: {Failed: 0, Passed: 9, Skipped: 0}
    supportedFeatures: [MeshClusterIPMatching]`;
const grpcOk = `    result: success
    statistics: {Failed: 0, Passed: 3, Skipped: 0}`;

test('the flags: both mesh profiles, every feature, the inject annotation, 10 in a row, the report fields', () => {
  const a = upstreamArgs({ reportPath: '/tmp/r.yaml', version: 'v0.1.0-abc' });
  assert.ok(a.includes('-test.run=^TestConformance$'));
  assert.ok(a.includes('-conformance-profiles=MESH-HTTP,MESH-GRPC'));
  assert.ok(a.includes('-namespace-annotations=weft.dev/inject=enabled'));
  assert.ok(a.includes('-timeout-config-overrides=RequiredConsecutiveSuccesses:10'));
  assert.ok(a.includes('-report-output=/tmp/r.yaml'));
  assert.ok(a.includes('-version=v0.1.0-abc'));
  const features = a.find((x) => x.startsWith('-supported-features='))?.split('=')[1]?.split(',') ?? [];
  assert.deepEqual(features, [...(SUPPORTED_FEATURES as readonly string[])]);
  for (const f of ['Mesh', 'HTTPRoute', 'GRPCRoute', 'MeshClusterIPMatching', 'MeshConsumerRoute', 'MeshHTTPRouteRewritePath', 'MeshHTTPRouteRedirectPath']) assert.ok(features.includes(f), f);
  assert.ok(!a.some((x) => x.startsWith('-exempt-features') || x.startsWith('-all-features') || x.startsWith('-skip-tests')));
  assert.ok(upstreamArgs({ reportPath: '/r', version: 'v', runTest: 'MeshBasic' }).includes('-run-test=MeshBasic'));
});

test('a report with every profile and level succeeding has no shortfall and is summarized from its statistics', () => {
  const r = parseReport(report(ok, grpcOk), 'r');
  assert.deepEqual(shortfalls(r), []);
  assert.deepEqual(summarize(r), ['MESH-GRPC: core 3/3 passed (success)', 'MESH-HTTP: core 7/7 passed (success), extended 9/9 passed (success)']);
});

test('failed, skipped, unsupported and missing are each a shortfall naming the test or feature', () => {
  const partial = parseReport(
    report(
      `    result: partial
    statistics: {Failed: 0, Passed: 7, Skipped: 2}
    skippedTests: [MeshHTTPRouteRedirectPath]
    unsupportedFeatures: [MeshHTTPRouteRewritePath]`,
      `    result: failure
    statistics: {Failed: 1, Passed: 2, Skipped: 0}
    failedTests: [MeshGRPCRouteRequestHeaderModifier]`,
    ),
    'r',
  );
  assert.deepEqual(shortfalls(partial), [
    'MESH-GRPC core: result failure',
    'MESH-GRPC core: MeshGRPCRouteRequestHeaderModifier failed',
    'MESH-HTTP extended: result partial',
    'MESH-HTTP extended: MeshHTTPRouteRedirectPath skipped',
    'MESH-HTTP: feature MeshHTTPRouteRewritePath reported unsupported',
  ]);
  assert.deepEqual(summarize(partial), ['MESH-GRPC: core 2/3 passed (failure; 1 failed)', 'MESH-HTTP: core 7/7 passed (success), extended 7/9 passed (partial; 2 skipped)']);
  const oneProfile = parseReport(report(ok, grpcOk).replace(/- name: MESH-GRPC[\s\S]*?(?=- name: MESH-HTTP)/, ''), 'r');
  assert.deepEqual(shortfalls(oneProfile), ['profile MESH-GRPC is missing']);
  assert.throws(() => parseReport('kind: Other\n', 'x.yaml'), /x\.yaml is not a ConformanceReport/);
  assert.throws(() => parseReport('kind: ConformanceReport\nprofiles: {a: 1}\n', 'x.yaml'), /x\.yaml: profiles is not a list/);
});

test('the gateway flags: the three Gateway profiles, class weft, the declared features, no injection', () => {
  const a = upstreamArgs({ reportPath: '/tmp/g.yaml', version: 'v0.1.0-abc', suite: GATEWAY_SUITE });
  assert.ok(a.includes('-gateway-class=weft'));
  assert.ok(a.includes('-conformance-profiles=GATEWAY-HTTP,GATEWAY-GRPC,GATEWAY-TLS'));
  assert.ok(!a.some((x) => x.startsWith('-namespace-annotations')), 'gateway backends are not meshed');
  assert.ok(a.includes('-timeout-config-overrides=RequiredConsecutiveSuccesses:10'));
  const features = a.find((x) => x.startsWith('-supported-features='))?.split('=')[1]?.split(',') ?? [];
  assert.deepEqual(features, [...(GATEWAY_SUPPORTED_FEATURES as readonly string[])]);
  for (const f of ['GatewayStaticAddresses', 'TLSRouteModeTerminate', 'GatewayFrontendClientCertificateValidation', 'HTTPRouteBackendURLRewrite']) assert.ok(!features.includes(f), `${f} is not Weft's`);
  for (const f of ['HTTPRouteCORS', 'BackendTLSPolicy', 'GatewayInfrastructure', 'ListenerSet', 'GatewayAddressEmpty']) assert.ok(features.includes(f), `${f} is declared`);
  assert.ok(!upstreamArgs({ reportPath: '/r', version: 'v' }).some((x) => x.startsWith('-gateway-class')), 'the mesh run names no class');
});

test('a report written after a failed setup (profiles: null) has no profile, and every gateway profile is missing', () => {
  const r = parseReport(report(ok, grpcOk).replace(/profiles:[\s\S]*$/, 'profiles: null\n'), 'r');
  assert.deepEqual(r.profiles, []);
  assert.deepEqual(shortfalls(r, GATEWAY_SUITE.profiles), ['profile GATEWAY-HTTP is missing', 'profile GATEWAY-GRPC is missing', 'profile GATEWAY-TLS is missing']);
});

test('belowFloor: a test the floor passes that fails or is skipped now, fewer passes, a missing profile', () => {
  const floor = parseReport(
    report(
      `    result: partial
    statistics: {Failed: 1, Passed: 8, Skipped: 0}
    failedTests: [MeshHTTPRouteRedirectPath]`,
      grpcOk,
    ),
    'floor',
  );
  assert.deepEqual(belowFloor(floor, floor), []);
  assert.deepEqual(belowFloor(parseReport(report(ok, grpcOk), 'better'), floor), [], 'more passes are above the floor');
  const worse = parseReport(
    report(
      `    result: failure
    statistics: {Failed: 2, Passed: 7, Skipped: 0}
    failedTests: [MeshHTTPRouteRedirectPath, MeshHTTPRouteRewritePath]`,
      `    result: partial
    statistics: {Failed: 0, Passed: 2, Skipped: 1}
    skippedTests: [MeshGRPCRouteWeight]`,
    ),
    'worse',
  );
  assert.deepEqual(belowFloor(worse, floor), [
    'MESH-GRPC core: 2 passed, the floor has 3',
    'MESH-GRPC core: MeshGRPCRouteWeight skipped (it passed in the floor)',
    'MESH-HTTP extended: 7 passed, the floor has 8',
    'MESH-HTTP extended: MeshHTTPRouteRewritePath failed (it passed in the floor)',
  ]);
  const none = parseReport(report(ok, grpcOk).replace(/profiles:[\s\S]*$/, 'profiles: null\n'), 'none');
  assert.deepEqual(belowFloor(none, floor), ['MESH-GRPC: missing (the floor has it)', 'MESH-HTTP: missing (the floor has it)']);
  assert.deepEqual(belowFloor(floor, none), [], 'an empty floor holds nothing up');
});

test('testOutcome reads upstream\'s per-test lines and nothing else', () => {
  assert.deepEqual(testOutcome('    --- PASS: TestConformance/HTTPRouteSimpleSameNamespace (3.02s)'), { result: 'PASS', name: 'HTTPRouteSimpleSameNamespace' });
  assert.deepEqual(testOutcome('        --- FAIL: TestConformance/GRPCExactMethodMatching (62.10s)'), { result: 'FAIL', name: 'GRPCExactMethodMatching' });
  assert.deepEqual(testOutcome('    --- SKIP: TestConformance/HTTPRouteCORS (0.00s)'), { result: 'SKIP', name: 'HTTPRouteCORS' });
  assert.equal(testOutcome('        --- PASS: TestConformance/HTTPRouteSimpleSameNamespace/case_1 (0.10s)'), undefined, 'subtests are not tests');
  assert.equal(testOutcome('--- FAIL: TestConformance (301.2s)'), undefined);
});

test('the e2e floor skips the tests the committed report saw fail, by upstream\'s -skip-tests', () => {
  const r = parseReport(report(`    result: partial
    statistics: {Failed: 2, Passed: 8, Skipped: 0}
    failedTests: [HTTPRouteRetry, GatewayModifyListeners]`, grpcOk), 'r');
  assert.deepEqual(failedInReport(r), ['GatewayModifyListeners', 'HTTPRouteRetry']);
  const a = upstreamArgs({ reportPath: '/r', version: 'v', suite: GATEWAY_SUITE, skipTests: failedInReport(r) });
  assert.ok(a.includes('-skip-tests=GatewayModifyListeners,HTTPRouteRetry'), a.join(' '));
  assert.ok(!upstreamArgs({ reportPath: '/r', version: 'v', suite: GATEWAY_SUITE, skipTests: [] }).some((x) => x.startsWith('-skip-tests')));
});
