/**
 * Runs upstream's Gateway API conformance suite (the Go test binary built by
 * test/cluster/conformance-build.ts from sigs.k8s.io/gateway-api/conformance at v1.7.0, unmodified)
 * against the local cluster with Weft installed, and reads back the ConformanceReport it writes.
 *
 * Two runs, each a `SuiteSpec`, everything Weft chooses passed through upstream's own flags
 * (`upstreamArgs`):
 *   - MESH_SUITE: the profiles MESH-HTTP and MESH-GRPC, every feature Weft supports (nothing exempted),
 *     injection through upstream's namespace-annotation flag (weft.dev/inject=enabled on every namespace
 *     the suite creates);
 *   - GATEWAY_SUITE: the profiles GATEWAY-HTTP, GATEWAY-GRPC and GATEWAY-TLS against GatewayClass `weft`
 *     (created here when absent), the extended features Weft's gateway implements (a profile's core
 *     features are always tested: upstream adds them itself), backends not meshed (upstream's defaults).
 * Both ask 10 consecutive successes per request case instead of upstream's 3 (its timeout-config
 * override RequiredConsecutiveSuccesses) and fill the report's implementation fields.
 *
 * While the suite runs, the pods of its namespaces (gateway-conformance*) are listed every few
 * seconds: for the mesh, a pod without the proxy container is reported in `unmeshed`, so a run whose
 * echo pods were not injected cannot pass (upstream's suite alone would not notice: its requests are
 * sent by exec into the pods either way); for both, an echo pod (upstream's echo image names) that was
 * listed for a minute or more and never seen Ready is reported in `neverReady`. Shorter-lived pods are
 * left out: tests delete their own Gateways (and so the gateways' pods) within seconds.
 */
import { GATEWAY_EXTENDED_FEATURES } from '../../core/gateway/features.js';
import { spawn } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

import { parse } from 'yaml';

import { GATEWAY_CONTROLLER_NAME, INJECT_ANNOTATION, INJECT_ENABLED, PROXY_CONTAINER_NAME } from '../../core/contract.js';
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
/** The GatewayClass the gateway profiles use (upstream's -gateway-class), of Weft's controller. */
export const GATEWAY_CLASS = 'weft';
/** The Gateway profiles: each one's core features (Gateway, ReferenceGrant, and HTTPRoute, GRPCRoute or TLSRoute) are upstream's to add. */
export const GATEWAY_PROFILES = ['GATEWAY-HTTP', 'GATEWAY-GRPC', 'GATEWAY-TLS'] as const;
/** The extended features of those profiles that Weft's gateway implements: core/gateway/features.ts, which the GatewayClass's status lists too. */
export const GATEWAY_SUPPORTED_FEATURES = GATEWAY_EXTENDED_FEATURES;

/** One run of upstream's suite: what is tested and how. */
export interface SuiteSpec {
  readonly name: 'mesh' | 'gateway';
  readonly profiles: readonly string[];
  readonly supportedFeatures: readonly string[];
  /** Whether the suite's namespaces are meshed (upstream's -namespace-annotations) and every pod must carry the proxy. */
  readonly meshed: boolean;
  /** Upstream's -gateway-class, when the profiles use Gateways. */
  readonly gatewayClass?: string;
}
export const MESH_SUITE: SuiteSpec = { name: 'mesh', profiles: PROFILES, supportedFeatures: SUPPORTED_FEATURES, meshed: true };
export const GATEWAY_SUITE: SuiteSpec = { name: 'gateway', profiles: GATEWAY_PROFILES, supportedFeatures: GATEWAY_SUPPORTED_FEATURES, meshed: false, gatewayClass: GATEWAY_CLASS };

