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
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAlias, parseAllDocuments, visit } from 'yaml';
import { DEFAULT_VALUES, formatObjects, parseInstallArgs, runInstallCommand } from './command.js';
import { loadCrds } from './crds.js';
import { judgeGatewayApi } from './gateway-api.js';
import { buildPki, PkiError, webhookTlsProblem, webhookTlsUsable } from './pki.js';
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

test('golden: the default install manifests (what `weft install` prints after `--crds`)', () => {
  const objs = renderInstall({ ...DEFAULT_VALUES, crds: [] }, FAKE_PKI);
  golden('install-default.golden.yaml', formatObjects(objs, 'yaml', 'golden'));
});

test('golden: the HA install manifests', () => {
  const objs = renderInstall({ ...DEFAULT_VALUES, ha: true, image: 'registry.example/weft:dev', crds: [] }, FAKE_PKI);
  golden('install-ha.golden.yaml', formatObjects(objs, 'yaml', 'golden'));
});

test('`weft install --crds` prints exactly the CRDs of manifests/crds; `weft install` everything else', async () => {
  const crds = await run(['install', '--crds', '-o', 'json']);
  assert.equal(crds.code, 0, crds.err);
  const items = (JSON.parse(crds.out) as { items: KubeObject[] }).items;
  assert.deepEqual(crdNames(items).sort(), [
    'authorizationpolicies.policy.weft.dev', 'faultinjections.policy.weft.dev', 'inboundlimitpolicies.policy.weft.dev', 'meshtlsauthentications.policy.weft.dev',
    'networkauthentications.policy.weft.dev', 'servers.policy.weft.dev',
  ]);
  assert.equal(items.length, 6);
  assert.deepEqual(items, loadCrds());
  const rest = await run(['install', '--ignore-cluster', '-o', 'json']);
  assert.equal(rest.code, 0, rest.err);
  const restItems = (JSON.parse(rest.out) as { items: KubeObject[] }).items;
  assert.deepEqual(crdNames(restItems), []);
  assert.ok(restItems.some((o) => o.kind === 'Deployment'));
  const upgradeCrds = await run(['upgrade', '--crds']);
  assert.equal(upgradeCrds.code, 0, upgradeCrds.err);
  assert.equal(docs(upgradeCrds.out).length, 6);
});

