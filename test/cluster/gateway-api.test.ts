/**
 * The Gateway API CRDs the cluster installs: the pinned release's files verify against its SHA256SUMS,
 * and a changed, unlisted or missing file is refused with its name (checked on a copy in a temp dir).
 */
import assert from 'node:assert/strict';
import { appendFile, cp, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

import { parseAllDocuments } from 'yaml';

import { GATEWAY_API_RELEASE_DIR, GATEWAY_API_VERSION } from './config.js';
import { parseSha256Sums, readGatewayApiCrds } from './gateway-api.js';
import { REPO_ROOT } from '../support/paths.js';

const RELEASE = resolve(REPO_ROOT, GATEWAY_API_RELEASE_DIR);

test('the pinned release is v1.7.0 and its standard channel verifies: CRDs only, the safe-upgrades policy left out', async () => {
  assert.equal(GATEWAY_API_VERSION, 'v1.7.0');
  const crds = await readGatewayApiCrds('standard');
  assert.equal(crds.version, 'v1.7.0');
  for (const n of ['httproutes', 'grpcroutes', 'referencegrants', 'gateways', 'gatewayclasses']) assert.ok(crds.names.includes(`${n}.gateway.networking.k8s.io`), n);
  assert.ok(crds.files.includes('crds/standard/gateway.networking.k8s.io_vap_safeupgrades.yaml'), 'the policy file is verified too');
  type Crd = { kind: string; metadata: { name: string }; spec: { versions: { name: string; schema: { openAPIV3Schema: Schema } }[] } };
  type Schema = { properties?: Record<string, Schema>; items?: Schema };
  const objs = parseAllDocuments(crds.yaml).map((d) => d.toJS() as Crd);
  assert.equal(objs.length, crds.names.length);
  assert.deepEqual([...new Set(objs.map((o) => o.kind))], ['CustomResourceDefinition']);
  // v1.7.0 moved HTTPRoute rule retry into the standard channel.
  const routes = objs.find((o) => o.metadata.name === 'httproutes.gateway.networking.k8s.io');
  const rule = routes?.spec.versions.find((v) => v.name === 'v1')?.schema.openAPIV3Schema.properties?.['spec']?.properties?.['rules']?.items;
  assert.deepEqual(Object.keys(rule?.properties?.['retry']?.properties ?? {}).sort(), ['attempts', 'backoff', 'codes']);
});

test('the experimental channel verifies and adds the x-k8s.io kinds (XMesh among them)', async () => {
  const crds = await readGatewayApiCrds('experimental');
  assert.equal(crds.version, 'v1.7.0');
  assert.ok(crds.names.includes('xmeshes.gateway.networking.x-k8s.io'));
  assert.ok(crds.names.length > (await readGatewayApiCrds('standard')).names.length);
});

test('a changed, an unlisted and a missing file are each refused, naming the file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-gwapi-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const copy = async (): Promise<string> => {
    const d = await mkdtemp(join(dir, 'r-'));
    await cp(RELEASE, d, { recursive: true });
    return d;
  };
  const changed = await copy();
  await appendFile(join(changed, 'crds', 'standard', 'gateway.networking.k8s.io_httproutes.yaml'), '\n# edited\n');
  await assert.rejects(readGatewayApiCrds('standard', changed), /gateway\.networking\.k8s\.io_httproutes\.yaml: sha256 [0-9a-f]{64} does not match ac4c1e0a/);

  const unlisted = await copy();
  await writeFile(join(unlisted, 'crds', 'standard', 'extra.yaml'), 'kind: CustomResourceDefinition\n');
  await assert.rejects(readGatewayApiCrds('standard', unlisted), /extra\.yaml is not listed in .*SHA256SUMS/);

  const missing = await copy();
  await unlink(join(missing, 'crds', 'standard', 'gateway.networking.k8s.io_grpcroutes.yaml'));
  await assert.rejects(readGatewayApiCrds('standard', missing), /gateway\.networking\.k8s\.io_grpcroutes\.yaml listed in .*SHA256SUMS but missing/);
});

test('SHA256SUMS lines that are not "<sha256>  <file>" are refused with the line number', () => {
  const h = 'a'.repeat(64);
  assert.deepEqual([...parseSha256Sums(`${h}  crds/a.yaml\n${h} *crds/b.yaml\n\n`, 'S')], [['crds/a.yaml', h], ['crds/b.yaml', h]]);
  assert.throws(() => parseSha256Sums(`${h}  ok\nnot a sum\n`, 'S'), /^Error: S:2: not a "<sha256>  <file>" line: "not a sum"$/);
});
