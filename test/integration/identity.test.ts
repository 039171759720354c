/**
 * The identity service in one process: the real controller (gRPC over TLS, admin server, issuer from
 * a directory) with a TokenReviewer double standing in for the API server, and the proxy's identity
 * client talking to it. The e2e suite repeats the refusals against a real API server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { pino } from 'pino';
import { CertificateAuthority, createCsr, createTrustAnchor } from '../../identity/ca.js';
import type { CaCredential } from '../../identity/ca.js';
import { GrpcCertifier } from '../../identity/certifier-grpc.js';
import { IdentityClient } from '../../identity/client.js';
import { generateRsaKeyPair } from '../../identity/keys.js';
import { controllerSpiffeId } from '../../identity/spiffe.js';
import { verifyChain, verifyPeer } from '../../identity/verify.js';
import { parseConfig } from '../../policy-controller/config.js';
import type { BoundObject, TokenReviewer, TokenReviewResult } from '../../policy-controller/grpc/identity/token.js';
import { startController } from '../../policy-controller/main.js';
import type { RunningController } from '../../policy-controller/main.js';

const TD = 'cluster.local';
const AUD = 'identity.weft.dev';
const WEB = 'spiffe://cluster.local/ns/shop/sa/web';

/** An unsigned JWT carrying Kubernetes-style claims (the double decides what the API server would say). */
function jwt(claims: Record<string, unknown>): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'RS256', kid: 'test' })}.${enc(claims)}.c2ln`;
}

function podToken(ns: string, sa: string, pod: string, over: Record<string, unknown> = {}): string {
  return jwt({
    aud: [AUD],
    exp: Math.floor(Date.now() / 1000) + 3600,
    sub: `system:serviceaccount:${ns}:${sa}`,
    'kubernetes.io': { namespace: ns, pod: { name: pod, uid: `uid-${pod}` }, serviceaccount: { name: sa, uid: `uid-sa-${sa}` } },
    ...over,
  });
}

/**
 * Behaves like the API server for the tokens it was told about: valid tokens authenticate as their
 * subject; tokens listed as rejected return authenticated=false with an error string, as TokenReview does.
 */
class FakeReviewer implements TokenReviewer {
  readonly valid = new Map<string, string>();
  readonly rejected = new Map<string, string>();
  readonly gone = new Set<string>();
  failing = false;
  reviews = 0;

  async review(token: string, audiences: readonly string[]): Promise<TokenReviewResult> {
    this.reviews++;
    if (this.failing) throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
    assert.deepEqual(audiences, [AUD]);
    const user = this.valid.get(token);
    if (user !== undefined) return { authenticated: true, username: user, audiences: [AUD] };
    return { authenticated: false, error: this.rejected.get(token) ?? 'invalid bearer token' };
  }

  async exists(o: BoundObject): Promise<boolean> {
    return !this.gone.has(`${o.kind}/${o.namespace}/${o.name}`);
  }
}

let dir: string;
let anchor: CaCredential;
let controller: RunningController;
const reviewer = new FakeReviewer();
let webKeys: { privateKeyPem: string; publicKeyPem: string };

async function startWith(lifetime: string): Promise<RunningController> {
  const parsed = parseConfig(
    new Map([['issuer-dir', dir], ['grpc-port', '0'], ['admin-port', '0'], ['listen-host', '127.0.0.1'], ['cert-lifetime', lifetime], ['token-review-concurrency', '2']]),
    {},
  );
  assert.ok(parsed.ok);
  return startController(parsed.config, { reviewer, log: pino({ level: 'silent' }) });
}

function certifier(c: RunningController): GrpcCertifier {
  return new GrpcCertifier({ address: `127.0.0.1:${c.grpcPort}`, anchorsPem: anchor.certPem, serverSpiffeId: controllerSpiffeId(TD) });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-identity-'));
  anchor = await createTrustAnchor({ trustDomain: TD });
  const issuer = await CertificateAuthority.load(anchor).createIssuer({ trustDomain: TD });
  await writeFile(join(dir, 'ca.crt'), issuer.anchorsPem);
  await writeFile(join(dir, 'tls.crt'), issuer.certPem);
  await writeFile(join(dir, 'tls.key'), issuer.keyPem, { mode: 0o600 });
  webKeys = await generateRsaKeyPair();
  controller = await startWith('24h');
});

after(async () => {
  await controller.close();
  await rm(dir, { recursive: true, force: true });
});

async function certifyError(token: string, identity = WEB, csr = createCsr(WEB, webKeys)): Promise<ServiceError> {
  const c = certifier(controller);
  try {
    await c.certify({ identity, token, csrPem: csr });
  } catch (err) {
    return err as ServiceError;
  } finally {
    c.close();
  }
  assert.fail('Certify was expected to be refused');
}

describe('Certify', () => {
  test('a valid token for the requested ServiceAccount gets a leaf with exactly that SPIFFE ID', async () => {
    const token = podToken('shop', 'web', 'web-1');
    reviewer.valid.set(token, 'system:serviceaccount:shop:web');
    const c = certifier(controller);
    const res = await c.certify({ identity: WEB, token, csrPem: createCsr(WEB, webKeys) });
    c.close();
    const v = verifyChain({ leaf: res.leafPem, intermediates: res.chainPem, anchors: anchor.certPem, expectedSpiffeId: WEB });
    assert.equal(new X509Certificate(res.leafPem).subjectAltName, `URI:${WEB}`);
    assert.equal(res.validUntil?.getTime(), v.notAfter.getTime());
    const hours = (v.notAfter.getTime() - Date.now()) / 3_600_000;
    assert.ok(hours > 23.9 && hours <= 24, `24 h lifetime, got ${hours}`);
  });

  test('a token for another ServiceAccount is refused with PERMISSION_DENIED', async () => {
    const token = podToken('shop', 'api', 'api-1');
    reviewer.valid.set(token, 'system:serviceaccount:shop:api');
    const err = await certifyError(token);
    assert.equal(err.code, status.PERMISSION_DENIED);
    assert.match(err.details, /ServiceAccount shop\/api/);
    assert.deepEqual(err.metadata.get('refusal-reason'), ['identity_mismatch']);
  });

  test('a token with another audience is refused with UNAUTHENTICATED', async () => {
    const token = podToken('shop', 'web', 'web-1', { aud: ['https://kubernetes.default.svc'] });
    reviewer.rejected.set(token, '[invalid bearer token, token audiences ["https://kubernetes.default.svc"] is invalid for the target audiences ["identity.weft.dev"]]');
    const err = await certifyError(token);
    assert.equal(err.code, status.UNAUTHENTICATED);
    assert.match(err.details, /audience/);
    assert.deepEqual(err.metadata.get('refusal-reason'), ['token_wrong_audience']);
  });

  test('an expired token is refused with FAILED_PRECONDITION', async () => {
    const token = podToken('shop', 'web', 'web-1', { exp: Math.floor(Date.now() / 1000) - 60 });
    reviewer.rejected.set(token, '[invalid bearer token, square/go-jose/jwt: validation failed, token is expired (exp)]');
    const err = await certifyError(token);
    assert.equal(err.code, status.FAILED_PRECONDITION);
    assert.match(err.details, /expired/);
  });

  test('the token of a deleted pod is refused with NOT_FOUND', async () => {
    const token = podToken('shop', 'web', 'web-gone');
    reviewer.rejected.set(token, 'pods "web-gone" not found');
    reviewer.gone.add('Pod/shop/web-gone');
    const err = await certifyError(token);
    assert.equal(err.code, status.NOT_FOUND);
    assert.match(err.details, /pod shop\/web-gone/);
  });

  test('a token TokenReview still accepts (cached) for a pod that is gone, or replaced under its name, is refused with NOT_FOUND', async () => {
    const token = podToken('shop', 'web', 'web-cached');
    reviewer.valid.set(token, 'system:serviceaccount:shop:web');
    reviewer.gone.add('Pod/shop/web-cached');
    const err = await certifyError(token);
    assert.equal(err.code, status.NOT_FOUND);
    assert.match(err.details, /pod shop\/web-cached, which no longer exists/);
    reviewer.gone.delete('Pod/shop/web-cached');
    const c = certifier(controller);
    try {
      const ok = await c.certify({ identity: WEB, token, csrPem: createCsr(WEB, webKeys) });
      assert.ok(ok.leafPem.includes('BEGIN CERTIFICATE'), 'the same token is certified while its pod exists');
    } finally {
      c.close();
    }
  });

  test('the token of a deleted ServiceAccount is refused with NOT_FOUND', async () => {
    const token = podToken('shop', 'old', 'old-1');
    reviewer.rejected.set(token, 'serviceaccounts "old" not found');
    reviewer.gone.add('ServiceAccount/shop/old');
    const err = await certifyError(token, 'spiffe://cluster.local/ns/shop/sa/old', createCsr('spiffe://cluster.local/ns/shop/sa/old', webKeys));
    assert.equal(err.code, status.NOT_FOUND);
    assert.deepEqual(err.metadata.get('refusal-reason'), ['token_service_account_deleted']);
  });

  test('a token the API server rejects for another reason is refused with UNAUTHENTICATED', async () => {
    const err = await certifyError(podToken('shop', 'web', 'web-1', { iss: 'https://elsewhere' }));
    assert.equal(err.code, status.UNAUTHENTICATED);
    assert.deepEqual(err.metadata.get('refusal-reason'), ['token_invalid']);
  });

  test('a malformed CSR is refused with INVALID_ARGUMENT before any TokenReview', async () => {
    const before = reviewer.reviews;
    const err = await certifyError(podToken('shop', 'web', 'web-1'), WEB, '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n');
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.deepEqual(err.metadata.get('refusal-reason'), ['csr_malformed']);
    assert.equal(reviewer.reviews, before);
  });

  test('a CSR naming another identity than requested is refused with INVALID_ARGUMENT', async () => {
    const token = podToken('shop', 'web', 'web-1');
    reviewer.valid.set(token, 'system:serviceaccount:shop:web');
    const err = await certifyError(token, WEB, createCsr('spiffe://cluster.local/ns/shop/sa/api', webKeys));
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.deepEqual(err.metadata.get('refusal-reason'), ['csr_identity_mismatch']);
  });

  test('an identity in another trust domain is refused with PERMISSION_DENIED', async () => {
    const other = 'spiffe://other.example/ns/shop/sa/web';
    const err = await certifyError(podToken('shop', 'web', 'web-1'), other, createCsr(other, webKeys));
    assert.equal(err.code, status.PERMISSION_DENIED);
  });

  test('an unreachable API server gives UNAVAILABLE', async () => {
    reviewer.failing = true;
    try {
      const err = await certifyError(podToken('shop', 'web', 'web-1'));
      assert.equal(err.code, status.UNAVAILABLE);
    } finally {
      reviewer.failing = false;
    }
  });

  test('the client refuses a server whose certificate lacks the controller SPIFFE ID', async () => {
    const c = new GrpcCertifier({ address: `127.0.0.1:${controller.grpcPort}`, anchorsPem: anchor.certPem, serverSpiffeId: WEB });
    const token = podToken('shop', 'web', 'web-1');
    reviewer.valid.set(token, 'system:serviceaccount:shop:web');
    await assert.rejects(c.certify({ identity: WEB, token, csrPem: createCsr(WEB, webKeys) }), (err: ServiceError) => err.code === status.UNAVAILABLE);
    c.close();
  });

  test('the client refuses a server that does not chain to its trust anchor', async () => {
    const foreign = await createTrustAnchor({ trustDomain: TD });
    const c = new GrpcCertifier({ address: `127.0.0.1:${controller.grpcPort}`, anchorsPem: foreign.certPem, serverSpiffeId: controllerSpiffeId(TD) });
    await assert.rejects(c.certify({ identity: WEB, token: 'x', csrPem: createCsr(WEB, webKeys) }), (err: ServiceError) => err.code === status.UNAVAILABLE);
    c.close();
  });
});

describe('admin server', () => {
  test('/ready and /live answer 200 once the controller serves; /metrics counts Certify by result', async () => {
    const base = `http://127.0.0.1:${controller.adminPort}`;
    assert.equal((await fetch(`${base}/ready`)).status, 200);
    assert.equal((await fetch(`${base}/live`)).status, 200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /weft_identity_certify_requests_total\{result="ok"\} [1-9]/);
    assert.match(metrics, /weft_identity_certify_requests_total\{result="identity_mismatch"\} [1-9]/);
    // Two: the rejected token of a deleted pod and the cached-accepted one of a gone pod.
    assert.match(metrics, /weft_identity_certify_requests_total\{result="token_pod_deleted"\} 2/);
    assert.match(metrics, /weft_identity_certify_duration_seconds_count\{result="ok"\} [1-9]/);
  });
});

