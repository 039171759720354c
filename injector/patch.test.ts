/**
 * Golden-file tests of the injection patch: each injector/testdata/pods/<case>.yaml (a Namespace and a
 * Pod) is decided and patched, and the result compared with injector/testdata/golden/<case>.json.
 * Refresh the golden files with WEFT_UPDATE_GOLDEN=1 after an intended change, and review the diff.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
  CONFIG_ANNOTATIONS, IDENTITY_TOKEN_AUDIENCE, INJECT_SKIPPED_ANNOTATION, MESHED_LABEL, PROXY_CONTAINER_NAME, PROXY_ENV, PROXY_INIT_CONTAINER_NAME,
  PROXY_UID, PROXY_VERSION_ANNOTATION,
} from '../core/contract.js';
import { parseProxyConfig } from '../proxy/config.js';
import { REPO_ROOT } from '../test/support/paths.js';
import { applyPatch } from './jsonpatch.js';
import { decideInjection, PROXY_NODE_FLAGS, PROXY_RUNTIME_ENV } from './patch.js';
import type { NamespaceLike, PodLike } from './pod.js';
import { TEST_CONFIG } from './testdata/config.js';

const TESTDATA = join(REPO_ROOT, 'injector', 'testdata');
const UPDATE = process.env['WEFT_UPDATE_GOLDEN'] === '1';

interface Case { readonly name: string; readonly namespace: NamespaceLike; readonly pod: PodLike }

function loadCase(file: string): Case {
  const docs = parseAllDocuments(readFileSync(join(TESTDATA, 'pods', file), 'utf8')).map((d) => d.toJS() as Record<string, unknown>);
  const ns = docs.find((d) => d['kind'] === 'Namespace') as { metadata: { name: string; annotations?: Record<string, string> } } | undefined;
  const pod = docs.find((d) => d['kind'] === 'Pod') as PodLike | undefined;
  if (ns === undefined || pod === undefined) throw new Error(`${file}: needs a Namespace and a Pod`);
  return { name: file.replace(/\.yaml$/, ''), namespace: { name: ns.metadata.name, annotations: ns.metadata.annotations ?? {} }, pod };
}

const cases = readdirSync(join(TESTDATA, 'pods')).filter((f) => f.endsWith('.yaml')).sort().map(loadCase);

test('there are golden cases for every kind of decision', () => {
  const actions = new Set(cases.map((c) => decideInjection(c.pod, c.namespace, TEST_CONFIG).action));
  assert.deepEqual([...actions].sort(), ['inject', 'none', 'skip']);
});

for (const c of cases) {
  test(`golden: ${c.name}`, () => {
    const result = decideInjection(c.pod, c.namespace, TEST_CONFIG);
    const actual = `${JSON.stringify({ ...result, pod: applyPatch(c.pod, result.patch) }, null, 2)}\n`;
    const goldenPath = join(TESTDATA, 'golden', `${c.name}.json`);
    if (UPDATE) writeFileSync(goldenPath, actual);
    let expected: string;
    try {
      expected = readFileSync(goldenPath, 'utf8');
    } catch {
      assert.fail(`no golden file ${goldenPath}: run with WEFT_UPDATE_GOLDEN=1 and review it`);
    }
    assert.equal(actual, expected, `patch of ${c.name} differs from ${goldenPath} (WEFT_UPDATE_GOLDEN=1 refreshes it)`);
  });
}

test('injecting an injected pod again changes nothing (idempotent)', () => {
  for (const c of cases) {
    const first = decideInjection(c.pod, c.namespace, TEST_CONFIG);
    if (first.action !== 'inject') continue;
    const once = applyPatch(c.pod, first.patch);
    const second = decideInjection(once, c.namespace, TEST_CONFIG);
    assert.equal(second.action, 'none', c.name);
    assert.deepEqual(second.patch, [], c.name);
  }
});

test('a skipped pod gets only the inject-skipped annotation, saying why', () => {
  for (const c of cases) {
    const r = decideInjection(c.pod, c.namespace, TEST_CONFIG);
    if (r.action !== 'skip') continue;
    const after = applyPatch(c.pod, r.patch) as PodLike;
    assert.equal(after.metadata?.annotations?.[INJECT_SKIPPED_ANNOTATION], r.reason, c.name);
    assert.deepEqual(after.spec, c.pod.spec, c.name);
    assert.equal(after.metadata?.labels?.[MESHED_LABEL], undefined, c.name);
  }
});

test('a pod not selected is untouched', () => {
  const c = cases.find((x) => x.name === 'not-selected');
  assert.ok(c);
  const r = decideInjection(c.pod, c.namespace, TEST_CONFIG);
  assert.equal(r.action, 'none');
  assert.deepEqual(r.patch, []);
});

test('the pod annotation overrides the namespace: disabled in an enabled namespace, enabled in a plain one', () => {
  const pod = (v: string | undefined): PodLike => ({ metadata: { annotations: v === undefined ? {} : { 'weft.dev/inject': v } }, spec: { containers: [{ name: 'a' }] } });
  const enabled: NamespaceLike = { name: 'a', annotations: { 'weft.dev/inject': 'enabled' } };
  const plain: NamespaceLike = { name: 'b' };
  assert.equal(decideInjection(pod(undefined), enabled, TEST_CONFIG).action, 'inject');
  assert.equal(decideInjection(pod('disabled'), enabled, TEST_CONFIG).action, 'skip');
  assert.equal(decideInjection(pod('enabled'), plain, TEST_CONFIG).action, 'inject');
  assert.equal(decideInjection(pod(undefined), plain, TEST_CONFIG).action, 'none');
  assert.equal(decideInjection(pod(undefined), { name: 'c', annotations: { 'weft.dev/inject': 'disabled' } }, TEST_CONFIG).action, 'none');
});

/** The proxy's environment as the kubelet would resolve it for a pod with these fields. */
function resolveEnv(container: { env?: { name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }[] }): Record<string, string> {
  const fields: Record<string, string> = {
    'metadata.name': 'web-1', 'metadata.namespace': 'shop', 'status.podIP': '10.244.0.7', 'spec.serviceAccountName': 'web', 'status.hostIP': '10.244.0.1',
  };
  const out: Record<string, string> = {};
  for (const e of container.env ?? []) {
    const v = e.value ?? (e.valueFrom !== undefined ? fields[e.valueFrom.fieldRef.fieldPath] : undefined);
    assert.ok(v !== undefined, `env ${e.name} has no value the kubelet could resolve`);
    out[e.name] = v;
  }
  return out;
}

