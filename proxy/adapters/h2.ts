/**
 * The HTTP/2 adapter both listeners share, gRPC included: a stream -> checks -> the direction's plan ->
 * the responder's answer (trailers-only with grpc-status for gRPC), or forwardH2Stream to the
 * endpoints the plan's picker gives; on a gateway, an HTTP/1.1 backend gets the request translated
 * (./h2-to-http1.ts).
 *
 *   CONNECT (RFC 9113 8.5: no path a route or authorization could match) -> 400
 *   header fields: malformed -> RST_STREAM PROTOCOL_ERROR (case 11); too large -> 431 (case 32)
 *   underscore rule (inbound) -> 400
 */
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { performance } from 'node:perf_hooks';
import { forwardH2Stream, h2RequestHeaders } from '../h2-exchange.js';
import { applyUnderscoreRuleH2, checkH2Fields, h2FlatHeaders } from '../headers.js';
import { mirrorH2 } from '../mirror.js';
import { whenPickable } from '../picker.js';
import { afterFaultDelay, applyPlanH2, forwardPlan } from '../plan.js';
import type { Direction } from '../plan.js';
import { isGrpc, rejectH2Stream, writeH2Error } from '../respond.js';
import type { H2Sink } from '../respond.js';
import { upstreamVersionOfH2 } from '../../core/gateway/upstream-protocol.js';
import { forwardH2AsHttp1 } from './h2-to-http1.js';
import { mirrorContext } from './http1.js';

export function serveStream<C>(dir: Direction<C>, conn: C | undefined, stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  const grpc = isGrpc(headers['content-type']);
  stream.on('error', () => undefined);
  if (conn === undefined) {
    writeH2Error(stream, 'INTERNAL', grpc);
    return;
  }
  const sink: H2Sink = { stream, grpc };
  const isConnect = headers[':method'] === 'CONNECT';
  if (isConnect && dir.connectBeforeFieldCheck) {
    dir.h2.refuse(sink, 'BAD_REQUEST');
    return;
  }
  const check = checkH2Fields(headers, dir.deps.limits.h2MaxHeaderListBytes);
  if (check !== 'ok') {
    rejectH2Stream(stream, check, grpc);
    return;
  }
  if (isConnect) {
    dir.h2.refuse(sink, 'BAD_REQUEST');
    return;
  }
  const out = h2RequestHeaders(headers);
  if (dir.underscores !== undefined && !applyUnderscoreRuleH2(out, dir.underscores)) {
    dir.h2.refuse(sink, 'BAD_REQUEST');
    return;
  }
  const plan = forwardPlan(dir, conn, {
    method: String(headers[':method']), authority: String(headers[':authority'] ?? ''), path: String(headers[':path'] ?? '/'),
    protocol: grpc ? 'grpc' : 'http2', header: (n) => headers[n], rawHeaders: h2FlatHeaders(out),
  }, { responder: dir.h2, sink });
  if (plan === undefined) return;
  if (plan.onClose !== undefined) {
    if (stream.closed) plan.onClose();
    else stream.once('close', plan.onClose);
  }
  applyPlanH2(out, plan);
  if (plan.mirrors !== undefined) mirrorH2(mirrorContext(dir), stream, plan.mirrors, out);
  const attempts = plan.picker.maxAttempts;
  const budget = plan.picker.budget();
  budget?.request(performance.now());
  afterFaultDelay(plan, () => !stream.closed, () => whenPickable(plan.picker, (pick) => {
    // gRPC always stays HTTP/2: only a gateway's other HTTP/2 requests look at the backend's version.
    if (dir.followsBackendHttpVersion === true && !grpc) {
      // All endpoints of a Service port share its appProtocol: the first one picked tells.
      const first = pick();
      if (first !== undefined && upstreamVersionOfH2(grpc, first.endpoint.protocol) === 'http1') {
        forwardH2AsHttp1(dir, stream, out, plan, pick);
        return;
      }
    }
    forwardH2Stream(stream, {
      headers: out, grpc, connectError: dir.connectError, noEndpoints: plan.picker.emptyReason?.(), retryPeerErrors: attempts > 1, maxAttempts: attempts,
      pick: (tried) => {
        const st = pick(tried);
        return st === undefined ? undefined : { session: dir.deps.pools.http2(st.endpoint), state: st };
      },
      maxReplayBytes: dir.replayBytes, stats: dir.stats, timeoutMs: plan.timeoutMs, attemptTimeoutMs: plan.attemptTimeoutMs,
      retry: plan.retry === undefined ? undefined : { policy: plan.retry, budget }, responseHeaders: plan.responseHeaders, observe: plan.observe,
    });
  }, () => !stream.closed));
}

