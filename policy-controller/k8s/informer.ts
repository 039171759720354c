/**
 * One resilient watch per resource: a @kubernetes/client-node ListWatch (informer) wrapped with
 * the recovery the library leaves to its caller.
 *
 * The library relists after a 410 and reconnects after its own 30 s inactivity timeout, but any
 * other error (a dropped connection, a 5xx, a failed list) stops the informer for good. Here:
 * - an error restarts the watch with a NEW informer after a jittered exponential backoff; a new
 *   informer relists, and the list reconciles deletions that happened while disconnected (the
 *   objects this watch delivered earlier but the list no longer has are deleted);
 * - a health timer restarts a watch that has been silent (no connect, no event) for `silenceMs`:
 *   a healthy quiet watch reconnects every 30 s, so silence longer than that means it is stuck;
 * - a 404 on the list of a CRD-defined kind means the CRD is not installed: reported (log, the
 *   `weft_informer_crd_missing` metric, /ready detail) and retried slowly, never fatal.
 *
 * Objects lose what nothing reads on the way in (./slim.ts: managedFields, most of a Pod); the most
 * recent managedFields time feeds the informer lag histogram (write -> observed).
 */
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { KubeObject } from '../../core/kube.js';
import type { ResourceKind } from '../index/kinds.js';
import { Backoff, WATCH_BACKOFF, type BackoffOptions } from './backoff.js';
import { kubeRequest, KubeHttpError } from './http.js';
import { collectionPath, type ResourceSpec } from './resources.js';
import { slimObject } from './slim.js';

export interface WatchSink {
  apply(kind: ResourceKind, obj: KubeObject): void;
  delete(kind: ResourceKind, obj: KubeObject): void;
}

export type WatchState = 'starting' | 'synced' | 'missing' | 'retrying' | 'stopped';

export interface InformerMetrics {
  readonly events: Counter<'kind' | 'type'>;
  readonly restarts: Counter<'kind' | 'reason'>;
  readonly lag: Histogram<'kind'>;
  readonly crdMissing: Gauge<'kind'>;
  readonly synced: Gauge<'kind'>;
}

export function informerMetrics(registry: Registry): InformerMetrics {
  return {
    events: new Counter({ name: 'weft_informer_events_total', help: 'Watch events applied to the index', labelNames: ['kind', 'type'], registers: [registry] }),
    restarts: new Counter({ name: 'weft_informer_restarts_total', help: 'Watches restarted, by reason', labelNames: ['kind', 'reason'], registers: [registry] }),
    lag: new Histogram({
      name: 'weft_informer_lag_seconds',
      help: 'From an object\'s last write (managedFields time) to the controller observing it',
      labelNames: ['kind'],
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60],
      registers: [registry],
    }),
    crdMissing: new Gauge({ name: 'weft_informer_crd_missing', help: '1 when the CRD of a watched kind is not installed', labelNames: ['kind'], registers: [registry] }),
    synced: new Gauge({ name: 'weft_informer_synced', help: '1 once the watch has listed its resource', labelNames: ['kind'], registers: [registry] }),
  };
}

export interface ResourceWatchOptions {
  readonly log: Logger;
  readonly metrics: InformerMetrics;
  readonly backoff?: BackoffOptions;
  /** Restart a watch with no connect and no event for this long. */
  readonly silenceMs?: number;
  /** Retry period while a CRD is missing. */
  readonly missingRetryMs?: number;
  /** Page size of list calls. */
  readonly pageSize?: number;
}

const DEFAULT_SILENCE_MS = 90_000;
const DEFAULT_MISSING_RETRY_MS = 15_000;

