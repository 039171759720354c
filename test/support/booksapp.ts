/**
 * The booksapp on the shared local cluster, for the booksapp e2e files: the example manifests
 * (examples/booksapp/manifests) applied into fresh namespaces (every `namespace` field mapped from the
 * manifests' names to the test's), a meshed echo client pod to send counted requests from, and the
 * small readers the scenarios share (status conditions, exec'd client outcomes, proxy metrics).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { INJECT_ANNOTATION, INJECT_ENABLED, PROXY_ADMIN_PORT, ROUTE_CONTROLLER_NAME } from '../../core/contract.js';
import type { Cluster } from '../cluster/fixture.js';
import { REPO_ROOT } from './paths.js';

export const MANIFESTS = join(REPO_ROOT, 'examples', 'booksapp', 'manifests');
export const ECHO_IMAGE = 'registry.k8s.io/gateway-api/echo-advanced:v1';

type Doc = Record<string, unknown> & { kind?: string; metadata?: { name?: string; namespace?: string } };

function renamespace(value: unknown, map: Readonly<Record<string, string>>): unknown {
  if (Array.isArray(value)) return value.map((v) => renamespace(v, map));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = k === 'namespace' && typeof v === 'string' && map[v] !== undefined ? map[v] : renamespace(v, map);
  }
  return out;
}

/**
 * A manifest file's documents with every `namespace` field (metadata and references alike) renamed by
 * `map`, Namespace objects left out (tests create their own), and `keep` deciding the rest.
 */
export function manifest(relPath: string, map: Readonly<Record<string, string>>, keep: (d: Doc) => boolean = () => true): string {
  const docs = parseAllDocuments(readFileSync(join(MANIFESTS, relPath), 'utf8'))
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null && typeof d.kind === 'string' && d.kind !== 'Namespace' && keep(d));
  return docs.map((d) => stringify(renamespace(d, map))).join('---\n');
}

/**
 * A meshed namespace shared by the tests of one file: created here, deleted by the returned function
 * (call it from the file's `after`).
 */
export async function sharedMeshedNamespace(cluster: Cluster, prefix: string): Promise<{ ns: string; remove: () => Promise<void> }> {
  const ns = `e2e-${prefix}-${randomBytes(3).toString('hex')}`;
  await cluster.core.createNamespace({ body: { metadata: { name: ns, labels: { 'weft.dev/e2e': 'true' }, annotations: { [INJECT_ANNOTATION]: INJECT_ENABLED } } } });
  await cluster.waitFor(`ServiceAccount default in ${ns}`, async () => {
    try {
      await cluster.core.readNamespacedServiceAccount({ name: 'default', namespace: ns });
      return true;
    } catch {
      return 'not created yet';
    }
  });
  return { ns, remove: async () => { await cluster.core.deleteNamespace({ name: ns, propagationPolicy: 'Background' }).catch(() => undefined); } };
}

/** A meshed echo Deployment `name` under ServiceAccount `sa`, used only as a place to run `client` from. */
export function clientDeployment(name: string, sa: string): string {
  return `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: 1
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      serviceAccountName: ${sa}
      terminationGracePeriodSeconds: 1
      containers:
        - {name: echo, image: ${ECHO_IMAGE}, args: [--port=8080]}
`;
}

