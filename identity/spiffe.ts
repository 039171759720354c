/**
 * SPIFFE IDs of Weft workloads: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.
 * Parsing is strict (exactly four path segments, DNS-label-like names) so that a certificate's
 * identity maps to exactly one ServiceAccount.
 */
import { CONTROL_PLANE_NAMESPACE, CONTROLLER_SERVICE_ACCOUNT, spiffeId } from '../core/contract.js';
import { IdentityError } from './errors.js';

export interface WorkloadIdentity {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

// Trust domains are lower-case DNS-like names; namespaces are DNS labels; ServiceAccount names are
// DNS subdomains (RFC 1123), so dots are allowed there.
const TRUST_DOMAIN = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

export function formatSpiffeId(id: WorkloadIdentity): string {
  return spiffeId(id.trustDomain, id.namespace, id.serviceAccount);
}

/** Parses a SPIFFE ID; undefined when it is not a Weft workload ID. */
export function parseSpiffeId(uri: string): WorkloadIdentity | undefined {
  const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(uri);
  if (m === null) return undefined;
  const [, trustDomain = '', namespace = '', serviceAccount = ''] = m;
  if (!TRUST_DOMAIN.test(trustDomain) || !DNS_LABEL.test(namespace) || !DNS_SUBDOMAIN.test(serviceAccount)) {
    return undefined;
  }
  return { trustDomain, namespace, serviceAccount };
}

export function mustParseSpiffeId(uri: string): WorkloadIdentity {
  const id = parseSpiffeId(uri);
  if (id === undefined) {
    throw new IdentityError('SPIFFE_ID_INVALID', `not a SPIFFE ID of the form spiffe://<trust-domain>/ns/<ns>/sa/<sa>: ${JSON.stringify(uri)}`);
  }
  return id;
}

/** The controller's own identity, which proxies check on the identity and policy connections. */
export function controllerSpiffeId(trustDomain: string): string {
  return spiffeId(trustDomain, CONTROL_PLANE_NAMESPACE, CONTROLLER_SERVICE_ACCOUNT);
}
