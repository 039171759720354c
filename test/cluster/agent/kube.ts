/**
 * A small Kubernetes REST client over node:https: the kubeconfig (credentials, CA, server) comes from
 * @kubernetes/client-node; requests, patches with an explicit content type and streaming watches are
 * done here so the agent controls timeouts, retries and the watch loop itself.
 */
import https from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';

export class ApiError extends Error {
  constructor(readonly status: number, readonly reason: string, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

export type PatchType = 'application/merge-patch+json' | 'application/strategic-merge-patch+json' | 'application/json-patch+json';

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export class Kube {
  private readonly agent: https.Agent;

  private constructor(private readonly server: URL, private readonly tls: https.RequestOptions) {
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 16 });
  }

  static async fromKubeconfig(path: string): Promise<Kube> {
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    const cluster = kc.getCurrentCluster();
    if (cluster === null) throw new Error(`${path}: no current cluster`);
    const opts: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    return new Kube(new URL(cluster.server), opts);
  }

  close(): void {
    this.agent.destroy();
  }

  private options(method: string, path: string, headers: Record<string, string>, timeoutMs: number | undefined): https.RequestOptions {
    const o: https.RequestOptions = {
      ...this.tls,
      agent: this.agent,
      method,
      hostname: this.server.hostname,
      port: this.server.port === '' ? 443 : Number(this.server.port),
      path,
      headers: { accept: 'application/json', ...headers, ...(this.tls.headers as Record<string, string> | undefined) },
    };
    if (timeoutMs !== undefined) o.timeout = timeoutMs;
    return o;
  }

  async request<T>(method: string, path: string, body?: unknown, contentType = 'application/json', timeoutMs = 30_000): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = payload === undefined ? {} : { 'content-type': contentType, 'content-length': String(payload.length) };
    return new Promise<T>((resolve, reject) => {
      const req = https.request(this.options(method, path, headers, timeoutMs), (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            try {
              resolve((text === '' ? {} : JSON.parse(text)) as T);
            } catch (err) {
              reject(err instanceof Error ? err : new Error(String(err)));
            }
            return;
          }
          let reason = 'Unknown';
          let message = text;
          try {
            const s = JSON.parse(text) as { reason?: string; message?: string };
            reason = s.reason ?? reason;
            message = s.message ?? message;
          } catch { /* not a Status object */ }
          reject(new ApiError(status, reason, `${method} ${path}: ${status} ${message}`));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  patch<T>(path: string, body: unknown, type: PatchType = 'application/merge-patch+json'): Promise<T> {
    return this.request<T>('PATCH', path, body, type);
  }

  /**
   * Streams a watch until the server ends it, the signal aborts, or no byte arrives for `idleMs`
   * (a silent watch is treated as dead). Resolves on a clean end; rejects on errors.
   */
  watch<T>(path: string, onEvent: (ev: WatchEvent<T>) => void, signal: AbortSignal, idleMs = 120_000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const req = https.request(this.options('GET', path, {}, undefined), (res) => {
        if ((res.statusCode ?? 0) !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => reject(new ApiError(res.statusCode ?? 0, 'WatchFailed', `watch ${path}: ${res.statusCode ?? 0} ${Buffer.concat(chunks).toString('utf8')}`)));
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          armIdle();
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (line === '') continue;
            try {
              onEvent(JSON.parse(line) as WatchEvent<T>);
            } catch (err) {
              req.destroy(err instanceof Error ? err : new Error(String(err)));
              return;
            }
          }
        });
        res.on('end', () => {
          clearTimeout(idle);
          resolve();
        });
        res.on('error', (err) => {
          clearTimeout(idle);
          reject(err);
        });
      });
      let idle: NodeJS.Timeout = setTimeout(() => undefined, 0);
      const armIdle = () => {
        clearTimeout(idle);
        idle = setTimeout(() => req.destroy(new Error(`watch ${path}: silent for ${idleMs} ms`)), idleMs);
      };
      armIdle();
      const onAbort = () => {
        clearTimeout(idle);
        req.destroy();
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => {
        clearTimeout(idle);
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) resolve();
        else reject(err);
      });
      req.on('close', () => signal.removeEventListener('abort', onAbort));
      req.end();
    });
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404;
}

export function isConflict(err: unknown): boolean {
  return err instanceof ApiError && err.status === 409;
}

/** Jittered exponential backoff for watch and request retries: 0.5 s doubling to 30 s, +-50%. */
export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(30_000, 500 * 2 ** Math.max(0, attempt));
  return Math.round(base * (0.5 + random()));
}

/**
 * List-then-watch loop for one collection, restarting with jittered backoff on any error and relisting
 * after 410 Gone. `onSync` receives the full list (to reconcile deletions missed while disconnected),
 * `onEvent` each change after it.
 */
export async function listWatch<T extends { metadata: { resourceVersion?: string } }>(
  kube: Kube,
  collectionPath: string,
  query: string,
  handlers: { onSync: (items: T[]) => void; onEvent: (ev: WatchEvent<T>) => void; onError: (err: unknown) => void },
  signal: AbortSignal,
): Promise<void> {
  let attempt = 0;
  while (!signal.aborted) {
    try {
      const list = await kube.get<{ metadata: { resourceVersion: string }; items: T[] }>(`${collectionPath}?${query}`);
      handlers.onSync(list.items);
      let rv = list.metadata.resourceVersion;
      attempt = 0;
      let gone = false;
      while (!signal.aborted && !gone) {
        await kube.watch<T>(`${collectionPath}?${query}&watch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=${rv}`, (ev) => {
          if (ev.type === 'ERROR') {
            gone = true;
            return;
          }
          if (ev.object.metadata.resourceVersion !== undefined) rv = ev.object.metadata.resourceVersion;
          if (ev.type !== 'BOOKMARK') handlers.onEvent(ev);
        }, signal);
      }
    } catch (err) {
      if (signal.aborted) return;
      handlers.onError(err);
      await sleep(retryDelayMs(attempt++), signal);
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
