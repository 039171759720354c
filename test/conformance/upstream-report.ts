/**
 * `npm run conformance:report` (the mesh profiles) and `npm run conformance:report:gateway` (the Gateway
 * profiles): regenerate the committed Gateway API conformance reports. Brings the local
 * cluster up (or reuses a running one) with the images, installs Weft when it is absent, runs upstream's
 * v1.7.0 suite unmodified (upstream-suite.ts) with the report written straight into
 * conformance/reports/v1.7.0/weft-dev-weft/standard-<version>-default-report.yaml (upstream's layout
 * for submitted reports: <API channel>-<implementation version>-<mode>-report.yaml), removes older report
 * files there, and rewrites that folder's README.md and the result block of the top-level README.md from
 * the report's own numbers. The cluster is left as it was found. Exit code 0 only when the suite passed,
 * every pod was meshed and the report has no shortfall; the report is written either way.
 *
 * The gateway run writes standard-<version>-default-gateway-report.yaml beside the mesh report, its own
 * section at the end of that folder's README.md and its own block in the top-level README.md (between
 * GATEWAY_README_START and GATEWAY_README_END); each run leaves the other's files and blocks alone.
 * The e2e test (test/e2e/upstream-gateway-conformance.test.ts) holds every later run to the committed
 * gateway report (belowFloor). Exit code 0 when the suite ran its tests (the report has profiles) and
 * every echo-basic pod got Ready; the failures are the report's to record.
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

import { down, status, up } from '../cluster/cluster.js';
import { useCluster } from '../cluster/fixture.js';
import { buildImages } from '../cluster/images.js';
import { useMesh } from '../support/mesh.js';
import { REPO_ROOT } from '../support/paths.js';
import { GATEWAY_API_VERSION } from '../cluster/config.js';
import {
  GATEWAY_CLASS,
  GATEWAY_PROFILES,
  GATEWAY_SUITE,
  GATEWAY_SUPPORTED_FEATURES,
  IMPLEMENTATION,
  implementationVersion,
  parseReport,
  PROFILES,
  REQUIRED_CONSECUTIVE_SUCCESSES,
  runUpstreamSuite,
  shortfalls,
  summarize,
  SUPPORTED_FEATURES,
  type ConformanceReport,
  type SuiteRun,
} from './upstream-suite.js';

export const REPORT_DIR = join(REPO_ROOT, 'conformance', 'reports', GATEWAY_API_VERSION, `${IMPLEMENTATION.organization}-${IMPLEMENTATION.project}`);
const README_START = '<!-- upstream-conformance:start (npm run conformance:report writes this block) -->';
const README_END = '<!-- upstream-conformance:end -->';
export const GATEWAY_README_START = '<!-- upstream-gateway-conformance:start (npm run conformance:report:gateway writes this block) -->';
export const GATEWAY_README_END = '<!-- upstream-gateway-conformance:end -->';

/** Upstream's `<API channel>-<implementation version>-<mode>-report.yaml`; the gateway run's ends `-gateway-report.yaml`. */
export function reportFileName(r: { gatewayAPIChannel: string; mode: string }, version: string, suite: 'mesh' | 'gateway' = 'mesh'): string {
  return `${r.gatewayAPIChannel}-${version}-${r.mode}-${suite === 'gateway' ? 'gateway-' : ''}report.yaml`;
}

/** Whether a file in the report folder is a report of that run. */
export function isReportOf(file: string, suite: 'mesh' | 'gateway'): boolean {
  return suite === 'gateway' ? file.endsWith('-gateway-report.yaml') : file.endsWith('-report.yaml') && !file.endsWith('-gateway-report.yaml');
}

/** The committed gateway report (the e2e test's floor), or undefined when none is committed. */
export async function committedGatewayReport(): Promise<{ file: string; report: ConformanceReport } | undefined> {
  const files = (await readdir(REPORT_DIR)).filter((f) => isReportOf(f, 'gateway'));
  if (files.length > 1) throw new Error(`${REPORT_DIR} holds ${files.length} gateway reports (${files.join(', ')}); keep one`);
  if (files.length === 0) return undefined;
  const file = files[0]!;
  return { file, report: parseReport(await readFile(join(REPORT_DIR, file), 'utf8'), file) };
}

