/**
 * TLS origination to backends outside the mesh (BackendTLSPolicy, decided in core/gateway/backend-tls.ts):
 * the gateway connects with the policy's hostname as SNI, verifies the backend's chain against the
 * policy's CA bundle (or the runtime's well-known store for `System`) and its name against the hostname,
 * or against one of the policy's subjectAltNames when it lists any; it presents the Gateway's backend
 * client certificate (`spec.tls.backend.clientCertificateRef`) when there is one.
 *
 * A failed verification is a BackendTlsError (code ERR_WEFT_BACKEND_TLS): the exchanges answer it with
 * the BACKEND_TLS reason (502 `backend-tls`), and the error's message says what did not verify.
 *
 * Secure contexts are built once per distinct configuration and reused by every connection.
 */
import { checkServerIdentity, connect as tlsConnect, createSecureContext } from 'node:tls';
import { TLSSocket } from 'node:tls';
import type { PeerCertificate, SecureContext } from 'node:tls';
import { Socket } from 'node:net';
import { createHash } from 'node:crypto';

export interface OriginateTls {
  /** SNI, and the name verified when `subjectAltNames` is empty. */
  readonly servername: string;
  readonly ca: { readonly kind: 'pem'; readonly pem: string } | { readonly kind: 'system' };
  readonly subjectAltNames: readonly { readonly type: 'Hostname' | 'URI'; readonly value: string }[];
  /** The client certificate to present (chain PEM and key PEM). */
  readonly clientCert?: { readonly certPem: string; readonly keyPem: string } | undefined;
  /** Set when the policy cannot be honoured (every CA reference invalid): no connection is made, this says why. */
  readonly invalid?: string | undefined;
}

export class BackendTlsError extends Error {
  readonly code = 'ERR_WEFT_BACKEND_TLS';
}

/** A stable key for pooling: two endpoints share connections only when they originate TLS alike. */
export function originateKey(t: OriginateTls): string {
  const h = createHash('sha256');
  h.update(t.servername).update('\0').update(t.ca.kind === 'pem' ? t.ca.pem : 'system').update('\0').update(t.invalid ?? '').update('\0');
  for (const s of t.subjectAltNames) h.update(`${s.type}:${s.value}\0`);
  if (t.clientCert !== undefined) h.update(t.clientCert.certPem).update(t.clientCert.keyPem);
  return h.digest('base64url').slice(0, 16);
}

/** Why the backend's certificate does not satisfy `t`'s names, or undefined. */
export function verifyBackendNames(t: OriginateTls, cert: PeerCertificate): string | undefined {
  if (t.subjectAltNames.length === 0) {
    const err = checkServerIdentity(t.servername, cert);
    return err === undefined ? undefined : `the certificate does not name ${t.servername}: ${err.message}`;
  }
  const uris = (cert.subjectaltname ?? '').split(', ').filter((p) => p.startsWith('URI:')).map((p) => p.slice(4));
  for (const s of t.subjectAltNames) {
    if (s.type === 'URI' ? uris.includes(s.value) : checkServerIdentity(s.value, cert) === undefined) return undefined;
  }
  const want = t.subjectAltNames.map((s) => `${s.type === 'URI' ? 'URI' : 'DNS'}:${s.value}`).join(', ');
  return `the certificate's subjectAltNames (${cert.subjectaltname ?? 'none'}) include none of ${want}`;
}

export class BackendTlsContexts {
  private readonly contexts = new Map<string, SecureContext>();

  private context(t: OriginateTls, key: string): SecureContext {
    let ctx = this.contexts.get(key);
    if (ctx === undefined) {
      ctx = createSecureContext({
        minVersion: 'TLSv1.2',
        ...(t.ca.kind === 'pem' ? { ca: t.ca.pem } : {}),
        ...(t.clientCert === undefined ? {} : { cert: t.clientCert.certPem, key: t.clientCert.keyPem }),
      });
      // A handful of policies per gateway; a bound keeps a churn of configurations from piling up.
      if (this.contexts.size >= 256) this.contexts.clear();
      this.contexts.set(key, ctx);
    }
    return ctx;
  }

  /**
   * Starts a TLS connection to host:port offering `alpn` and returns the socket at once (HTTP/2 sessions
   * need it synchronously). When the chain or the names do not verify, the socket is destroyed with a
   * BackendTlsError saying what failed; a timeout destroys it with UND_ERR_CONNECT_TIMEOUT.
   */
  connectSocket(host: string, port: number, t: OriginateTls, alpn: readonly string[], timeoutMs: number, localAddress?: string): TLSSocket {
    if (t.invalid !== undefined) {
      // A socket that fails at once, as the HTTP/2 path needs a socket synchronously.
      const refused = new TLSSocket(new Socket());
      const err = new BackendTlsError(`backend ${host}:${port}: ${t.invalid}`);
      process.nextTick(() => refused.destroy(err));
      return refused;
    }
    const secureContext = this.context(t, originateKey(t));
    // The chain is checked below (authorizationError) so that its failure carries the policy's words.
    const socket = tlsConnect({
      host, port, servername: t.servername, secureContext, ALPNProtocols: [...alpn], rejectUnauthorized: false,
      // Names are checked by verifyBackendNames: the policy's subjectAltNames may replace the hostname.
      checkServerIdentity: () => undefined,
      ...(localAddress === undefined ? {} : { localAddress }),
    });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy(Object.assign(new Error(`connect to ${host}:${port} timed out`), { code: 'UND_ERR_CONNECT_TIMEOUT' }));
    }, timeoutMs);
    socket.once('close', () => clearTimeout(timer));
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const why = socket.authorized
        ? verifyBackendNames(t, socket.getPeerCertificate())
        : `the certificate does not chain to the policy's ${t.ca.kind === 'system' ? 'well-known CAs' : 'CA certificate'} (${String(socket.authorizationError)})`;
      if (why !== undefined) socket.destroy(new BackendTlsError(`backend ${host}:${port} (SNI ${t.servername}): ${why}`));
    });
    return socket;
  }

  /** Like connectSocket, resolved once the handshake and the verification have passed. */
  connect(host: string, port: number, t: OriginateTls, alpn: readonly string[], timeoutMs: number, localAddress?: string): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const socket = this.connectSocket(host, port, t, alpn, timeoutMs, localAddress);
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.once('secureConnect', () => {
        if (socket.destroyed) return; // the error listener reports why
        socket.removeListener('error', onError);
        resolve(socket);
      });
    });
  }
}