test('RBAC is least privilege: the injector only reads namespaces; the controller writes only route (HTTP, GRPC, TLS), GatewayClass, Gateway, ListenerSet, BackendTLSPolicy, XBackendTrafficPolicy and InboundLimitPolicy status, TokenReviews, its Lease and the gateways\' ServiceAccounts, Deployments and Services', () => {
  const objs = renderInstall({ ...DEFAULT_VALUES, crds: [] }, FAKE_PKI);
  type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
  const rules = (kind: string, name: string) => (objs.find((o) => o.kind === kind && o.metadata.name === name)?.['rules'] ?? []) as Rule[];
  assert.deepEqual(rules('ClusterRole', 'weft-injector'), [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] }]);
  const writes = [...rules('ClusterRole', 'weft-controller'), ...rules('Role', 'weft-controller')]
    .filter((r) => r.verbs.some((v) => !['get', 'list', 'watch'].includes(v)))
    .flatMap((r) => r.resources);
  assert.deepEqual(writes.sort(), ['backendtlspolicies/status', 'deployments', 'gatewayclasses/status', 'gateways/status', 'grpcroutes/status', 'httproutes/status', 'inboundlimitpolicies/status', 'leases', 'leases', 'listenersets/status', 'serviceaccounts', 'services', 'tlsroutes/status', 'tokenreviews', 'xbackendtrafficpolicies/status']);
  const secrets = rules('Role', 'weft-controller').find((r) => r.resources.includes('secrets'));
  assert.deepEqual(secrets?.resourceNames, ['weft-identity-issuer']);
  // Cluster-wide Secret access is read only: Gateways' certificateRefs may name a Secret in any namespace.
  assert.deepEqual(rules('ClusterRole', 'weft-controller').filter((r) => r.resources.includes('secrets')), [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch'] }], 'cluster-wide Secret access is read only');
  assert.equal(rules('ClusterRole', 'weft-controller').some((r) => r.verbs.includes('delete') || r.verbs.includes('update') && !r.resources.every((x) => x.endsWith('/status'))), false, 'the gateway objects are applied, never deleted (owner references do)');
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
  assert.deepEqual(judgeGatewayApi(both('v1.7.0')), { ok: true, version: 'v1.7.0', detail: 'v1.7.0' });
  const older = judgeGatewayApi(both('v1.6.1'));
  assert.ok(older.ok);
  assert.match(older.detail, /^v1\.6\.1 \(older than v1\.7\.0, the release Weft is tested with/);
  assert.equal(judgeGatewayApi(both('v1.4.0')).ok, true);
  const newer = judgeGatewayApi(both('v1.8.2'));
  assert.ok(newer.ok);
  assert.match(newer.detail, /^v1\.8\.2 \(newer than v1\.7\.0.*reported in the route's status/);
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

test('the Gateway API CRDs of ../shared are accepted: v1.7.0 (tested) and v1.6.1 (older, said so)', async () => {
  const { parse } = await import('yaml');
  for (const [release, detail] of [['v1.7.0', /^v1\.7\.0$/], ['v1.6.1', /^v1\.6\.1 \(older than v1\.7\.0/]] as const) {
    for (const channel of ['standard', 'experimental']) {
      const dir = join(REPO_ROOT, '..', 'shared', 'gateway-api', release, 'crds', channel);
      const read = (n: string) => parse(readFileSync(join(dir, `gateway.networking.k8s.io_${n}.yaml`), 'utf8')) as object;
      const v = judgeGatewayApi({ 'httproutes.gateway.networking.k8s.io': read('httproutes'), 'grpcroutes.gateway.networking.k8s.io': read('grpcroutes') });
      assert.ok(v.ok, `${release} ${channel}`);
      assert.equal(v.version, release);
      assert.match(v.detail, detail);
    }
  }
});

test('a generated PKI chains issuer -> anchor and webhook certificates to the CA bundle for the Service names', async () => {
  const pki = await buildPki({ trustDomain: 'cluster.local' });
  const anchor = new X509Certificate(pki.anchorsPem);
  const issuer = new X509Certificate(pki.issuer?.certPem ?? '');
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
  assert.ok(new X509Certificate(pki.issuer?.certPem ?? '').verify(new X509Certificate(anchor.certPem).publicKey));
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

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const [mode, ...rest] = argv;
  const code = await runInstallCommand(mode === 'upgrade' ? 'upgrade' : 'install', rest, { out: (t) => { out += t; }, err: (t) => { err += t; } });
  return { code, out, err };
}

function docs(yamlText: string): KubeObject[] {
  return parseAllDocuments(yamlText).map((d) => d.toJS() as KubeObject).filter((o) => o !== null);
}

/** Every alias (`*a1`) in a multi-document YAML text; yaml marks the anchored node with `&a1`. */
function aliasesIn(yamlText: string): string[] {
  const found: string[] = [];
  for (const doc of parseAllDocuments(yamlText)) {
    visit(doc, { Alias(_, node) { if (isAlias(node)) found.push(node.source); } });
  }
  return found;
}

/** A PKI written as install's flags read it: anchor, issuer and key, and the two webhook directories. */
async function pkiFiles(): Promise<{ dir: string; flags: string[]; issuerKeyPem: string; anchorPem: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-install-test-'));
  const pki = await buildPki({ trustDomain: 'cluster.local' });
  const write = (name: string, text: string) => { writeFileSync(join(dir, name), text); return join(dir, name); };
  for (const [sub, tls] of [['injector', pki.injectorTls], ['controller', pki.controllerWebhookTls]] as const) {
    mkdirSync(join(dir, sub));
    write(`${sub}/ca.crt`, tls.caPem);
    write(`${sub}/tls.crt`, tls.certPem);
    write(`${sub}/tls.key`, tls.keyPem);
  }
  const flags = [
    '--identity-trust-anchor', write('anchor.crt', pki.anchorsPem),
    '--identity-issuer', write('issuer.crt', pki.issuer?.certPem ?? ''), '--identity-issuer-key', write('issuer.key', pki.issuer?.keyPem ?? ''),
    '--injector-tls', join(dir, 'injector'), '--controller-webhook-tls', join(dir, 'controller'),
  ];
  return { dir, flags, issuerKeyPem: pki.issuer?.keyPem ?? '', anchorPem: pki.anchorsPem };
}

test('the same PKI renders the same bytes twice (YAML and JSON); the webhook Secrets hold the supplied certificates', async (t) => {
  const { dir, flags } = await pkiFiles();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const output of ['yaml', 'json']) {
    const a = await run(['install', '--ignore-cluster', '-o', output, ...flags]);
    const b = await run(['install', '--ignore-cluster', '-o', output, ...flags]);
    assert.equal(a.code, 0, a.err);
    assert.equal(b.code, 0, b.err);
    assert.ok(a.out.length > 10_000);
    assert.equal(a.out, b.out, `two ${output} renders with the same inputs differ`);
  }
  const objs = docs((await run(['install', '--ignore-cluster', ...flags])).out);
  const secret = objs.find((o) => o.kind === 'Secret' && o.metadata.name === 'weft-injector-tls') as { data: Record<string, string> } | undefined;
  assert.equal(Buffer.from(secret?.data['tls.crt'] ?? '', 'base64').toString(), readFileSync(join(dir, 'injector', 'tls.crt'), 'utf8').replace(/\r\n/g, '\n'));
});

test('a supplied webhook certificate that does not fit is refused, naming the flag and the cause', async (t) => {
  const { dir, flags } = await pkiFiles();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // The controller's certificate given as the injector's: it names the wrong Service.
  const swapped = flags.map((f) => (f === join(dir, 'injector') ? join(dir, 'controller') : f));
  const r = await run(['install', '--ignore-cluster', ...swapped]);
  assert.equal(r.code, 1);
  assert.match(r.err, /--injector-tls: tls\.crt does not name weft-injector\.weft-system\.svc/);
  assert.equal(r.out, '', 'nothing is printed when refused');
  writeFileSync(join(dir, 'controller', 'tls.key'), readFileSync(join(dir, 'injector', 'tls.key')));
  const k = await run(['install', '--ignore-cluster', ...flags]);
  assert.equal(k.code, 1);
  assert.match(k.err, /--controller-webhook-tls: tls\.key is not the key of tls\.crt/);
  const missing = await run(['install', '--ignore-cluster', '--injector-tls', join(dir, 'nope')]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /--injector-tls: cannot read .*nope\/ca\.crt/);
  assert.equal(webhookTlsProblem({ certPem: 'x', keyPem: 'y', caPem: 'z' }, 'a', new Date())?.startsWith('tls.crt is not a PEM certificate'), true);
});

test('output has no YAML anchors or aliases and no CR: generated and supplied PKI, default and HA', async (t) => {
  const { dir, flags } = await pkiFiles();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Supplied files with CRLF line endings are normalised too.
  for (const f of ['issuer.crt', 'anchor.crt', 'injector/tls.crt']) writeFileSync(join(dir, f), readFileSync(join(dir, f), 'utf8').replace(/\r?\n/g, '\r\n'));
  for (const argv of [['install', '--ignore-cluster'], ['install', '--ignore-cluster', '--ha'], ['install', '--ignore-cluster', ...flags], ['install', '--crds']]) {
    const r = await run(argv);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(aliasesIn(r.out), [], `${argv.join(' ')} uses aliases`);
    assert.ok(!/&a\d|\*a\d/.test(r.out));
    assert.ok(!r.out.includes('\r'), `${argv.join(' ')} has a CR`);
    // Nor inside the base64 of the Secrets.
    for (const o of docs(r.out).filter((x) => x.kind === 'Secret')) {
      for (const [k, v] of Object.entries((o as unknown as { data: Record<string, string> }).data)) assert.ok(!Buffer.from(v, 'base64').toString().includes('\r'), `${o.metadata.name} ${k} has a CR`);
    }
  }
  // The old renderer's aliases would have been caught: the same objects with aliasing on do produce them.
  const { stringify } = await import('yaml');
  const objs = renderInstall({ ...DEFAULT_VALUES, crds: [] }, FAKE_PKI);
  assert.ok(aliasesIn(objs.map((o) => stringify(o)).join('---\n')).length > 0);
});

test('external issuer: no issuer Secret and never its key, even when the key was read from the cluster', async (t) => {
  const { dir, issuerKeyPem, anchorPem } = await pkiFiles();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await run(['install', '--ignore-cluster', '--identity-external-issuer', '--identity-trust-anchor', join(dir, 'anchor.crt')]);
  assert.equal(r.code, 0, r.err);
  const objs = docs(r.out);
  assert.equal(objs.some((o) => o.metadata.name === 'weft-identity-issuer'), false);
  assert.equal((objs.find((o) => o.metadata.name === 'weft-identity-trust-anchors') as { data: Record<string, string> } | undefined)?.data['ca.crt'], anchorPem.replace(/\r\n/g, '\n'));
  const values = JSON.parse((objs.find((o) => o.metadata.name === 'weft-install') as unknown as { data: Record<string, string> }).data['values.json'] ?? '{}') as { externalIssuer?: boolean };
  assert.equal(values.externalIssuer, true, 'stored, so weft upgrade keeps the issuer external');
  // What install does with the cert-manager Secret it reads: checked, then dropped.
  const issuer = { certPem: readFileSync(join(dir, 'issuer.crt'), 'utf8'), keyPem: issuerKeyPem };
  const pki = await buildPki({ trustDomain: 'cluster.local', anchorCertPem: anchorPem, issuer, externalIssuer: true });
  assert.equal(pki.issuer, undefined);
  const text = formatObjects(renderInstall({ ...DEFAULT_VALUES, externalIssuer: true, crds: [] }, pki), 'yaml', 'x');
  const keyBody = issuerKeyPem.replace(/\r\n/g, '\n');
  assert.ok(!text.includes(Buffer.from(keyBody).toString('base64')) && !text.includes(keyBody.split('\n')[1] ?? 'x'));
  for (const o of docs(text).filter((x) => x.kind === 'Secret')) {
    assert.ok(['weft-injector-tls', 'weft-controller-webhook-tls'].includes(o.metadata.name), `unexpected Secret ${o.metadata.name}`);
  }
  // An external issuer from another anchor is refused; without anchors it cannot render.
  const other = await createTrustAnchor({ trustDomain: 'cluster.local' });
  await assert.rejects(buildPki({ trustDomain: 'cluster.local', anchorCertPem: other.certPem, issuer, externalIssuer: true }), PkiError);
  const none = await run(['install', '--ignore-cluster', '--identity-external-issuer']);
  assert.equal(none.code, 1);
  assert.match(none.err, /external issuer needs its trust anchors/);
  const mixed = await run(['install', '--ignore-cluster', '--identity-external-issuer', '--identity-issuer', join(dir, 'issuer.crt'), '--identity-issuer-key', join(dir, 'issuer.key')]);
  assert.equal(mixed.code, 2);
  assert.match(mixed.err, /--identity-external-issuer: the issuer and its key live in the external Secret/);
});