/** The folder README in the structure upstream's conformance/reports/README.md asks of submitters. */
export function folderReadme(r: ConformanceReport, file: string, run: Pick<SuiteRun, 'seconds' | 'podsSeen' | 'unmeshed' | 'exitCode' | 'failLines'>): string {
  const gaps = shortfalls(r);
  return `# Weft

Weft is a sidecar service mesh for Kubernetes written in TypeScript: ${IMPLEMENTATION.url}.
It implements the GAMMA (Gateway API for Mesh) HTTPRoute and GRPCRoute profiles.

## Table of contents

| API channel | Implementation version | Mode | Report |
|-------------|------------------------|------|--------|
| ${r.gatewayAPIChannel} | ${r.implementation.version} | ${r.mode} | [${r.implementation.version} report](./${file}) |

## Result

From the report (${r.date}), Gateway API ${r.gatewayAPIVersion}, ${r.gatewayAPIChannel} channel:

${summarize(r).map((l) => `- ${l}`).join('\n')}
${gaps.length === 0 ? '\nNothing failed, was skipped, or was declared unsupported.\n' : `\nShort of a full pass:\n\n${gaps.map((g) => `- ${g}`).join('\n')}\n`}
Upstream's test binary exited ${run.exitCode}${run.failLines.length > 0 ? ` (its failure messages: ${[...new Set(run.failLines)].map((l) => `"${l}"`).join('; ')})` : ''}.
The run took ${run.seconds} s; ${run.podsSeen.length} pods ran in the suite's namespaces, ${run.unmeshed.length === 0 ? 'every one with the Weft proxy' : `${run.unmeshed.length} of them without the Weft proxy (${run.unmeshed.join(', ')})`}.

## Notes

- Upstream's suite is run unmodified: the Go test binary of \`sigs.k8s.io/gateway-api/conformance\` at
  ${GATEWAY_API_VERSION}, built from the Go module proxy by a go.mod that only requires it
  (test/conformance/upstream/). One dependency differs: the module proxy refuses the zip of
  \`sigs.k8s.io/gateway-api-conformance-images\` v0.2.0, so v0.1.0 replaces it; the mesh tests import
  nothing from it.
- The mesh manifests name the echo image \`registry.k8s.io/gateway-api/conformance/echo-advanced:v0.1.0\`
  (Istio's echo app). The test cluster has no registry: that name is Weft's examples image
  (examples/Dockerfile), whose echo server and \`client\` command take the same flags and print the
  same output, imported into containerd under that name.
- Stricter than upstream's defaults: every request case must succeed ${REQUIRED_CONSECUTIVE_SUCCESSES} times in a row
  (\`-timeout-config-overrides=RequiredConsecutiveSuccesses:${REQUIRED_CONSECUTIVE_SUCCESSES}\`; upstream's default is 3),
  and the run fails if any pod of the suite's namespaces lacks the proxy.
- Features are declared by flag (Weft does not implement XMesh): ${SUPPORTED_FEATURES.join(', ')}.

## Reproduce

On a machine with the local test cluster's requirements (test/cluster/README.md) and Go 1.26 (the
1.27 toolchain the suite needs is fetched from the Go module proxy):

\`\`\`sh
npm ci
npm run conformance:report
\`\`\`

It brings the local cluster up (or reuses it), installs Weft, and runs upstream's test binary with:

\`\`\`sh
conformance.test -test.run='^TestConformance$' \\
  -conformance-profiles=${PROFILES.join(',')} \\
  -supported-features=${SUPPORTED_FEATURES.join(',')} \\
  -namespace-annotations=weft.dev/inject=enabled \\
  -timeout-config-overrides=RequiredConsecutiveSuccesses:${REQUIRED_CONSECUTIVE_SUCCESSES} \\
  -mode=default -report-output=${file} \\
  -organization=${IMPLEMENTATION.organization} -project=${IMPLEMENTATION.project} -url=${IMPLEMENTATION.url} \\
  -contact=${IMPLEMENTATION.contact} -version=<package version>-<commit>
\`\`\`

In CI the same run is an e2e test (test/e2e/upstream-conformance.test.ts, part of \`npm test\`).
`;
}

