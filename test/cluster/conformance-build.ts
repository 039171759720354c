/**
 * Builds upstream's Gateway API conformance suite into a test binary, once per go.mod/go.sum, for the
 * e2e test that runs it unmodified (test/e2e/upstream-conformance.test.ts):
 *
 *   cd test/conformance/upstream && GOTOOLCHAIN=go1.27.0 CGO_ENABLED=0 GOFLAGS=-p=2 \
 *     go test -c -vet=off -trimpath -o <cache>/gateway-api-conformance-v1.7.0/bin.tmp/conformance.test \
 *     sigs.k8s.io/gateway-api/conformance
 *
 * Our go.mod only requires sigs.k8s.io/gateway-api and its conformance module at the pinned release
 * (see test/conformance/upstream/README.md for its one replace); no upstream file is copied or patched.
 * A stamp next to the binary records the hash of go.mod and go.sum and the toolchain; a warm call
 * checks it and never runs `go`. The lock and the `go` environment are build.ts's.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { REPO_ROOT } from '../support/paths.js';
import { run, withLock, type Log } from './build.js';
import { CONFORMANCE_GO_TOOLCHAIN, CONFORMANCE_SUITE_DIR, GATEWAY_API_VERSION, GO_BINARY } from './config.js';

export const CONFORMANCE_PACKAGE = 'sigs.k8s.io/gateway-api/conformance';
/** Our wrapper module: go.mod and go.sum only. */
export const CONFORMANCE_MODULE_DIR = join(REPO_ROOT, 'test', 'conformance', 'upstream');
const BIN = join(CONFORMANCE_SUITE_DIR, 'bin');
const STAMP = join(CONFORMANCE_SUITE_DIR, 'stamp.json');
const LOCK = join(CONFORMANCE_SUITE_DIR, 'build.lock');

interface SuiteStamp {
  gatewayApiVersion: string;
  moduleSha256: string;
  toolchain: string;
  goVersion: string;
  builtAt: string;
  buildSeconds: number;
}

/** Hash of the wrapper module's go.mod and go.sum: every version the builds below use is pinned there. */
export async function moduleHash(): Promise<string> {
  const h = createHash('sha256');
  for (const f of ['go.mod', 'go.sum']) h.update(`${f}\0`).update(await readFile(join(CONFORMANCE_MODULE_DIR, f)));
  return h.digest('hex');
}

async function suiteReady(binary: string): Promise<boolean> {
  let s: SuiteStamp;
  try {
    s = JSON.parse(await readFile(STAMP, 'utf8')) as SuiteStamp;
  } catch {
    return false;
  }
  return s.gatewayApiVersion === GATEWAY_API_VERSION && s.toolchain === CONFORMANCE_GO_TOOLCHAIN && s.moduleSha256 === (await moduleHash()) && existsSync(binary);
}

/** The path of upstream's conformance test binary, built first when the cache lacks it (cold: minutes). */
export async function ensureConformanceSuite(log: Log = (l) => console.log(l)): Promise<string> {
  const binary = join(BIN, 'conformance.test');
  if (await suiteReady(binary)) return binary;
  return withLock(LOCK, log, async () => {
    if (await suiteReady(binary)) return binary;
    const started = Date.now();
    await mkdir(CONFORMANCE_SUITE_DIR, { recursive: true });
    const env = { GOTOOLCHAIN: CONFORMANCE_GO_TOOLCHAIN };
    const goVersion = (await run(GO_BINARY, ['env', 'GOVERSION'], CONFORMANCE_MODULE_DIR, undefined, env)).stdout.trim();
    const tmp = `${BIN}.tmp`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    log(`build: go test -c ${CONFORMANCE_PACKAGE} (${GATEWAY_API_VERSION}) with ${goVersion} (cold: minutes)`);
    const timer = setInterval(() => log(`build: conformance suite ${Math.round((Date.now() - started) / 1000)}s`), 30_000);
    try {
      await run(GO_BINARY, ['test', '-c', '-vet=off', '-trimpath', '-o', join(tmp, 'conformance.test'), CONFORMANCE_PACKAGE], CONFORMANCE_MODULE_DIR, undefined, env);
    } finally {
      clearInterval(timer);
    }
    if (!existsSync(join(tmp, 'conformance.test'))) throw new Error(`go test -c finished but ${tmp}/conformance.test is missing`);
    await rm(BIN, { recursive: true, force: true });
    await rename(tmp, BIN);
    const buildSeconds = Math.round((Date.now() - started) / 1000);
    const stamp: SuiteStamp = { gatewayApiVersion: GATEWAY_API_VERSION, moduleSha256: await moduleHash(), toolchain: CONFORMANCE_GO_TOOLCHAIN, goVersion, builtAt: new Date().toISOString(), buildSeconds };
    await writeFile(STAMP, `${JSON.stringify(stamp, null, 2)}\n`);
    log(`build: conformance suite done in ${buildSeconds}s; ${binary} is ${Math.round((await stat(binary)).size / 1e6)} MB`);
    return binary;
  });
}
