/**
 * A gateway's HTTP/2 request to an HTTP/1.1 backend (core/gateway/upstream-protocol.ts): the stream's
 * planned fields become an HTTP/1.1 head (proxy/headers.ts http1HeadersOfH2), the stream's DATA the
 * body, and the HTTP/1.1 exchange (proxy/http1-exchange.ts, retries, timeouts and metrics included)
 * writes its response into the stream through H2ResponseSink.
 *
 * What does not cross: HTTP/1.1 response trailers (rare, and an HTTP/2 stream must announce them
 * before its headers are sent), the reason phrase (HTTP/2 has none), and keep-alive (per connection
 * in HTTP/1.1, meaningless per stream).
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { constants as h2c } from 'node:http2';
import type { ServerHttp2Stream } from 'node:http2';
import { PassThrough } from 'node:stream';
import { http1HeadersOfH2 } from '../headers.js';
import type { Pick } from '../picker.js';
import type { Direction, ForwardPlan } from '../plan.js';
import type { ResponseSink } from '../respond.js';
import { forwardHttp1 } from './http1.js';

export class H2ResponseSink implements ResponseSink {
  statusCode = 200;
  /** Per connection in HTTP/1.1; an HTTP/2 stream has nothing to keep alive. */
  shouldKeepAlive = true;

  constructor(private readonly stream: ServerHttp2Stream) {}

  get headersSent(): boolean {
    return this.stream.headersSent;
  }

  writeHead(statusCode: number, a?: string | OutgoingHttpHeaders, b?: OutgoingHttpHeaders): this {
    const headers = typeof a === 'string' ? b : a;
    this.statusCode = statusCode;
    if (this.stream.destroyed || this.stream.closed) return this;
    const out: OutgoingHttpHeaders = {};
    for (const name in headers) {
      const v = headers[name];
      if (v !== undefined) out[name.toLowerCase()] = v;
    }
    out[':status'] = statusCode;
    try {
      this.stream.respond(out);
    } catch {
      // A field HTTP/2 cannot carry (node refuses connection-specific ones): the stream is reset.
      this.destroy();
    }
    return this;
  }

  write(chunk: Buffer): boolean {
    if (this.stream.destroyed || this.stream.closed) return true;
    return this.stream.write(chunk);
  }

  end(chunk?: string): this {
    if (!this.stream.destroyed && !this.stream.closed) this.stream.end(chunk);
    return this;
  }

  addTrailers(): void {
    // Dropped: see the module's comment.
  }

  destroy(): this {
    if (!this.stream.destroyed && !this.stream.closed) this.stream.close(h2c.NGHTTP2_INTERNAL_ERROR);
    return this;
  }

  once(event: 'close' | 'drain', listener: () => void): this {
    this.stream.once(event, listener);
    return this;
  }
}

/**
 * Forwards a planned HTTP/2 stream (its fields `out` already carry the plan's changes) to an HTTP/1.1
 * upstream. The caller counted the request against the destination's budget and sent its mirrors.
 */
export function forwardH2AsHttp1<C>(dir: Direction<C>, stream: ServerHttp2Stream, out: Record<string, string | string[]>, plan: ForwardPlan, pick: Pick): void {
  const headers = http1HeadersOfH2(out);
  const declared = out['content-length'];
  const contentLength = typeof declared === 'string' && /^\d+$/.test(declared) ? Number(declared) : -1;
  // No END_STREAM on the HEADERS frame and no length: the body's size is known at its end only, so it goes chunked.
  const noBody = stream.endAfterHeaders;
  const streamed = !noBody && (contentLength < 0 || contentLength > dir.replayBytes);
  // undici destroys a streamed body once it has sent it; the HTTP/2 stream must outlive that (its response is still to come).
  const body = streamed ? stream.pipe(new PassThrough()) : stream;
  forwardHttp1(dir, {
    body, res: new H2ResponseSink(stream), method: String(out[':method'] ?? 'GET'), path: String(out[':path'] ?? '/'), headers,
    contentLength: noBody ? 0 : contentLength, chunked: !noBody && contentLength < 0, plan,
  }, pick, undefined);
}
