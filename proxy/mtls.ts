/**
 * Mutual TLS between proxies, from the CertificateProvider's current certificate.
 *
 * - Client side (`connect`): presents our leaf + chain, verifies the server's chain against the trust
 *   anchors (OpenSSL does the path, signature and time checks) and requires the server's only URI SAN
 *   to be exactly the SPIFFE ID discovery announced for that endpoint; the ALPN names Weft's transport.
 * - Server side (`createServer`): terminates a connection whose ClientHello offered a mesh ALPN,
 *   requires a client certificate chaining to the anchors and reads the peer's SPIFFE ID from it.
 *
 * Secure contexts are built once per certificate (rotation rebuilds them); connections already open
 * keep the context they were made with, new ones take the new one.
 */
import { createSecureContext, connect as tlsConnect, Server as TlsServer } from 'node:tls';
import type { PeerCertificate, SecureContext, TLSSocket } from 'node:tls';
import { MESH_ALPN } from '../core/contract.js';
import type { Certificate, CertificateProvider } from './io.js';

/** TLS 1.3 only; AES-128-GCM first: the cheapest AEAD on CPUs with AES-NI, which is where CPU goes. */
const TLS_OPTIONS = {
  minVersion: 'TLSv1.3',
  ciphers: 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256',
} as const;

export const MESH_ALPNS: readonly string[] = [MESH_ALPN.http1, MESH_ALPN.h2, MESH_ALPN.opaque];

export class PeerIdentityError extends Error {
  readonly code = 'ERR_WEFT_PEER_IDENTITY';
  constructor(expected: string, got: readonly string[]) {
    super(`the peer presented ${got.length === 0 ? 'no SPIFFE ID' : got.join(', ')}, expected ${expected}`);
  }
}

/** URI SANs of a peer certificate as node reports them ("URI:a, DNS:b"). */
export function uriSansOf(cert: Pick<PeerCertificate, 'subjectaltname'> | undefined): string[] {
  const san = cert?.subjectaltname;
  if (san === undefined || san === '') return [];
  const out: string[] = [];
  for (const part of san.split(', ')) if (part.startsWith('URI:')) out.push(part.slice(4));
  return out;
}

export interface MeshConnectOptions {
  readonly host: string;
  readonly port: number;
  /** The SPIFFE ID the server must present. */
  readonly identity: string;
  readonly alpn: string;
  readonly timeoutMs: number;
}

export class MeshTls {
  private clientCtx: SecureContext | undefined;
  private cert: Certificate | undefined;
  /** TLS handshakes made and accepted (tests check pooling keeps this near zero at steady state). */
  handshakesOut = 0;
  handshakesIn = 0;
  private readonly unsubscribe: () => void;

  constructor(private readonly provider: CertificateProvider) {
    const now = provider.current();
    if (now !== undefined) this.load(now);
    this.unsubscribe = provider.onChange((c) => this.load(c));
  }

  private load(cert: Certificate): void {
    const base = { ...TLS_OPTIONS, key: cert.keyPem, cert: cert.certChainPem, ca: cert.trustAnchorsPem };
    this.clientCtx = createSecureContext(base);
    this.cert = cert;
  }

  get ready(): boolean {
    return this.cert !== undefined;
  }

  /** Resolves once the first certificate is in (at once when it already is). */
  whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const off = this.provider.onChange(() => {
        off();
        resolve();
      });
    });
  }

  get identity(): string | undefined {
    return this.cert?.identity;
  }

  close(): void {
    this.unsubscribe();
  }

  /**
   * Starts an mTLS connection to a peer proxy and returns the socket at once (HTTP/2 sessions need it
   * synchronously). A failed handshake, a wrong identity, a missing ALPN or the timeout destroy the
   * socket with an error whose `code` says which.
   */
  connectSocket(o: MeshConnectOptions): TLSSocket {
    const ctx = this.clientCtx;
    if (ctx === undefined) throw Object.assign(new Error('the proxy has no certificate yet'), { code: 'ERR_WEFT_NO_CERTIFICATE' });
    this.handshakesOut++;
    const socket = tlsConnect({
      host: o.host,
      port: o.port,
      secureContext: ctx,
      ALPNProtocols: [o.alpn],
      rejectUnauthorized: true,
      checkServerIdentity: (_host, cert) => {
        const uris = uriSansOf(cert);
        return uris.length === 1 && uris[0] === o.identity ? undefined : new PeerIdentityError(o.identity, uris);
      },
    });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy(Object.assign(new Error(`connect to ${o.host}:${o.port} timed out`), { code: 'UND_ERR_CONNECT_TIMEOUT' }));
    }, o.timeoutMs);
    socket.once('close', () => clearTimeout(timer));
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      if (socket.alpnProtocol !== o.alpn) {
        socket.destroy(Object.assign(new Error(`the peer at ${o.host}:${o.port} does not speak ${o.alpn}`), { code: 'ERR_WEFT_PEER_ALPN' }));
      }
    });
    return socket;
  }

  /** Like connectSocket, resolved once the handshake and identity check have passed. */
  connect(o: MeshConnectOptions): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      let socket: TLSSocket;
      try {
        socket = this.connectSocket(o);
      } catch (err) {
        reject(err as Error);
        return;
      }
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.once('secureConnect', () => {
        if (socket.destroyed) return; // the error listener reports why
        socket.removeListener('error', onError);
        resolve(socket);
      });
    });
  }

  /**
   * The server side of mesh mTLS: a tls.Server that never listens; the inbound listener hands it
   * detected (paused) sockets. Only verified connections reach `onSecure` (node's tls.Server destroys
   * those without a client certificate chaining to the anchors, or with an expired one).
   */
  createServer(handshakeTimeoutMs: number, onSecure: (tls: TLSSocket, peerIdentity: string | undefined) => void): TlsServer {
    const server = new TlsServer({
      ...TLS_OPTIONS,
      ...this.serverOptions(),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: [...MESH_ALPNS],
      handshakeTimeout: handshakeTimeoutMs,
    }, (tls: TLSSocket) => {
      this.handshakesIn++;
      const uris = uriSansOf(tls.getPeerCertificate());
      onSecure(tls, uris.length === 1 ? uris[0] : undefined);
    });
    server.on('tlsClientError', (_err, socket) => socket.destroy());
    const unsubscribe = this.provider.onChange(() => server.setSecureContext({ ...TLS_OPTIONS, ...this.serverOptions() }));
    server.on('close', unsubscribe);
    return server;
  }

  private serverOptions(): { key?: string; cert?: string; ca?: string } {
    const c = this.cert;
    return c === undefined ? {} : { key: c.keyPem, cert: c.certChainPem, ca: c.trustAnchorsPem };
  }
}
