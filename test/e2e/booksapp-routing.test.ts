/**
 * booksapp routing scenarios on the real mesh, sharing one podinfo deployment (podinfo A and B behind
 * Service `podinfo`, examples/booksapp/manifests/podinfo.yaml) and a meshed client; the scenarios all
 * route `podinfo`, so each removes its route before the next:
 *
 * c. dynamic request routing: `x-request-id: alternative` to backend B, anything else to backend A;
 * f. request/response header modification and an 80/20 canary split, then the canary moved to 0/100;
 * e. cross-namespace backends: a 50/50 split into two other namespaces answers 500 (RefNotPermitted)
 *    for each share until that namespace's ReferenceGrant exists, then the traffic flows.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { HEADER_PROXY_ERROR } from '../../core/contract.js';
import {
  clientDeployment, manifest, podName, send, sharedMeshedNamespace, tally, waitAvailable, waitRouteConditions,
  type Outcome,
} from '../support/booksapp.js';
import { useMesh, type Mesh } from '../support/mesh.js';

let mesh: Mesh;
let ns = '';
let client = '';
const cleanups: (() => Promise<void>)[] = [];

before(async () => {
  mesh = await useMesh();
  const shared = await sharedMeshedNamespace(mesh.cluster, 'booksapp-routing');
  ns = shared.ns;
  cleanups.push(shared.remove);
  await mesh.cluster.apply(ns, manifest('podinfo.yaml', { booksapp: ns }));
  await mesh.cluster.apply(ns, clientDeployment('client', 'default'));
  await waitAvailable(mesh.cluster, ns, ['podinfo-a', 'podinfo-b', 'client']);
  client = await podName(mesh.cluster, ns, 'app=client');
}, { timeout: 600_000 });

after(async () => {
  for (const fn of cleanups) await fn();
  await mesh?.release();
}, { timeout: 300_000 });

const PODINFO = 'http://podinfo:9898/';
const TEXT = ['-H', 'Accept:text/plain'];
const field = (o: Outcome, key: string) => o.fields.find(([k]) => k === key)?.[1];
const requestHeaders = (o: Outcome) => o.fields.filter(([k]) => k === 'RequestHeader').map(([, v]) => v.toLowerCase());
const header = (o: Outcome, name: string) => o.headers.find(([k]) => k === name)?.[1];

function byName(outcomes: readonly Outcome[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const o of outcomes) {
    const k = o.status === 200 ? field(o, 'Name') ?? '?' : `status ${o.status}`;
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}
const show = (m: Map<string, number>) => JSON.stringify(Object.fromEntries(m));

async function deleteRoute(name: string): Promise<void> {
  const r = await mesh.cluster.kubectl(['-n', ns, 'delete', 'httproute', name, '--ignore-not-found']);
  assert.equal(r.code, 0, r.stderr);
}

/** Polls a small batch until `ready` holds for it: the client's proxy then has the new policy. */
async function untilClientSees(what: string, flags: readonly string[], ready: (m: Map<string, number>) => boolean, url = PODINFO): Promise<void> {
  await mesh.cluster.waitFor(what, async () => {
    const m = byName(await send(mesh.cluster, ns, client, 'echo', url, [...TEXT, ...flags], 10));
    return ready(m) ? true : show(m);
  }, { timeoutMs: 90_000, intervalMs: 1000 });
}

