/**
 * Who is calling: the verified client certificate of a gRPC call, as a workload identity.
 *
 * The gRPC server requests a client certificate but does not require one (Certify callers have
 * none yet). grpc-js exposes a peer certificate only when the TLS layer verified it against the
 * trust anchors, so a certificate that is absent, unverified, not a SPIFFE workload ID, or from
 * another trust domain is refused here with UNAUTHENTICATED.
 */
import { X509Certificate } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import type { ServerSurfaceCall } from '@grpc/grpc-js/build/src/server-call.js';
import { spiffeIdOf } from '../../identity/verify.js';
import { parseSpiffeId, type WorkloadIdentity } from '../../identity/spiffe.js';

export type PeerResult =
  | { readonly ok: true; readonly identity: WorkloadIdentity; readonly spiffeId: string }
  | { readonly ok: false; readonly code: status; readonly message: string };

export function peerIdentity(call: Pick<ServerSurfaceCall, 'getAuthContext'>, trustDomain: string): PeerResult {
  const cert = call.getAuthContext()?.sslPeerCertificate;
  if (cert?.raw === undefined) {
    return { ok: false, code: status.UNAUTHENTICATED, message: 'policy and discovery need a client certificate issued by the mesh identity service' };
  }
  const id = spiffeIdOf(new X509Certificate(cert.raw));
  const parsed = id === undefined ? undefined : parseSpiffeId(id);
  if (id === undefined || parsed === undefined) {
    return { ok: false, code: status.UNAUTHENTICATED, message: 'the client certificate carries no SPIFFE workload ID' };
  }
  if (parsed.trustDomain !== trustDomain) {
    return { ok: false, code: status.UNAUTHENTICATED, message: `the client certificate is for trust domain ${parsed.trustDomain}, not ${trustDomain}` };
  }
  return { ok: true, identity: parsed, spiffeId: id };
}
