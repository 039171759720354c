/**
 * `weft explain` against the real API server of the local cluster: the booksapp authorization
 * manifests (Server authors, its routes, policies and authentications) are applied in a fresh
 * namespace with a books and an authors pod (marked meshed; no proxy is needed, explain only reads
 * the objects), and the CLI, run as a user runs it, must say why a DELETE from books to authors is
 * denied: the AuthorizationPolicy that would allow it (authors-modify, webapp only), and after that
 * policy is deleted, its absence.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { useCluster, type Cluster } from '../cluster/fixture.js';
import { GATEWAY_API_DIR, REPO_ROOT } from '../support/paths.js';

let cluster: Cluster;

before(async () => {
  cluster = await useCluster();
  for (const dir of [join(GATEWAY_API_DIR, 'crds', 'standard'), join(REPO_ROOT, 'manifests', 'crds')]) {
    const r = await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager', 'weft-e2e', '-f', dir]);
    assert.equal(r.code, 0, r.stderr);
  }
});

function weft(args: readonly string[], timeoutMs = 120_000): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'weft.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
  });
}

function workloads(): string {
  const pod = (name: string, app: string, port: number) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: {app: ${app}, weft.dev/meshed: "true"}}
spec:
  serviceAccountName: ${app}
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: busybox, command: [sleep, "3600"], ports: [{name: http, containerPort: ${port}}]}
`;
  return `
apiVersion: v1
kind: ServiceAccount
metadata: {name: books}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: authors}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: webapp}
---
apiVersion: v1
kind: Service
metadata: {name: authors}
spec:
  selector: {app: authors}
  ports: [{name: http, port: 7001, targetPort: http}]
---${pod('authors-0', 'authors', 7001)}---${pod('books-0', 'books', 7002)}`;
}

function authorizationManifests(ns: string): string {
  const dir = join(REPO_ROOT, 'examples', 'booksapp', 'manifests', 'authorization');
  return ['server.yaml', 'routes.yaml', 'authentications.yaml', 'policies.yaml']
    .map((f) => readFileSync(join(dir, f), 'utf8').replaceAll('namespace: booksapp', `namespace: ${ns}`))
    .join('\n---\n');
}

test('weft explain names the AuthorizationPolicy that would allow a DELETE from books to authors, then its absence', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await cluster.apply(ns, workloads());
  await cluster.apply(ns, authorizationManifests(ns));
  const kc = ['--kubeconfig', cluster.info.kubeconfig];
  const url = `http://authors.${ns}.svc.cluster.local:7001/authors/1.json`;

  const denied = await weft(['explain', ...kc, '--from', 'pod/books-0', '-n', ns, 'DELETE', url]);
  assert.equal(denied.code, 0, denied.err);
  assert.match(denied.out, new RegExp(`Service: +${ns}/authors:7001`));
  assert.match(denied.out, /no route is attached to this Service port/);
  assert.match(denied.out, /pod \S+\/authors-0 port 7001/);
  assert.match(denied.out, /server: +authors\n/);
  assert.match(denied.out, /route: +authors-modify\n/);
  assert.match(denied.out, /decision: +DENIED \(403/);
  assert.ok(
    denied.out.includes(`- AuthorizationPolicy ${ns}/authors-modify (targets HTTPRoute authors-modify) would allow it, but MeshTLSAuthentication ${ns}/webapp-only: spiffe://cluster.local/ns/${ns}/sa/books is not one of its identities`),
    denied.out,
  );

  const json = await weft(['explain', ...kc, '--from', 'pod/books-0', '-n', ns, '-o', 'json', 'DELETE', url]);
  assert.equal(json.code, 0, json.err);
  const e = JSON.parse(json.out) as { ok: boolean; backends: { server?: { decision?: { allowed: boolean; status?: number; route?: string } } }[] };
  assert.equal(e.ok, true);
  assert.deepEqual([e.backends[0]?.server?.decision?.allowed, e.backends[0]?.server?.decision?.status], [false, 403]);

  const get = await weft(['explain', ...kc, '--from', 'pod/books-0', '-n', ns, url]);
  assert.equal(get.code, 0, get.err);
  assert.match(get.out, /decision: +ALLOWED\n/);
  assert.match(get.out, new RegExp(`authorization: AuthorizationPolicy ${ns}/authors-get`));

  const del = await cluster.kubectl(['-n', ns, 'delete', 'authorizationpolicies.policy.weft.dev', 'authors-modify']);
  assert.equal(del.code, 0, del.stderr);
  const absent = await weft(['explain', ...kc, '--from', 'pod/books-0', '-n', ns, 'DELETE', url]);
  assert.equal(absent.code, 0, absent.err);
  assert.match(absent.out, /decision: +DENIED \(403/);
  assert.ok(absent.out.includes(`- no AuthorizationPolicy targets Server authors, HTTPRoute authors-modify, Namespace ${ns}: none can allow this request`), absent.out);
});

test('weft explain --service-account explains for a meshed client without a pod, and an unknown flag fails with usage', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await cluster.apply(ns, workloads());
  await cluster.apply(ns, authorizationManifests(ns));
  const r = await weft(['explain', '--kubeconfig', cluster.info.kubeconfig, '--service-account', 'webapp', '-n', ns, 'DELETE', `http://authors.${ns}:7001/authors/1.json`]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /decision: +ALLOWED\n/);
  assert.match(r.out, new RegExp(`authorization: AuthorizationPolicy ${ns}/authors-modify`));
  const bad = await weft(['explain', '--bogus']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /Unknown option '--bogus'[\s\S]*Usage: weft explain/);
});