/** Upstream requires 3 in a row; a 50/50 balancer meets that by chance 1 time in 8 per try. */
export const REQUIRED_CONSECUTIVE_SUCCESSES = 10;
export const IMPLEMENTATION = {
  organization: 'weft-dev',
  project: 'weft',
  url: 'https://github.com/weft-dev/weft',
  contact: 'https://github.com/weft-dev/weft/issues/new',
} as const;
/** The images upstream's manifests name for their echo backends start with this. */
const ECHO_IMAGE_PREFIX = 'registry.k8s.io/gateway-api/';
/** An echo pod listed this long without ever being Ready is a failure (its image or its start broke). */
const NEVER_READY_AFTER_MS = 60_000;
/** Namespaces the suite creates (base manifests and per-test ones) start with this. */
const SUITE_NAMESPACE_PREFIX = 'gateway-conformance';
const POD_POLL_MS = 3000;

export interface UpstreamArgsOptions {
  readonly reportPath: string;
  /** The report's implementation.version (a release or a commit, never a branch). */
  readonly version: string;
  /** Upstream's -run-test: one test by its short name, for debugging. */
  readonly runTest?: string;
  /** Which run; MESH_SUITE when absent. */
  readonly suite?: SuiteSpec;
  /**
   * Upstream's -skip-tests: tests not run. The e2e floor skips the tests its committed report saw
   * fail (each would only spend its consistency timeout failing again); the report run skips none.
   */
  readonly skipTests?: readonly string[];
}

/** The test binary's arguments: Go's testing flags, then upstream's conformance flags. */
export function upstreamArgs(o: UpstreamArgsOptions): string[] {
  const suite = o.suite ?? MESH_SUITE;
  return [
    '-test.run=^TestConformance$',
    '-test.v',
    '-test.count=1',
    '-test.timeout=50m',
    ...(suite.gatewayClass !== undefined ? [`-gateway-class=${suite.gatewayClass}`] : []),
    `-conformance-profiles=${suite.profiles.join(',')}`,
    `-supported-features=${suite.supportedFeatures.join(',')}`,
    ...(suite.meshed ? [`-namespace-annotations=${INJECT_ANNOTATION}=${INJECT_ENABLED}`] : []),
    `-timeout-config-overrides=RequiredConsecutiveSuccesses:${REQUIRED_CONSECUTIVE_SUCCESSES}`,
    '-mode=default',
    `-report-output=${o.reportPath}`,
    `-organization=${IMPLEMENTATION.organization}`,
    `-project=${IMPLEMENTATION.project}`,
    `-url=${IMPLEMENTATION.url}`,
    `-contact=${IMPLEMENTATION.contact}`,
    `-version=${o.version}`,
    ...(o.runTest !== undefined ? [`-run-test=${o.runTest}`] : []),
    ...(o.skipTests !== undefined && o.skipTests.length > 0 ? [`-skip-tests=${[...o.skipTests].sort().join(',')}`] : []),
  ];
}

