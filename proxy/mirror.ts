/**
 * RequestMirror: fire-and-forget copies of a request to other Services. A copy never delays or changes
 * the request it copies; its answer is read and dropped, and failures are only counted. A request whose
 * body is over MIRROR_BODY_LIMIT is not mirrored (Linkerd's retry-buffer bound, security case 34).
 */
import { constants as h2constants } from 'node:http2';
import type { ServerHttp2Stream } from 'node:http2';
import type { Dispatcher } from 'undici';
import type { EndpointState } from './balancer.js';
import type { DirectionStats } from './metrics.js';
import { whenPickable } from './picker.js';
import type { EndpointPicker } from './picker.js';
import type { Http1Upstreams } from './plan.js';
import type { UpstreamPools } from './pool.js';

/** A mirror's body is at most this (Linkerd's retry-buffer bound, security case 34). */
export const MIRROR_BODY_LIMIT = 64 * 1024;

export interface MirrorContext {
  readonly stats: DirectionStats;
  readonly pools: UpstreamPools;
  readonly upstreams: Http1Upstreams;
  /** A mirror gives up on its answer after this. */
  readonly timeoutMs: number;
}

export interface Http1Copy {
  readonly method: string;
  readonly path: string;
  readonly headers: readonly string[];
  readonly body: Buffer | null;
}

/** Sends one copy to the endpoint the mirror's picker gives once it can (counted sent), or counts it failed. */
function toEndpoint(stats: DirectionStats, mirror: EndpointPicker, send: (st: EndpointState) => void): void {
  whenPickable(mirror, (pick) => {
    const st = pick();
    if (st === undefined) {
      stats.mirrorsFailed++;
      return;
    }
    stats.mirrorsSent++;
    send(st);
  });
}

/** One copy of an HTTP/1 request per mirror. */
export function mirrorHttp1(c: MirrorContext, mirrors: readonly EndpointPicker[], copy: Http1Copy): void {
  const stats = c.stats;
  if (copy.body !== null && copy.body.length > MIRROR_BODY_LIMIT) {
    stats.mirrorsSkipped += mirrors.length;
    return;
  }
  for (const m of mirrors) {
    toEndpoint(stats, m, (st) => {
      const opts = { path: copy.path, method: copy.method, headers: [...copy.headers], body: copy.body, idempotent: false, reset: false };
      c.upstreams.of(st).dispatcher.dispatch(opts as unknown as Dispatcher.DispatchOptions, new MirrorHandler(stats, c.timeoutMs));
    });
  }
}

/**
 * Mirrors an HTTP/2 stream: the request body is copied while it stays within MIRROR_BODY_LIMIT and
 * the copy is sent once the client has finished sending; a larger body is not mirrored.
 */
export function mirrorH2(c: MirrorContext, down: ServerHttp2Stream, mirrors: readonly EndpointPicker[], headers: Record<string, string | string[]>): void {
  const stats = c.stats;
  const copy = { ...headers };
  let chunks: Buffer[] | null = [];
  let size = 0;
  down.on('data', (chunk: Buffer) => {
    if (chunks === null) return;
    size += chunk.length;
    if (size > MIRROR_BODY_LIMIT) chunks = null;
    else chunks.push(chunk);
  });
  const send = () => {
    if (chunks === null) {
      stats.mirrorsSkipped += mirrors.length;
      return;
    }
    const body = Buffer.concat(chunks);
    for (const m of mirrors) {
      toEndpoint(stats, m, (st) => {
        try {
          const s = c.pools.http2(st.endpoint).request(copy, { endStream: body.length === 0 });
          s.on('error', () => stats.mirrorsFailed++);
          s.resume();
          s.setTimeout(c.timeoutMs, () => s.close(h2constants.NGHTTP2_CANCEL));
          if (body.length > 0) s.end(body);
        } catch {
          stats.mirrorsFailed++;
        }
      });
    }
  };
  if (down.readableEnded) send();
  else down.once('end', send);
}

/** Reads a mirror's answer and drops it; gives up after `timeoutMs`. */
class MirrorHandler implements Dispatcher.DispatchHandler {
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly stats: DirectionStats, private readonly timeoutMs: number) {}
  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.timer = setTimeout(() => controller.abort(new Error('mirror timed out')), this.timeoutMs);
    this.timer.unref();
  }
  onResponseStart(): void {}
  onResponseData(): void {}
  onResponseEnd(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
  onResponseError(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.stats.mirrorsFailed++;
  }
}