test('the proxy environment the injector sets is accepted by the proxy config module, for every injected case', () => {
  for (const c of cases) {
    const r = decideInjection(c.pod, c.namespace, TEST_CONFIG);
    if (r.action !== 'inject') continue;
    const pod = applyPatch(c.pod, r.patch) as PodLike;
    const proxy = pod.spec.initContainers?.find((x) => x.name === PROXY_CONTAINER_NAME) as Parameters<typeof resolveEnv>[0] | undefined;
    assert.ok(proxy, c.name);
    const env = resolveEnv(proxy);
    const runtime = PROXY_RUNTIME_ENV.map((e) => e.name);
    for (const name of Object.keys(env)) assert.ok((Object.values(PROXY_ENV) as string[]).includes(name) || runtime.includes(name), `${name} is a contract name`);
    assert.equal(env['NODE_OPTIONS'], PROXY_NODE_FLAGS.join(' '), `${c.name}: the proxy's V8 flags`);
    assert.equal(env['MALLOC_ARENA_MAX'], '2', c.name);
    const parsed = parseProxyConfig(env);
    assert.ok(parsed.ok, `${c.name}: ${parsed.ok ? '' : parsed.errors.join('; ')}`);
    assert.equal(parsed.config.podIp, '10.244.0.7');
    assert.equal(parsed.config.serviceAccount, 'web');
  }
});

