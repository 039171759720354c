/**
 * Builds upstream Helm from the Go module proxy, once per version, for the chart test
 * (test/integration/helm-chart.test.ts: charts/weft against `weft install`, and `helm lint`).
 *
 *   GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-p=2 GOBIN=<cache>/helm-<v>/bin.tmp \
 *     go install -trimpath -ldflags "-s -w" helm.sh/helm/v3/cmd/helm@<v>
 *
 * helm's go.mod has no replace directives, so `go install pkg@version` builds it without a wrapper
 * module (unlike Prometheus, prometheus-build.ts). A stamp next to the binary records what was built; a
 * warm call checks it and never runs `go`. The lock and the `go` environment are build.ts's.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, withLock, type Log } from './build.js';
import { GO_BINARY, HELM_DIR, HELM_MODULE_VERSION } from './config.js';

export const HELM_PACKAGE = 'helm.sh/helm/v3/cmd/helm';
const BIN = join(HELM_DIR, 'bin');
const STAMP = join(HELM_DIR, 'stamp.json');
const LOCK = join(HELM_DIR, 'build.lock');
const LDFLAGS = '-s -w';

interface HelmStamp {
  moduleVersion: string;
  ldflags: string;
  goVersion: string;
  builtAt: string;
  buildSeconds: number;
}

async function helmReady(): Promise<boolean> {
  let s: HelmStamp;
  try {
    s = JSON.parse(await readFile(STAMP, 'utf8')) as HelmStamp;
  } catch {
    return false;
  }
  return s.moduleVersion === HELM_MODULE_VERSION && s.ldflags === LDFLAGS && existsSync(join(BIN, 'helm'));
}

/** The path of the `helm` binary, built first when the cache lacks it (cold: minutes). */
export async function ensureHelm(log: Log = (l) => console.log(l)): Promise<string> {
  const binary = join(BIN, 'helm');
  if (await helmReady()) return binary;
  return withLock(LOCK, log, async () => {
    if (await helmReady()) return binary;
    const started = Date.now();
    await mkdir(HELM_DIR, { recursive: true });
    const goVersion = (await run(GO_BINARY, ['env', 'GOVERSION'], HELM_DIR)).stdout.trim();
    const tmp = `${BIN}.tmp`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    log(`build: go install ${HELM_PACKAGE}@${HELM_MODULE_VERSION} with ${goVersion} (cold: minutes)`);
    let compiled = 0;
    let last = '';
    const timer = setInterval(() => log(`build: helm ${Math.round((Date.now() - started) / 1000)}s, ${compiled} packages compiled, last ${last}`), 30_000);
    try {
      await run(GO_BINARY, ['install', '-v', '-trimpath', '-ldflags', LDFLAGS, `${HELM_PACKAGE}@${HELM_MODULE_VERSION}`], HELM_DIR, (line) => {
        if (line && !line.startsWith('go: ')) {
          compiled++;
          last = line;
        }
      }, { GOBIN: tmp });
    } finally {
      clearInterval(timer);
    }
    if (!existsSync(join(tmp, 'helm'))) throw new Error(`go install finished but ${tmp}/helm is missing`);
    await rm(BIN, { recursive: true, force: true });
    await rename(tmp, BIN);
    const buildSeconds = Math.round((Date.now() - started) / 1000);
    const stamp: HelmStamp = { moduleVersion: HELM_MODULE_VERSION, ldflags: LDFLAGS, goVersion, builtAt: new Date().toISOString(), buildSeconds };
    await writeFile(STAMP, `${JSON.stringify(stamp, null, 2)}\n`);
    log(`build: helm done in ${buildSeconds}s; ${binary} is ${Math.round((await stat(binary)).size / 1e6)} MB`);
    return binary;
  });
}