/** Every test a report lists as failed, in any profile and level, once each (the e2e floor skips them). */
export function failedInReport(r: { readonly profiles: readonly { readonly core?: Status; readonly extended?: Status }[] }): string[] {
  const out = new Set<string>();
  for (const p of r.profiles) for (const s of [p.core, p.extended]) for (const t of s?.failedTests ?? []) out.add(t);
  return [...out].sort();
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

/**
 * Parses the suite's report, refusing anything that is not a ConformanceReport. `profiles: null` (what
 * the suite writes when its setup failed and no test ran) reads as no profile.
 */
export function parseReport(text: string, source: string): ConformanceReport {
  const r = parse(text) as (Omit<Partial<ConformanceReport>, 'profiles'> & { profiles?: unknown }) | null;
  if (r?.kind !== 'ConformanceReport') throw new Error(`${source} is not a ConformanceReport`);
  if (r.profiles === null || r.profiles === undefined) return { ...(r as ConformanceReport), profiles: [] };
  if (!Array.isArray(r.profiles)) throw new Error(`${source}: profiles is not a list`);
  return r as ConformanceReport;
}

/**
 * The regression floor: every way `now` falls below `floor` (a committed report of the same run). A
 * test counted as passed in `floor` must still pass: per profile and level, no fewer passes, and no
 * test failed or skipped now that was not failed or skipped in `floor` (the suite's report counts
 * passes but names only failed and skipped tests). Empty when `now` is at least as good.
 */
export function belowFloor(now: ConformanceReport, floor: ConformanceReport): string[] {
  const out: string[] = [];
  for (const f of floor.profiles) {
    const n = now.profiles.find((p) => p.name === f.name);
    if (n === undefined) {
      out.push(`${f.name}: missing (the floor has it)`);
      continue;
    }
    for (const level of ['core', 'extended'] as const) {
      const fs = f[level];
      if (fs === undefined || fs.statistics.Passed === 0) continue;
      const ns = n[level];
      if (ns === undefined) {
        out.push(`${f.name} ${level}: missing, the floor has ${fs.statistics.Passed} passed`);
        continue;
      }
      if (ns.statistics.Passed < fs.statistics.Passed) out.push(`${f.name} ${level}: ${ns.statistics.Passed} passed, the floor has ${fs.statistics.Passed}`);
      const allowed = new Set([...(fs.failedTests ?? []), ...(fs.skippedTests ?? [])]);
      for (const t of ns.failedTests ?? []) if (!allowed.has(t)) out.push(`${f.name} ${level}: ${t} failed (it passed in the floor)`);
      for (const t of ns.skippedTests ?? []) if (!allowed.has(t)) out.push(`${f.name} ${level}: ${t} skipped (it passed in the floor)`);
    }
  }
  return out;
}

/** Upstream's per-test outcome lines (`--- PASS: TestConformance/Name (1.2s)`), by test short name. */
export function testOutcome(line: string): { name: string; result: 'PASS' | 'FAIL' | 'SKIP' } | undefined {
  const m = /^\s*--- (PASS|FAIL|SKIP): TestConformance\/([A-Za-z0-9]+) \(/.exec(line);
  return m === null ? undefined : { result: m[1] as 'PASS' | 'FAIL' | 'SKIP', name: m[2]! };
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
export function shortfalls(r: ConformanceReport, profiles: readonly string[] = PROFILES): string[] {
  const out: string[] = [];
  for (const name of profiles) if (!r.profiles.some((p) => p.name === name)) out.push(`profile ${name} is missing`);
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
  /** `namespace/pod` of every pod seen in the suite's namespaces, those without the proxy, and those never seen Ready. */
  readonly podsSeen: readonly string[];
  readonly unmeshed: readonly string[];
  readonly neverReady: readonly string[];
  /** How many echo pods (upstream's echo image names) were seen. */
  readonly echoPods: number;
  /** Upstream's test outcomes from its output (the report names only failed and skipped tests). */
  readonly passed: readonly string[];
  readonly failed: readonly string[];
  /** The suite's last distinct "not ... yet" lines while it waited in setup (why a setup timed out). */
  readonly setupWaits: readonly string[];
  /** Upstream's `--- FAIL:` lines and its assertion messages, for the message when a test fails. */
  readonly failLines: readonly string[];
}

export interface RunOptions extends UpstreamArgsOptions {
  readonly log?: (line: string) => void;
}

/** Runs the suite to the end (its own timeouts bound it) and returns what it reported. */
export async function runUpstreamSuite(cluster: Cluster, o: RunOptions): Promise<SuiteRun> {
  const log = o.log ?? ((l: string) => console.log(l));
  const suite = o.suite ?? MESH_SUITE;
  const binary = await ensureConformanceSuite(log);
  await mkdir(dirname(o.reportPath), { recursive: true });
  const removeClass = suite.gatewayClass !== undefined ? await ensureGatewayClass(cluster, suite.gatewayClass, log) : undefined;
  try {
    return await runBinary(cluster, binary, o, suite, log);
  } finally {
    await removeClass?.();
  }
}

/** Creates the GatewayClass of Weft's controller when absent; returns how to delete it then (undefined when it existed). */
async function ensureGatewayClass(cluster: Cluster, name: string, log: (l: string) => void): Promise<(() => Promise<void>) | undefined> {
  const got = await cluster.kubectl(['get', 'gatewayclass', name, '-o', 'jsonpath={.spec.controllerName}']);
  if (got.code === 0) {
    if (got.stdout !== GATEWAY_CONTROLLER_NAME) throw new Error(`GatewayClass ${name} exists with controllerName ${got.stdout}, not ${GATEWAY_CONTROLLER_NAME}`);
    log(`conformance: using the existing GatewayClass ${name}`);
    return undefined;
  }
  const applied = await cluster.kubectl(['apply', '--server-side', '--field-manager=weft-conformance', '-f', '-'], {
    input: `apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: ${name}}\nspec: {controllerName: ${GATEWAY_CONTROLLER_NAME}}\n`,
  });
  if (applied.code !== 0) throw new Error(`creating GatewayClass ${name} failed: ${applied.stderr.trim()}`);
  log(`conformance: created GatewayClass ${name} (controllerName ${GATEWAY_CONTROLLER_NAME})`);
  return async () => {
    const r = await cluster.kubectl(['delete', 'gatewayclass', name, '--ignore-not-found']);
    if (r.code !== 0) log(`conformance: deleting GatewayClass ${name} failed: ${r.stderr.trim()}`);
  };
}

async function runBinary(cluster: Cluster, binary: string, o: RunOptions, suite: SuiteSpec, log: (l: string) => void): Promise<SuiteRun> {
  const seen = new Map<string, boolean>();
  const ready = new Set<string>();
  const echoSpan = new Map<string, { first: number; last: number }>();
  let polling = true;
  const poll = (async () => {
    while (polling) {
      try {
        const pods = await cluster.core.listPodForAllNamespaces();
        for (const p of pods.items) {
          const ns = p.metadata?.namespace ?? '';
          if (!ns.startsWith(SUITE_NAMESPACE_PREFIX)) continue;
          const names = [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])].map((c) => c.name);
          const key = `${ns}/${p.metadata?.name ?? '?'}`;
          seen.set(key, names.includes(PROXY_CONTAINER_NAME));
          if (p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true || p.status?.phase === 'Succeeded') ready.add(key);
          if ((p.spec?.containers ?? []).some((c) => c.image?.startsWith(ECHO_IMAGE_PREFIX) === true)) {
            const now = Date.now();
            echoSpan.set(key, { first: echoSpan.get(key)?.first ?? now, last: now });
          }
        }
      } catch (err) {
        log(`conformance: listing pods failed (will retry): ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, POD_POLL_MS));
    }
  })();
  const started = Date.now();
  const failLines: string[] = [];
  const outcomes = new Map<string, 'PASS' | 'FAIL' | 'SKIP'>();
  const waits: string[] = [];
  const exitCode = await new Promise<number>((resolve, reject) => {
    const child = spawn(binary, upstreamArgs({ ...o, suite }), {
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
        const t = testOutcome(l);
        if (t !== undefined) outcomes.set(t.name, t.result);
        const w = /(\S+ (?:Gateway not (?:Accepted|Programmed) yet|not ready yet)|No pods deployed yet in namespace \S+|\w+ condition set to Status \w+ with Reason \w+, expected Status \w+)/.exec(l);
        if (w !== null) {
          const i = waits.indexOf(w[1]!);
          if (i >= 0) waits.splice(i, 1);
          waits.push(w[1]!);
          if (waits.length > 8) waits.shift();
        }
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
    unmeshed: suite.meshed ? podsSeen.filter((p) => seen.get(p) !== true) : [],
    neverReady: [...echoSpan].filter(([k, t]) => !ready.has(k) && t.last - t.first >= NEVER_READY_AFTER_MS).map(([k]) => k).sort(),
    echoPods: echoSpan.size,
    passed: [...outcomes].filter(([, r]) => r === 'PASS').map(([n]) => n).sort(),
    failed: [...outcomes].filter(([, r]) => r === 'FAIL').map(([n]) => n).sort(),
    setupWaits: waits,
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
