/**
 * Wire-level faults of ResourceWatch against an in-process HTTP server that plays the Kubernetes list
 * and watch endpoints of one collection (a TEST DOUBLE of the API server).
 *
 * Why a double here: these cases need the server to answer a watch with 410 Gone, to put a 410 ERROR
 * event into a watch stream, or to hold a watch open and send nothing, at a moment the test chooses. A
 * real API server produces 410 only after its watch cache or etcd compaction has moved past the
 * resourceVersion (minutes, or a compaction window that cannot be shrunk on a shared cluster), and it
 * never goes silent on an open watch on purpose. Everything a real API server can be made to do on
 * demand (a CRD missing then installed, deleted and re-created, a dropped connection, API errors and
 * their backoff) is tested against the local cluster in test/e2e/policy-controller-watch.test.ts.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { KubeObject } from '../../core/kube.js';
import { informerMetrics, ResourceWatch, type InformerMetrics } from './informer.js';
import { resourceOf } from './resources.js';

interface Obj {
  metadata: { name: string; resourceVersion: string };
}

const ns = (name: string, rv: number): Obj => ({ metadata: { name, resourceVersion: String(rv) } });

type WatchPlan = (res: ServerResponse, rv: string) => void;

/** Serves GET /api/v1/namespaces (list) and ?watch=true (watch) from what the test sets. */
class ApiDouble {
  readonly server: Server;
  lists: { at: number; items: string[]; fieldSelector: string | null }[] = [];
  watches: { at: number; rv: string; closed: boolean; fieldSelector: string | null }[] = [];
  /** The collection served (default Namespaces). */
  path = '/api/v1/namespaces';
  items: Obj[] = [];
  listRv = '1';
  /** How the next watch requests are answered (shifted per request; the last one repeats). */
  plans: WatchPlan[] = [];
  private readonly open = new Set<ServerResponse>();

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  async listen(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== this.path) {
      res.writeHead(404).end();
      return;
    }
    if (url.searchParams.get('watch') !== 'true') {
      this.lists.push({ at: Date.now(), items: this.items.map((i) => i.metadata.name), fieldSelector: url.searchParams.get('fieldSelector') });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: this.listRv }, items: this.items }));
      return;
    }
    const record = { at: Date.now(), rv: url.searchParams.get('resourceVersion') ?? '', closed: false, fieldSelector: url.searchParams.get('fieldSelector') };
    this.watches.push(record);
    this.open.add(res);
    res.on('close', () => {
      record.closed = true;
      this.open.delete(res);
    });
    const plan = this.plans.length > 1 ? this.plans.shift()! : this.plans[0];
    if (plan === undefined) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      return;
    }
    plan(res, record.rv);
  }

  async close(): Promise<void> {
    for (const r of this.open) r.destroy();
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }
}

/** Holds the watch open: headers sent, no events. */
const silent: WatchPlan = (res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.flushHeaders();
};

/** Answers the watch request itself with 410 Gone (resourceVersion too old). */
const gone: WatchPlan = (res, rv) => {
  res.writeHead(410, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: `too old resource version: ${rv}` }));
};

