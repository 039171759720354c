/**
 * `weft explain` against the real API server of the local cluster: the booksapp authorization
 * manifests (Server authors, its routes, policies and authentications) are applied in a fresh
 * namespace with a books and an authors pod (marked meshed; no proxy is needed, explain only reads
 * the objects), and the CLI, run as a user runs it, must say why a DELETE from books to authors is
 * denied: the AuthorizationPolicy that would allow it (authors-modify, webapp only), and after that
 * policy is deleted, its absence.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { useCluster, type Cluster } from '../cluster/fixture.js';
import { REPO_ROOT } from '../support/paths.js';
import { readGatewayApiCrds } from '../cluster/gateway-api.js';
import { runWeft, type WeftRun } from '../support/weft-cli.js';

let cluster: Cluster;

before(async () => {
  cluster = await useCluster();
  // The Gateway API CRDs as `up` installs them (verified against SHA256SUMS), then Weft's own.
  const gateway = await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager', 'weft-e2e', '-f', '-'], { input: (await readGatewayApiCrds('standard')).yaml });
  assert.equal(gateway.code, 0, gateway.stderr);
  const weftCrds = await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager', 'weft-e2e', '-f', join(REPO_ROOT, 'manifests', 'crds')]);
  assert.equal(weftCrds.code, 0, weftCrds.stderr);
});

const weft = (args: readonly string[], timeoutMs = 120_000): Promise<WeftRun> => runWeft(args, { timeoutMs });

function workloads(): string {
  const pod = (name: string, app: string, port: number) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: {app: ${app}, weft.dev/meshed: "true"}}
spec:
  serviceAccountName: ${app}
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: ${cluster.info.toolboxImage}, command: [sleep, "3600"], ports: [{name: http, containerPort: ${port}}]}
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
  assert.equal(denied.code, 0, denied.stderr);
  assert.match(denied.stdout, new RegExp(`Service: +${ns}/authors:7001`));
  assert.match(denied.stdout, /no route is attached to this Service port/);
  assert.match(denied.stdout, /pod \S+\/authors-0 port 7001/);
  assert.match(denied.stdout, /server: +authors\n/);
  assert.match(denied.stdout, /route: +authors-modify\n/);
  assert.match(denied.stdout, /decision: +DENIED \(403/);
  assert.ok(
    denied.stdout.includes(`- AuthorizationPolicy ${ns}/authors-modify (targets HTTPRoute authors-modify) would allow it, but MeshTLSAuthentication ${ns}/webapp-only: spiffe://cluster.local/ns/${ns}/sa/books is not one of its identities`),
    denied.stdout,
  );

  const json = await weft(['explain', ...kc, '--from', 'pod/books-0', '-n', ns, '-o', 'json', 'DELETE', url]);
  assert.equal(json.code, 0, json.stderr);
  const e = JSON.parse(json.stdout) as { ok: boolean; backends: { server?: { decision?: { allowed: boolean; status?: number; route?: string } } }[] };
  assert.equal(e.ok, true);
  assert.deepEqual([e.backends[0]?.server?.decision?.allowed, e.backends[0]?.server?.decision?.status], [false, 403]);

  const get = await weft(['explain', ...kc, '--from', 'pod/books-0', '-n', ns, url]);
  assert.equal(get.code, 0, get.stderr);
  assert.match(get.stdout, /decision: +ALLOWED\n/);
  assert.match(get.stdout, new RegExp(`authorization: AuthorizationPolicy ${ns}/authors-get`));

  const del = await cluster.kubectl(['-n', ns, 'delete', 'authorizationpolicies.policy.weft.dev', 'authors-modify']);
  assert.equal(del.code, 0, del.stderr);
  const absent = await weft(['explain', ...kc, '--from', 'pod/books-0', '-n', ns, 'DELETE', url]);
  assert.equal(absent.code, 0, absent.stderr);
  assert.match(absent.stdout, /decision: +DENIED \(403/);
  assert.ok(absent.stdout.includes(`- no AuthorizationPolicy targets Server authors, HTTPRoute authors-modify, Namespace ${ns}: none can allow this request`), absent.stdout);
});

test('weft explain --service-account explains for a meshed client without a pod, and an unknown flag fails with usage', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await cluster.apply(ns, workloads());
  await cluster.apply(ns, authorizationManifests(ns));
  const r = await weft(['explain', '--kubeconfig', cluster.info.kubeconfig, '--service-account', 'webapp', '-n', ns, 'DELETE', `http://authors.${ns}:7001/authors/1.json`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /decision: +ALLOWED\n/);
  assert.match(r.stdout, new RegExp(`authorization: AuthorizationPolicy ${ns}/authors-modify`));
  const bad = await weft(['explain', '--bogus']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^weft explain: unknown option '--bogus'\nRun 'weft explain --help' for usage\.\n$/);
});
