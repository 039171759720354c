/**
 * SnapshotStream in isolation, with a call double whose writes complete only when the test says so
 * (a subscriber that has not read yet). The over-the-wire behaviour, with real HTTP/2 back-pressure,
 * is in services.test.ts; here each rule is pinned down step by step.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, test } from 'node:test';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { streamMetrics, type StreamMetrics } from './metrics.js';
import { SnapshotStream, type Snapshot } from './snapshot-stream.js';

interface Msg {
  readonly body: string;
  readonly version: number;
}

/** A server call double: records writes; each write's callback waits for `complete()`. */
class CallDouble extends EventEmitter {
  readonly written: Msg[] = [];
  readonly errors: { code: status; details: string }[] = [];
  private pending: (() => void)[] = [];

  constructor() {
    super();
    this.on('error', (e: { code: status; details: string }) => this.errors.push(e));
  }

  write(msg: Msg, cb: () => void): boolean {
    this.written.push(msg);
    this.pending.push(cb);
    return true;
  }

  get inFlight(): number {
    return this.pending.length;
  }

  /** The client has read the oldest message in flight. */
  complete(): void {
    const cb = this.pending.shift();
    assert.ok(cb !== undefined, 'a write was in flight');
    cb();
  }
}

function setup(initial: string) {
  const call = new CallDouble();
  const registry = new Registry();
  const metrics: StreamMetrics = streamMetrics(registry);
  const state = { body: initial, computes: 0, end: undefined as { end: status; message: string } | undefined, ended: 0 };
  const stream = new SnapshotStream<string, Msg>({
    service: 'outbound',
    call: call as unknown as ServerWritableStream<unknown, Msg>,
    compute: (): Snapshot<string> => {
      state.computes++;
      return state.end ?? { body: state.body, bytes: Buffer.from(state.body) };
    },
    message: (body, version) => ({ body, version }),
    metrics,
    onEnd: () => state.ended++,
  });
  const counter = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels.service === 'outbound')?.value ?? 0;
  return { call, stream, state, counter, registry };
}

describe('SnapshotStream', () => {
  test('the first offer sends the current snapshot as version 1', () => {
    const { call, stream } = setup('a');
    stream.offer();
    assert.deepEqual(call.written, [{ body: 'a', version: 1 }]);
  });

  test('while a message is in flight, offers only mark the slot: nothing is computed or queued; then the latest is sent', async () => {
    const { call, stream, state, counter } = setup('a');
    stream.offer();
    for (const b of ['b', 'c', 'd']) {
      state.body = b;
      stream.offer();
    }
    assert.equal(call.written.length, 1, 'nothing written while the first message is in flight');
    assert.equal(state.computes, 1, 'nothing computed while the first message is in flight');
    call.complete();
    assert.deepEqual(call.written, [{ body: 'a', version: 1 }, { body: 'd', version: 2 }], 'the intermediate b and c are dropped');
    assert.equal(state.computes, 2);
    call.complete();
    assert.equal(call.inFlight, 0);
    assert.equal(await counter('weft_policy_pushes_total'), 2);
  });

  test('a snapshot equal byte for byte to the last one sent is not sent again; the version does not move', async () => {
    const { call, stream, state, counter } = setup('a');
    stream.offer();
    call.complete();
    stream.offer();
    assert.equal(call.written.length, 1);
    assert.equal(await counter('weft_policy_pushes_skipped_total'), 1);
    state.body = 'b';
    stream.offer();
    assert.deepEqual(call.written.at(-1), { body: 'b', version: 2 });
    // A change and its undo while a write is in flight: the slot holds the latest, equal to what was sent.
    state.body = 'c';
    stream.offer();
    state.body = 'b';
    stream.offer();
    call.complete();
    assert.equal(call.written.length, 2, 'b -> c -> b while in flight sends nothing new');
  });

  test('versions increase by one per message of the stream, independently per stream', () => {
    const one = setup('a');
    const two = setup('x');
    one.stream.offer();
    for (const b of ['b', 'c', 'd']) {
      one.call.complete();
      one.state.body = b;
      one.stream.offer();
    }
    two.stream.offer();
    assert.deepEqual(one.call.written.map((m) => m.version), [1, 2, 3, 4]);
    assert.deepEqual(two.call.written.map((m) => m.version), [1]);
  });

  test('a compute that says "end" ends the stream with that status once, and nothing more is written', () => {
    const { call, stream, state } = setup('a');
    stream.offer();
    call.complete();
    state.end = { end: status.PERMISSION_DENIED, message: 'pod runs as another ServiceAccount' };
    state.body = 'b';
    stream.offer();
    assert.deepEqual(call.errors, [{ code: status.PERMISSION_DENIED, details: 'pod runs as another ServiceAccount' }]);
    assert.equal(state.ended, 1);
    state.end = undefined;
    stream.offer();
    assert.equal(call.written.length, 1);
    assert.equal(state.ended, 1, 'onEnd runs once');
  });

  test('a cancelled or closed call ends the stream once; later offers compute nothing', () => {
    const { call, stream, state } = setup('a');
    stream.offer();
    call.emit('cancelled');
    call.emit('close');
    assert.equal(state.ended, 1);
    call.complete();
    state.body = 'b';
    stream.offer();
    assert.equal(state.computes, 1);
    assert.equal(call.written.length, 1);
  });

  test('push latency is measured from the oldest change behind each push', async () => {
    const { call, stream, state, registry } = setup('a');
    const t0 = performance.now();
    stream.offer(t0 - 5000);
    state.body = 'b';
    stream.offer(t0 - 1000);
    stream.offer(t0 - 8000);
    call.complete();
    call.complete();
    const values = ((await registry.getSingleMetric('weft_policy_push_latency_seconds')?.get())?.values ?? []) as { metricName?: string; value: number }[];
    const count = values.find((v) => v.metricName === 'weft_policy_push_latency_seconds_count')?.value;
    const sum = values.find((v) => v.metricName === 'weft_policy_push_latency_seconds_sum')?.value ?? 0;
    assert.equal(count, 2);
    // 5 s for the first push, 8 s (the oldest of the two coalesced changes) for the second.
    assert.ok(sum >= 13 && sum < 14, `latency sum ${sum}`);
  });
});
