/**
 * The proxy's current certificate, handed to TLS layers.
 *
 * Model: one CertificateProvider per process holds the latest certified key. TLS servers and clients
 * never copy the key; they ask for `secureContext()` when a connection starts (clients) or are told
 * on `change` (servers, through `attachServer`), so new connections use the new certificate while
 * open ones keep the context they were made with and are never dropped.
 */
import { EventEmitter, once } from 'node:events';
import { createSecureContext } from 'node:tls';
import type { SecureContext, Server as TlsServer } from 'node:tls';

export interface CertifiedKey {
  readonly spiffeId: string;
  readonly keyPem: string;
  readonly certPem: string;
  /** Intermediates, the leaf's issuer first (not the anchor). */
  readonly chainPem: readonly string[];
  /** Trust anchors peers must chain to. */
  readonly anchorsPem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

interface ProviderEvents {
  change: [CertifiedKey];
}

export class CertificateProvider extends EventEmitter<ProviderEvents> {
  private key: CertifiedKey | undefined;
  private context: SecureContext | undefined;

  /** The current certified key, or undefined before the first certificate. */
  current(): CertifiedKey | undefined {
    return this.key;
  }

  /** Resolves with the current certificate, waiting for the first one if needed. */
  async ready(signal?: AbortSignal): Promise<CertifiedKey> {
    if (this.key !== undefined) return this.key;
    const [key] = await once(this, 'change', signal !== undefined ? { signal } : {});
    return key as CertifiedKey;
  }

  update(key: CertifiedKey): void {
    this.key = key;
    this.context = undefined;
    this.emit('change', key);
  }

  /** TLS options of the current certificate: key, leaf + chain, and the anchors as CA. */
  tlsOptions(): { key: string; cert: string; ca: string } {
    const k = this.mustCurrent();
    return { key: k.keyPem, cert: [k.certPem, ...k.chainPem].join(''), ca: k.anchorsPem };
  }

  /** A SecureContext for new connections (cached until the certificate changes). */
  secureContext(): SecureContext {
    this.context ??= createSecureContext(this.tlsOptions());
    return this.context;
  }

  /**
   * Keeps a TLS server on the current certificate: `setSecureContext` now (if there is one) and on
   * every change. Returns a function that detaches it.
   */
  attachServer(server: TlsServer): () => void {
    const apply = () => server.setSecureContext(this.tlsOptions());
    if (this.key !== undefined) apply();
    this.on('change', apply);
    return () => this.off('change', apply);
  }

  private mustCurrent(): CertifiedKey {
    if (this.key === undefined) throw new Error('no certificate yet: wait for CertificateProvider.ready()');
    return this.key;
  }
}
