import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Endpoint, Endpoints, ServicePort } from './io.js';
import { ExternalNameEndpoints, type NameResolver } from './external-name.js';

const inner: Endpoints & { watched: ServicePort[] } = {
  watched: [],
  watch(sp, onUpdate) {
    this.watched.push(sp);
    onUpdate([{ ip: '10.0.0.1', port: sp.port, meshed: true, identity: 'spiffe://x' }]);
    return () => undefined;
  },
};

const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

test('Service ports without an externalName are watched through the wrapped source', () => {
  const e = new ExternalNameEndpoints(inner, { resolve: () => Promise.reject(new Error('not called')) });
  let got: readonly Endpoint[] = [];
  e.watch({ namespace: 'a', name: 'web', port: 80 }, (eps) => (got = eps));
  assert.equal(got[0]?.identity, 'spiffe://x');
  assert.equal(e.failure({ namespace: 'a', name: 'web', port: 80 }), undefined);
});

test('an ExternalName resolves to unmeshed endpoints at the backend port, again after its TTL; an IP literal is its own address', async () => {
  let answer = ['10.1.0.2', '10.1.0.1'];
  let calls = 0;
  const resolve: NameResolver = async () => {
    calls++;
    return { addresses: answer, ttlMs: 1 };
  };
  const e = new ExternalNameEndpoints(inner, { resolve, minTtlMs: 20 });
  const updates: (readonly Endpoint[])[] = [];
  const stop = e.watch({ namespace: 'a', name: 'ext', port: 8080, externalName: 'echo.example' }, (eps) => updates.push(eps));
  await until(() => updates.length === 1);
  assert.deepEqual(updates[0], [{ ip: '10.1.0.1', port: 8080, meshed: false }, { ip: '10.1.0.2', port: 8080, meshed: false }]);
  // Same addresses: no update; new ones: one update.
  const before = calls;
  await until(() => calls >= before + 2);
  assert.equal(updates.length, 1);
  answer = ['10.1.0.3'];
  await until(() => updates.length === 2);
  assert.deepEqual(updates[1], [{ ip: '10.1.0.3', port: 8080, meshed: false }]);
  stop();
  const stopped = calls;
  await new Promise((r) => setTimeout(r, 80));
  assert.ok(calls <= stopped + 1, 'no resolution after stop');

  let literal: readonly Endpoint[] = [];
  e.watch({ namespace: 'a', name: 'ip', port: 9000, externalName: '192.0.2.7' }, (eps) => (literal = eps));
  assert.deepEqual(literal, [{ ip: '192.0.2.7', port: 9000, meshed: false }]);
});

test('a name that does not exist has no endpoints and a failure; a transient failure keeps the last addresses', async () => {
  let mode: 'ok' | 'gone' | 'timeout' = 'gone';
  const resolve: NameResolver = async (name) => {
    if (mode === 'ok') return { addresses: ['10.2.0.1'] };
    throw Object.assign(new Error(`query ${name}`), { code: mode === 'gone' ? 'ENOTFOUND' : 'ETIMEOUT' });
  };
  const lines: string[] = [];
  const e = new ExternalNameEndpoints(inner, { resolve, retryMs: 15, defaultTtlMs: 15, minTtlMs: 15, log: (l) => lines.push(l) });
  const sp: ServicePort = { namespace: 'a', name: 'ext', port: 80, externalName: 'nowhere.example' };
  let current: readonly Endpoint[] | undefined;
  e.watch(sp, (eps) => (current = eps));
  await until(() => current !== undefined);
  assert.deepEqual(current, []);
  assert.match(e.failure(sp) ?? '', /ExternalName nowhere\.example of Service a\/ext does not resolve: ENOTFOUND/);
  assert.equal(lines.length, 1, 'a failure is logged once, not on every retry');
  mode = 'ok';
  await until(() => current?.length === 1);
  assert.equal(e.failure(sp), undefined);
  mode = 'timeout';
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(current, [{ ip: '10.2.0.1', port: 80, meshed: false }], 'a transient failure keeps the last addresses');
  assert.equal(e.failure(sp), undefined);
  mode = 'gone';
  await until(() => current?.length === 0);
  assert.ok(e.failure(sp) !== undefined);
});

test('an ExternalName naming an in-cluster Service is that Service\'s port through discovery (meshed, with its identity), never resolved', () => {
  const seen: ServicePort[] = [];
  const source: Endpoints = {
    watch(sp, onUpdate) {
      seen.push(sp);
      onUpdate([{ ip: '10.244.0.7', port: 8080, meshed: true, identity: 'spiffe://cluster.local/ns/other/sa/echo' }]);
      return () => undefined;
    },
  };
  const e = new ExternalNameEndpoints(source, { resolve: () => Promise.reject(new Error('not called')) });
  let got: readonly Endpoint[] = [];
  e.watch({ namespace: 'apps', name: 'alias', port: 80, externalName: 'echo.other.svc.cluster.local' }, (eps) => (got = eps));
  assert.deepEqual(seen, [{ namespace: 'other', name: 'echo', port: 80 }], 'the aliased Service at the backendRef\'s port');
  assert.deepEqual(got, [{ ip: '10.244.0.7', port: 8080, meshed: true, identity: 'spiffe://cluster.local/ns/other/sa/echo' }]);
  assert.equal(e.failure({ namespace: 'apps', name: 'alias', port: 80, externalName: 'echo.other.svc.cluster.local' }), undefined);
});