function keyOf(obj: KubernetesObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

function statusCodeOf(err: unknown): number | undefined {
  if (err instanceof KubeHttpError) return err.statusCode;
  const e = err as { statusCode?: number; code?: number } | undefined;
  return typeof e?.statusCode === 'number' ? e.statusCode : typeof e?.code === 'number' ? e.code : undefined;
}

export class ResourceWatch {
  private informer: ListWatch<KubernetesObject> | undefined;
  private readonly known = new Map<string, KubeObject>();
  private readonly backoff: Backoff;
  private timer: NodeJS.Timeout | undefined;
  private health: NodeJS.Timeout | undefined;
  private lastActivity = Date.now();
  private stopped = true;
  private _state: WatchState = 'stopped';
  private detail = '';
  private readonly syncedWaiters: (() => void)[] = [];
  private hasSynced = false;

  constructor(
    private readonly kc: KubeConfig,
    readonly resource: ResourceSpec,
    private readonly sink: WatchSink,
    private readonly options: ResourceWatchOptions,
  ) {
    this.backoff = new Backoff(options.backoff ?? WATCH_BACKOFF);
  }

  get state(): WatchState {
    return this._state;
  }

  /** Why the watch is not synced (for /ready). */
  get why(): string {
    return this.detail;
  }

  get kind(): ResourceKind {
    return this.resource.kind;
  }

  /** Resolves once the first list has been applied. */
  synced(): Promise<void> {
    if (this.hasSynced) return Promise.resolve();
    return new Promise((resolve) => this.syncedWaiters.push(resolve));
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.launch();
    const silence = this.options.silenceMs ?? DEFAULT_SILENCE_MS;
    this.health = setInterval(() => {
      if (this._state !== 'synced' && this._state !== 'starting') return;
      if (Date.now() - this.lastActivity > silence) {
        this.options.log.warn({ kind: this.kind, silentMs: Date.now() - this.lastActivity }, 'watch went silent; restarting it');
        this.options.metrics.restarts.inc({ kind: this.kind, reason: 'silent' });
        this.restart(0);
      }
    }, Math.max(1000, Math.floor(silence / 3)));
    this.health.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this._state = 'stopped';
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.health !== undefined) clearInterval(this.health);
    const inf = this.informer;
    this.informer = undefined;
    await inf?.stop();
  }

  private launch(): void {
    if (this.stopped) return;
    this._state = this.hasSynced ? this._state : 'starting';
    this.lastActivity = Date.now();
    const path = collectionPath(this.resource);
    const inf: ListWatch<KubernetesObject> = new ListWatch<KubernetesObject>(
      path, new Watch(this.kc), (): Promise<KubernetesListObject<KubernetesObject>> => this.list(inf), false, undefined, this.resource.fieldSelector,
    );
    this.informer = inf;
    const mine = () => this.informer === inf && !this.stopped;
    inf.on('add', (obj) => mine() && this.deliver('add', obj));
    inf.on('update', (obj) => mine() && this.deliver('update', obj));
    inf.on('delete', (obj) => mine() && this.deliver('delete', obj));
    inf.on('connect', () => {
      if (mine()) this.lastActivity = Date.now();
    });
    inf.on('error', (err: unknown) => {
      if (mine()) this.failed(err);
    });
    inf.start().catch((err: unknown) => {
      if (mine()) this.failed(err);
    });
  }

  /** The informer's list: all pages, plain JSON; reconciles deletions missed while disconnected. */
  private async list(inf: ListWatch<KubernetesObject>): Promise<KubernetesListObject<KubernetesObject>> {
    const path = collectionPath(this.resource);
    const limit = this.options.pageSize ?? 500;
    const items: KubernetesObject[] = [];
    let cont = '';
    let resourceVersion = '';
    do {
      const selector = this.resource.fieldSelector;
      const q = `?limit=${limit}${selector !== undefined ? `&fieldSelector=${encodeURIComponent(selector)}` : ''}${cont !== '' ? `&continue=${encodeURIComponent(cont)}` : ''}`;
      const page = await kubeRequest<{ metadata?: { resourceVersion?: string; continue?: string }; items?: KubernetesObject[] }>(
        this.kc,
        'GET',
        path + q,
      );
      items.push(...(page.body.items ?? []));
      resourceVersion = page.body.metadata?.resourceVersion ?? '';
      cont = page.body.metadata?.continue ?? '';
    } while (cont !== '');
    if (this.informer !== inf || this.stopped) return { metadata: { resourceVersion }, items: [] };
    const present = new Set(items.map(keyOf));
    for (const [key, obj] of [...this.known]) {
      if (!present.has(key)) {
        this.known.delete(key);
        this.options.metrics.events.inc({ kind: this.kind, type: 'delete' });
        this.sink.delete(this.kind, obj);
      }
    }
    this.lastActivity = Date.now();
    this.backoff.reset();
    if (this._state === 'missing') {
      this.options.log.info({ kind: this.kind, crd: this.resource.crd }, 'CRD installed; watching it');
      this.options.metrics.crdMissing.set({ kind: this.kind }, 0);
    }
    this._state = 'synced';
    this.detail = '';
    // Synced once the ListWatch has emitted add/update for the items (after this promise settles).
    setImmediate(() => this.markSynced());
    return { metadata: { resourceVersion }, items };
  }

  private markSynced(): void {
    this.options.metrics.synced.set({ kind: this.kind }, 1);
    if (this.hasSynced) return;
    this.hasSynced = true;
    for (const w of this.syncedWaiters.splice(0)) w();
  }

  private deliver(type: 'add' | 'update' | 'delete', raw: KubernetesObject): void {
    this.lastActivity = Date.now();
    const obj = raw as unknown as KubeObject & { metadata: { managedFields?: { time?: string }[] } };
    if (obj.metadata === undefined || typeof obj.metadata.name !== 'string') return;
    // After a relist in the same informer (410 Gone) list() has already reconciled deletions; the
    // library then reports the same ones again from its own cache. Deliver each delete once.
    if (type === 'delete' && !this.known.has(keyOf(raw))) return;
    const fields = obj.metadata.managedFields;
    if (fields !== undefined) {
      let latest = 0;
      for (const f of fields) {
        const t = f.time === undefined ? NaN : Date.parse(f.time);
        if (t > latest) latest = t;
      }
      if (latest > 0 && type !== 'delete') this.options.metrics.lag.observe({ kind: this.kind }, Math.max(0, (Date.now() - latest) / 1000));
    }
    slimObject(this.kind, obj as unknown as Record<string, unknown>);
    this.options.metrics.events.inc({ kind: this.kind, type });
    const key = keyOf(raw);
    if (type === 'delete') {
      this.known.delete(key);
      this.sink.delete(this.kind, obj);
    } else {
      this.known.set(key, obj);
      this.sink.apply(this.kind, obj);
    }
  }

  private failed(err: unknown): void {
    const code = statusCodeOf(err);
    if (code === 404 && this.resource.crd !== undefined) {
      if (this._state !== 'missing') {
        this.options.log.warn({ kind: this.kind, crd: this.resource.crd }, `CRD ${this.resource.crd} is not installed; ${this.kind} objects are ignored until it is`);
        this.options.metrics.crdMissing.set({ kind: this.kind }, 1);
      }
      this._state = 'missing';
      this.detail = `CRD ${this.resource.crd} not installed`;
      // A missing CRD does not hold readiness back: there is nothing to wait for.
      this.markSynced();
      this.options.metrics.synced.set({ kind: this.kind }, 0);
      const base = this.options.missingRetryMs ?? DEFAULT_MISSING_RETRY_MS;
      this.restart(Math.round(base / 2 + Math.random() * (base / 2)));
      return;
    }
    const delay = this.backoff.next();
    const message = err instanceof Error ? err.message : String(err);
    this.options.log.warn({ kind: this.kind, statusCode: code, err: message, retryInMs: delay, attempt: this.backoff.attempts }, 'watch failed; restarting it');
    this.options.metrics.restarts.inc({ kind: this.kind, reason: code !== undefined ? String(code) : 'error' });
    if (this._state !== 'missing') this._state = 'retrying';
    this.detail = `watch failed: ${message}`;
    this.restart(delay);
  }

  private restart(delayMs: number): void {
    const old = this.informer;
    this.informer = undefined;
    old?.stop().catch(() => undefined);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.launch();
    }, delayMs);
    this.timer.unref();
  }
}
