/**
 * Where the issuer comes from: the Kubernetes Secret (production) or a directory of files (tests,
 * or a Secret mounted as a volume). Both hold ca.crt, tls.crt and tls.key.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { CaCredential } from '../../../identity/ca.js';
import { IdentityError } from '../../../identity/errors.js';
import { SECRET_KEYS } from '../../../identity/secret.js';
import type { IssuerSource } from '../../config.js';
import { readIssuerSecret } from './kube.js';

export async function readIssuerDir(dir: string): Promise<CaCredential> {
  const read = async (name: string) => {
    try {
      return await readFile(join(dir, name), 'utf8');
    } catch (err) {
      throw new IdentityError('CA_MATERIAL_INVALID', `cannot read the issuer file ${join(dir, name)}: ${(err as Error).message}`);
    }
  };
  const [anchorsPem, certPem, keyPem] = await Promise.all([read(SECRET_KEYS.anchors), read(SECRET_KEYS.cert), read(SECRET_KEYS.key)]);
  return { anchorsPem, certPem, keyPem };
}

export async function loadIssuer(source: IssuerSource, kube: () => KubeConfig): Promise<CaCredential> {
  return source.kind === 'dir' ? readIssuerDir(source.path) : readIssuerSecret(kube(), source.namespace, source.name);
}

export function describeIssuerSource(source: IssuerSource): string {
  return source.kind === 'dir' ? `directory ${source.path}` : `Secret ${source.namespace}/${source.name}`;
}