/** Why a report has no profile: upstream's setup failed before any test, and what it waited for. */
function setupFailure(run: Pick<SuiteRun, 'failLines' | 'setupWaits'>): string {
  const messages = [...new Set(run.failLines)].filter((l) => !l.startsWith('--- '));
  return `No test ran: upstream's setup did not finish${messages.length > 0 ? ` ("${messages.join('"; "')}")` : ''}${run.setupWaits.length > 0 ? `; what it was still waiting for when it gave up: ${run.setupWaits.join('; ')}` : ''}.`;
}

/** The gateway run's section of the folder README, between its markers. */
export function gatewaySection(r: ConformanceReport, file: string, run: Pick<SuiteRun, 'seconds' | 'podsSeen' | 'neverReady' | 'echoPods' | 'exitCode' | 'failLines' | 'setupWaits' | 'passed' | 'failed'>): string {
  const gaps = shortfalls(r, GATEWAY_PROFILES);
  return `${GATEWAY_README_START}
## Gateway profiles

| API channel | Implementation version | Mode | Profiles | Report |
|-------------|------------------------|------|----------|--------|
| ${r.gatewayAPIChannel} | ${r.implementation.version} | ${r.mode} | ${GATEWAY_PROFILES.join(', ')} | [${r.implementation.version} gateway report](./${file}) |

From the report (${r.date}), Gateway API ${r.gatewayAPIVersion}, ${r.gatewayAPIChannel} channel:

${r.profiles.length === 0 ? setupFailure(run) : summarize(r).map((l) => `- ${l}`).join('\n')}
${gaps.length === 0 ? '\nNothing failed, was skipped, or was declared unsupported.\n' : `\nShort of a full pass:\n\n${gaps.map((g) => `- ${g}`).join('\n')}\n`}
Tests that passed (from upstream's output): ${run.passed.length === 0 ? 'none' : run.passed.join(', ')}.
Tests that failed: ${run.failed.length === 0 ? 'none' : run.failed.join(', ')}.

Upstream's test binary exited ${run.exitCode}. The run took ${run.seconds} s; ${run.podsSeen.length} pods ran in the suite's
namespaces, ${run.echoPods} of them echo-basic, ${run.neverReady.length === 0 ? 'every one of those Ready' : `${run.neverReady.length} of those never seen Ready (${run.neverReady.join(', ')})`}.

Notes:

- The same unmodified suite as the mesh report, with \`-gateway-class=${GATEWAY_CLASS}\` (a GatewayClass of
  controllerName \`weft.dev/gateway-controller\`, created by the harness when absent), the backends not
  meshed (upstream's defaults), and ${REQUIRED_CONSECUTIVE_SUCCESSES} consecutive successes per case.
- The base manifests name the echo image \`registry.k8s.io/gateway-api/conformance/echo-basic:v0.1.0\`
  (and \`:v0.2.0\` for the UDP echo). The test cluster has no registry: the image under both names is
  upstream's echo-basic, \`go build\` from \`sigs.k8s.io/gateway-api-conformance-images/echo-basic\`
  v0.1.0 through the Go module proxy (pinned by test/conformance/upstream/go.mod and go.sum; v0.2.0's zip
  is refused by the proxy), packed into a one-layer image by test/cluster/images.ts.
- A profile's core features are always tested (upstream adds them). Extended features declared by flag:
  ${GATEWAY_SUPPORTED_FEATURES.join(', ')}.
- Reproduce: \`npm run conformance:report:gateway\`; CI runs the same suite in
  test/e2e/upstream-gateway-conformance.test.ts and fails when a test this report counts as passed fails.
${GATEWAY_README_END}
`;
}

