/**
 * The proxy's identity client: obtains and renews the workload certificate.
 *
 *   generate RSA key -> CSR for spiffe://<td>/ns/<ns>/sa/<sa> -> Certify(token) -> verify -> provider
 *
 * Timing: renewal at 70% of the time left when the leaf arrived (receivedAt + 0.7 * (notAfter -
 * receivedAt)); the backdated notBefore is ignored so clock-skew margin does not shorten the
 * schedule. A failed attempt is retried after an exponential backoff (initial 1 s, doubling, at most
 * 30 s, each delay drawn uniformly from its upper half so a fleet of proxies does not retry in step),
 * but never later than the renewal deadline would require: while the current leaf is still valid, the
 * retry delay is also capped at a tenth of the time it has left.
 *
 * Every response is checked before use: the leaf must chain to the trust anchors, carry exactly the
 * requested SPIFFE ID, and certify the key this client generated.
 */
import { X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createCsr } from './ca.js';
import { generateRsaKeyPair } from './keys.js';
import type { CertifiedKey } from './provider.js';
import { CertificateProvider } from './provider.js';
import { mustParseSpiffeId } from './spiffe.js';
import { verifyChain } from './verify.js';

export interface CertifyCall {
  readonly identity: string;
  readonly token: string;
  readonly csrPem: string;
}

export interface CertifyResult {
  readonly leafPem: string;
  readonly chainPem: readonly string[];
  readonly validUntil: Date | undefined;
}

/** The transport of Certify (gRPC in production: certifier-grpc.ts; anything in tests). */
export interface Certifier {
  certify(call: CertifyCall): Promise<CertifyResult>;
}

export interface IdentityClientOptions {
  readonly spiffeId: string;
  readonly anchorsPem: string;
  readonly certifier: Certifier;
  /** Reads the projected ServiceAccount token; called before every attempt (the kubelet rotates it). */
  readonly readToken: () => Promise<string>;
  readonly provider?: CertificateProvider;
  readonly renewFraction?: number;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  readonly random?: () => number;
}

export interface RenewalEvent {
  readonly key: CertifiedKey;
  /** When the next renewal is scheduled. */
  readonly renewAt: Date;
}

export interface FailureEvent {
  readonly error: unknown;
  readonly attempt: number;
  readonly retryInMs: number;
}

interface ClientEvents {
  certified: [RenewalEvent];
  failed: [FailureEvent];
}

export const DEFAULT_RENEW_FRACTION = 0.7;
export const DEFAULT_BACKOFF = { initialMs: 1000, maxMs: 30_000 } as const;

export class IdentityClient extends EventEmitter<ClientEvents> {
  readonly provider: CertificateProvider;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private failures = 0;

  constructor(private readonly opts: IdentityClientOptions) {
    super();
    mustParseSpiffeId(opts.spiffeId);
    this.provider = opts.provider ?? new CertificateProvider();
  }

  /** Starts certifying now and keeps renewing until stop(). Resolves once the first certificate is in. */
  async start(signal?: AbortSignal): Promise<CertifiedKey> {
    this.stopped = false;
    this.schedule(0);
    return this.provider.ready(signal);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One Certify round trip, verified; does not touch the schedule. */
  async certifyOnce(): Promise<CertifiedKey> {
    const keys = await generateRsaKeyPair();
    const csrPem = createCsr(this.opts.spiffeId, keys);
    const token = (await this.opts.readToken()).trim();
    const res = await this.opts.certifier.certify({ identity: this.opts.spiffeId, token, csrPem });
    const verified = verifyChain({
      leaf: res.leafPem,
      intermediates: res.chainPem,
      anchors: this.opts.anchorsPem,
      expectedSpiffeId: this.opts.spiffeId,
    });
    const leafKey = new X509Certificate(res.leafPem).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    if (leafKey !== keys.publicKeyPem) throw new Error('the issued certificate does not certify the key this proxy generated');
    return {
      spiffeId: verified.spiffeId,
      keyPem: keys.privateKeyPem,
      certPem: res.leafPem,
      chainPem: [...res.chainPem],
      anchorsPem: this.opts.anchorsPem,
      notBefore: verified.notBefore,
      notAfter: verified.notAfter,
    };
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.attempt(), Math.max(0, delayMs));
    // The servers that use the certificate keep the process alive, not this timer.
    this.timer.unref();
  }

  private async attempt(): Promise<void> {
    try {
      const key = await this.certifyOnce();
      if (this.stopped) return;
      this.failures = 0;
      const receivedAt = Date.now();
      const fraction = this.opts.renewFraction ?? DEFAULT_RENEW_FRACTION;
      const renewIn = fraction * (key.notAfter.getTime() - receivedAt);
      this.provider.update(key);
      this.schedule(renewIn);
      this.emit('certified', { key, renewAt: new Date(receivedAt + renewIn) });
    } catch (error) {
      if (this.stopped) return;
      this.failures++;
      const retryInMs = this.retryDelay(this.failures);
      this.schedule(retryInMs);
      this.emit('failed', { error, attempt: this.failures, retryInMs });
    }
  }

  /** Exponential backoff with jitter, capped so a still-valid leaf gets several retries before expiry. */
  retryDelay(failures: number): number {
    const { initialMs, maxMs } = this.opts.backoff ?? DEFAULT_BACKOFF;
    const random = this.opts.random ?? Math.random;
    let ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(failures - 1, 30));
    const current = this.provider.current();
    if (current !== undefined) {
      const left = current.notAfter.getTime() - Date.now();
      if (left > 0) ceiling = Math.min(ceiling, Math.max(left / 10, 100));
    }
    return ceiling / 2 + random() * (ceiling / 2);
  }
}
