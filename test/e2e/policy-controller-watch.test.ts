/**
 * Watch recovery of the policy controller (policy-controller/k8s/informer.ts) against the local
 * cluster's real API server: a CRD that is not installed is reported and not fatal, and once installed
 * (or deleted and re-created) its objects follow; a dropped connection reconnects with jittered
 * backoff and catches up on what changed meanwhile; API errors (403 from real RBAC) back off until
 * they stop.
 *
 * The watched kind is a CRD this file creates under a random group (widgets.w<hex>.e2e.weft.dev), so
 * deleting and re-creating it does not disturb the Gateway API and Weft CRDs other tests use. The
 * watch is labelled with an index kind (`Server`) only because metrics and the sink are keyed by one;
 * the sink here is a recorder, not the index.
 *
 * The connection drop is made by a TCP relay between the watch and the real API server that the test
 * cuts (every open connection reset, new ones refused) and restores. The 410 Gone and silent-watch
 * cases need a server that misbehaves on demand and are in policy-controller/k8s/informer.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, test, type TestContext } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { KubeObject } from '../../core/kube.js';
import { kubeRequest, KubeHttpError } from '../../policy-controller/k8s/http.js';
import { informerMetrics, ResourceWatch } from '../../policy-controller/k8s/informer.js';
import type { ResourceSpec } from '../../policy-controller/k8s/resources.js';
import { useCluster, type Cluster } from '../cluster/fixture.js';

const TAG = randomBytes(3).toString('hex');
const GROUP = `w${TAG}.e2e.weft.dev`;
const CRD_NAME = `widgets.${GROUP}`;
const WIDGETS: ResourceSpec = { kind: 'Server', group: GROUP, version: 'v1', plural: 'widgets', crd: CRD_NAME };

const CRD_YAML = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ${CRD_NAME}, labels: {weft.dev/e2e: "true"}}
spec:
  group: ${GROUP}
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`;

let cluster: Cluster;

before(async () => {
  cluster = await useCluster();
});

after(async () => {
  await cluster?.kubectl(['delete', 'crd', CRD_NAME, '--ignore-not-found', '--wait=false']);
});

async function installCrd(): Promise<void> {
  // eslint-disable-next-line prefer-spread -- Cluster.apply applies YAML; it is not Function.prototype.apply
  await cluster.apply(undefined, CRD_YAML);
  await cluster.waitFor(`CRD ${CRD_NAME} Established`, async () => {
    const crd = await kubeRequest<{ status?: { conditions?: { type: string; status: string }[] } }>(cluster.kc, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD_NAME}`);
    return crd.body.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') === true ? true : 'not established yet';
  });
}

async function deleteCrd(): Promise<void> {
  const r = await cluster.kubectl(['delete', 'crd', CRD_NAME, '--ignore-not-found', '--wait=true', '--timeout=120s']);
  assert.equal(r.code, 0, r.stderr);
}

/** Creates a Widget (retrying while the API server has not started serving a new CRD). */
async function createWidget(ns: string, name: string): Promise<void> {
  await cluster.waitFor(`Widget ${ns}/${name} created`, async () => {
    try {
      await kubeRequest(cluster.kc, 'POST', `/apis/${GROUP}/v1/namespaces/${ns}/widgets`, { apiVersion: `${GROUP}/v1`, kind: 'Widget', metadata: { name } });
      return true;
    } catch (err) {
      if (err instanceof KubeHttpError && err.statusCode === 409) return true;
      throw err;
    }
  });
}

async function deleteWidget(ns: string, name: string): Promise<void> {
  await kubeRequest(cluster.kc, 'DELETE', `/apis/${GROUP}/v1/namespaces/${ns}/widgets/${name}`);
}

interface LogRecord {
  readonly time: number;
  readonly msg?: string;
  readonly statusCode?: number;
  readonly retryInMs?: number;
  readonly attempt?: number;
}

/** A ResourceWatch on WIDGETS with a recording sink, a captured log and its own metrics. */
function watchWidgets(t: TestContext, kc: KubeConfig, options: { missingRetryMs?: number; backoff?: { initialMs: number; maxMs: number } } = {}) {
  const events: string[] = [];
  const records: LogRecord[] = [];
  const registry = new Registry();
  const log = pino({ level: 'info' }, { write: (line: string) => records.push(JSON.parse(line) as LogRecord) });
  const name = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  const watch = new ResourceWatch(
    kc,
    WIDGETS,
    { apply: (_k, o) => events.push(`apply ${name(o)}`), delete: (_k, o) => events.push(`delete ${name(o)}`) },
    { log, metrics: informerMetrics(registry), ...options },
  );
  t.after(() => watch.stop());
  const metric = async (metricName: string, labels: Record<string, string> = {}) => {
    const values = (await registry.getSingleMetric(metricName)?.get())?.values ?? [];
    return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
  };
  const failures = () => records.filter((r) => r.msg === 'watch failed; restarting it');
  const waitEvent = (e: string, timeoutMs = 60_000) => cluster.waitFor(`the watch to deliver "${e}"`, async () => (events.includes(e) ? true : `events so far: ${events.join(', ')}`), { timeoutMs, intervalMs: 100 });
  return { watch, events, records, metric, failures, waitEvent };
}

