/**
 * What the policy-controller end-to-end tests share: a mesh issuer on disk, `weft controller` as a
 * child process (ports read from its structured log), workload certificates issued by the same
 * issuer, mTLS gRPC clients of the policy and discovery services, streams collected into arrays
 * that a test can wait on, and a throwaway CA for the webhook's serving certificate.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { credentials, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import forge from 'node-forge';
import { DiscoveryClient } from '../../api/gen/weft/discovery/v1/discovery.js';
import { InboundPolicyClient } from '../../api/gen/weft/inbound/v1/inbound.js';
import { OutboundPolicyClient } from '../../api/gen/weft/outbound/v1/outbound.js';
import { CertificateAuthority, createTrustAnchor, type CaCredential } from '../../identity/ca.js';
import { REPO_ROOT } from './paths.js';

export const TRUST_DOMAIN = 'cluster.local';

export interface Mesh {
  readonly anchor: CaCredential;
  readonly issuer: CaCredential;
  readonly issuerDir: string;
}

/** A trust anchor and an issuer, written as an issuer directory (ca.crt, tls.crt, tls.key). */
export async function createMesh(): Promise<Mesh> {
  const anchor = await createTrustAnchor({ trustDomain: TRUST_DOMAIN });
  const issuer = await CertificateAuthority.load(anchor).createIssuer({ trustDomain: TRUST_DOMAIN });
  const issuerDir = await mkdtemp(join(tmpdir(), 'weft-pc-issuer-'));
  await writeFile(join(issuerDir, 'ca.crt'), issuer.anchorsPem);
  await writeFile(join(issuerDir, 'tls.crt'), issuer.certPem);
  await writeFile(join(issuerDir, 'tls.key'), issuer.keyPem, { mode: 0o600 });
  return { anchor, issuer, issuerDir };
}

export interface WorkloadCert {
  readonly keyPem: string;
  readonly chainPem: string;
  readonly spiffeId: string;
}

/** A leaf for ServiceAccount `sa` in `ns`, issued by the mesh issuer (as Certify would). */
export async function workloadCert(mesh: Mesh, ns: string, sa: string): Promise<WorkloadCert> {
  const spiffeId = `spiffe://${TRUST_DOMAIN}/ns/${ns}/sa/${sa}`;
  const c = await CertificateAuthority.load(mesh.issuer).issueServing({ spiffeId, dnsNames: [], lifetimeMs: 3_600_000 });
  return { keyPem: c.keyPem, chainPem: [c.certPem, ...c.chainPem].join(''), spiffeId };
}

