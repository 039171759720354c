/**
 * Runs upstream's Gateway API conformance suite (the Go test binary built by
 * test/cluster/conformance-build.ts from sigs.k8s.io/gateway-api/conformance at v1.7.0, unmodified)
 * against the local cluster with Weft installed, and reads back the ConformanceReport it writes.
 *
 * Everything Weft chooses is passed through upstream's own flags (`upstreamArgs`): the profiles
 * MESH-HTTP and MESH-GRPC, every feature Weft supports (nothing exempted), injection through
 * upstream's namespace-annotation flag (weft.dev/inject=enabled on every namespace the suite creates),
 * 10 consecutive successes per request case instead of upstream's 3 (its timeout-config override
 * RequiredConsecutiveSuccesses), and the report's implementation fields.
 *
 * While the suite runs, the pods of its namespaces (gateway-conformance*) are listed every few
 * seconds; a pod without the proxy container is reported in `unmeshed`, so a run whose echo pods were
 * not injected cannot pass (upstream's suite alone would not notice: its requests are sent by exec
 * into the pods either way).
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

import { parse } from 'yaml';

import { INJECT_ANNOTATION, INJECT_ENABLED, PROXY_CONTAINER_NAME } from '../../core/contract.js';
import { ensureConformanceSuite } from '../cluster/conformance-build.js';
import type { Cluster } from '../cluster/fixture.js';

/** The profiles Weft claims. */
export const PROFILES = ['MESH-HTTP', 'MESH-GRPC'] as const;
/**
 * Every feature the v1.7.0 mesh tests name, all supported by Weft: the core ones (Mesh, HTTPRoute,
 * GRPCRoute), the MESH-HTTP extended set, and the HTTPRoute features two mesh tests also ask for.
 */
export const SUPPORTED_FEATURES = [
  'Mesh',
  'HTTPRoute',
  'GRPCRoute',
  'MeshClusterIPMatching',
  'MeshConsumerRoute',
  'MeshHTTPRouteBackendRequestHeaderModification',
  'MeshHTTPRouteNamedRouteRule',
  'MeshHTTPRouteQueryParamMatching',
  'MeshHTTPRouteRedirectPath',
  'MeshHTTPRouteRedirectPort',
  'MeshHTTPRouteRewritePath',
  'MeshHTTPRouteSchemeRedirect',
  'HTTPRoute303RedirectStatusCode',
  'HTTPRoute307RedirectStatusCode',
  'HTTPRoute308RedirectStatusCode',
  'HTTPRouteParentRefPort',
  'HTTPRouteResponseHeaderModification',
] as const;
/** Upstream requires 3 in a row; a 50/50 balancer meets that by chance 1 time in 8 per try. */
export const REQUIRED_CONSECUTIVE_SUCCESSES = 10;
export const IMPLEMENTATION = {
  organization: 'weft-dev',
  project: 'weft',
  url: 'https://github.com/weft-dev/weft',
  contact: 'https://github.com/weft-dev/weft/issues/new',
} as const;
/** Namespaces the suite creates (base manifests and per-test ones) start with this. */
const SUITE_NAMESPACE_PREFIX = 'gateway-conformance';
const POD_POLL_MS = 3000;

export interface UpstreamArgsOptions {
  readonly reportPath: string;
  /** The report's implementation.version (a release or a commit, never a branch). */
  readonly version: string;
  /** Upstream's -run-test: one test by its short name, for debugging. */
  readonly runTest?: string;
}