describe('renewal', () => {
  test('with a 3 s lifetime the client renews at least twice, and a TLS connection opened before the first renewal keeps working', async () => {
    const short = await startWith('3s');
    const cert = certifier(short);
    const token = podToken('shop', 'web', 'web-1');
    reviewer.valid.set(token, 'system:serviceaccount:shop:web');
    const client = new IdentityClient({ spiffeId: WEB, anchorsPem: anchor.certPem, certifier: cert, readToken: async () => token });
    const serials: string[] = [];
    client.on('certified', (e) => serials.push(new X509Certificate(e.key.certPem).serialNumber));
    const failures: unknown[] = [];
    client.on('failed', (e) => failures.push(e.error));

    // An mTLS echo server on the client's certificate, checking peers against the anchor.
    const server = createServer({ requestCert: true, rejectUnauthorized: true }, (s) => s.pipe(s));
    try {
      const first = await client.start();
      const detach = client.provider.attachServer(server);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as { port: number }).port;
      const dial = async () => {
        const s = connect({ port, host: '127.0.0.1', secureContext: client.provider.secureContext(), checkServerIdentity: () => undefined });
        await new Promise<void>((r, j) => s.once('secureConnect', r).once('error', j));
        return s;
      };
      const echo = async (s: TLSSocket, text: string) => {
        const got = new Promise<string>((r) => s.once('data', (d: Buffer) => r(d.toString())));
        s.write(text);
        return got;
      };
      const old = await dial();
      assert.equal(verifyPeer(peerChain(old), anchor.certPem, WEB).spiffeId, WEB);
      const oldSerial = old.getPeerX509Certificate()?.serialNumber;
      assert.equal(oldSerial, new X509Certificate(first.certPem).serialNumber);
      assert.equal(await echo(old, 'before'), 'before');

      const deadline = Date.now() + 15_000;
      while (serials.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.ok(serials.length >= 3, `renewed ${serials.length - 1} times, failures: ${failures.map(String).join('; ')}`);
      assert.equal(new Set(serials).size, serials.length, 'each renewal is a new certificate');

      // The connection made before the first renewal (on the first certificate) still carries data.
      assert.equal(oldSerial, serials[0]);
      assert.ok(!old.destroyed);
      assert.equal(await echo(old, 'after'), 'after');
      // A new connection gets the current certificate.
      const fresh = await dial();
      assert.equal(fresh.getPeerX509Certificate()?.serialNumber, new X509Certificate(client.provider.current()?.certPem ?? '').serialNumber);
      assert.notEqual(fresh.getPeerX509Certificate()?.serialNumber, serials[0]);
      assert.equal(await echo(fresh, 'new'), 'new');
      old.destroy();
      fresh.destroy();
      detach();
    } finally {
      client.stop();
      cert.close();
      server.close();
      await short.close();
    }
  });
});

function peerChain(s: TLSSocket): Buffer[] {
  const out: Buffer[] = [];
  let c = s.getPeerCertificate(true);
  while (c !== undefined && c.raw !== undefined && !out.some((b) => b.equals(c.raw))) {
    out.push(c.raw);
    c = c.issuerCertificate;
  }
  return out;
}
