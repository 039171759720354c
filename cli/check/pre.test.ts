import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeKubernetesVersion, judgeOtherInjectors, judgePodSecurity } from './pre.js';
import { formatResultsJson, parseCheckArgs } from './command.js';
import type { Check } from './command.js';

test('Kubernetes 1.29 or newer passes; 1.28 fails naming native sidecars; provider suffixes are read', () => {
  assert.deepEqual(judgeKubernetesVersion({ major: '1', minor: '36', gitVersion: 'v1.36.3' }), { ok: true, detail: 'v1.36.3' });
  assert.ok(judgeKubernetesVersion({ major: '1', minor: '29+', gitVersion: 'v1.29.4-eks-1' }).ok);
  const old = judgeKubernetesVersion({ major: '1', minor: '28', gitVersion: 'v1.28.9' });
  assert.ok(!old.ok && /v1\.28\.9 is older than 1\.29: the proxy runs as a native sidecar/.test(old.problem));
  assert.ok(!judgeKubernetesVersion({ gitVersion: 'weird' }).ok);
});

test('Pod Security: an annotated namespace enforcing baseline or restricted fails, naming it and the fix', () => {
  const ns = (name: string, enforce?: string, annotated = true) => ({
    metadata: { name, labels: enforce === undefined ? {} : { 'pod-security.kubernetes.io/enforce': enforce }, annotations: annotated ? { 'weft.dev/inject': 'enabled' } : {} },
  });
  assert.ok(judgePodSecurity([ns('a'), ns('b', 'privileged'), ns('c', 'restricted', false)]).ok, 'privileged, unlabelled, or not annotated');
  const v = judgePodSecurity([ns('shop', 'baseline'), ns('bank', 'restricted'), ns('ok')]);
  assert.ok(!v.ok);
  assert.match(v.problem, /reject injected pods in: shop \(baseline\), bank \(restricted\); proxy-init runs as root with NET_ADMIN and NET_RAW/);
  assert.equal(v.hint, 'kubectl label namespace shop pod-security.kubernetes.io/enforce=privileged --overwrite (or do not annotate it weft.dev/inject=enabled)');
  assert.match(judgePodSecurity([]).ok ? (judgePodSecurity([]) as { detail: string }).detail : '', /no namespace is annotated/);
});

test("another injector mutating pod creation fails; Weft's own and unrelated webhooks do not", () => {
  const mwc = (name: string, webhook: string, resources = ['pods'], operations = ['CREATE']) => ({ metadata: { name }, webhooks: [{ name: webhook, rules: [{ operations, resources }] }] });
  assert.ok(judgeOtherInjectors([mwc('weft-proxy-injector', 'inject.weft.dev'), mwc('cert-manager-webhook', 'webhook.cert-manager.io', ['certificates']), mwc('istio-sidecar-injector', 'sidecar-injector.istio.io', ['pods'], ['UPDATE'])]).ok);
  const v = judgeOtherInjectors([mwc('istio-sidecar-injector', 'rev.namespace.sidecar-injector.istio.io'), mwc('linkerd-proxy-injector-webhook-config', 'linkerd-proxy-injector.linkerd.io', ['*'], ['*'])]);
  assert.ok(!v.ok);
  assert.match(v.problem, /istio-sidecar-injector \(webhook rev\.namespace\.sidecar-injector\.istio\.io\), linkerd-proxy-injector-webhook-config/);
});

test('weft check -o json: every check with its outcome; ok false when any failed', () => {
  const check = (name: string): Check => ({ section: 'pre-install', name, run: () => Promise.resolve({ ok: true }) });
  const text = formatResultsJson([
    { check: check('one'), result: { ok: true, detail: 'fine' } },
    { check: check('two'), result: { ok: false, problem: 'broken', hint: 'mend it' } },
  ]);
  assert.deepEqual(JSON.parse(text), {
    ok: false, failed: 1, warnings: 0,
    checks: [
      { section: 'pre-install', name: 'one', ok: true, detail: 'fine' },
      { section: 'pre-install', name: 'two', ok: false, problem: 'broken', hint: 'mend it' },
    ],
  });
  const args = parseCheckArgs(['--pre', '-o', 'json']);
  assert.ok(args.ok && args.output === 'json' && args.pre);
  assert.ok(!parseCheckArgs(['-o', 'yaml']).ok);
});
