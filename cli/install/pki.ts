/**
 * The certificates install needs, made with the identity CA library:
 *
 *   trust anchor (10 y; its key is discarded unless the user supplied it)  --signs-->  issuer (1 y)
 *   webhook CA (10 y, key discarded)  --signs-->  injector and controller webhook certificates (1 y)
 *
 * install generates what it is not given; upgrade passes what the cluster holds, so the anchor every
 * proxy trusts is never replaced (and the webhook certificates are only renewed when they near expiry).
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import {
  CONTROL_PLANE_NAMESPACE, CONTROLLER_SERVICE, CONTROLLER_SERVICE_ACCOUNT, INJECTOR_SERVICE, INJECTOR_SERVICE_ACCOUNT, spiffeId,
} from '../../core/contract.js';
import { CertificateAuthority, createTrustAnchor } from '../../identity/ca.js';
import type { CaCredential } from '../../identity/ca.js';
import { splitCertificates } from '../../identity/pem.js';
import type { InstallPki, WebhookTls } from './render.js';

const DAY_MS = 86_400_000;
const WEBHOOK_CERT_LIFETIME_MS = 365 * DAY_MS;
/** A webhook certificate closer than this to expiry is renewed by upgrade (and flagged by check). */
export const RENEW_BEFORE_MS = 30 * DAY_MS;

export class PkiError extends Error {
  readonly code = 'PKI_INVALID';
}

export interface PkiInputs {
  readonly trustDomain: string;
  /** Anchor certificate(s) PEM, and optionally the anchor key (to sign a new issuer). */
  readonly anchorCertPem?: string | undefined;
  readonly anchorKeyPem?: string | undefined;
  /** An existing issuer (certificate chain up to, not including, the anchor) and its key. */
  readonly issuer?: { readonly certPem: string; readonly keyPem: string } | undefined;
  /**
   * The issuer lives in a Secret Weft does not manage (cert-manager): it is checked when given
   * (`issuer`, read from the cluster) and never returned, so it is never rendered.
   */
  readonly externalIssuer?: boolean | undefined;
  /** Existing webhook certificates to keep when still valid. */
  readonly injectorTls?: WebhookTls | undefined;
  readonly controllerWebhookTls?: WebhookTls | undefined;
  readonly now?: Date;
}

export function webhookDnsNames(service: string): string[] {
  return [`${service}.${CONTROL_PLANE_NAMESPACE}.svc`, `${service}.${CONTROL_PLANE_NAMESPACE}.svc.cluster.local`];
}

/** Whether a webhook certificate is usable for `dnsName` for at least RENEW_BEFORE_MS more. */
export function webhookTlsUsable(tls: WebhookTls, dnsName: string, now: Date): boolean {
  return webhookTlsProblem(tls, dnsName, now) === undefined;
}

/** Why a webhook certificate is not usable for `dnsName` (key, CA, name, expiry), or undefined. */
export function webhookTlsProblem(tls: WebhookTls, dnsName: string, now: Date): string | undefined {
  let leaf: X509Certificate;
  let ca: X509Certificate;
  try {
    leaf = new X509Certificate(tls.certPem);
  } catch (err) {
    return `tls.crt is not a PEM certificate (${(err as Error).message})`;
  }
  try {
    ca = new X509Certificate(splitCertificates(tls.caPem)[0] ?? '');
  } catch (err) {
    return `ca.crt is not a PEM certificate (${(err as Error).message})`;
  }
  try {
    const pub = createPublicKey(createPrivateKey(tls.keyPem)).export({ type: 'spki', format: 'der' });
    if (!pub.equals(leaf.publicKey.export({ type: 'spki', format: 'der' }))) return 'tls.key is not the key of tls.crt';
  } catch (err) {
    return `tls.key is not a PEM private key (${(err as Error).message})`;
  }
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) return 'tls.crt is not signed by ca.crt';
  if (leaf.checkHost(dnsName) === undefined) return `tls.crt does not name ${dnsName}`;
  if (new Date(leaf.validTo).getTime() - now.getTime() <= RENEW_BEFORE_MS) return `tls.crt expires ${leaf.validTo}, within ${RENEW_BEFORE_MS / DAY_MS} days`;
  return undefined;
}