export interface ControllerProcess {
  readonly grpcAddress: string;
  readonly adminPort: number;
  readonly webhookPort: number;
  readonly log: string[];
  readonly child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `weft controller` and resolves once its gRPC server listens. `env` adds to the inherited
 * environment, an undefined value removes a variable (the benchmark passes the install manifest's
 * NODE_OPTIONS and MALLOC_ARENA_MAX, or removes them).
 */
export function startControllerProcess(args: readonly string[], timeoutMs = 60_000, env: Readonly<Record<string, string | undefined>> = {}): Promise<ControllerProcess> {
  const main = join(REPO_ROOT, 'dist', 'cli', 'main.js');
  const child = spawn(process.execPath, [main, 'controller', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const log: string[] = [];
  child.stderr?.on('data', (d: Buffer) => log.push(d.toString()));
  const lines = createInterface({ input: child.stdout! });
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  };
  return new Promise((resolve, reject) => {
    let admin: number | undefined;
    let webhook: number | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`controller did not start:\n${log.join('\n')}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`controller exited ${code}:\n${log.join('\n')}`));
    });
    lines.on('line', (line) => {
      log.push(line);
      let rec: { msg?: string; port?: number; address?: string };
      try {
        rec = JSON.parse(line) as typeof rec;
      } catch {
        return;
      }
      if (rec.msg === 'admin server listening') admin = rec.port;
      if (rec.msg === 'webhook server listening') webhook = rec.port;
      if (rec.msg === 'gRPC server listening' && rec.address !== undefined && admin !== undefined && webhook !== undefined) {
        clearTimeout(timer);
        resolve({ grpcAddress: `127.0.0.1:${Number(rec.address.split(':').pop())}`, adminPort: admin, webhookPort: webhook, log, child, stop });
      }
    });
  });
}

export interface PolicyClients {
  readonly inbound: InboundPolicyClient;
  readonly outbound: OutboundPolicyClient;
  readonly discovery: DiscoveryClient;
  close(): void;
}

/** mTLS clients presenting `cert` (or no client certificate), checking the controller against the anchor. */
export function policyClients(address: string, mesh: Mesh, cert: WorkloadCert | undefined): PolicyClients {
  const creds =
    cert === undefined
      ? credentials.createSsl(Buffer.from(mesh.anchor.certPem))
      : credentials.createSsl(Buffer.from(mesh.anchor.certPem), Buffer.from(cert.keyPem), Buffer.from(cert.chainPem));
  // The controller's certificate names weft-controller.weft-system.svc; the test dials 127.0.0.1.
  const options = { 'grpc.ssl_target_name_override': 'weft-controller.weft-system.svc' };
  const inbound = new InboundPolicyClient(address, creds, options);
  const outbound = new OutboundPolicyClient(address, creds, options);
  const discovery = new DiscoveryClient(address, creds, options);
  return {
    inbound,
    outbound,
    discovery,
    close() {
      inbound.close();
      outbound.close();
      discovery.close();
    },
  };
}

/** Every message of a server stream, with the time it arrived, and its end. */
export class Collected<T> {
  readonly messages: { readonly at: number; readonly msg: T }[] = [];
  error: ServiceError | undefined;
  ended = false;
  private readonly waiters = new Set<() => void>();

  constructor(readonly call: ClientReadableStream<T>) {
    call.on('data', (msg: T) => {
      this.messages.push({ at: performance.now(), msg });
      this.wake();
    });
    call.on('error', (err: ServiceError) => {
      this.error = err;
      this.wake();
    });
    call.on('end', () => {
      this.ended = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  get latest(): T | undefined {
    return this.messages.at(-1)?.msg;
  }

  /** Resolves with the first message (from index `from`) satisfying `pred`. */
  waitFor(what: string, pred: (msg: T) => boolean, opts: { from?: number; timeoutMs?: number } = {}): Promise<{ at: number; msg: T }> {
    const from = opts.from ?? 0;
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.messages.slice(from).find((m) => pred(m.msg));
        if (hit !== undefined) {
          done();
          resolve(hit);
        } else if (this.error !== undefined || this.ended) {
          done();
          reject(new Error(`stream ended before ${what}: ${this.error?.message ?? 'end'}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}; last message: ${JSON.stringify(this.latest)}`));
      }, opts.timeoutMs ?? 30_000);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves with the error the stream ended with. */
  async failure(timeoutMs = 30_000): Promise<ServiceError> {
    const start = Date.now();
    while (this.error === undefined) {
      if (Date.now() - start > timeoutMs) throw new Error('the stream did not fail');
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.error;
  }

  cancel(): void {
    this.call.cancel();
  }
}

/** A throwaway CA and a serving certificate for `ip` (the webhook as the API server dials it). */
export function webhookCertificate(ip: string): { caPem: string; certPem: string; keyPem: string } {
  const pki = forge.pki;
  const caKeys = pki.rsa.generateKeyPair(2048);
  const ca = pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  ca.serialNumber = '01';
  ca.validity.notBefore = new Date(Date.now() - 60_000);
  ca.validity.notAfter = new Date(Date.now() + 24 * 3_600_000);
  const caName = [{ name: 'commonName', value: 'weft e2e webhook CA' }];
  ca.setSubject(caName);
  ca.setIssuer(caName);
  ca.setExtensions([{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, critical: true }]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());
  const keys = pki.rsa.generateKeyPair(2048);
  const cert = pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '02';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3_600_000);
  cert.setSubject([{ name: 'commonName', value: ip }]);
  cert.setIssuer(caName);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 7, ip }] },
  ]);
  cert.sign(caKeys.privateKey, forge.md.sha256.create());
  return { caPem: pki.certificateToPem(ca), certPem: pki.certificateToPem(cert), keyPem: pki.privateKeyToPem(keys.privateKey) };
}