/**
 * The failure log of consecutive attempts follows the jittered exponential backoff: attempt n waits
 * a delay in [base/2, base], base = min(max, initial * 2^(n-1)), and the next attempt comes no
 * earlier than that delay.
 */
function assertBackoff(failures: readonly LogRecord[], backoff: { initialMs: number; maxMs: number }): void {
  assert.ok(failures.length >= 3, `${failures.length} failures logged`);
  failures.forEach((f, i) => {
    const attempt = f.attempt ?? 0;
    assert.equal(attempt, i + 1, 'attempts are counted consecutively');
    const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** (attempt - 1));
    assert.ok(f.retryInMs !== undefined && f.retryInMs >= base / 2 && f.retryInMs <= base, `attempt ${attempt}: retry in ${f.retryInMs} ms, base ${base}`);
    const next = failures[i + 1];
    if (next !== undefined) assert.ok(next.time - f.time >= f.retryInMs - 5, `attempt ${attempt + 1} came ${next.time - f.time} ms after attempt ${attempt}, before its ${f.retryInMs} ms delay`);
  });
  const ratios = new Set(failures.map((f) => (f.retryInMs! / Math.min(backoff.maxMs, backoff.initialMs * 2 ** (f.attempt! - 1))).toFixed(3)));
  assert.ok(ratios.size > 1, `delays are jittered, not a fixed fraction of the base: ${[...ratios].join(', ')}`);
}

test('a CRD that is not installed is reported, not fatal; installed, deleted and re-created, the watch follows it', async (t) => {
  const ns = await cluster.freshNamespace(t);
  const w = watchWidgets(t, cluster.kc, { missingRetryMs: 1000 });
  w.watch.start();
  await w.watch.synced();
  assert.equal(w.watch.state, 'missing');
  assert.match(w.watch.why, new RegExp(`CRD ${CRD_NAME.replaceAll('.', '\\.')} not installed`));
  assert.equal(await w.metric('weft_informer_crd_missing', { kind: 'Server' }), 1);
  assert.ok(w.records.some((r) => r.msg?.includes(`CRD ${CRD_NAME} is not installed`)), 'the missing CRD is logged');
  assert.equal(w.failures().length, 0, 'a missing CRD is not a watch failure');

  await installCrd();
  await createWidget(ns, 'w1');
  await w.waitEvent(`apply ${ns}/w1`);
  assert.equal(w.watch.state, 'synced');
  assert.equal(await w.metric('weft_informer_crd_missing', { kind: 'Server' }), 0);
  assert.ok(w.records.some((r) => r.msg === 'CRD installed; watching it'));

  await deleteCrd();
  await w.waitEvent(`delete ${ns}/w1`);
  await cluster.waitFor('the watch to report the CRD missing again', async () => (w.watch.state === 'missing' ? true : `state ${w.watch.state}`), { intervalMs: 100 });
  assert.equal(await w.metric('weft_informer_crd_missing', { kind: 'Server' }), 1);

  await installCrd();
  await createWidget(ns, 'w2');
  await w.waitEvent(`apply ${ns}/w2`);
  assert.equal(w.watch.state, 'synced');
  assert.equal(w.events.filter((e) => e === `delete ${ns}/w1`).length, 1, 'the deletion was delivered once');
});

/** A TCP relay to the API server that can be cut (open connections reset, new ones refused) and restored. */
class Relay {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private refusing = false;
  connections = 0;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((client) => {
      if (this.refusing) {
        client.resetAndDestroy();
        return;
      }
      this.connections++;
      const upstream = createConnection(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
  }

  async listen(): Promise<number> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return (this.server.address() as AddressInfo).port;
  }

  cut(): void {
    this.refusing = true;
    for (const s of this.sockets) s.resetAndDestroy();
  }

  restore(): void {
    this.refusing = false;
  }

  async close(): Promise<void> {
    this.cut();
    this.server.close();
    await once(this.server, 'close');
  }
}

/** The admin kubeconfig with its server replaced (same credentials, same CA). */
function viaServer(server: string): KubeConfig {
  const admin = cluster.kc;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: admin.clusters.map((c) => ({ ...c, server })),
    users: admin.users,
    contexts: admin.contexts,
    currentContext: admin.currentContext,
  });
  return kc;
}

