/**
 * Every manifest under examples/booksapp/manifests/ validated for real by the local cluster's API
 * server: `kubectl apply --server-side --dry-run=server` runs defaulting, the OpenAPI schemas and CEL
 * rules of the Gateway API and Weft CRDs, and admission, without persisting anything. It needs no mesh.
 *
 * Namespaced objects need their namespace to exist even in a dry run, so the namespaces the manifests
 * create are created for real when absent (and deleted afterwards); existing ones (a demo running) are
 * left alone.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { parseAllDocuments, stringify } from 'yaml';

import { useCluster, type Cluster } from '../cluster/fixture.js';
import { REPO_ROOT } from '../support/paths.js';

const DIR = join(REPO_ROOT, 'examples', 'booksapp', 'manifests');
const FIELD_MANAGER = 'weft-e2e-examples';

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return name.endsWith('.yaml') ? [p] : [];
  }).sort();
}

const objects = (file: string): Obj[] => parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Obj | null).filter((o): o is Obj => o !== null);

let cluster: Cluster;
const created: string[] = [];

async function dryRun(args: string[], input?: string) {
  return cluster.kubectl(['apply', '--server-side', '--force-conflicts', `--field-manager=${FIELD_MANAGER}`, '--dry-run=server', '-o', 'name', ...args],
    input === undefined ? { timeoutMs: 60_000 } : { input, timeoutMs: 60_000 });
}

before(async () => {
  cluster = await useCluster();
  // Every Weft CRD (a cluster may hold an older install's set, without the newest kinds).
  const weftCrds = readdirSync(join(REPO_ROOT, 'manifests', 'crds')).filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => objects(join(REPO_ROOT, 'manifests', 'crds', f)).map((o) => o.metadata.name));
  const crd = await cluster.kubectl(['get', 'crd', ...weftCrds, '-o', 'name']);
  if (crd.code !== 0) {
    const r = await cluster.kubectl(['apply', '--server-side', '--force-conflicts', `--field-manager=${FIELD_MANAGER}`, '-f', join(REPO_ROOT, 'manifests', 'crds')], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const w = await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '-l', 'app.kubernetes.io/part-of=weft'], { timeoutMs: 70_000 });
    assert.equal(w.code, 0, w.stderr);
  }
  const namespaces = yamlFiles(DIR).flatMap(objects).filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name);
  for (const name of namespaces) {
    const exists = await cluster.kubectl(['get', 'namespace', name, '-o', 'name']);
    if (exists.code === 0) continue;
    const r = await cluster.kubectl(['create', 'namespace', name]);
    assert.equal(r.code, 0, r.stderr);
    created.push(name);
  }
});

after(async () => {
  for (const name of created) await cluster?.kubectl(['delete', 'namespace', name, '--wait=false']);
});

for (const file of yamlFiles(DIR)) {
  const name = relative(DIR, file);
  test(`the API server accepts every object of ${name}`, async () => {
    const expected = objects(file);
    assert.ok(expected.length > 0);
    const r = await dryRun(['-f', file]);
    assert.equal(r.code, 0, `kubectl apply --dry-run=server -f ${name}: ${r.stderr}`);
    const accepted = r.stdout.trim().split('\n').filter((l) => l !== '');
    // `-o name` prints kind.group/name per object, e.g. httproute.gateway.networking.k8s.io/books-fault-injection.
    assert.deepEqual(accepted.map((l) => l.slice(l.lastIndexOf('/') + 1)), expected.map((o) => o.metadata.name), r.stdout);
    assert.deepEqual(accepted.map((l) => l.split(/[./]/)[0]), expected.map((o) => o.kind.toLowerCase()), r.stdout);
  });
}

test('the dry run really validates: broken copies of a route and a policy are refused', async () => {
  const route = objects(join(DIR, 'fault-injection', 'route.yaml'))[0] as Obj;
  const rules = route.spec?.['rules'] as Array<{ backendRefs: Array<{ weight: number }> }>;
  (rules[0]?.backendRefs[0] as { weight: number }).weight = -1;
  const badRoute = await dryRun(['-f', '-'], stringify(route));
  assert.notEqual(badRoute.code, 0, 'a negative weight was accepted');
  assert.match(badRoute.stderr, /weight/);

  const policy = objects(join(DIR, 'authorization', 'policies.yaml'))[0] as Obj;
  (policy.spec?.['targetRef'] as { kind: string }).kind = 'Deployment';
  const badPolicy = await dryRun(['-f', '-'], stringify(policy));
  assert.notEqual(badPolicy.code, 0, 'a policy targeting a Deployment was accepted');
  assert.match(badPolicy.stderr, /targetRef must be/);
});
