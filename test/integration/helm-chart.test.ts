/**
 * charts/weft against `weft install`: for the same values and certificates, `helm template` (the real
 * helm, built from helm.sh/helm/v3 by test/cluster/helm-build.ts) renders the same objects as
 * `weft install --ignore-cluster` (compared object by object, parsed), and with `--include-crds` the
 * same CRDs as `weft install --crds`; `helm lint --strict` passes; a missing certificate fails naming
 * the value. No cluster: both render offline.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { WEFT_VERSION } from '../../core/contract.js';
import { runInstallCommand } from '../../cli/install/command.js';
import { loadCrds } from '../../cli/install/crds.js';
import { buildPki } from '../../cli/install/pki.js';
import type { KubeObject } from '../../cli/install/render.js';
import { ensureHelm } from '../cluster/helm-build.js';
import { REPO_ROOT } from '../support/paths.js';

const CHART = join(REPO_ROOT, 'charts', 'weft');
let helm = '';
let dir = '';
let pkiFlags: string[] = [];
let pkiValues: Record<string, unknown> = {};

before(async () => {
  const started = Date.now();
  helm = await ensureHelm((line) => process.stdout.write(`# ${line}\n`));
  process.stdout.write(`# helm: ${helm} in ${Date.now() - started} ms\n`);
  dir = mkdtempSync(join(tmpdir(), 'weft-helm-test-'));
  const pki = await buildPki({ trustDomain: 'cluster.local' });
  const write = (name: string, text: string) => { writeFileSync(join(dir, name), text); return join(dir, name); };
  for (const [sub, tls] of [['injector', pki.injectorTls], ['controller', pki.controllerWebhookTls]] as const) {
    mkdirSync(join(dir, sub));
    write(`${sub}/ca.crt`, tls.caPem);
    write(`${sub}/tls.crt`, tls.certPem);
    write(`${sub}/tls.key`, tls.keyPem);
  }
  pkiFlags = [
    '--identity-trust-anchor', write('anchor.crt', pki.anchorsPem),
    '--identity-issuer', write('issuer.crt', pki.issuer?.certPem ?? ''), '--identity-issuer-key', write('issuer.key', pki.issuer?.keyPem ?? ''),
    '--injector-tls', join(dir, 'injector'), '--controller-webhook-tls', join(dir, 'controller'),
  ];
  // The chart is given the files as they are (node-forge writes CRLF); both normalise to LF.
  const webhook = (t: { caPem: string; certPem: string; keyPem: string }) => ({ caPEM: t.caPem, crtPEM: t.certPem, keyPEM: t.keyPem });
  pkiValues = {
    identity: { trustAnchorsPEM: pki.anchorsPem, issuer: { crtPEM: pki.issuer?.certPem, keyPEM: pki.issuer?.keyPem } },
    webhooks: { injector: webhook(pki.injectorTls), controller: webhook(pki.controllerWebhookTls) },
  };
}, { timeout: 1_800_000 });

after(() => { if (dir !== '') rmSync(dir, { recursive: true, force: true }); });

function exec(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function weftInstall(argv: string[]): Promise<string> {
  let out = '';
  let err = '';
  const code = await runInstallCommand('install', argv, { out: (t) => { out += t; }, err: (t) => { err += t; } });
  assert.equal(code, 0, `weft install ${argv.join(' ')}: ${err}`);
  return out;
}

function valuesFile(name: string, values: Record<string, unknown>): string {
  const path = join(dir, `${name}.values.json`);
  writeFileSync(path, JSON.stringify(values));
  return path;
}

async function helmTemplate(values: string, extra: string[] = []): Promise<string> {
  const r = await exec(helm, ['template', 'weft', CHART, '--namespace', 'weft-system', '-f', values, ...extra]);
  assert.equal(r.code, 0, `helm template: ${r.stderr}`);
  return r.stdout;
}

function objects(yamlText: string): KubeObject[] {
  return parseAllDocuments(yamlText).map((d) => {
    assert.deepEqual(d.errors, []);
    return d.toJS() as KubeObject | null;
  }).filter((o): o is KubeObject => o !== null);
}

const key = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

function assertSameObjects(fromHelm: KubeObject[], fromWeft: KubeObject[], what: string): void {
  const h = new Map(fromHelm.map((o) => [key(o), o]));
  const w = new Map(fromWeft.map((o) => [key(o), o]));
  assert.equal(h.size, fromHelm.length, `${what}: helm rendered duplicate objects`);
  assert.deepEqual([...h.keys()].sort(), [...w.keys()].sort(), `${what}: the same objects`);
  for (const [k, o] of w) assert.deepEqual(h.get(k), o, `${what}: ${k} differs`);
}

const VARIANTS: { name: string; flags: string[]; values: Record<string, unknown> }[] = [
  { name: 'defaults', flags: [], values: {} },
  {
    name: 'HA with every setting',
    flags: ['--ha', '--image', 'registry.example/weft:dev', '--trust-domain', 'mesh.example', '--cluster-networks', '10.0.0.0/8,fd00::/8',
      '--controller-log-level', 'debug', '--proxy-log-level', 'warn', '--default-inbound-policy', 'deny'],
    values: { ha: true, image: 'registry.example/weft:dev', trustDomain: 'mesh.example', clusterNetworks: ['10.0.0.0/8', 'fd00::/8'],
      controllerLogLevel: 'debug', proxyLogLevel: 'warn', defaultInboundPolicy: 'deny' },
  },
];

for (const v of VARIANTS) {
  test(`helm template renders the same objects as weft install --ignore-cluster: ${v.name}`, async () => {
    const weft = objects(await weftInstall(['--ignore-cluster', ...pkiFlags, ...v.flags]));
    const chart = objects(await helmTemplate(valuesFile(v.name.replace(/\W+/g, '-'), { ...pkiValues, ...v.values, createNamespace: true })));
    assert.ok(weft.length >= 20, `${weft.length} objects`);
    assertSameObjects(chart, weft, v.name);
  });
}

test('external issuer: no issuer Secret and no issuer key from either; the objects are the same', async () => {
  const weft = objects(await weftInstall(['--ignore-cluster', '--identity-external-issuer', ...pkiFlags.filter((_, i, a) => !['--identity-issuer', '--identity-issuer-key'].includes(a[i] ?? '') && !['--identity-issuer', '--identity-issuer-key'].includes(a[i - 1] ?? ''))]));
  const values = { ...pkiValues, identity: { trustAnchorsPEM: (pkiValues['identity'] as { trustAnchorsPEM: string }).trustAnchorsPEM, externalIssuer: true }, createNamespace: true };
  const text = await helmTemplate(valuesFile('external', values));
  assert.ok(!text.includes('weft-identity-issuer\n  namespace'), 'no issuer Secret');
  assertSameObjects(objects(text), weft, 'external issuer');
  assert.ok(!weft.some((o) => o.kind === 'Secret' && o.metadata.name === 'weft-identity-issuer'));
});

test('with --include-crds helm adds exactly the CRDs weft install --crds prints; the chart\'s crds/ are manifests/crds', async () => {
  const all = objects(await helmTemplate(valuesFile('crds', { ...pkiValues }), ['--include-crds']));
  const crds = all.filter((o) => o.kind === 'CustomResourceDefinition');
  assertSameObjects(crds, objects(await weftInstall(['--crds'])), 'CRDs');
  assert.deepEqual(crds.length, loadCrds().length);
  for (const f of readdirSync(join(REPO_ROOT, 'manifests', 'crds'))) {
    assert.equal(readFileSync(join(CHART, 'crds', f), 'utf8'), readFileSync(join(REPO_ROOT, 'manifests', 'crds', f), 'utf8'), `charts/weft/crds/${f} is a copy of manifests/crds/${f}`);
  }
  assert.ok(!all.some((o) => o.kind === 'Namespace'), 'createNamespace defaults to false (helm install --create-namespace)');
});

test('helm lint --strict passes with the PKI given, and a missing certificate fails naming the value', async () => {
  const lint = await exec(helm, ['lint', '--strict', CHART, '-f', valuesFile('lint', pkiValues)]);
  assert.equal(lint.code, 0, `${lint.stdout}${lint.stderr}`);
  assert.match(lint.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  const chartYaml = readFileSync(join(CHART, 'Chart.yaml'), 'utf8');
  assert.match(chartYaml, new RegExp(`^appVersion: "${WEFT_VERSION.replace(/\./g, '\\.')}"$`, 'm'), 'the chart\'s appVersion is WEFT_VERSION');
  const missing = await exec(helm, ['template', 'weft', CHART, '-f', valuesFile('missing', { ...pkiValues, webhooks: {} })]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /webhooks\.(injector|controller)\.(crtPEM|caPEM|keyPEM) is required/);
});