test('dynamic request routing: x-request-id: alternative goes to backend B, anything else (other case included) to backend A', async () => {
  await mesh.cluster.apply(ns, manifest('dynamic-request-routing/route.yaml', { booksapp: ns }));
  await waitRouteConditions(mesh.cluster, ns, 'podinfo-by-header', { Accepted: 'True', ResolvedRefs: 'True' });
  await untilClientSees('header routing in the client proxy', [], (m) => m.get('backend-a') === 10);
  await untilClientSees('header routing in the client proxy', ['-H', 'x-request-id:alternative'], (m) => m.get('backend-b') === 10);

  const [plain, alternative, otherCase, otherValue] = await Promise.all([
    send(mesh.cluster, ns, client, 'echo', PODINFO, TEXT, 100),
    send(mesh.cluster, ns, client, 'echo', PODINFO, [...TEXT, '-H', 'x-request-id:alternative'], 100),
    send(mesh.cluster, ns, client, 'echo', PODINFO, [...TEXT, '-H', 'x-request-id:Alternative'], 25),
    send(mesh.cluster, ns, client, 'echo', PODINFO, [...TEXT, '-H', 'x-request-id:12345'], 25),
  ]);
  process.stdout.write(`# dynamic routing: no header ${show(byName(plain))}; alternative ${show(byName(alternative))}; Alternative ${show(byName(otherCase))}; other id ${show(byName(otherValue))}\n`);
  assert.deepEqual(byName(plain), new Map([['backend-a', 100]]));
  assert.deepEqual(byName(alternative), new Map([['backend-b', 100]]));
  assert.deepEqual(byName(otherCase), new Map([['backend-a', 25]]), 'header values match exactly');
  assert.deepEqual(byName(otherValue), new Map([['backend-a', 25]]));
  await deleteRoute('podinfo-by-header');
});

test('header modification and canary weights: filters on every request, x-canary only on the canary share, 80/20 then 0/100', async () => {
  await mesh.cluster.apply(ns, manifest('header-modification-and-canary/route.yaml', { booksapp: ns }));
  await waitRouteConditions(mesh.cluster, ns, 'podinfo-canary', { Accepted: 'True', ResolvedRefs: 'True' });
  await mesh.cluster.waitFor('the response header filter applied', async () => {
    const [o] = await send(mesh.cluster, ns, client, 'echo', PODINFO, TEXT);
    return o !== undefined && header(o, 'x-route') === 'podinfo-canary' ? true : JSON.stringify(o?.headers);
  }, { timeoutMs: 90_000, intervalMs: 1000 });

  const N = 400;
  const parts = await Promise.all([0, 1].map(() => send(mesh.cluster, ns, client, 'echo', PODINFO, [...TEXT, '-H', 'x-debug:1', '-H', 'x-routed-by:client'], N / 2)));
  const all = parts.flat();
  const names = byName(all);
  const b = names.get('backend-b') ?? 0;
  process.stdout.write(`# canary 80/20: ${show(names)} (canary share ${(100 * b / N).toFixed(1)}%)\n`);
  assert.equal((names.get('backend-a') ?? 0) + b, N, `every request reached A or B: ${show(names)}`);
  // Binomial(400, 0.2): sd 8 requests (2 points); 4 sd either side.
  assert.ok(b >= 48 && b <= 112, `the canary gets about 20%: ${b}/${N}`);
  for (const o of all) {
    const hs = requestHeaders(o);
    assert.equal(header(o, 'x-route'), 'podinfo-canary', 'ResponseHeaderModifier set x-route');
    assert.ok(hs.includes('x-routed-by:client') && hs.includes('x-routed-by:podinfo-canary'), `add appends to the client's value: ${hs.join(' ')}`);
    assert.ok(!hs.some((h) => h.startsWith('x-debug:')), `x-debug removed: ${hs.join(' ')}`);
    const canary = hs.includes('x-canary:true');
    assert.equal(canary, field(o, 'Name') === 'backend-b', `x-canary only on the canary's share (${field(o, 'Name')}): ${hs.join(' ')}`);
  }

  // Move the canary all the way: weight 0 never receives traffic.
  const r = await mesh.cluster.kubectl(['-n', ns, 'patch', 'httproute', 'podinfo-canary', '--type=json', '-p',
    JSON.stringify([{ op: 'replace', path: '/spec/rules/0/backendRefs/0/weight', value: 0 }, { op: 'replace', path: '/spec/rules/0/backendRefs/1/weight', value: 100 }])]);
  assert.equal(r.code, 0, r.stderr);
  await untilClientSees('the 0/100 weights in the client proxy', [], (m) => m.get('backend-b') === 10);
  const moved = byName(await send(mesh.cluster, ns, client, 'echo', PODINFO, TEXT, 100));
  process.stdout.write(`# canary 0/100: ${show(moved)}\n`);
  assert.deepEqual(moved, new Map([['backend-b', 100]]));
  await deleteRoute('podinfo-canary');
});