test('a dropped connection reconnects with jittered backoff and catches up on what changed while it was down', async (t) => {
  await installCrd();
  const ns = await cluster.freshNamespace(t);
  await createWidget(ns, 'before');
  const api = new URL(cluster.info.server);
  const relay = new Relay({ host: api.hostname, port: Number(api.port) });
  const port = await relay.listen();
  t.after(() => relay.close());
  const backoff = { initialMs: 300, maxMs: 2400 };
  const w = watchWidgets(t, viaServer(`https://127.0.0.1:${port}`), { backoff });
  w.watch.start();
  await w.watch.synced();
  await w.waitEvent(`apply ${ns}/before`);
  await createWidget(ns, 'live');
  await w.waitEvent(`apply ${ns}/live`);

  relay.cut();
  // While the watch cannot reach the API server: one object appears, one goes.
  await createWidget(ns, 'meanwhile');
  await deleteWidget(ns, 'before');
  await cluster.waitFor('four failed attempts', async () => (w.failures().length >= 4 ? true : `${w.failures().length} so far`), { timeoutMs: 60_000, intervalMs: 100 });
  assert.equal(w.watch.state, 'retrying');
  assert.ok(w.watch.why.startsWith('watch failed:'), w.watch.why);
  const failed = [...w.failures()];
  relay.restore();

  await w.waitEvent(`apply ${ns}/meanwhile`);
  await w.waitEvent(`delete ${ns}/before`);
  assertBackoff(failed.slice(0, 4), backoff);
  assert.ok((await w.metric('weft_informer_restarts_total')) >= 4);
  // After the recovery the watch is live again, and the backoff starts over.
  await createWidget(ns, 'after');
  await w.waitEvent(`apply ${ns}/after`);
  t.diagnostic(`retry delays while cut: ${failed.map((f) => f.retryInMs).join(', ')} ms`);
});

test('API errors (403 from RBAC) back off until they stop, then the watch syncs', async (t) => {
  await installCrd();
  const ns = await cluster.freshNamespace(t);
  await createWidget(ns, 'seen');
  await cluster.apply(ns, 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: watcher}\n');
  const token = await kubeRequest<{ status: { token: string } }>(cluster.kc, 'POST', `/api/v1/namespaces/${ns}/serviceaccounts/watcher/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 3600 },
  });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'local', server: cluster.info.server, caFile: cluster.info.caFile }],
    users: [{ name: 'watcher', token: token.body.status.token }],
    contexts: [{ name: 'watcher', cluster: 'local', user: 'watcher' }],
    currentContext: 'watcher',
  });
  const backoff = { initialMs: 200, maxMs: 1600 };
  const w = watchWidgets(t, kc, { backoff });
  w.watch.start();
  await cluster.waitFor('five refused attempts', async () => (w.failures().length >= 5 ? true : `${w.failures().length} so far`), { timeoutMs: 60_000, intervalMs: 100 });
  assert.ok(w.watch.state === 'retrying' || w.watch.state === 'starting', `state ${w.watch.state}`);
  assert.match(w.watch.why, /403/);
  const failed = [...w.failures()];
  assert.ok(failed.every((f) => f.statusCode === 403), 'every failure is the 403');
  assert.ok((await w.metric('weft_informer_restarts_total', { reason: '403' })) >= 5);
  assertBackoff(failed.slice(0, 5), backoff);
  assert.deepEqual(w.events, [], 'nothing delivered while refused');

  const role = `weft-e2e-watch-${TAG}`;
  t.after(async () => {
    await cluster.kubectl(['delete', 'clusterrolebinding,clusterrole', role, '--ignore-not-found']);
  });
  // eslint-disable-next-line prefer-spread -- Cluster.apply applies YAML; it is not Function.prototype.apply
  await cluster.apply(undefined, `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ${role}, labels: {weft.dev/e2e: "true"}}
rules: [{apiGroups: ["${GROUP}"], resources: [widgets], verbs: [list, watch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ${role}, labels: {weft.dev/e2e: "true"}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ${role}}
subjects: [{kind: ServiceAccount, name: watcher, namespace: ${ns}}]
`);
  // The next attempt is at most maxMs away.
  await w.waitEvent(`apply ${ns}/seen`);
  assert.equal(w.watch.state, 'synced');
  assert.equal(w.watch.why, '');
  t.diagnostic(`retry delays while refused: ${failed.map((f) => f.retryInMs).join(', ')} ms`);
});
