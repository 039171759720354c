/**
 * The upgrade (WebSocket) adapter both listeners share: the request is checked and planned like any
 * other, then proxy/upgrade.ts relays it to one endpoint and pipes bytes only after that endpoint's 101.
 *
 *   framing, or anything but a bodiless GET (RFC 6455 4.1) -> 400 and close   (security-cases W1)
 *   underscore rule (inbound)                              -> 400 and close
 *   plan: answer -> responder (bodiless, then close); forward -> header changes, one endpoint, relay
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { whenPickable } from '../picker.js';
import { applyPlanHttp1, forwardPlan } from '../plan.js';
import type { Direction } from '../plan.js';
import { relayUpgrade } from '../upgrade.js';
import { checkedHead, http1HookRequest } from './http1.js';

/** An upgrade request as node's HTTP/1 server hands it over: the request, its socket, the bytes after its head. */
export interface UpgradeRequest {
  readonly req: IncomingMessage;
  readonly socket: Duplex;
  readonly head: Buffer;
}

export function serveUpgrade<C>(dir: Direction<C>, conn: C | undefined, u: UpgradeRequest): void {
  const { req, socket, head } = u;
  socket.on('error', () => socket.destroy());
  if (conn === undefined) {
    socket.destroy();
    return;
  }
  const checked = checkedHead(dir, req, { responder: dir.upgrade, sink: socket, upgrade: true });
  if (checked === undefined) return;
  const target = checked.path;
  const headers = checked.fwd.headers;
  const plan = forwardPlan(dir, conn, http1HookRequest(req, target, headers), { responder: dir.upgrade, sink: socket });
  if (plan === undefined) return;
  if (plan.onClose !== undefined) {
    if (socket.destroyed) plan.onClose();
    else socket.once('close', plan.onClose);
  }
  // The route's rewrite and header changes apply to the upgrade request like to any other.
  applyPlanHttp1(headers, plan);
  const stats = dir.stats;
  whenPickable(plan.picker, (pick) => {
    if (socket.destroyed) return;
    const ep = pick()?.endpoint;
    if (ep === undefined) {
      dir.upgrade.answer(socket, { kind: 'reason', code: plan.picker.emptyReason?.() ?? 'NO_ENDPOINTS' }, plan.observe);
      return;
    }
    // Bytes are piped only after the upstream's 101; any other answer is relayed and the connection
    // is parsed again, so every later request on it is planned like any other.
    relayUpgrade({
      req, socket, head, path: plan.path ?? target, headers, protocol: 'websocket',
      connect: () => dir.deps.pools.upgrade(ep), connectError: dir.connectError,
      responseHeaders: plan.responseHeaders, answerTimeoutMs: plan.timeoutMs ?? dir.deps.limits.idleTimeoutMs,
      resume: dir.resumeHttp1,
      done: (o) => {
        if (o.error !== undefined) stats.error(o.error);
        else if (o.status > 0) stats.response(o.status);
        if (o.status > 0) plan.observe?.({ status: o.status, grpcStatus: undefined, error: o.error, durationMs: o.durationMs });
      },
    });
  });
}
