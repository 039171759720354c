import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uninstallObjects } from '../install/uninstall.js';
import { formatResults, formatResultsJson, parseCheckArgs } from './command.js';
import type { Check } from './command.js';
import { dataPlaneFindings, failureAccrualFindings } from './data-plane.js';
import type { PodWithStatus } from './data-plane.js';

const enabled = { name: 'shop', annotations: { 'weft.dev/inject': 'enabled' } };
const meshed = (name: string, ready: boolean, version = '0.1.0'): PodWithStatus => ({
  metadata: { name, annotations: { 'weft.dev/proxy-version': version } },
  spec: { initContainers: [{ name: 'weft-init' }, { name: 'weft-proxy', restartPolicy: 'Always' }], containers: [{ name: 'app' }] },
  status: { phase: 'Running', initContainerStatuses: [{ name: 'weft-init', ready: false }, { name: 'weft-proxy', ready }] },
});
const plain = (name: string, annotations: Record<string, string> = {}, phase = 'Running'): PodWithStatus => ({ metadata: { name, annotations }, spec: { containers: [{ name: 'app' }] }, status: { phase } });

test('a pod that should be meshed but has no proxy and no skip reason is reported missing (created while the webhook was down)', () => {
  const f = dataPlaneFindings([meshed('a', true), plain('b'), plain('c', { 'weft.dev/inject-skipped': 'hostNetwork' }), plain('d', { 'weft.dev/inject': 'disabled' }), plain('e', {}, 'Succeeded')], enabled, '0.1.0');
  assert.deepEqual(f.missingProxy, ['b']);
  assert.deepEqual(f.skipped, [{ pod: 'c', reason: 'hostNetwork' }]);
  assert.deepEqual(f.meshed, ['a']);
});

test('in a namespace without the annotation only pods that ask for the proxy are expected to have it', () => {
  const f = dataPlaneFindings([plain('b'), plain('c', { 'weft.dev/inject': 'enabled' })], { name: 'plain' }, '0.1.0');
  assert.deepEqual(f.missingProxy, ['c']);
});

test('meshed pods with a proxy not ready, or of another version, are reported', () => {
  const f = dataPlaneFindings([meshed('a', false), meshed('b', true, '0.0.9'), meshed('c', true)], enabled, '0.1.0');
  assert.deepEqual(f.proxyNotReady, ['a']);
  assert.deepEqual(f.wrongVersion, [{ pod: 'b', version: '0.0.9' }]);
});

test('check output shows every failure with its problem and fix, and counts them', () => {
  const c = (section: string, name: string): Check => ({ section, name, run: () => Promise.resolve({ ok: true }) });
  const text = formatResults([
    { check: c('a', 'one'), result: { ok: true, detail: 'fine' } },
    { check: c('a', 'two'), result: { ok: false, problem: 'broken', hint: 'mend it' } },
  ]);
  assert.match(text, /√ one \(fine\)/);
  assert.match(text, /× two\n {4}broken\n {4}fix: mend it/);
  assert.match(text, /1 of 2 failed/);
});

test('a warning is printed with its problem and fix but does not fail the run', () => {
  const c = (section: string, name: string): Check => ({ section, name, run: () => Promise.resolve({ ok: true }) });
  const results = [
    { check: c('a', 'one'), result: { ok: true as const } },
    { check: c('a', 'routes'), result: { ok: false as const, problem: 'HTTPRoute x/y: ResolvedRefs=False BackendNotFound', hint: 'fix the backendRef', warning: true as const } },
  ];
  const text = formatResults(results);
  assert.match(text, /‼ routes\n {4}HTTPRoute x\/y: ResolvedRefs=False BackendNotFound\n {4}fix: fix the backendRef/);
  assert.match(text, /Status check results are √ \(2 checks, 1 warning\)/);
  const json = JSON.parse(formatResultsJson(results)) as { ok: boolean; failed: number; warnings: number; checks: { warning?: boolean }[] };
  assert.deepEqual([json.ok, json.failed, json.warnings, json.checks[1]?.warning], [true, 0, 1, true]);
});

test('check flags: unknown flags, bad durations and --pre with -n are refused', () => {
  const unknown = parseCheckArgs(['--proxy']);
  assert.ok(!unknown.ok && /unknown option '--proxy'/.test(unknown.text));
  assert.ok(!parseCheckArgs(['--wait', 'soon']).ok);
  assert.ok(!parseCheckArgs(['--pre', '-n', 'x']).ok);
  const ok = parseCheckArgs(['-n', 'shop', '--wait', '2m']);
  assert.ok(ok.ok && ok.namespace === 'shop' && ok.waitMs === 120_000);
});

test('uninstall lists webhooks first and CRDs last, names only; --keep-crds leaves the CRDs', () => {
  const all = uninstallObjects(false);
  assert.equal(all[0]?.kind, 'MutatingWebhookConfiguration');
  assert.equal(all.at(-1)?.kind, 'CustomResourceDefinition');
  assert.ok(all.every((o) => Object.keys(o).join() === 'apiVersion,kind,metadata' && Object.keys(o.metadata).join() === 'name'));
  assert.ok(all.some((o) => o.kind === 'Namespace' && o.metadata.name === 'weft-system'));
  assert.equal(uninstallObjects(true).filter((o) => o.kind === 'CustomResourceDefinition').length, 0);
});

test('a Service with a bad failure-accrual annotation is reported naming the annotation and why; good and absent ones are not', () => {
  const svc = (name: string, annotations?: Record<string, string>) => ({ metadata: { name, ...(annotations !== undefined ? { annotations } : {}) } });
  const f = failureAccrualFindings([
    svc('plain'),
    svc('good', { 'config.weft.dev/failure-accrual': 'consecutive', 'config.weft.dev/failure-accrual-max-failures': '5' }),
    svc('typo', { 'config.weft.dev/failure-accrual': 'consecutive', 'config.weft.dev/failure-accrual-max-failures': 'five' }),
    svc('orphan', { 'config.weft.dev/failure-accrual-min-penalty': '2s' }),
  ]);
  assert.deepEqual(f.map((x) => x.service), ['typo', 'orphan']);
  assert.match(f[0]!.problems.join(), /^config\.weft\.dev\/failure-accrual-max-failures: "five" must be an integer from 1 to 1000/);
  assert.match(f[1]!.problems.join(), /config\.weft\.dev\/failure-accrual-min-penalty set without config\.weft\.dev\/failure-accrual: consecutive/);
});