test('proxy-init runs first as root with NET_ADMIN and NET_RAW; the proxy is a native sidecar as UID 7102 with a startupProbe', () => {
  const c = cases.find((x) => x.name === 'existing-init-containers');
  assert.ok(c);
  const r = decideInjection(c.pod, c.namespace, TEST_CONFIG);
  interface Injected {
    name: string;
    restartPolicy?: string;
    securityContext: { runAsUser: number; capabilities: { add?: string[] } };
    startupProbe?: { httpGet: { path: string } };
  }
  interface Volume { name: string; projected?: { sources: { serviceAccountToken: { audience: string } }[] } }
  const pod = applyPatch(c.pod, r.patch) as unknown as {
    spec: { initContainers: Injected[]; volumes: Volume[] };
    metadata: { labels: Record<string, string>; annotations: Record<string, string> };
  };
  assert.deepEqual(pod.spec.initContainers.map((x) => x.name), [PROXY_INIT_CONTAINER_NAME, PROXY_CONTAINER_NAME, 'migrate', 'log-shipper']);
  const [init, proxy] = pod.spec.initContainers;
  assert.ok(init && proxy);
  assert.equal(init.securityContext.runAsUser, 0);
  assert.deepEqual(init.securityContext.capabilities.add, ['NET_ADMIN', 'NET_RAW']);
  assert.equal(init.restartPolicy, undefined);
  assert.equal(proxy.restartPolicy, 'Always');
  assert.equal(proxy.securityContext.runAsUser, PROXY_UID);
  assert.equal(proxy.startupProbe?.httpGet.path, '/ready');
  const token = pod.spec.volumes.find((v) => v.name === 'weft-identity-token');
  assert.equal(token?.projected?.sources[0]?.serviceAccountToken.audience, IDENTITY_TOKEN_AUDIENCE);
  assert.equal(pod.metadata.labels[MESHED_LABEL], 'true');
  assert.equal(pod.metadata.annotations[PROXY_VERSION_ANNOTATION], TEST_CONFIG.proxyVersion);
  assert.equal(pod.metadata.annotations['team'], 'orders', 'existing annotations are kept');
});

test('injecting a previously skipped pod removes the inject-skipped annotation', () => {
  const pod: PodLike = { metadata: { annotations: { [INJECT_SKIPPED_ANNOTATION]: 'earlier reason' } }, spec: { containers: [{ name: 'a' }] } };
  const r = decideInjection(pod, { name: 'x', annotations: { 'weft.dev/inject': 'enabled' } }, TEST_CONFIG);
  const after = applyPatch(pod, r.patch);
  assert.equal(after.metadata?.annotations?.[INJECT_SKIPPED_ANNOTATION], undefined);
});

test('a pod template without metadata (a CronJob\'s) is injected and skipped with valid patches', () => {
  const pod: PodLike = { spec: { containers: [{ name: 'job', image: 'busybox' }] } };
  const injected = applyPatch(pod, decideInjection(pod, { name: 'x', annotations: { 'weft.dev/inject': 'enabled' } }, TEST_CONFIG).patch);
  assert.equal(injected.metadata?.labels?.[MESHED_LABEL], 'true');
  const skipped = applyPatch({ ...pod, spec: { ...pod.spec, hostNetwork: true } }, decideInjection({ ...pod, spec: { ...pod.spec, hostNetwork: true } }, { name: 'x', annotations: { 'weft.dev/inject': 'enabled' } }, TEST_CONFIG).patch);
  assert.match(skipped.metadata?.annotations?.[INJECT_SKIPPED_ANNOTATION] ?? '', /host network/);
});

test('the headers-with-underscores annotation reaches the proxy as its env; unset leaves the proxy default; a bad value is an error', () => {
  const pod = (v: string | undefined): PodLike => ({
    metadata: { annotations: { 'weft.dev/inject': 'enabled', ...(v === undefined ? {} : { [CONFIG_ANNOTATIONS.headersWithUnderscores]: v }) } },
    spec: { containers: [{ name: 'a' }] },
  });
  const ns: NamespaceLike = { name: 'shop' };
  for (const v of [undefined, 'reject', 'allow', 'drop']) {
    const r = decideInjection(pod(v), ns, TEST_CONFIG);
    assert.equal(r.action, 'inject', String(v));
    if (r.action !== 'inject') continue;
    const injected = applyPatch(pod(v), r.patch) as PodLike;
    const proxy = injected.spec.initContainers?.find((x) => x.name === PROXY_CONTAINER_NAME) as Parameters<typeof resolveEnv>[0] | undefined;
    assert.ok(proxy);
    const parsed = parseProxyConfig(resolveEnv(proxy));
    assert.ok(parsed.ok);
    assert.equal(parsed.config.limits.headersWithUnderscores, v ?? 'drop', String(v));
  }
  const bad = decideInjection(pod('strip'), ns, TEST_CONFIG);
  assert.notEqual(bad.action, 'inject');
  assert.match(JSON.stringify(bad), /headers-with-underscores/);
});