/** The top-level README's gateway block. */
export function gatewayReadmeBlock(r: ConformanceReport, file: string, run: Pick<SuiteRun, 'failLines' | 'setupWaits'>): string {
  const rel = relative(REPO_ROOT, join(REPORT_DIR, file));
  return `${GATEWAY_README_START}
- The same suite's Gateway profiles (${GATEWAY_PROFILES.join(', ')}) against GatewayClass \`${GATEWAY_CLASS}\` report:
  ${r.profiles.length === 0 ? setupFailure(run) : summarize(r).join('; ')}
  ([report](${rel}), \`npm run conformance:report:gateway\`).
${GATEWAY_README_END}`;
}

/** Replaces the block between `start` and `end`, or inserts it after `anchor` (or at the end) when absent. */
export function upsertBlock(text: string, start: string, end: string, block: string, anchor?: string): string {
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a >= 0 && b > a) return text.slice(0, a) + block + text.slice(b + end.length);
  if (a >= 0 || b >= 0) throw new Error(`half a block: ${start} ... ${end}`);
  const at = anchor !== undefined ? text.indexOf(anchor) : -1;
  if (at < 0) return `${text.replace(/\n*$/, '\n\n')}${block}\n`;
  const cut = at + anchor!.length;
  return `${text.slice(0, cut)}\n${block}${text.slice(cut)}`;
}

/** The top-level README's result block. */
export function readmeBlock(r: ConformanceReport, file: string): string {
  const rel = relative(REPO_ROOT, join(REPORT_DIR, file));
  const gaps = shortfalls(r);
  return `${README_START}
- Upstream's own Gateway API ${r.gatewayAPIVersion} conformance suite, run unmodified on Weft in the local
  cluster (${REQUIRED_CONSECUTIVE_SUCCESSES} consecutive passes per case, every pod meshed), reports:
  ${summarize(r).join('; ')}${gaps.length === 0 ? '; nothing failed, skipped or unsupported' : `; short of a full pass: ${gaps.join('; ')}`}
  ([report](${rel}), \`npm run conformance:report\`).
${README_END}`;
}

export function replaceBlock(text: string, block: string): string {
  const a = text.indexOf(README_START);
  const b = text.indexOf(README_END);
  if (a < 0 || b < a) throw new Error(`README.md has no ${README_START} ... ${README_END} block`);
  return text.slice(0, a) + block + text.slice(b + README_END.length);
}

