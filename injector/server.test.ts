/**
 * The webhook over real HTTPS on port 0, with a certificate from the identity CA library, called the
 * way the API server calls it (POST /inject, an AdmissionReview, the CA bundle as the trust root).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { CertificateAuthority, createTrustAnchor } from '../identity/ca.js';
import { applyPatch } from './jsonpatch.js';
import type { JsonPatchOp } from './patch.js';
import { startInjector } from './main.js';
import { parseInjectorConfig } from './config.js';
import type { NamespaceLike, PodLike } from './pod.js';

async function setup(t: { after(fn: () => unknown): void }, lookup: (name: string) => Promise<NamespaceLike>) {
  const dir = mkdtempSync(join(tmpdir(), 'weft-injector-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const anchor = await createTrustAnchor({ trustDomain: 'webhook.test' });
  const ca = CertificateAuthority.load(anchor);
  const serving = await ca.issueServing({ spiffeId: 'spiffe://cluster.local/ns/weft-system/sa/weft-injector', dnsNames: ['localhost'] });
  writeFileSync(join(dir, 'tls.crt'), serving.certPem);
  writeFileSync(join(dir, 'tls.key'), serving.keyPem);
  writeFileSync(join(dir, 'ca.crt'), '-----BEGIN CERTIFICATE-----\nANCHORS\n-----END CERTIFICATE-----\n');
  const parsed = parseInjectorConfig(new Map([['tls-dir', dir], ['trust-anchors-file', join(dir, 'ca.crt')], ['webhook-port', '0'], ['admin-port', '0'], ['listen-host', '127.0.0.1']]), {});
  assert.ok(parsed.ok);
  const injector = await startInjector(parsed.config, { lookupNamespace: lookup, log: pino({ level: 'silent' }) });
  t.after(() => injector.close());
  const call = (body: unknown, path = '/inject', agent?: Agent) => new Promise<{ status: number; body: string; reusedSocket: boolean }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', servername: 'localhost', port: injector.webhookPort, path, method: 'POST', ca: anchor.certPem, headers: { 'content-type': 'application/json' }, ...(agent !== undefined ? { agent } : {}) }, (res) => {
      let b = '';
      res.on('data', (d: Buffer) => { b += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b, reusedSocket: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end(typeof body === 'string' ? body : JSON.stringify(body));
  });
  return { call, injector };
}

const pod: PodLike = { metadata: { generateName: 'web-', labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'web:1', ports: [{ containerPort: 8080 }] }] } };
const reviewOf = (object: unknown, namespace = 'shop', kind = 'Pod', operation = 'CREATE') => ({
  apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
  request: { uid: 'u-1', kind: { group: '', version: 'v1', kind }, namespace, operation, object },
});

interface ReviewOut { response: { uid: string; allowed: boolean; patchType?: string; patch?: string; warnings?: string[] } }

test('the webhook injects a pod of an enabled namespace over HTTPS, answering with a JSONPatch', async (t) => {
  const { call } = await setup(t, (name) => Promise.resolve({ name, annotations: { 'weft.dev/inject': 'enabled' } }));
  const res = await call(reviewOf(pod));
  assert.equal(res.status, 200);
  const out = JSON.parse(res.body) as ReviewOut;
  assert.equal(out.response.uid, 'u-1');
  assert.equal(out.response.allowed, true);
  assert.equal(out.response.patchType, 'JSONPatch');
  const patched = applyPatch(pod, JSON.parse(Buffer.from(out.response.patch ?? '', 'base64').toString()) as JsonPatchOp[]);
  assert.deepEqual(patched.spec.initContainers?.map((c) => c.name), ['weft-init', 'weft-proxy']);
  assert.equal(patched.metadata?.labels?.['weft.dev/meshed'], 'true');
});

test('the webhook leaves pods of other namespaces, and other requests, without a patch', async (t) => {
  const { call } = await setup(t, (name) => Promise.resolve({ name }));
  for (const body of [reviewOf(pod), reviewOf(pod, 'shop', 'Pod', 'UPDATE'), reviewOf({ metadata: {} }, 'shop', 'ConfigMap')]) {
    const out = JSON.parse((await call(body)).body) as ReviewOut;
    assert.equal(out.response.allowed, true);
    assert.equal(out.response.patch, undefined);
  }
});

test('a pod with invalid config annotations is admitted with the skip annotation and a warning', async (t) => {
  const { call } = await setup(t, (name) => Promise.resolve({ name, annotations: { 'weft.dev/inject': 'enabled' } }));
  const bad: PodLike = { ...pod, metadata: { annotations: { 'config.weft.dev/proxy-log-level': 'loud' } } };
  const out = JSON.parse((await call(reviewOf(bad))).body) as ReviewOut;
  const patched = applyPatch(bad, JSON.parse(Buffer.from(out.response.patch ?? '', 'base64').toString()) as JsonPatchOp[]);
  assert.match(patched.metadata?.annotations?.['weft.dev/inject-skipped'] ?? '', /proxy-log-level/);
  assert.match(out.response.warnings?.[0] ?? '', /not injected/);
});

test('when the namespace cannot be read the webhook answers 500, so the failurePolicy decides', async (t) => {
  const { call } = await setup(t, () => Promise.reject(new Error('connection refused')));
  const res = await call(reviewOf(pod));
  assert.equal(res.status, 500);
  assert.match(res.body, /NAMESPACE_UNAVAILABLE: cannot read namespace shop/);
});

test('a malformed review is a 400, another path a 404', async (t) => {
  const { call } = await setup(t, (name) => Promise.resolve({ name }));
  assert.equal((await call('{not json')).status, 400);
  assert.equal((await call({ kind: 'Something' })).status, 400);
  assert.equal((await call(reviewOf(pod), '/other')).status, 404);
});

test('an idle keep-alive connection from the API server stays open past Node.js\'s 5 s default, so the API server closes it first', async (t) => {
  const { call } = await setup(t, (name) => Promise.resolve({ name, annotations: { 'weft.dev/inject': 'enabled' } }));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const first = await call(reviewOf(pod), '/inject', agent);
  assert.equal(first.status, 200);
  assert.equal(first.reusedSocket, false);
  await new Promise((r) => setTimeout(r, 6_000));
  const second = await call(reviewOf(pod), '/inject', agent);
  assert.equal(second.status, 200);
  assert.equal(second.reusedSocket, true, 'the review after 6 s idle went over the same connection');
});
