import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bucketOf, cpuByBucket, type CpuProfile } from './profile.js';

test('bucketOf: idle, GC, native socket I/O, WASM, Weft code, undici, node internals', () => {
  assert.equal(bucketOf('(idle)', ''), 'idle');
  assert.equal(bucketOf('(garbage collector)', ''), 'garbage collection');
  assert.equal(bucketOf('writev', ''), 'native socket writes and reads (syscalls, TLS record encryption, loopback delivery)');
  assert.equal(bucketOf('(program)', ''), 'V8 runtime and compiler, other native');
  assert.equal(bucketOf('wasm-function[20]', 'wasm://wasm/00034eea'), 'llhttp (WASM, undici\'s parser)');
  assert.equal(bucketOf('plan', 'file:///w/dist/proxy/gateway/listener.js'), 'Weft code (proxy/, core/)');
  assert.equal(bucketOf('_resume', 'file:///w/node_modules/undici/lib/dispatcher/client.js'), 'undici (client side: request writing, response parsing, pool)');
  assert.equal(bucketOf('parserOnIncoming', 'node:_http_server'), 'node:http server and outgoing message (JS)');
  assert.equal(bucketOf('initRead', 'node:internal/tls/wrap'), 'TLS (JS side)');
  assert.equal(bucketOf('emit', 'node:events'), 'streams, events, net, timers, ticks (JS)');
  assert.equal(bucketOf('compileSourceTextModule', 'node:internal/modules/esm/utils'), 'other JavaScript (libraries, module loading)');
});

// Samples 1 ms apart from t = 1000 µs: idle, writev, Weft code, writev, GC; the profile ends at 6000 µs.
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: { functionName: '(idle)', url: '' } },
    { id: 2, callFrame: { functionName: 'writev', url: '' } },
    { id: 3, callFrame: { functionName: 'plan', url: 'file:///w/dist/proxy/plan.js' } },
    { id: 4, callFrame: { functionName: '(garbage collector)', url: '' } },
  ],
  samples: [1, 2, 3, 2, 4],
  timeDeltas: [1000, 1000, 1000, 1000, 1000],
  startTime: 0,
  endTime: 6000,
};
const NATIVE = 'native socket writes and reads (syscalls, TLS record encryption, loopback delivery)';

test('cpuByBucket: busy ms per bucket, idle left out, summed over profiles', () => {
  const all = cpuByBucket([profile, profile]);
  assert.equal(all.get(NATIVE), 4);
  assert.equal(all.get('Weft code (proxy/, core/)'), 2);
  assert.equal(all.get('garbage collection'), 2);
  assert.equal([...all.values()].reduce((a, b) => a + b, 0), 8);
});

test('cpuByBucket: a window keeps the samples taken that long before the end', () => {
  // Samples at 2000..5000 µs are 4000..1000 µs before the end; keep 3000..1000 µs before it.
  const w = cpuByBucket([profile], { fromBeforeEndUs: 3000, toBeforeEndUs: 1000 });
  assert.equal(w.get(NATIVE), 1);
  assert.equal(w.get('Weft code (proxy/, core/)'), 1);
  assert.equal(w.get('garbage collection'), 1);
  const { startTime: _s, ...untimed } = profile;
  assert.throws(() => cpuByBucket([untimed], { fromBeforeEndUs: 1, toBeforeEndUs: 0 }), /without startTime\/endTime/);
});