/** The test binary's arguments: Go's testing flags, then upstream's conformance flags. */
export function upstreamArgs(o: UpstreamArgsOptions): string[] {
  return [
    '-test.run=^TestConformance$',
    '-test.v',
    '-test.count=1',
    '-test.timeout=50m',
    `-conformance-profiles=${PROFILES.join(',')}`,
    `-supported-features=${SUPPORTED_FEATURES.join(',')}`,
    `-namespace-annotations=${INJECT_ANNOTATION}=${INJECT_ENABLED}`,
    `-timeout-config-overrides=RequiredConsecutiveSuccesses:${REQUIRED_CONSECUTIVE_SUCCESSES}`,
    '-mode=default',
    `-report-output=${o.reportPath}`,
    `-organization=${IMPLEMENTATION.organization}`,
    `-project=${IMPLEMENTATION.project}`,
    `-url=${IMPLEMENTATION.url}`,
    `-contact=${IMPLEMENTATION.contact}`,
    `-version=${o.version}`,
    ...(o.runTest !== undefined ? [`-run-test=${o.runTest}`] : []),
  ];
}

// --- the report ---------------------------------------------------------------------------------------

interface Statistics {
  readonly Passed: number;
  readonly Failed: number;
  readonly Skipped: number;
}
interface Status {
  readonly result: string;
  readonly statistics: Statistics;
  readonly skippedTests?: readonly string[];
  readonly failedTests?: readonly string[];
}
export interface ProfileReport {
  readonly name: string;
  readonly summary: string;
  readonly core: Status;
  readonly extended?: Status & { readonly supportedFeatures?: readonly string[]; readonly unsupportedFeatures?: readonly string[] };
}
export interface ConformanceReport {
  readonly kind: string;
  readonly date: string;
  readonly gatewayAPIVersion: string;
  readonly gatewayAPIChannel: string;
  readonly mode: string;
  readonly implementation: { readonly organization: string; readonly project: string; readonly url: string; readonly version: string; readonly contact: readonly string[] };
  readonly profiles: readonly ProfileReport[];
  readonly succeededProvisionalTests?: readonly string[];
}

/** Parses the suite's report, refusing anything that is not a ConformanceReport with profiles. */
export function parseReport(text: string, source: string): ConformanceReport {
  const r = parse(text) as Partial<ConformanceReport> | null;
  if (r?.kind !== 'ConformanceReport' || !Array.isArray(r.profiles)) throw new Error(`${source} is not a ConformanceReport with profiles`);
  return r as ConformanceReport;
}

/** `MESH-HTTP core 7/7, extended 9/9` style lines, one per profile, from the report's statistics. */
export function summarize(r: ConformanceReport): string[] {
  const part = (label: string, s: Status): string => {
    const run = s.statistics.Passed + s.statistics.Failed + s.statistics.Skipped;
    const extra = [s.statistics.Failed > 0 ? `${s.statistics.Failed} failed` : '', s.statistics.Skipped > 0 ? `${s.statistics.Skipped} skipped` : ''].filter((x) => x !== '');
    return `${label} ${s.statistics.Passed}/${run} passed (${s.result}${extra.length > 0 ? `; ${extra.join(', ')}` : ''})`;
  };
  return r.profiles.map((p) => `${p.name}: ${[part('core', p.core), ...(p.extended !== undefined ? [part('extended', p.extended)] : [])].join(', ')}`);
}

/** Every way the report falls short of "all passed, nothing skipped or unsupported"; empty when it does not. */
export function shortfalls(r: ConformanceReport): string[] {
  const out: string[] = [];
  for (const name of PROFILES) if (!r.profiles.some((p) => p.name === name)) out.push(`profile ${name} is missing`);
  for (const p of r.profiles) {
    for (const [level, s] of [['core', p.core], ['extended', p.extended]] as const) {
      if (s === undefined) continue;
      if (s.result !== 'success') out.push(`${p.name} ${level}: result ${s.result}`);
      if (s.statistics.Passed === 0) out.push(`${p.name} ${level}: no test passed`);
      for (const t of s.failedTests ?? []) out.push(`${p.name} ${level}: ${t} failed`);
      for (const t of s.skippedTests ?? []) out.push(`${p.name} ${level}: ${t} skipped`);
    }
    for (const f of p.extended?.unsupportedFeatures ?? []) out.push(`${p.name}: feature ${f} reported unsupported`);
  }
  return out;
}

// --- running it ---------------------------------------------------------------------------------------

