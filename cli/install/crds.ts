/**
 * Weft's CRDs as install packages them: every YAML document of manifests/crds/ (owned by the policy
 * controller), read from the package root, which holds dist/ both in the clone and in the image.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from './render.js';

export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'manifests'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package root (with manifests/) above ${from}`);
  }
}

export function loadCrds(dir: string = join(packageRoot(), 'manifests', 'crds')): KubeObject[] {
  const out: KubeObject[] = [];
  for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message ?? 'invalid YAML'}`);
      const obj = doc.toJS() as KubeObject | null;
      if (obj === null) continue;
      if (obj.kind !== 'CustomResourceDefinition') throw new Error(`${file}: expected CustomResourceDefinition, found ${obj.kind}`);
      out.push(obj);
    }
  }
  return out;
}
