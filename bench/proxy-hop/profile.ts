/**
 * Where a proxy's CPU goes: sorts the samples of a V8 CPU profile (`node --cpu-prof`) into a few
 * buckets by the code that was running (self time, idle excluded). Used by run.ts to say what limits
 * the Weft pair's CPU per request. Pure: the profile is passed in.
 */

export interface CpuProfile {
  readonly nodes: readonly { readonly id: number; readonly callFrame: { readonly functionName: string; readonly url: string } }[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  /** Microseconds, the clock of the samples (start + the deltas so far is a sample's time). */
  readonly startTime?: number;
  readonly endTime?: number;
}

/**
 * A part of a profile by how long before its end it was: samples taken between `fromBeforeEndUs`
 * and `toBeforeEndUs` microseconds before `endTime` (from > to). A process profiled until it exits
 * on SIGTERM ends its profile at the signal, so a load that ran from A to B ms before the signal is
 * the window { from: A * 1000, to: B * 1000 }.
 */
export interface ProfileWindow {
  readonly fromBeforeEndUs: number;
  readonly toBeforeEndUs: number;
}

export const BUCKETS = [
  'Weft code (proxy/, core/)',
  'undici (client side: request writing, response parsing, pool)',
  'node:http server and outgoing message (JS)',
  'streams, events, net, timers, ticks (JS)',
  'TLS (JS side)',
  'native socket writes and reads (syscalls, TLS record encryption, loopback delivery)',
  'llhttp (WASM, undici\'s parser)',
  'garbage collection',
  'V8 runtime and compiler, other native',
  'other JavaScript (libraries, module loading)',
] as const;
export type Bucket = (typeof BUCKETS)[number];

/** The bucket of one call frame. */
export function bucketOf(functionName: string, url: string): Bucket | 'idle' {
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (url === '') {
    if (/^(writev|writeLatin1String|writeUtf8String|writeBuffer|writeAsciiString|writeUcs2String|onStreamRead|readStop|readStart|shutdown)$/.test(functionName)) {
      return 'native socket writes and reads (syscalls, TLS record encryption, loopback delivery)';
    }
    return 'V8 runtime and compiler, other native';
  }
  if (url.startsWith('wasm://')) return 'llhttp (WASM, undici\'s parser)';
  if (/\/dist\/(proxy|core)\//.test(url)) return 'Weft code (proxy/, core/)';
  if (url.includes('/node_modules/undici/')) return 'undici (client side: request writing, response parsing, pool)';
  if (/^node:(_http_server|_http_outgoing|_http_common|_http_incoming|http)$/.test(url)) return 'node:http server and outgoing message (JS)';
  if (/^node:(_tls_wrap|_tls_common|tls|internal\/tls\/)/.test(url)) return 'TLS (JS side)';
  if (/^node:(internal\/streams\/|stream|events|net|internal\/stream_base_commons|internal\/timers|timers|internal\/process\/task_queues|internal\/async_hooks|buffer|internal\/buffer)/.test(url)) {
    return 'streams, events, net, timers, ticks (JS)';
  }
  return 'other JavaScript (libraries, module loading)';
}

/** Busy milliseconds per bucket, summed over the profiles (within `window` of each, when given). */
export function cpuByBucket(profiles: readonly CpuProfile[], window?: ProfileWindow): Map<Bucket, number> {
  const out = new Map<Bucket, number>(BUCKETS.map((b) => [b, 0]));
  for (const p of profiles) {
    if (window !== undefined && (p.startTime === undefined || p.endTime === undefined)) throw new Error('a profile without startTime/endTime cannot be cut to a window');
    const frames = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
    let t = p.startTime ?? 0;
    for (let i = 0; i < p.samples.length; i++) {
      t += p.timeDeltas[i] ?? 0;
      if (window !== undefined) {
        const beforeEnd = p.endTime! - t;
        if (beforeEnd > window.fromBeforeEndUs || beforeEnd < window.toBeforeEndUs) continue;
      }
      const f = frames.get(p.samples[i]!);
      if (f === undefined) continue;
      const b = bucketOf(f.functionName, f.url);
      if (b !== 'idle') out.set(b, out.get(b)! + (p.timeDeltas[i] ?? 0) / 1000);
    }
  }
  return out;
}