export interface SuiteRun {
  readonly exitCode: number;
  readonly seconds: number;
  readonly report: ConformanceReport;
  readonly reportText: string;
  /** `namespace/pod` of every pod seen in the suite's namespaces, and those without the proxy. */
  readonly podsSeen: readonly string[];
  readonly unmeshed: readonly string[];
  /** Upstream's `--- FAIL:` lines and its assertion messages, for the message when a test fails. */
  readonly failLines: readonly string[];
}

export interface RunOptions extends UpstreamArgsOptions {
  readonly log?: (line: string) => void;
}

/** Runs the suite to the end (its own timeouts bound it) and returns what it reported. */
export async function runUpstreamSuite(cluster: Cluster, o: RunOptions): Promise<SuiteRun> {
  const log = o.log ?? ((l: string) => console.log(l));
  const binary = await ensureConformanceSuite(log);
  await mkdir(dirname(o.reportPath), { recursive: true });
  const seen = new Map<string, boolean>();
  let polling = true;
  const poll = (async () => {
    while (polling) {
      try {
        const pods = await cluster.core.listPodForAllNamespaces();
        for (const p of pods.items) {
          const ns = p.metadata?.namespace ?? '';
          if (!ns.startsWith(SUITE_NAMESPACE_PREFIX)) continue;
          const names = [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])].map((c) => c.name);
          seen.set(`${ns}/${p.metadata?.name ?? '?'}`, names.includes(PROXY_CONTAINER_NAME));
        }
      } catch (err) {
        log(`conformance: listing pods failed (will retry): ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, POD_POLL_MS));
    }
  })();
  const started = Date.now();
  const failLines: string[] = [];
  const exitCode = await new Promise<number>((resolve, reject) => {
    const child = spawn(binary, upstreamArgs(o), {
      cwd: dirname(o.reportPath),
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', KUBECONFIG: cluster.info.kubeconfig },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let partial = '';
    const onData = (d: string): void => {
      partial += d;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        if (/^\s*--- FAIL: /.test(l)) failLines.push(l.trim());
        const m = /^\s+Messages:\s+(.*)$/.exec(l);
        if (m !== null) failLines.push(m[1]!.trim());
        log(l);
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    child.on('error', (err) => reject(new Error(`cannot run ${binary}: ${err.message}`)));
    child.on('close', (code, signal) => resolve(code ?? (signal !== null ? 128 : 1)));
  });
  const seconds = Math.round((Date.now() - started) / 1000);
  polling = false;
  await poll;
  let reportText: string;
  try {
    reportText = await readFile(o.reportPath, 'utf8');
  } catch (err) {
    throw new Error(`the suite exited ${exitCode} after ${seconds}s without writing ${o.reportPath}: ${(err as Error).message}; ${failLines.join('; ')}`);
  }
  const podsSeen = [...seen.keys()].sort();
  return {
    exitCode,
    seconds,
    report: parseReport(reportText, o.reportPath),
    reportText,
    podsSeen,
    unmeshed: podsSeen.filter((p) => seen.get(p) !== true),
    failLines,
  };
}

/** The report's implementation.version: package.json's version and the commit (`-dirty` when the tree differs). */
export async function implementationVersion(repoRoot: string): Promise<string> {
  const pkg = JSON.parse(await readFile(`${repoRoot}/package.json`, 'utf8')) as { version: string };
  const git = (args: string[]): Promise<{ code: number; out: string }> =>
    new Promise((resolve) => {
      const c = spawn('git', args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      c.on('error', () => resolve({ code: 1, out: '' }));
      c.on('close', (code) => resolve({ code: code ?? 1, out: out.trim() }));
    });
  const head = await git(['rev-parse', '--short=12', 'HEAD']);
  if (head.code !== 0 || head.out === '') return `v${pkg.version}`;
  const dirty = await git(['status', '--porcelain', '--untracked-files=no']);
  return `v${pkg.version}-${head.out}${dirty.out !== '' ? '-dirty' : ''}`;
}
