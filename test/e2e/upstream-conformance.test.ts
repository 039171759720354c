/**
 * Upstream's own Gateway API v1.7.0 conformance suite (sigs.k8s.io/gateway-api/conformance, built from
 * the Go module proxy and run unmodified; test/conformance/upstream-suite.ts) on Weft in the local
 * cluster: profiles MESH-HTTP and MESH-GRPC with every feature Weft supports declared, injection by
 * upstream's namespace-annotation flag, 10 consecutive successes per case. Passes only when the report
 * upstream's suite writes says success for every profile and level, with nothing failed, skipped or
 * unsupported, and every pod of the suite's namespaces carried the proxy.
 *
 * The suite's full output goes to a file (its path is printed); its PASS/FAIL lines to the console.
 * The committed report (conformance/reports/v1.7.0/) comes from `npm run conformance:report`.
 */
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { useCluster, type Cluster } from '../cluster/fixture.js';
import { implementationVersion, runUpstreamSuite, shortfalls, summarize } from '../conformance/upstream-suite.js';
import { useMesh, type Mesh } from '../support/mesh.js';
import { REPO_ROOT } from '../support/paths.js';

let cluster: Cluster;
let mesh: Mesh | undefined;

before(async () => {
  cluster = await useCluster();
  mesh = await useMesh(cluster);
});

after(async () => {
  await mesh?.release();
});

test('upstream Gateway API v1.7.0 conformance, MESH-HTTP and MESH-GRPC: every test passes 10 times in a row on meshed pods', { timeout: 50 * 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-upstream-conformance-'));
  const logPath = join(dir, 'suite.log');
  const out = createWriteStream(logPath);
  t.diagnostic(`suite output: ${logPath}`);
  const run = await runUpstreamSuite(cluster, {
    reportPath: join(dir, 'report.yaml'),
    version: await implementationVersion(REPO_ROOT),
    log: (l) => {
      out.write(`${l}\n`);
      if (/^\s*--- (PASS|FAIL): TestConformance\/\w+ /.test(l) || /^(PASS|FAIL|ok)\b/.test(l)) console.log(`upstream: ${l.trim()}`);
    },
  });
  await new Promise<void>((r) => out.end(r));
  t.diagnostic(`wall time ${run.seconds}s; exit ${run.exitCode}; report ${join(dir, 'report.yaml')}`);
  for (const line of summarize(run.report)) t.diagnostic(line);
  t.diagnostic(`${run.podsSeen.length} pods seen in the suite's namespaces, ${run.unmeshed.length} without the proxy`);

  assert.equal(run.report.gatewayAPIVersion, 'v1.7.0');
  assert.equal(run.report.gatewayAPIChannel, 'standard');
  // The base manifests alone run 3 echo Deployments; fewer pods seen means the check saw nothing.
  assert.ok(run.podsSeen.length >= 3, `only ${run.podsSeen.length} pods seen: ${run.podsSeen.join(', ')}`);
  assert.deepEqual(run.unmeshed, [], 'pods without the proxy');
  assert.deepEqual(shortfalls(run.report), []);
  assert.equal(run.exitCode, 0, `the suite failed: ${run.failLines.join('; ')}`);
});
