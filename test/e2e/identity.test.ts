/**
 * End-to-end identity on the local cluster: `weft controller` runs as a process outside the cluster
 * (admin kubeconfig, issuer read from a real Secret), the API server answers its TokenReviews, and
 * the tokens are real projected ServiceAccount tokens read from a running pod.
 *
 * Checks: a pod's token (audience identity.weft.dev) obtains a leaf whose URI SAN is its SPIFFE ID;
 * a token used for another ServiceAccount, a token with another audience, and the token of a deleted
 * pod are refused with their distinct statuses; with a 60 s lifetime the client renews at least twice
 * in 3 minutes while a TLS connection opened before the first renewal keeps working.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { connect, createServer } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { CertificateAuthority, createCsr, createTrustAnchor } from '../../identity/ca.js';
import type { CaCredential } from '../../identity/ca.js';
import { GrpcCertifier } from '../../identity/certifier-grpc.js';
import { IdentityClient } from '../../identity/client.js';
import { generateRsaKeyPair } from '../../identity/keys.js';
import { credentialToSecretData } from '../../identity/secret.js';
import { controllerSpiffeId } from '../../identity/spiffe.js';
import { verifyChain, verifyPeer } from '../../identity/verify.js';
import { useCluster } from '../cluster/fixture.js';
import type { Cluster } from '../cluster/fixture.js';

const TD = 'cluster.local';
const AUDIENCE = 'identity.weft.dev';
const TOKEN_DIR = '/var/run/secrets/weft';

let cluster: Cluster;
let anchor: CaCredential;
let caNamespace: string;
let controller: ChildProcess;
let grpcAddress: string;
let adminPort: number;
const controllerLog: string[] = [];

/** Starts `weft controller` and resolves with its ports, read from its structured log. */
async function startControllerProcess(args: string[]): Promise<{ grpcPort: number; adminPort: number }> {
  const main = join(cluster.info.repoRoot, 'dist', 'cli', 'main.js');
  controller = spawn(process.execPath, [main, 'controller', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  controller.stderr?.on('data', (d: Buffer) => controllerLog.push(d.toString()));
  const lines = createInterface({ input: controller.stdout! });
  return new Promise((resolve, reject) => {
    let admin: number | undefined;
    const timer = setTimeout(() => reject(new Error(`controller did not start:\n${controllerLog.join('')}`)), 30_000);
    controller.once('exit', (code) => reject(new Error(`controller exited ${code}:\n${controllerLog.join('')}`)));
    lines.on('line', (line) => {
      controllerLog.push(line);
      const rec = JSON.parse(line) as { msg?: string; port?: number; address?: string };
      if (rec.msg === 'admin server listening') admin = rec.port;
      if (rec.msg === 'gRPC server listening' && rec.address !== undefined && admin !== undefined) {
        clearTimeout(timer);
        resolve({ grpcPort: Number(rec.address.split(':').pop()), adminPort: admin });
      }
    });
  });
}

before(async () => {
  cluster = await useCluster();
  anchor = await createTrustAnchor({ trustDomain: TD });
  const issuer = await CertificateAuthority.load(anchor).createIssuer({ trustDomain: TD });
  caNamespace = `e2e-identity-ca-${Date.now().toString(36)}`;
  await cluster.core.createNamespace({ body: { metadata: { name: caNamespace, labels: { 'weft.dev/e2e': 'true' } } } });
  await cluster.core.createNamespacedSecret({
    namespace: caNamespace,
    body: { metadata: { name: 'weft-identity-issuer' }, type: 'Opaque', ...credentialToSecretData(issuer) },
  });
  const ports = await startControllerProcess([
    '--kubeconfig', cluster.info.kubeconfig,
    '--issuer-secret', `${caNamespace}/weft-identity-issuer`,
    '--cert-lifetime', '60s',
    '--listen-host', '127.0.0.1',
    '--grpc-port', '0',
    '--admin-port', '0',
  ]);
  grpcAddress = `127.0.0.1:${ports.grpcPort}`;
  adminPort = ports.adminPort;
});

after(async () => {
  if (controller !== undefined && controller.exitCode === null) {
    controller.kill('SIGTERM');
    await new Promise((r) => controller.once('exit', r));
  }
  await cluster?.core.deleteNamespace({ name: caNamespace }).catch(() => undefined);
});

function certifier(): GrpcCertifier {
  return new GrpcCertifier({ address: grpcAddress, anchorsPem: anchor.certPem, serverSpiffeId: controllerSpiffeId(TD) });
}

/** A pod running as ServiceAccount `sa` with two projected tokens: ours and one for another audience. */
async function tokenPod(ns: string, sa: string, name: string): Promise<void> {
  await cluster.apply(ns, `
apiVersion: v1
kind: ServiceAccount
metadata: {name: ${sa}}
---
apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  serviceAccountName: ${sa}
  terminationGracePeriodSeconds: 1
  volumes:
  - name: tokens
    projected:
      sources:
      - serviceAccountToken: {path: identity, audience: ${AUDIENCE}, expirationSeconds: 3600}
      - serviceAccountToken: {path: other, audience: api.example.com, expirationSeconds: 3600}
  containers:
  - name: main
    image: ${cluster.info.toolboxImage}
    command: [sleep, "3600"]
    volumeMounts: [{name: tokens, mountPath: ${TOKEN_DIR}, readOnly: true}]
`);
  await cluster.waitPodReady(ns, name, { timeoutMs: 90_000 });
}

async function readToken(ns: string, pod: string, file: string): Promise<string> {
  const r = await cluster.exec(ns, pod, 'main', ['cat', `${TOKEN_DIR}/${file}`]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

async function certifyError(c: GrpcCertifier, identity: string, token: string): Promise<ServiceError> {
  const keys = await generateRsaKeyPair();
  try {
    await c.certify({ identity, token, csrPem: createCsr(identity, keys) });
  } catch (err) {
    return err as ServiceError;
  }
  assert.fail(`Certify for ${identity} was expected to be refused`);
}

test('a pod\'s projected token obtains a certificate for its SPIFFE ID; another ServiceAccount, another audience and a deleted pod are refused with distinct statuses', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await tokenPod(ns, 'web', 'web-0');
  const token = await readToken(ns, 'web-0', 'identity');
  const id = `spiffe://${TD}/ns/${ns}/sa/web`;
  const c = certifier();
  t.after(() => c.close());

  const keys = await generateRsaKeyPair();
  const res = await c.certify({ identity: id, token, csrPem: createCsr(id, keys) });
  assert.equal(new X509Certificate(res.leafPem).subjectAltName, `URI:${id}`);
  const v = verifyChain({ leaf: res.leafPem, intermediates: res.chainPem, anchors: anchor.certPem, expectedSpiffeId: id });
  assert.ok(v.notAfter.getTime() - Date.now() <= 60_000, '60 s lifetime from --cert-lifetime');

  const other = await certifyError(c, `spiffe://${TD}/ns/${ns}/sa/api`, token);
  assert.equal(other.code, status.PERMISSION_DENIED, other.details);
  assert.match(other.details, new RegExp(`ServiceAccount ${ns}/web`));

  const wrongAud = await certifyError(c, id, await readToken(ns, 'web-0', 'other'));
  assert.equal(wrongAud.code, status.UNAUTHENTICATED, wrongAud.details);
  assert.match(wrongAud.details, /audience api\.example\.com/);

  await cluster.core.deleteNamespacedPod({ name: 'web-0', namespace: ns });
  await cluster.waitFor('pod web-0 deleted', async () => {
    try {
      await cluster.core.readNamespacedPod({ name: 'web-0', namespace: ns });
      return 'still there';
    } catch {
      return true;
    }
  }, { timeoutMs: 60_000 });
  // TokenReview may cache a verdict for a few seconds after the pod is gone.
  let deleted: ServiceError | undefined;
  await cluster.waitFor('Certify refuses the deleted pod\'s token', async () => {
    deleted = await certifyError(c, id, token).catch(() => undefined);
    return deleted !== undefined ? true : 'still certified';
  }, { timeoutMs: 30_000 });
  assert.equal(deleted?.code, status.NOT_FOUND, deleted?.details);
  assert.match(deleted?.details ?? '', /pod .*web-0.* no longer exists/);

  assert.deepEqual(new Set([other.code, wrongAud.code, deleted?.code]).size, 3);
  const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  for (const result of ['ok', 'identity_mismatch', 'token_wrong_audience', 'token_pod_deleted']) {
    assert.match(metrics, new RegExp(`weft_identity_certify_requests_total\\{result="${result}"\\} [1-9]`), result);
  }
  const sum = Number(/weft_identity_certify_duration_seconds_sum\{result="ok"\} ([\d.e-]+)/.exec(metrics)?.[1]);
  const count = Number(/weft_identity_certify_duration_seconds_count\{result="ok"\} (\d+)/.exec(metrics)?.[1]);
  t.diagnostic(`server-side Certify latency (TokenReview + signing), mean of ${count}: ${((sum / count) * 1000).toFixed(1)} ms`);
});

test('with a 60 s lifetime the client renews at least twice in 3 minutes and a TLS connection opened before the first renewal keeps working', { timeout: 240_000 }, async (t) => {
  const ns = await cluster.freshNamespace(t);
  await tokenPod(ns, 'web', 'web-0');
  const id = `spiffe://${TD}/ns/${ns}/sa/web`;
  const c = certifier();
  const client = new IdentityClient({ spiffeId: id, anchorsPem: anchor.certPem, certifier: c, readToken: () => readToken(ns, 'web-0', 'identity') });
  const renewals: { at: number; serial: string }[] = [];
  client.on('certified', (e) => renewals.push({ at: Date.now(), serial: new X509Certificate(e.key.certPem).serialNumber }));
  const failures: string[] = [];
  client.on('failed', (e) => failures.push(String(e.error)));
  const server = createServer({ requestCert: true, rejectUnauthorized: true }, (s) => s.pipe(s));
  t.after(() => {
    client.stop();
    c.close();
    server.close();
  });

  const started = Date.now();
  await client.start();
  client.provider.attachServer(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const dial = async () => {
    const s = connect({ port, host: '127.0.0.1', secureContext: client.provider.secureContext(), checkServerIdentity: () => undefined });
    await new Promise<void>((r, j) => s.once('secureConnect', r).once('error', j));
    return s;
  };
  const echo = (s: TLSSocket, text: string) => {
    const got = new Promise<string>((r) => s.once('data', (d: Buffer) => r(d.toString())));
    s.write(text);
    return got;
  };
  const old = await dial();
  t.after(() => old.destroy());
  const chain: Buffer[] = [];
  for (let p = old.getPeerCertificate(true); p?.raw !== undefined && !chain.some((b) => b.equals(p.raw)); p = p.issuerCertificate) chain.push(p.raw);
  assert.equal(verifyPeer(chain, anchor.certPem, id).spiffeId, id);
  const oldSerial = old.getPeerX509Certificate()?.serialNumber;
  assert.equal(oldSerial, renewals[0]?.serial);
  assert.equal(await echo(old, 'before'), 'before');

  await cluster.waitFor('two renewals', async () => (renewals.length >= 3 ? true : `${renewals.length - 1} renewals; failures: ${failures.join('; ')}`), {
    timeoutMs: 180_000 - (Date.now() - started),
    intervalMs: 1000,
  });
  const elapsed = (renewals[2]?.at ?? 0) - started;
  assert.ok(elapsed <= 180_000, `second renewal after ${elapsed} ms`);
  assert.equal(new Set(renewals.map((r) => r.serial)).size, renewals.length);
  t.diagnostic(`renewals at ${renewals.map((r) => `${((r.at - started) / 1000).toFixed(1)}s`).join(', ')}; failures ${failures.length}`);

  assert.equal(await echo(old, 'after'), 'after');
  const fresh = await dial();
  t.after(() => fresh.destroy());
  assert.equal(fresh.getPeerX509Certificate()?.serialNumber, renewals[renewals.length - 1]?.serial);
  assert.notEqual(fresh.getPeerX509Certificate()?.serialNumber, oldSerial);
  assert.equal(await echo(fresh, 'new'), 'new');
});