async function newWebhookTls(trustDomain: string, now: Date): Promise<{ injector: WebhookTls; controller: WebhookTls }> {
  const caCred = await createTrustAnchor({ trustDomain: `webhooks.${trustDomain}`, now });
  const ca = CertificateAuthority.load(caCred, now);
  const issue = async (service: string, sa: string): Promise<WebhookTls> => {
    const s = await ca.issueServing({
      spiffeId: spiffeId(trustDomain, CONTROL_PLANE_NAMESPACE, sa), dnsNames: webhookDnsNames(service), lifetimeMs: WEBHOOK_CERT_LIFETIME_MS, now,
    });
    return { certPem: s.certPem, keyPem: s.keyPem, caPem: caCred.certPem };
  };
  return { injector: await issue(INJECTOR_SERVICE, INJECTOR_SERVICE_ACCOUNT), controller: await issue(CONTROLLER_SERVICE, CONTROLLER_SERVICE_ACCOUNT) };
}

export async function buildPki(inputs: PkiInputs): Promise<InstallPki> {
  const now = inputs.now ?? new Date();
  let anchorsPem: string;
  let issuer: CaCredential | undefined;
  if (inputs.externalIssuer === true) {
    if (inputs.anchorCertPem === undefined) {
      throw new PkiError('an external issuer needs its trust anchors: the ca.crt of its Secret in the cluster, or --identity-trust-anchor');
    }
    if (inputs.anchorKeyPem !== undefined) throw new PkiError('--identity-trust-anchor-key signs a Weft-managed issuer; with an external issuer it is not used');
    anchorsPem = inputs.anchorCertPem;
    issuer = inputs.issuer === undefined ? undefined : { certPem: inputs.issuer.certPem, keyPem: inputs.issuer.keyPem, anchorsPem };
  } else if (inputs.issuer !== undefined) {
    if (inputs.anchorCertPem === undefined) throw new PkiError('an issuer needs the trust anchor it chains to (--identity-trust-anchor)');
    anchorsPem = inputs.anchorCertPem;
    issuer = { certPem: inputs.issuer.certPem, keyPem: inputs.issuer.keyPem, anchorsPem };
  } else if (inputs.anchorCertPem !== undefined) {
    if (inputs.anchorKeyPem === undefined) {
      throw new PkiError('with a trust anchor but no issuer, give the anchor key (--identity-trust-anchor-key) so install can sign an issuer');
    }
    anchorsPem = inputs.anchorCertPem;
    const anchorCa = loadCa({ certPem: splitCertificates(anchorsPem)[0] ?? '', keyPem: inputs.anchorKeyPem, anchorsPem }, 'the trust anchor', now);
    issuer = await anchorCa.createIssuer({ trustDomain: inputs.trustDomain, now });
  } else {
    const anchor = await createTrustAnchor({ trustDomain: inputs.trustDomain, now });
    anchorsPem = anchor.anchorsPem;
    issuer = await CertificateAuthority.load(anchor, now).createIssuer({ trustDomain: inputs.trustDomain, now });
  }
  if (issuer !== undefined) loadCa(issuer, 'the issuer', now);

  const keepInjector = inputs.injectorTls !== undefined && webhookTlsUsable(inputs.injectorTls, webhookDnsNames(INJECTOR_SERVICE)[0] ?? '', now);
  const keepController = inputs.controllerWebhookTls !== undefined
    && webhookTlsUsable(inputs.controllerWebhookTls, webhookDnsNames(CONTROLLER_SERVICE)[0] ?? '', now);
  const fresh = keepInjector && keepController ? undefined : await newWebhookTls(inputs.trustDomain, now);
  return {
    anchorsPem,
    issuer: inputs.externalIssuer === true || issuer === undefined ? undefined : { certPem: issuer.certPem, keyPem: issuer.keyPem },
    injectorTls: keepInjector && inputs.injectorTls !== undefined ? inputs.injectorTls : (fresh?.injector ?? fail()),
    controllerWebhookTls: keepController && inputs.controllerWebhookTls !== undefined ? inputs.controllerWebhookTls : (fresh?.controller ?? fail()),
  };
}

function fail(): never {
  throw new PkiError('internal: no webhook certificate');
}

function loadCa(cred: CaCredential, what: string, now: Date): CertificateAuthority {
  try {
    return CertificateAuthority.load(cred, now);
  } catch (err) {
    throw new PkiError(`${what} is not usable: ${(err as Error).message}`);
  }
}
