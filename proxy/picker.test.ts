import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Balancers } from './deps.js';
import type { Endpoint, ServicePort } from './io.js';
import { BalancedPicker, FixedPicker, MAX_ATTEMPTS, whenPickable } from './picker.js';

/** Discovery whose answer the test gives with `answer`. */
function lateDiscovery() {
  const listeners: ((e: readonly Endpoint[]) => void)[] = [];
  return {
    endpoints: {
      watch(_sp: ServicePort, onUpdate: (e: readonly Endpoint[]) => void) {
        listeners.push(onUpdate);
        return () => undefined;
      },
    },
    answer(e: readonly Endpoint[]) {
      for (const l of listeners) l(e);
    },
  };
}

const SP: ServicePort = { namespace: 'n', name: 'web', port: 80 };
const EP: Endpoint = { ip: '10.0.0.1', port: 8080, meshed: true, identity: 'spiffe://cluster.local/ns/n/sa/web' };

test('a balanced picker answers wait until discovery answers, then an endpoint; whenPickable waits once for it', async () => {
  const d = lateDiscovery();
  const picker = new BalancedPicker(new Balancers(d.endpoints), SP, 5_000);
  assert.equal(picker.maxAttempts, MAX_ATTEMPTS);
  assert.equal(picker.pick(), 'wait');
  let picked: string | undefined;
  whenPickable(picker, (pick) => (picked = pick()?.endpoint.ip));
  assert.equal(picked, undefined, 'nothing runs before discovery answers');
  d.answer([EP]);
  await picker.settled();
  await Promise.resolve();
  assert.equal(picked, '10.0.0.1');
  let now: string | undefined;
  whenPickable(picker, (pick) => (now = pick()?.endpoint.ip));
  assert.equal(now, '10.0.0.1', 'once known, the request goes on at once');
});

test('after the wait bound a balanced picker that still waits counts as no endpoint; a request gone is not run', async () => {
  const d = lateDiscovery();
  const picker = new BalancedPicker(new Balancers(d.endpoints), SP, 10);
  const seen: (string | undefined)[] = [];
  whenPickable(picker, (pick) => seen.push(pick()?.endpoint.ip ?? 'none'));
  whenPickable(picker, () => seen.push('gone'), () => false);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(seen, ['none']);
});

test('a balanced picker never answers an endpoint already tried', () => {
  const d = lateDiscovery();
  const picker = new BalancedPicker(new Balancers(d.endpoints), SP, 5_000);
  picker.pick();
  d.answer([EP]);
  const first = picker.pick();
  assert.ok(first !== undefined && first !== 'wait');
  assert.equal(picker.pick(new Set([first])), undefined);
});

test('a fixed picker never waits, always answers its endpoint and allows one attempt', () => {
  const picker = new FixedPicker(EP);
  assert.equal(picker.maxAttempts, 1);
  assert.equal(picker.ready, true);
  const st = picker.pick();
  assert.ok(st !== undefined && st !== 'wait');
  assert.equal(st.endpoint, EP);
  assert.equal(picker.pick(), st);
  let ran = false;
  whenPickable(picker, () => (ran = true));
  assert.equal(ran, true, 'synchronously');
});
