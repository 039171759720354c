/**
 * Checks of flag values shared by the verbs (install, upgrade, inject): each returns undefined when
 * the value is fine, else a problem naming the flag, the value and why. Pure except that PEM checks
 * parse with node:crypto.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { DEFAULT_IMAGE } from '../core/contract.js';

/** An OCI image reference: [registry[:port]/]path[:tag][@digest], no spaces. */
const IMAGE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,})?$/i;

export function checkImage(flag: string, value: string): string | undefined {
  if (value.trim() === '') return `--${flag}: the image is empty; give an image reference such as ${DEFAULT_IMAGE}`;
  if (!IMAGE.test(value)) return `--${flag}: ${JSON.stringify(value)} is not an image reference such as ${DEFAULT_IMAGE}`;
  return undefined;
}

export function checkTrustDomain(flag: string, value: string): string | undefined {
  return /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(value) ? undefined : `--${flag}: ${JSON.stringify(value)} is not a lower-case DNS name`;
}

/** Why `text` is not a CIDR (address/prefix with the prefix within the address family's bits), or undefined. */
export function cidrProblem(text: string): string | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return 'it has no /prefix';
  const address = text.slice(0, slash);
  const prefix = text.slice(slash + 1);
  const family = isIP(address);
  if (family === 0) return `${JSON.stringify(address)} is not an IPv4 or IPv6 address`;
  const bits = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > bits) return `the prefix /${prefix} is not 0 to ${bits} (IPv${family})`;
  return undefined;
}

/** Splits a comma-separated CIDR list; problems name each bad entry. */
export function parseCidrList(flag: string, value: string): { cidrs: string[]; problems: string[] } {
  const cidrs = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (cidrs.length === 0) return { cidrs, problems: [`--${flag}: the list is empty; give CIDRs such as 10.0.0.0/8,fd00::/8`] };
  const problems = cidrs.flatMap((c) => {
    const why = cidrProblem(c);
    return why === undefined ? [] : [`--${flag}: ${JSON.stringify(c)} is not a CIDR: ${why}`];
  });
  return { cidrs, problems };
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----/;
const KEY_BLOCK = /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/;

/** The file of a certificate flag must hold a PEM certificate (and no private key). */
export function checkCertificatePem(flag: string, path: string, text: string): string | undefined {
  if (!CERT_BLOCK.test(text)) {
    return KEY_BLOCK.test(text) ? `--${flag}: ${path} holds a private key, not a certificate (did you swap it with the key flag?)`
      : `--${flag}: ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`;
  }
  try {
    new X509Certificate(text);
  } catch (err) {
    return `--${flag}: ${path} holds a certificate that cannot be read: ${(err as Error).message}`;
  }
  return undefined;
}

/** The file of a key flag must hold a PEM private key, not a certificate. */
export function checkPrivateKeyPem(flag: string, path: string, text: string): string | undefined {
  if (!KEY_BLOCK.test(text)) {
    return CERT_BLOCK.test(text) ? `--${flag}: ${path} holds a certificate, not a private key (did you swap it with the certificate flag?)`
      : `--${flag}: ${path} holds no PEM private key (-----BEGIN PRIVATE KEY-----)`;
  }
  try {
    createPrivateKey(text);
  } catch (err) {
    return `--${flag}: ${path} holds a private key that cannot be read (encrypted keys are not supported): ${(err as Error).message}`;
  }
  return undefined;
}

/** Adds a check's problem, if any, to a list. */
export function pushIf(list: string[], problem: string | undefined): void {
  if (problem !== undefined) list.push(problem);
}
