/**
 * Certify over gRPC with server-authenticated TLS. The controller's certificate must chain to the
 * trust anchors (checked by OpenSSL with the anchors as the only CAs) and carry the controller's
 * SPIFFE ID as a URI SAN; its DNS names are not checked, so the address may be an IP or any name.
 */
import { credentials, Metadata } from '@grpc/grpc-js';
import { isIP } from 'node:net';
import type { PeerCertificate } from 'node:tls';
import { controllerDnsNames } from '../core/contract.js';
import { IdentityClient as GrpcIdentityClient } from '../api/gen/weft/identity/v1/identity.js';
import type { Certifier, CertifyCall, CertifyResult } from './client.js';

export interface GrpcCertifierOptions {
  /** host:port of the controller's gRPC server. */
  readonly address: string;
  readonly anchorsPem: string;
  /** SPIFFE ID the controller's certificate must carry. */
  readonly serverSpiffeId: string;
  readonly timeoutMs?: number;
}

/** An Error when the server certificate lacks the expected SPIFFE ID (tls checkServerIdentity shape). */
export function checkSpiffeServerIdentity(expected: string) {
  return (_host: string, cert: PeerCertificate): Error | undefined => {
    const uris = (cert.subjectaltname ?? '').split(', ').filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
    if (uris.includes(expected)) return undefined;
    return new Error(`the server certificate is for ${uris.join(', ') || 'no SPIFFE ID'}, expected ${expected}`);
  };
}

export class GrpcCertifier implements Certifier {
  private readonly client: GrpcIdentityClient;

  constructor(private readonly opts: GrpcCertifierOptions) {
    const creds = credentials.createSsl(Buffer.from(opts.anchorsPem), null, null, {
      checkServerIdentity: checkSpiffeServerIdentity(opts.serverSpiffeId),
    });
    // SNI cannot carry an IP address: when dialling one, name the controller's Service instead (the
    // name is not what is verified; the SPIFFE ID is).
    const host = opts.address.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
    const options = isIP(host) !== 0 ? { 'grpc.ssl_target_name_override': controllerDnsNames()[0] ?? host } : {};
    this.client = new GrpcIdentityClient(opts.address, creds, options);
  }

  certify(call: CertifyCall): Promise<CertifyResult> {
    const deadline = new Date(Date.now() + (this.opts.timeoutMs ?? 10_000));
    return new Promise((resolve, reject) => {
      this.client.certify(
        { identity: call.identity, token: call.token, csrPem: call.csrPem },
        new Metadata(),
        { deadline },
        (err, res) => {
          if (err !== null) reject(err);
          else resolve({ leafPem: res.leafPem, chainPem: res.chainPem, validUntil: res.validUntil });
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