export async function podName(cluster: Cluster, ns: string, selector: string): Promise<string> {
  let name = '';
  await cluster.waitFor(`a running pod ${selector} in ${ns}`, async () => {
    const pods = await cluster.core.listNamespacedPod({ namespace: ns, labelSelector: selector });
    const pod = pods.items.find((p) => p.metadata?.deletionTimestamp === undefined && p.status?.phase === 'Running'
      && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    name = pod?.metadata?.name ?? '';
    return name !== '' ? true : `${pods.items.length} pods, none ready`;
  }, { timeoutMs: 180_000 });
  return name;
}

export async function waitAvailable(cluster: Cluster, ns: string, deployments: readonly string[]): Promise<void> {
  for (const d of deployments) await cluster.waitDeploymentAvailable(ns, d, { timeoutMs: 240_000, intervalMs: 1000 });
}

/** The booksapp (webapp, books, authors; not the traffic generator, so the tests count every request) and a client. */
export async function deployBooksapp(cluster: Cluster, ns: string): Promise<void> {
  await cluster.apply(ns, manifest('booksapp.yaml', { booksapp: ns }, (d) => !(d.kind === 'Deployment' && d.metadata?.name === 'traffic')));
  await cluster.apply(ns, clientDeployment('client', 'traffic'));
  await waitAvailable(cluster, ns, ['webapp', 'books', 'authors', 'client']);
}

export interface Outcome {
  index: number;
  status: number;
  headers: [string, string][];
  fields: [string, string][];
}

/** Runs the echo client in a pod's container; every request's status (0: no answer), headers and body lines. */
export async function send(cluster: Cluster, ns: string, pod: string, container: string, url: string, flags: readonly string[] = [], count = 1): Promise<Outcome[]> {
  const r = await cluster.exec(ns, pod, container, ['client', url, `--count=${count}`, '--timeout=10s', ...flags], { timeoutMs: 600_000 });
  assert.ok(r.code === 0 || r.code === 1, `client exited ${r.code}: ${r.stderr}`);
  const byIndex = new Map<number, Outcome>();
  for (let i = 0; i < count; i++) byIndex.set(i, { index: i, status: 0, headers: [], fields: [] });
  for (const line of r.stdout.split('\n')) {
    const m = /^\[(\d+)\] ([^=]+)=(.*)$/.exec(line);
    const o = m === null ? undefined : byIndex.get(Number(m[1]));
    if (m === null || o === undefined) continue;
    const key = m[2] ?? '';
    const value = m[3] ?? '';
    if (key === 'StatusCode') o.status = Number(value);
    else if (key === 'ResponseHeader') o.headers.push([value.slice(0, value.indexOf(':')).toLowerCase(), value.slice(value.indexOf(':') + 1)]);
    else o.fields.push([key, value]);
  }
  return [...byIndex.values()];
}

/** Requests counted by status. */
export function tally(outcomes: readonly Outcome[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const o of outcomes) m.set(o.status, (m.get(o.status) ?? 0) + 1);
  return m;
}

export function describeTally(t: Map<number, number>): string {
  return [...t.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s === 0 ? 'no-answer' : s}=${n}`).join(' ');
}

/** Waits until this controller's status entry of a route has the given conditions (type -> status[:reason]). */
export async function waitRouteConditions(cluster: Cluster, ns: string, name: string, want: Readonly<Record<string, string>>, timeoutMs = 90_000): Promise<string> {
  let last = '';
  await cluster.waitFor(`HTTPRoute ${ns}/${name} status ${JSON.stringify(want)}`, async () => {
    const r = await cluster.kubectl(['-n', ns, 'get', 'httproute', name, '-o', 'json']);
    if (r.code !== 0) return r.stderr;
    const route = JSON.parse(r.stdout) as { status?: { parents?: { controllerName?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] }[] } };
    const conds = route.status?.parents?.filter((p) => p.controllerName === ROUTE_CONTROLLER_NAME).flatMap((p) => p.conditions ?? []) ?? [];
    last = conds.map((c) => `${c.type}=${c.status}:${c.reason ?? ''}: ${c.message ?? ''}`).join('\n');
    for (const [type, expect] of Object.entries(want)) {
      const c = conds.find((x) => x.type === type);
      const [status, reason] = expect.split(':');
      if (c === undefined || c.status !== status || (reason !== undefined && c.reason !== reason)) return `conditions: ${last || 'none yet'}`;
    }
    return true;
  }, { timeoutMs, intervalMs: 1000 });
  return last;
}

/** A pod's proxy metrics, through the API server's pod proxy. */
export async function proxyMetrics(cluster: Cluster, ns: string, pod: string): Promise<string> {
  const r = await cluster.kubectl(['get', '--raw', `/api/v1/namespaces/${ns}/pods/${pod}:${PROXY_ADMIN_PORT}/proxy/metrics`]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** Sum of the samples of `metric` whose labels include every pair of `labels` (a series without labels counts when `labels` is empty). */
export function sumSeries(text: string, metric: string, labels: Readonly<Record<string, string>>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    // A series without labels prints as `name value`.
    if (line.startsWith(`${metric} `) && Object.keys(labels).length === 0) sum += Number(line.slice(metric.length + 1).trim());
    if (!line.startsWith(`${metric}{`)) continue;
    const close = line.lastIndexOf('}');
    const body = line.slice(metric.length + 1, close);
    const have = new Map<string, string>();
    for (const m of body.matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) have.set(m[1] ?? '', m[2] ?? '');
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(line.slice(close + 1).trim());
  }
  return sum;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