test('cross-namespace backends: each share answers 500 with RefNotPermitted until its namespace grants the reference, then traffic flows', async (t) => {
  const east = await sharedMeshedNamespace(mesh.cluster, 'podinfo-east');
  const west = await sharedMeshedNamespace(mesh.cluster, 'podinfo-west');
  t.after(async () => { await east.remove(); await west.remove(); });
  const map = { booksapp: ns, 'podinfo-east': east.ns, 'podinfo-west': west.ns };
  await mesh.cluster.apply(undefined, manifest('cross-namespace-backends/backends.yaml', map));
  await waitAvailable(mesh.cluster, east.ns, ['podinfo']);
  await waitAvailable(mesh.cluster, west.ns, ['podinfo']);
  await mesh.cluster.apply(ns, manifest('cross-namespace-backends/route.yaml', map));
  const status = await waitRouteConditions(mesh.cluster, ns, 'podinfo-cross-namespace', { Accepted: 'True', ResolvedRefs: 'False:RefNotPermitted' });
  assert.match(status, new RegExp(`${east.ns}|${west.ns}`), `the condition names a backend: ${status}`);
  await untilClientSees('the not-permitted route in the client proxy', [], (m) => m.get('status 500') === 10);

  const denied = await send(mesh.cluster, ns, client, 'echo', PODINFO, TEXT, 40);
  process.stdout.write(`# cross-namespace, no grant: ${show(byName(denied))}\n`);
  assert.deepEqual(tally(denied), new Map([[500, 40]]));
  assert.ok(denied.every((o) => /not-permitted/.test(o.headers.find(([k]) => k === HEADER_PROXY_ERROR)?.[1] ?? '')), `the proxy names the reason: ${JSON.stringify(denied[0]?.headers)}`);

  const grants = manifest('cross-namespace-backends/referencegrants.yaml', map);
  const [eastGrant, westGrant] = grants.split(/^---\n/m);
  assert.ok(eastGrant !== undefined && westGrant !== undefined && eastGrant.includes(east.ns) && westGrant.includes(west.ns), grants);
  await mesh.cluster.apply(undefined, eastGrant);
  await untilClientSees('east granted in the client proxy', [], (m) => (m.get('east') ?? 0) > 0);
  const half = byName(await send(mesh.cluster, ns, client, 'echo', PODINFO, TEXT, 100));
  process.stdout.write(`# cross-namespace, east granted only: ${show(half)}\n`);
  assert.equal((half.get('east') ?? 0) + (half.get('status 500') ?? 0), 100, `only east answers, west's share is 500: ${show(half)}`);
  assert.ok((half.get('east') ?? 0) >= 30 && (half.get('east') ?? 0) <= 70, `about half reach east: ${show(half)}`);

  await mesh.cluster.apply(undefined, westGrant);
  await waitRouteConditions(mesh.cluster, ns, 'podinfo-cross-namespace', { Accepted: 'True', ResolvedRefs: 'True' });
  await untilClientSees('both granted in the client proxy', [], (m) => m.get('status 500') === undefined);
  const flowing = byName(await send(mesh.cluster, ns, client, 'echo', PODINFO, TEXT, 100));
  process.stdout.write(`# cross-namespace, both granted: ${show(flowing)}\n`);
  assert.equal((flowing.get('east') ?? 0) + (flowing.get('west') ?? 0), 100, `no 500 left: ${show(flowing)}`);
  assert.ok((flowing.get('east') ?? 0) >= 30 && (flowing.get('east') ?? 0) <= 70, `about half each: ${show(flowing)}`);
  await deleteRoute('podinfo-cross-namespace');
});
