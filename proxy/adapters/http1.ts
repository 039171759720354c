/**
 * The HTTP/1.1 adapter both listeners share: a parsed request -> checks -> the direction's plan ->
 * the responder's answer, or an Http1Exchange to the endpoints the plan's picker gives.
 *
 *   framing (origin-form, Content-Length / Transfer-Encoding) -> 400 and close   (security cases 1-9)
 *   underscore rule (inbound)                                 -> 400
 *   plan: answer -> responder; forward -> header changes, body (buffered to be sent again when small
 *         enough for the direction), mirrors after the request is under way
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { applyUnderscoreRule, forwardRequestHeaders, hasSafeFraming, isBodilessGet, originForm } from '../headers.js';
import type { ForwardedHeaders } from '../headers.js';
import { Http1Exchange } from '../http1-exchange.js';
import type { ExchangeOptions } from '../http1-exchange.js';
import { mirrorHttp1 } from '../mirror.js';
import type { MirrorContext } from '../mirror.js';
import { whenPickable } from '../picker.js';
import type { Pick } from '../picker.js';
import { afterFaultDelay, applyPlanHttp1, forwardPlan } from '../plan.js';
import type { Direction, ForwardPlan } from '../plan.js';
import type { HookRequest } from '../policy-hook.js';
import { writeHttp1Error } from '../respond.js';
import type { Responder, ResponseSink } from '../respond.js';

/** The hook's view of an HTTP/1 request (requests and upgrades). */
export function http1HookRequest(req: IncomingMessage, path: string, headers: readonly string[]): HookRequest {
  return { method: req.method ?? 'GET', authority: req.headers.host ?? '', path, protocol: 'http1', header: (n) => req.headers[n], rawHeaders: headers };
}

export function mirrorContext<C>(dir: Direction<C>): MirrorContext {
  return { stats: dir.stats, pools: dir.deps.pools, upstreams: dir.upstreams, timeoutMs: dir.deps.limits.connectTimeoutMs * 10 };
}

/** The request as it passed the checks: the forwarded headers and the origin-form target. */
export interface CheckedHead {
  readonly fwd: ForwardedHeaders;
  readonly path: string;
}

/**
 * The checks an HTTP/1 head passes before it is planned: framing (an upgrade must be a bodiless GET,
 * RFC 6455 4.1, or where the request ends and the new protocol begins is ambiguous: security-cases
 * W1), then the direction's underscore rule. A refused head is answered 400; undefined then.
 */
export function checkedHead<C, S>(
  dir: Direction<C>, req: IncomingMessage, o: { readonly responder: Responder<S>; readonly sink: S; readonly upgrade: boolean; readonly onBadFraming?: () => void },
): CheckedHead | undefined {
  const fwd = forwardRequestHeaders(req.rawHeaders);
  const path = originForm(req.url ?? '/', fwd);
  if (path === undefined || !hasSafeFraming(fwd) || (o.upgrade && !isBodilessGet(req.method, fwd))) {
    o.onBadFraming?.();
    o.responder.refuse(o.sink, 'BAD_REQUEST');
    return undefined;
  }
  if (dir.underscores !== undefined && !applyUnderscoreRule(fwd.headers, dir.underscores)) {
    o.responder.refuse(o.sink, 'BAD_REQUEST');
    return undefined;
  }
  return { fwd, path };
}

export function serveHttp1<C>(dir: Direction<C>, conn: C | undefined, req: IncomingMessage, res: ServerResponse): void {
  if (conn === undefined) {
    writeHttp1Error(res, 'INTERNAL');
    return;
  }
  if (dir.draining()) res.shouldKeepAlive = false;
  const head = checkedHead(dir, req, { responder: dir.http1, sink: res, upgrade: false, onBadFraming: () => (res.shouldKeepAlive = false) });
  if (head === undefined) return;
  const { fwd, path } = head;
  const headers = fwd.headers;
  const plan = forwardPlan(dir, conn, http1HookRequest(req, path, headers), { responder: dir.http1, sink: res });
  if (plan === undefined) return;
  if (plan.onClose !== undefined) {
    if (res.closed) plan.onClose();
    else res.once('close', plan.onClose);
  }
  applyPlanHttp1(headers, plan);
  const request: ForwardedRequest = { body: req, res, method: req.method ?? 'GET', path: plan.path ?? path, headers, contentLength: fwd.contentLength, chunked: fwd.chunked, plan };
  const alive = () => !res.writableEnded && !res.destroyed;
  afterFaultDelay(plan, alive, () => whenPickable(plan.picker, (pick) => {
    plan.picker.budget()?.request(performance.now());
    forwardHttp1(dir, request, pick, plan.mirrors);
  }, alive));
}

/** A planned request on its way to an HTTP/1.1 upstream. */
export interface ForwardedRequest {
  /** The request body as it arrives (read only when contentLength or chunked says there is one). */
  readonly body: Readable;
  readonly res: ResponseSink;
  readonly method: string;
  readonly path: string;
  readonly headers: string[];
  readonly contentLength: number;
  readonly chunked: boolean;
  readonly plan: ForwardPlan;
}

/**
 * Starts the Http1Exchange of a planned request (the destination's budget has counted it already):
 * no body, a small body buffered to be sent again, or the stream itself. `mirrors` get a copy of a
 * bodiless or buffered request once the main one is under way.
 */
export function forwardHttp1<C>(dir: Direction<C>, r: ForwardedRequest, pick: Pick, mirrors: ForwardPlan['mirrors']): void {
  const { res, plan, method } = r;
  const attempts = plan.picker.maxAttempts;
  const base: Omit<ExchangeOptions, 'body'> = {
    method, path: r.path, headers: r.headers, connectError: dir.connectError, noEndpoints: plan.picker.emptyReason?.(), retryPeerErrors: attempts > 1, maxAttempts: attempts,
    pick: (tried) => {
      const st = pick(tried);
      return st === undefined ? undefined : dir.upstreams.of(st);
    },
    timeoutMs: plan.timeoutMs, attemptTimeoutMs: plan.attemptTimeoutMs, retry: plan.retry === undefined ? undefined : { policy: plan.retry, budget: plan.picker.budget() },
    stats: dir.stats, draining: dir.draining, responseHeaders: plan.responseHeaders, observe: plan.observe,
  };
  // Mirrors get a copy after the main request is under way; they never delay or change it.
  if (!r.chunked && r.contentLength <= 0) {
    new Http1Exchange(res, { ...base, body: null }).start();
    if (mirrors !== undefined) mirrorHttp1(mirrorContext(dir), mirrors, { method, path: r.path, headers: r.headers, body: null });
    return;
  }
  if (!r.chunked && r.contentLength <= dir.replayBytes) {
    // Small bodies are buffered so a connect failure (or a route retry) can be sent again (bounded: case 34).
    const chunks: Buffer[] = [];
    r.body.on('data', (c: Buffer) => chunks.push(c));
    r.body.once('end', () => {
      const body = Buffer.concat(chunks);
      new Http1Exchange(res, { ...base, body }).start();
      if (mirrors !== undefined) mirrorHttp1(mirrorContext(dir), mirrors, { method, path: r.path, headers: r.headers, body });
    });
    return;
  }
  // Larger or streamed bodies are not mirrored: a mirror never holds more than MIRROR_BODY_LIMIT.
  if (mirrors !== undefined) dir.stats.mirrorsSkipped += mirrors.length;
  new Http1Exchange(res, { ...base, body: r.body }).start();
}
