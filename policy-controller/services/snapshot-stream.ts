/**
 * One server stream of full snapshots with a latest-snapshot slot.
 *
 * Model: the index says "your view changed" (`offer`); the stream computes the current body only
 * when it can write, so a slow subscriber never queues snapshots: while one message is in flight,
 * further offers just mark the slot dirty, and the next write sends the latest view (intermediate
 * ones are dropped). A body equal (byte for byte) to the last one sent is not sent again. Versions
 * increase by one per message of this stream.
 *
 * Ending: a Watch (server-streaming) ends when the client cancels it; a Follow (bidirectional) also
 * when the client half-closes, which this answers with OK after what is in flight.
 */
import type { ServerDuplexStream, ServerWritableStream } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import type { StreamMetrics, StreamService } from './metrics.js';

/** What to send now: a message body, or an error status that ends the stream. */
/** The server side of a Watch or of a Follow. */
export type ServerStream<M> = ServerWritableStream<unknown, M> | ServerDuplexStream<unknown, M>;

export type Snapshot<B> = { readonly body: B; readonly bytes: Uint8Array } | { readonly end: status; readonly message: string };

export interface SnapshotStreamOptions<B, M> {
  readonly service: StreamService;
  readonly call: ServerStream<M>;
  readonly compute: () => Snapshot<B>;
  readonly message: (body: B, version: number, generatedAt: Date) => M;
  readonly metrics: StreamMetrics;
  readonly onEnd: () => void;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && Buffer.compare(a, b) === 0;
}

export class SnapshotStream<B, M> {
  private version = 0;
  private inFlight = false;
  private dirty = false;
  private since: number | undefined;
  private lastBytes: Uint8Array | undefined;
  private ended = false;

  constructor(private readonly o: SnapshotStreamOptions<B, M>) {
    o.call.on('cancelled', () => this.finish());
    o.call.on('close', () => this.finish());
    o.call.on('error', () => this.finish());
    // Only a Follow's readable side ends: the client half-closed, so it needs no more snapshots.
    o.call.on('end', () => {
      this.finish();
      if (!o.call.writableEnded) o.call.end();
    });
  }

  /** The view changed (or the stream opened); `since` is when the oldest change behind it happened. */
  offer(since: number = performance.now()): void {
    if (this.ended) return;
    this.since = this.since === undefined ? since : Math.min(this.since, since);
    this.dirty = true;
    this.pump();
  }

  private pump(): void {
    if (this.ended || this.inFlight || !this.dirty) return;
    this.dirty = false;
    const since = this.since;
    this.since = undefined;
    const snap = this.o.compute();
    if ('end' in snap) {
      this.ended = true;
      this.o.metrics.refusals.inc({ service: this.o.service, code: status[snap.end] });
      this.o.call.emit('error', { code: snap.end, details: snap.message });
      this.o.onEnd();
      return;
    }
    if (sameBytes(this.lastBytes, snap.bytes)) {
      this.o.metrics.skipped.inc({ service: this.o.service });
      return;
    }
    this.lastBytes = snap.bytes;
    this.version += 1;
    this.inFlight = true;
    const msg = this.o.message(snap.body, this.version, new Date());
    this.o.call.write(msg, () => {
      this.inFlight = false;
      this.o.metrics.pushes.inc({ service: this.o.service });
      if (since !== undefined) this.o.metrics.pushLatency.observe({ service: this.o.service }, (performance.now() - since) / 1000);
      this.pump();
    });
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.o.onEnd();
  }
}