async function main(suite: 'mesh' | 'gateway'): Promise<number> {
  const before = await status();
  const wasUp = before.components.some((c) => c.pid !== undefined);
  console.log(wasUp ? 'report: reusing the running cluster' : 'report: bringing the cluster up');
  let code = 1;
  try {
    for (const i of await buildImages()) console.log(`report: image ${i.name} ${(i.bytes / 1e6).toFixed(1)} MB`);
    const u = await up();
    if (u.realNode.state !== 'ready') throw new Error(`real node ${u.realNode.state}: ${u.realNode.detail}`);
    const cluster = await useCluster();
    const mesh = await useMesh(cluster);
    try {
      const version = await implementationVersion(REPO_ROOT);
      if (suite === 'gateway') {
        code = await gatewayReport(cluster, version);
        return code;
      }
      const file = reportFileName({ gatewayAPIChannel: 'standard', mode: 'default' }, version);
      const reportPath = join(REPORT_DIR, file);
      const run = await runUpstreamSuite(cluster, { reportPath, version, log: (l) => console.log(l) });
      if (reportFileName(run.report, version) !== file) throw new Error(`the report says channel ${run.report.gatewayAPIChannel}, mode ${run.report.mode}: not ${file}`);
      for (const f of await readdir(REPORT_DIR)) if (isReportOf(f, 'mesh') && f !== file) await rm(join(REPORT_DIR, f));
      const folder = join(REPORT_DIR, 'README.md');
      const old = await readFile(folder, 'utf8').catch(() => '');
      const a = old.indexOf(GATEWAY_README_START);
      const b = old.indexOf(GATEWAY_README_END);
      const kept = a >= 0 && b > a ? `\n${old.slice(a, b + GATEWAY_README_END.length)}\n` : '';
      await writeFile(folder, folderReadme(run.report, file, run) + kept);
      const readme = join(REPO_ROOT, 'README.md');
      await writeFile(readme, replaceBlock(await readFile(readme, 'utf8'), readmeBlock(run.report, file)));
      for (const l of summarize(run.report)) console.log(`report: ${l}`);
      const gaps = shortfalls(run.report);
      for (const g of gaps) console.log(`report: SHORT: ${g}`);
      if (run.unmeshed.length > 0) console.log(`report: pods without the proxy: ${run.unmeshed.join(', ')}`);
      console.log(`report: wall time ${run.seconds}s; exit ${run.exitCode}; wrote ${relative(REPO_ROOT, reportPath)}`);
      code = run.exitCode === 0 && gaps.length === 0 && run.unmeshed.length === 0 && run.podsSeen.length > 0 ? 0 : 1;
    } finally {
      await mesh.release();
    }
  } catch (err) {
    console.error(`report: ${(err as Error).message}`);
    code = 1;
  } finally {
    if (!wasUp) {
      console.log('report: taking down the cluster this run started');
      await down().catch((err: unknown) => console.error(`report: down failed: ${(err as Error).message}`));
    }
  }
  return code;
}

async function gatewayReport(cluster: Awaited<ReturnType<typeof useCluster>>, version: string): Promise<number> {
  const file = reportFileName({ gatewayAPIChannel: 'standard', mode: 'default' }, version, 'gateway');
  const reportPath = join(REPORT_DIR, file);
  const run = await runUpstreamSuite(cluster, { reportPath, version, suite: GATEWAY_SUITE, log: (l) => console.log(l) });
  if (reportFileName(run.report, version, 'gateway') !== file) throw new Error(`the report says channel ${run.report.gatewayAPIChannel}, mode ${run.report.mode}: not ${file}`);
  for (const f of await readdir(REPORT_DIR)) if (isReportOf(f, 'gateway') && f !== file) await rm(join(REPORT_DIR, f));
  const folder = join(REPORT_DIR, 'README.md');
  await writeFile(folder, upsertBlock(await readFile(folder, 'utf8'), GATEWAY_README_START, GATEWAY_README_END, gatewaySection(run.report, file, run).trimEnd()));
  const readme = join(REPO_ROOT, 'README.md');
  await writeFile(readme, upsertBlock(await readFile(readme, 'utf8'), GATEWAY_README_START, GATEWAY_README_END, gatewayReadmeBlock(run.report, file, run), README_END));
  for (const l of summarize(run.report)) console.log(`report: ${l}`);
  if (run.report.profiles.length === 0) console.log(`report: ${setupFailure(run)}`);
  console.log(`report: passed ${run.passed.length}: ${run.passed.join(', ')}`);
  console.log(`report: failed ${run.failed.length}: ${run.failed.join(', ')}`);
  if (run.neverReady.length > 0) console.log(`report: echo-basic pods never Ready: ${run.neverReady.join(', ')}`);
  console.log(`report: wall time ${run.seconds}s; exit ${run.exitCode}; wrote ${relative(REPO_ROOT, reportPath)}`);
  return run.report.profiles.length > 0 && run.neverReady.length === 0 && run.echoPods > 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === `file://${process.argv[1]}`) {
  const arg = process.argv[2] ?? 'mesh';
  const start: Promise<number> =
    arg === 'mesh' || arg === 'gateway' ? main(arg) : Promise.reject(new Error(`unknown run ${JSON.stringify(arg)}: give mesh (the default) or gateway`));
  start.then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(`report: ${(err as Error).message}`);
      process.exitCode = 1;
    },
  );
}
