import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpProbeSucceeded, initialProbeState, nextProbeAt, probeAction, probeTiming, recordProbe, resolvePort } from './probes.js';

test('probe defaults are period 10 s, timeout 1 s, thresholds 1 and 3', () => {
  assert.deepEqual(probeTiming('readiness', {}), { initialDelayMs: 0, periodMs: 10_000, timeoutMs: 1000, successThreshold: 1, failureThreshold: 3 });
  assert.equal(probeTiming('liveness', { successThreshold: 3 }).successThreshold, 1);
  assert.equal(probeTiming('readiness', { successThreshold: 2, periodSeconds: 1 }).successThreshold, 2);
});

test('readiness starts failing, liveness starts passing', () => {
  assert.equal(initialProbeState('readiness').result, 'failure');
  assert.equal(initialProbeState('startup').result, 'failure');
  assert.equal(initialProbeState('liveness').result, 'success');
});

test('a result flips only after the threshold of consecutive outcomes', () => {
  const t = probeTiming('readiness', { successThreshold: 2, failureThreshold: 2 });
  let s = initialProbeState('readiness');
  s = recordProbe(t, s, true);
  assert.equal(s.result, 'failure');
  s = recordProbe(t, s, true);
  assert.equal(s.result, 'success');
  s = recordProbe(t, s, false);
  assert.equal(s.result, 'success');
  s = recordProbe(t, s, true);
  s = recordProbe(t, s, false);
  assert.equal(s.result, 'success', 'a success in between resets the failure count');
  s = recordProbe(t, s, false);
  assert.equal(s.result, 'failure');
  assert.equal(s.failures, 2);
});

test('the first probe waits for the initial delay (at least a second, at most a period), later ones for the period', () => {
  const t = probeTiming('liveness', { initialDelaySeconds: 5, periodSeconds: 2 });
  assert.equal(nextProbeAt(t, 1000, undefined), 6000);
  assert.equal(nextProbeAt(t, 1000, 6000), 8000);
  assert.equal(nextProbeAt(probeTiming('readiness', { periodSeconds: 10 }), 1000, undefined), 2000);
});

test('probe actions normalise httpGet, tcpSocket and exec; ports resolve by name', () => {
  assert.deepEqual(probeAction({ httpGet: { port: 'http', path: '/ready' } }), { type: 'http', scheme: 'HTTP', host: undefined, port: 'http', path: '/ready', headers: [] });
  assert.deepEqual(probeAction({ tcpSocket: { port: 80 } }), { type: 'tcp', host: undefined, port: 80 });
  assert.deepEqual(probeAction({ exec: { command: ['true'] } }), { type: 'exec', command: ['true'] });
  assert.equal(probeAction({}), undefined);
  assert.equal(resolvePort('http', [{ name: 'http', containerPort: 8080 }]), 8080);
  assert.equal(resolvePort('8081', []), 8081);
  assert.equal(resolvePort('admin', []), undefined);
});

test('httpGet succeeds on 2xx and 3xx only', () => {
  assert.equal(httpProbeSucceeded(200), true);
  assert.equal(httpProbeSucceeded(302), true);
  assert.equal(httpProbeSucceeded(404), false);
  assert.equal(httpProbeSucceeded(500), false);
});