/** Accepts the watch, then sends a 410 ERROR event and ends the stream, as the API server does. */
const goneEvent: WatchPlan = (res, rv) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: `too old resource version: ${rv}` } })}\n`);
  res.end();
};

function kubeConfig(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'double', server, skipTLSVerify: true }],
    users: [{ name: 'nobody' }],
    contexts: [{ name: 'double', cluster: 'double', user: 'nobody' }],
    currentContext: 'double',
  });
  return kc;
}

class Sink {
  readonly log: string[] = [];
  apply(_kind: string, obj: KubeObject): void {
    this.log.push(`apply ${obj.metadata.name}@${obj.metadata.resourceVersion ?? ''}`);
  }
  delete(_kind: string, obj: KubeObject): void {
    this.log.push(`delete ${obj.metadata.name}`);
  }
}

interface Harness {
  api: ApiDouble;
  sink: Sink;
  watch: ResourceWatch;
  metrics: InformerMetrics;
  registry: Registry;
  records: { msg?: string; reason?: string }[];
}

const open: Harness[] = [];
after(async () => {
  for (const h of open) {
    await h.watch.stop();
    await h.api.close();
  }
});

async function harness(setup: (api: ApiDouble) => void, options: { silenceMs?: number; kind?: 'Namespace' | 'Secret' } = {}): Promise<Harness> {
  const api = new ApiDouble();
  setup(api);
  const server = await api.listen();
  const registry = new Registry();
  const metrics = informerMetrics(registry);
  const records: { msg?: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => records.push(JSON.parse(line) as { msg?: string }) });
  const sink = new Sink();
  const watch = new ResourceWatch(kubeConfig(server), resourceOf(options.kind ?? 'Namespace'), sink, {
    log,
    metrics,
    backoff: { initialMs: 100, maxMs: 400 },
    ...(options.silenceMs !== undefined ? { silenceMs: options.silenceMs } : {}),
  });
  const h = { api, sink, watch, metrics, registry, records };
  open.push(h);
  return h;
}

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function counter(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const values = (await registry.getSingleMetric(name)?.get())?.values ?? [];
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
}

test('Secrets: the list and the watch both carry the field selector type=kubernetes.io/tls', async () => {
  const h = await harness((api) => {
    api.path = '/api/v1/secrets';
    api.items = [ns('cert', 5)];
    api.plans = [silent];
  }, { kind: 'Secret' });
  h.watch.start();
  await h.watch.synced();
  await until('the watch', () => h.api.watches.length > 0);
  assert.deepEqual(h.api.lists.map((l) => l.fieldSelector), ['type=kubernetes.io/tls']);
  assert.deepEqual(h.api.watches.map((w) => w.fieldSelector), ['type=kubernetes.io/tls']);
  assert.deepEqual(h.sink.log, ['apply cert@5']);
});

describe('ResourceWatch: 410 Gone', () => {
  for (const [name, plan] of [
    ['a watch answered 410 Gone', gone],
    ['a 410 ERROR event in the watch stream', goneEvent],
  ] as const) {
    test(`${name} relists (not counted as a failure) and reconciles what changed`, async () => {
      const h = await harness((api) => {
        api.items = [ns('a', 10), ns('b', 11)];
        api.listRv = '20';
        api.plans = [
          (res, rv) => {
            // Between the first list and this watch, b was deleted, a changed, c appeared.
            api.items = [ns('a', 25), ns('c', 26)];
            api.listRv = '30';
            plan(res, rv);
          },
          silent,
        ];
      });
      h.watch.start();
      await h.watch.synced();
      await until('the relist and the watch after it', () => h.api.lists.length === 2 && h.api.watches.length === 2);
      await until('the relisted objects applied', () => h.sink.log.includes('apply c@26'));
      assert.deepEqual(h.api.watches.map((w) => w.rv), ['20', '30'], 'the first watch starts at the list\'s version; after 410, at the new list\'s');
      assert.deepEqual(h.sink.log, ['apply a@10', 'apply b@11', 'delete b', 'apply a@25', 'apply c@26']);
      assert.equal(h.watch.state, 'synced');
      assert.equal(await counter(h.registry, 'weft_informer_restarts_total', {}), 0, '410 is routine: not a failure');
      assert.equal(h.records.filter((r) => r.msg === 'watch failed; restarting it').length, 0);
    });
  }
});

describe('ResourceWatch: silence', () => {
  test('a watch that goes silent for silenceMs is restarted (new list, new watch, old one closed); one with events is not', async () => {
    const silenceMs = 1500;
    let tick: NodeJS.Timeout | undefined;
    let lastSent = 0;
    const h = await harness(
      (api) => {
        api.items = [ns('a', 1)];
        api.listRv = '5';
        api.plans = [
          (res) => {
            // A healthy watch: an event every 300 ms for 3 s, then nothing at all (stuck).
            res.writeHead(200, { 'content-type': 'application/json' });
            let rv = 5;
            const started = Date.now();
            tick = setInterval(() => {
              if (Date.now() - started > 3000) {
                clearInterval(tick);
                api.items = [ns('a', 1), ns('late', 99)];
                api.listRv = '100';
                return;
              }
              rv++;
              lastSent = Date.now();
              res.write(`${JSON.stringify({ type: 'MODIFIED', object: ns('a', rv) })}\n`);
            }, 300);
          },
          silent,
        ];
      },
      { silenceMs },
    );
    after(() => clearInterval(tick));
    h.watch.start();
    await h.watch.synced();
    await until('the silence restart', () => h.api.lists.length === 2, 30_000);
    const lastEvent = h.sink.log.filter((l) => l.startsWith('apply a@')).length;
    assert.ok(lastEvent >= 5, `events flowed before the silence (${lastEvent})`);
    const firstWatch = h.api.watches[0]!;
    const relist = h.api.lists[1]!;
    assert.ok(relist.at - firstWatch.at >= 2500, `not restarted while events flowed (${relist.at - firstWatch.at} ms)`);
    assert.ok(relist.at - lastSent >= silenceMs, `restarted ${relist.at - lastSent} ms after the last event, before silenceMs`);
    await until('the old watch closed', () => firstWatch.closed);
    await until('the object listed after the restart', () => h.sink.log.includes('apply late@99'));
    assert.ok((await counter(h.registry, 'weft_informer_restarts_total', { reason: 'silent' })) >= 1);
    assert.ok(h.records.some((r) => r.msg === 'watch went silent; restarting it'));
    assert.equal(h.watch.state, 'synced');
  });
});
