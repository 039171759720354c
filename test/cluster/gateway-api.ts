/**
 * The Gateway API CRDs the local cluster installs, read in place from ../shared/gateway-api/<version>/
 * and checked against that release's SHA256SUMS before anything is applied.
 *
 * `readGatewayApiCrds(channel)` hashes every file of `crds/<channel>/` listed in SHA256SUMS (a file in
 * the folder but not in the list, a listed file that is missing, or a hash that differs is an error
 * naming the file) and returns the CustomResourceDefinition documents as one YAML stream, so what is
 * applied is exactly the bytes that were verified. The channel's ValidatingAdmissionPolicy
 * (`*_vap_safeupgrades.yaml`, "safe upgrades") is verified but not applied: it refuses experimental CRDs
 * over standard ones and any bundle older than its own, and this one shared cluster swaps channels for
 * tests that need an experimental field and is reused by branches that may still apply an older bundle.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { parseAllDocuments } from 'yaml';

import { GATEWAY_API_RELEASE_DIR } from './config.js';
import { REPO_ROOT } from '../support/paths.js';

export type GatewayApiChannel = 'standard' | 'experimental';

export interface GatewayApiCrds {
  /** The CRDs' gateway.networking.k8s.io/bundle-version (one release, or an error). */
  readonly version: string;
  readonly channel: GatewayApiChannel;
  /** The folder the files were read from. */
  readonly dir: string;
  /** CRD names (metadata.name), sorted by file. */
  readonly names: readonly string[];
  /** The verified files, relative to the release folder (as SHA256SUMS names them). */
  readonly files: readonly string[];
  /** Every CustomResourceDefinition document of the channel, as one YAML stream for `kubectl apply -f -`. */
  readonly yaml: string;
}

/** Parses `sha256sum` output: `<64 hex>  <path>` per line; anything else is an error naming the line. */
export function parseSha256Sums(text: string, source: string): Map<string, string> {
  const sums = new Map<string, string>();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (m === null) throw new Error(`${source}:${i + 1}: not a "<sha256>  <file>" line: ${JSON.stringify(line)}`);
    sums.set(m[2]!, m[1]!);
  });
  return sums;
}

/** Reads and verifies one channel of a release folder (default: the pinned release beside the clone). */
export async function readGatewayApiCrds(channel: GatewayApiChannel, releaseDir = resolve(REPO_ROOT, GATEWAY_API_RELEASE_DIR)): Promise<GatewayApiCrds> {
  const sumsPath = join(releaseDir, 'SHA256SUMS');
  const sums = parseSha256Sums(await readFile(sumsPath, 'utf8'), sumsPath);
  const dir = join(releaseDir, 'crds', channel);
  const files = (await readdir(dir)).filter((n) => n.endsWith('.yaml')).sort();
  const listed = [...sums.keys()].filter((k) => k.startsWith(`crds/${channel}/`)).map((k) => k.slice(`crds/${channel}/`.length));
  const missing = listed.filter((f) => !files.includes(f));
  if (missing.length > 0) throw new Error(`${dir}: ${missing.join(', ')} listed in ${sumsPath} but missing`);
  const names: string[] = [];
  const versions = new Set<string>();
  const docs: string[] = [];
  for (const f of files) {
    const rel = `crds/${channel}/${f}`;
    const want = sums.get(rel);
    if (want === undefined) throw new Error(`${join(dir, f)} is not listed in ${sumsPath}; refusing to apply an unverified file`);
    const bytes = await readFile(join(dir, f));
    const got = createHash('sha256').update(bytes).digest('hex');
    if (got !== want) throw new Error(`${join(dir, f)}: sha256 ${got} does not match ${want} in ${sumsPath}`);
    if (f === 'kustomization.yaml') continue;
    for (const doc of parseAllDocuments(bytes.toString('utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${join(dir, f)}: ${doc.errors[0]!.message}`);
      const obj = doc.toJS() as { kind?: string; metadata?: { name?: string; annotations?: Record<string, string> } } | null;
      if (obj?.kind !== 'CustomResourceDefinition' || !obj.metadata?.name) continue;
      names.push(obj.metadata.name);
      const v = obj.metadata.annotations?.['gateway.networking.k8s.io/bundle-version'];
      if (v !== undefined) versions.add(v);
      docs.push(doc.toString());
    }
  }
  if (names.length === 0) throw new Error(`${dir}: no CustomResourceDefinition found`);
  if (versions.size !== 1) throw new Error(`${dir}: the CRDs carry bundle versions ${JSON.stringify([...versions])}, not one release`);
  return { version: [...versions][0]!, channel, dir, names, files: files.map((f) => `crds/${channel}/${f}`), yaml: docs.map((d) => `---\n${d.replace(/^---\n/, '')}`).join('') };
}
