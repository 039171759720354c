/**
 * Where things are, for tests: the repo root (found from this compiled file's location, which sits at
 * dist/test/support/paths.js) and the shared folder beside the clone (../shared), which holds the
 * upstream Gateway API CRDs and conformance data that tests read but the project never copies.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'tsconfig.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no repo root above ${start}`);
    dir = up;
  }
}

export const REPO_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
export const SHARED_DIR = resolve(REPO_ROOT, '..', 'shared');
/** The Gateway API release Weft is tested against: SHA256SUMS and crds/{standard,experimental}. */
export const GATEWAY_API_DIR = join(SHARED_DIR, 'gateway-api', 'v1.7.0');
/**
 * The request cases Weft's own harness transcribes (conformance/mesh-cases.yaml and the manifests it
 * names) exist only for v1.6.1 in ../shared; upstream's own v1.7.0 suite runs from its Go module
 * (test/conformance/upstream/).
 */
export const TRANSCRIBED_CONFORMANCE_DIR = join(SHARED_DIR, 'gateway-api', 'v1.6.1', 'conformance');
