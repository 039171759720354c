/**
 * Install without a cluster: the rendered manifests against a golden file (certificates replaced by
 * fixed placeholders), least-privilege RBAC, HA settings, the Gateway API version rule, and the PKI
 * rules that keep the trust anchor across upgrades.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertificateAuthority, createTrustAnchor } from '../../identity/ca.js';
import { REPO_ROOT } from '../../test/support/paths.js';
import { DEFAULT_VALUES, formatObjects, parseInstallArgs } from './command.js';
import { loadCrds } from './crds.js';
import { judgeGatewayApi } from './gateway-api.js';
import { buildPki, PkiError, webhookTlsUsable } from './pki.js';
import { renderInstall } from './render.js';
import type { InstallPki, KubeObject } from './render.js';

const UPDATE = process.env['WEFT_UPDATE_GOLDEN'] === '1';
const FAKE_PKI: InstallPki = {
  anchorsPem: 'ANCHORS-PEM\n',
  issuer: { certPem: 'ISSUER-CERT\n', keyPem: 'ISSUER-KEY\n' },
  injectorTls: { certPem: 'INJECTOR-CERT\n', keyPem: 'INJECTOR-KEY\n', caPem: 'WEBHOOK-CA\n' },
  controllerWebhookTls: { certPem: 'CONTROLLER-CERT\n', keyPem: 'CONTROLLER-KEY\n', caPem: 'WEBHOOK-CA\n' },
};

function golden(name: string, actual: string): void {
  const path = join(REPO_ROOT, 'manifests', 'testdata', name);
  if (UPDATE) writeFileSync(path, actual);
  assert.equal(actual, readFileSync(path, 'utf8'), `${path} differs (WEFT_UPDATE_GOLDEN=1 refreshes it; review the diff)`);
}

const crdNames = (objs: readonly KubeObject[]) => objs.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name);

test('golden: the default install manifests (CRDs elided to their names)', () => {
  const objs = renderInstall({ ...DEFAULT_VALUES, crds: loadCrds() }, FAKE_PKI);
  const shown = objs.map((o) => (o.kind === 'CustomResourceDefinition' ? { apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name } } : o));
  golden('install-default.golden.yaml', formatObjects(shown, 'yaml', 'golden'));
});

test('golden: the HA install manifests', () => {
  const objs = renderInstall({ ...DEFAULT_VALUES, ha: true, image: 'registry.example/weft:dev', crds: [] }, FAKE_PKI);
  golden('install-ha.golden.yaml', formatObjects(objs, 'yaml', 'golden'));
});

test('install packages every CRD of manifests/crds, before anything that uses them', () => {
  const objs = renderInstall({ ...DEFAULT_VALUES, crds: loadCrds() }, FAKE_PKI);
  assert.deepEqual(crdNames(objs).sort(), [
    'authorizationpolicies.policy.weft.dev', 'meshtlsauthentications.policy.weft.dev', 'networkauthentications.policy.weft.dev', 'servers.policy.weft.dev',
  ]);
  assert.ok(objs.slice(0, 4).every((o) => o.kind === 'CustomResourceDefinition'));
});

test('RBAC is least privilege: the injector only reads namespaces; the controller never writes anything but route status, TokenReviews and its Lease', () => {
  const objs = renderInstall({ ...DEFAULT_VALUES, crds: [] }, FAKE_PKI);
  type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
  const rules = (kind: string, name: string) => (objs.find((o) => o.kind === kind && o.metadata.name === name)?.['rules'] ?? []) as Rule[];
  assert.deepEqual(rules('ClusterRole', 'weft-injector'), [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] }]);
  const writes = [...rules('ClusterRole', 'weft-controller'), ...rules('Role', 'weft-controller')]
    .filter((r) => r.verbs.some((v) => !['get', 'list', 'watch'].includes(v)))
    .flatMap((r) => r.resources);
  assert.deepEqual(writes.sort(), ['grpcroutes/status', 'httproutes/status', 'leases', 'leases', 'tokenreviews']);
  const secrets = rules('Role', 'weft-controller').find((r) => r.resources.includes('secrets'));
  assert.deepEqual(secrets?.resourceNames, ['weft-identity-issuer']);
  assert.equal(rules('ClusterRole', 'weft-controller').some((r) => r.resources.includes('secrets')), false, 'no cluster-wide Secret access');
});

test('--ha sets failurePolicy Fail, two replicas and disruption budgets; the default is Ignore and one replica', () => {
  for (const ha of [false, true]) {
    const objs = renderInstall({ ...DEFAULT_VALUES, ha, crds: [] }, FAKE_PKI);
    const hooks = objs.filter((o) => o.kind.endsWith('WebhookConfiguration')).flatMap((o) => o['webhooks'] as { failurePolicy: string }[]);
    assert.deepEqual(new Set(hooks.map((h) => h.failurePolicy)), new Set([ha ? 'Fail' : 'Ignore']));
    const replicas = objs.filter((o) => o.kind === 'Deployment').map((o) => (o['spec'] as { replicas: number }).replicas);
    assert.deepEqual(replicas, [ha ? 2 : 1, ha ? 2 : 1]);
    assert.equal(objs.filter((o) => o.kind === 'PodDisruptionBudget').length, ha ? 2 : 0);
  }
});

test('the mutating webhook never sees weft-system or kube-system pods, and carries the webhook CA bundle', () => {
  const objs = renderInstall({ ...DEFAULT_VALUES, crds: [] }, FAKE_PKI);
  const mwc = objs.find((o) => o.kind === 'MutatingWebhookConfiguration');
  const hook = (mwc?.['webhooks'] as { namespaceSelector: unknown; clientConfig: { caBundle: string } }[])[0];
  assert.deepEqual(hook?.namespaceSelector, { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['weft-system', 'kube-system'] }] });
  assert.equal(Buffer.from(hook?.clientConfig.caBundle ?? '', 'base64').toString(), 'WEBHOOK-CA\n');
});

test('Gateway API: missing CRDs, missing or old bundle versions and v2 are refused with how to install; v1.4+ within v1 passes', () => {
  const crd = (v?: string) => ({ metadata: { annotations: v === undefined ? {} : { 'gateway.networking.k8s.io/bundle-version': v } } });
  const both = (v?: string) => ({ 'httproutes.gateway.networking.k8s.io': crd(v), 'grpcroutes.gateway.networking.k8s.io': crd(v) });
  assert.deepEqual(judgeGatewayApi(both('v1.6.1')), { ok: true, version: 'v1.6.1' });
  assert.equal(judgeGatewayApi(both('v1.4.0')).ok, true);
  for (const [input, problem] of [
    [{ 'httproutes.gateway.networking.k8s.io': crd('v1.6.1') }, /grpcroutes.gateway.networking.k8s.io are not installed/],
    [both('v1.3.0'), /v1.3.0 .* is not supported/],
    [both('v2.0.0'), /v2.0.0 .* is not supported/],
    [both(undefined), /no gateway.networking.k8s.io\/bundle-version annotation/],
    [{ 'httproutes.gateway.networking.k8s.io': crd('v1.6.1'), 'grpcroutes.gateway.networking.k8s.io': crd('v1.5.0') }, /different releases/],
  ] as const) {
    const v = judgeGatewayApi(input);
    assert.ok(!v.ok);
    assert.match(v.problem, problem);
    assert.match(v.hint, /kubectl apply --server-side -f https:\/\/github.com\/kubernetes-sigs\/gateway-api\/releases/);
  }
});

test('the Gateway API CRDs of ../shared (v1.6.1) are accepted', async () => {
  const { parse } = await import('yaml');
  const dir = join(REPO_ROOT, '..', 'shared', 'gateway-api', 'v1.6.1', 'crds', 'standard');
  const read = (n: string) => parse(readFileSync(join(dir, `gateway.networking.k8s.io_${n}.yaml`), 'utf8')) as object;
  assert.deepEqual(judgeGatewayApi({ 'httproutes.gateway.networking.k8s.io': read('httproutes'), 'grpcroutes.gateway.networking.k8s.io': read('grpcroutes') }), { ok: true, version: 'v1.6.1' });
});

test('a generated PKI chains issuer -> anchor and webhook certificates to the CA bundle for the Service names', async () => {
  const pki = await buildPki({ trustDomain: 'cluster.local' });
  const anchor = new X509Certificate(pki.anchorsPem);
  const issuer = new X509Certificate(pki.issuer.certPem);
  assert.ok(issuer.verify(anchor.publicKey));
  assert.ok(issuer.ca);
  assert.ok(webhookTlsUsable(pki.injectorTls, 'weft-injector.weft-system.svc', new Date()));
  assert.ok(webhookTlsUsable(pki.controllerWebhookTls, 'weft-controller.weft-system.svc', new Date()));
  assert.ok(!webhookTlsUsable(pki.injectorTls, 'weft-controller.weft-system.svc', new Date()), 'each certificate names its own Service');
  assert.ok(!pki.anchorsPem.includes('PRIVATE KEY'));
});

test('reusing the stored anchor and issuer keeps them byte for byte; webhook certificates are kept while valid', async () => {
  const first = await buildPki({ trustDomain: 'cluster.local' });
  const again = await buildPki({ trustDomain: 'cluster.local', anchorCertPem: first.anchorsPem, issuer: first.issuer, injectorTls: first.injectorTls, controllerWebhookTls: first.controllerWebhookTls });
  assert.equal(again.anchorsPem, first.anchorsPem);
  assert.deepEqual(again.issuer, first.issuer);
  assert.deepEqual(again.injectorTls, first.injectorTls);
  // A year and a day later the webhook certificates are renewed, the anchor still kept.
  const later = await buildPki({ trustDomain: 'cluster.local', anchorCertPem: first.anchorsPem, issuer: first.issuer, injectorTls: first.injectorTls, controllerWebhookTls: first.controllerWebhookTls, now: new Date(Date.now() + 340 * 86_400_000) });
  assert.equal(later.anchorsPem, first.anchorsPem);
  assert.notDeepEqual(later.injectorTls, first.injectorTls);
});

test('a given anchor with its key signs a new issuer; an issuer from another anchor is refused', async () => {
  const anchor = await createTrustAnchor({ trustDomain: 'cluster.local' });
  const pki = await buildPki({ trustDomain: 'cluster.local', anchorCertPem: anchor.certPem, anchorKeyPem: anchor.keyPem });
  assert.equal(pki.anchorsPem, anchor.certPem);
  assert.ok(new X509Certificate(pki.issuer.certPem).verify(new X509Certificate(anchor.certPem).publicKey));
  const other = await createTrustAnchor({ trustDomain: 'cluster.local' });
  const foreignIssuer = await CertificateAuthority.load(other).createIssuer({ trustDomain: 'cluster.local' });
  await assert.rejects(buildPki({ trustDomain: 'cluster.local', anchorCertPem: anchor.certPem, issuer: foreignIssuer }), (e: unknown) => e instanceof PkiError && /does not chain/.test(e.message));
  await assert.rejects(buildPki({ trustDomain: 'cluster.local', anchorCertPem: anchor.certPem }), PkiError);
});

test('install flags: unknown flags and bad values are reported; --no-ha and -o json parse', () => {
  const bad = parseInstallArgs('install', ['--frobnicate']);
  assert.ok(!bad.ok && !bad.help);
  assert.equal(bad.text, "weft install: unknown option '--frobnicate'\nRun 'weft install --help' for usage.\n");
  const choice = parseInstallArgs('install', ['--proxy-log-level', 'loud']);
  assert.ok(!choice.ok);
  assert.match(choice.text, /option '--proxy-log-level <level>' argument 'loud' is invalid\. Allowed choices are debug, info, warn, error\./);
  const values = parseInstallArgs('install', ['--cluster-networks', '10.0.0.0/8,nope', '--identity-issuer', '/nonexistent']);
  assert.ok(!values.ok);
  assert.equal(values.text.split('\n').filter((l) => l.includes('--')).length, 4, values.text);
  assert.ok(!parseInstallArgs('upgrade', ['--ignore-cluster']).ok, 'upgrade needs the cluster');
  const good = parseInstallArgs('upgrade', ['--no-ha', '-o', 'json']);
  assert.ok(good.ok);
  assert.equal(good.parsed.values.ha, false);
  assert.equal(good.parsed.output, 'json');
});
