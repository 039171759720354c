/**
 * Builds the cluster's binaries from the Go module proxy, once per version.
 *
 * The wrapper module in test/cluster/go/ requires k8s.io/kubernetes at the pinned version and maps
 * every staging module (`k8s.io/<name>`, which k8s.io/kubernetes requires at v0.0.0 and replaces with
 * ./staging/..., a replace that is ignored for a dependency) to its published `v0.<minor>.<patch>`.
 * Its go.mod is generated from the pinned k8s.io/kubernetes go.mod (staging list, `go` and `godebug`
 * lines, the etcd server version) and then completed by `go mod tidy`. One `go build` produces
 * kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, kubectl, etcd and CoreDNS (a
 * small main in go/coredns linking only the plugins the Corefile uses), so shared packages compile once.
 *
 * A stamp file next to the binaries records what was built; a warm start checks it and never rebuilds.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile, open, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { REPO_ROOT } from '../support/paths.js';
import {
  BINARIES,
  BIN_DIR,
  COREDNS_VERSION,
  GO_BINARY,
  GO_BUILD_PARALLELISM,
  HOME_ENV,
  K8S_VERSION,
  NETWORK_ENV,
  PATH_ENV,
} from './config.js';

export const WRAPPER_DIR = join(REPO_ROOT, 'test', 'cluster', 'go');
const STAMP = join(dirname(BIN_DIR), 'stamp.json');
const LOCK = join(dirname(BIN_DIR), 'build.lock');
const SKELETON_MARK = '// weft-skeleton-sha256: ';

const MAIN_PACKAGES: Record<(typeof BINARIES)[number], string> = {
  'kube-apiserver': 'k8s.io/kubernetes/cmd/kube-apiserver',
  kubelet: 'k8s.io/kubernetes/cmd/kubelet',
  'kube-controller-manager': 'k8s.io/kubernetes/cmd/kube-controller-manager',
  'kube-scheduler': 'k8s.io/kubernetes/cmd/kube-scheduler',
  'kube-proxy': 'k8s.io/kubernetes/cmd/kube-proxy',
  kubectl: 'k8s.io/kubernetes/cmd/kubectl',
  etcd: 'go.etcd.io/etcd/server/v3',
  coredns: './coredns',
};

export type Log = (line: string) => void;

export interface BuildStamp {
  version: string;
  goModSha256: string;
  ldflags: string;
  goVersion: string;
  builtAt: string;
  buildSeconds: number;
  binaries: string[];
}

/** The environment every `go` child gets: no toolchain downloads, static binaries, modest parallelism. */
function goEnv(): NodeJS.ProcessEnv {
  return {
    ...NETWORK_ENV,
    PATH: `${PATH_ENV}:/usr/local/go/bin:/usr/lib/go/bin`,
    HOME: HOME_ENV,
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
    GOFLAGS: `-p=${GO_BUILD_PARALLELISM}`,
  };
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs a command with goEnv() (plus `env`); on each stderr line calls onLine (used for build progress).
 * Rejects on non-zero exit.
 */
export function run(cmd: string, args: string[], cwd: string, onLine?: (line: string) => void, env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...goEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.length > 4_000_000) stderr = stderr.slice(-2_000_000);
      if (!onLine) return;
      partial += d;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) onLine(l);
    });
    child.on('error', (err) => reject(new Error(`cannot run ${cmd}: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve({ stdout, stderr });
      else {
        const tail = stderr.split('\n').filter((l) => l && !l.startsWith('go: downloading')).slice(-40).join('\n');
        reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}) in ${cwd}:\n${tail}`));
      }
    });
  });
}

/** `-X` flags so /version and kubectl report the pinned release instead of v0.0.0-master. */
export function versionLdflags(version: string = K8S_VERSION): string {
  const m = /^v(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (!m) throw new Error(`not a release version: ${version}`);
  const flags: string[] = [];
  for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
    flags.push(
      `-X ${pkg}.gitVersion=${version}`,
      `-X ${pkg}.gitMajor=${m[1]}`,
      `-X ${pkg}.gitMinor=${m[2]}`,
      `-X ${pkg}.gitTreeState=clean`,
    );
  }
  return `-s -w ${flags.join(' ')}`;
}

export interface UpstreamGoMod {
  goLine: string;
  godebug: string[];
  staging: string[];
  etcdServerVersion: string;
}

/** Pulls what the wrapper needs out of k8s.io/kubernetes' go.mod text. */
export function parseKubernetesGoMod(text: string): UpstreamGoMod {
  const lines = text.split('\n');
  const goLine = lines.find((l) => /^go \d/.test(l));
  if (!goLine) throw new Error('k8s.io/kubernetes go.mod has no go line');
  const godebug: string[] = [];
  let inGodebug = false;
  for (const l of lines) {
    if (/^godebug \(/.test(l)) inGodebug = true;
    else if (inGodebug && l.trim() === ')') inGodebug = false;
    else if (inGodebug && l.trim()) godebug.push(`godebug ${l.trim()}`);
    else if (/^godebug \S/.test(l)) godebug.push(l.trim());
  }
  const staging = [...text.matchAll(/^\s*(k8s\.io\/[A-Za-z0-9._-]+)\s+=>\s+\.\/staging\/\S+\s*$/gm)].map((m) => m[1] ?? '');
  if (staging.length === 0) throw new Error('k8s.io/kubernetes go.mod lists no staging replaces');
  const etcd = /^\s*go\.etcd\.io\/etcd\/server\/v3 (v\S+)/m.exec(text);
  if (!etcd?.[1]) throw new Error('k8s.io/kubernetes go.mod does not require go.etcd.io/etcd/server/v3');
  return { goLine: goLine.trim(), godebug, staging: staging.sort(), etcdServerVersion: etcd[1] };
}

/** The go.mod the generator writes before `go mod tidy` completes it. */
export function skeletonGoMod(version: string, up: UpstreamGoMod): string {
  const stagingVersion = version.replace(/^v1\./, 'v0.');
  const tools = Object.values(MAIN_PACKAGES).filter((p) => !p.startsWith('./'));
  return [
    `// Generated by test/cluster/build.ts from k8s.io/kubernetes ${version}'s go.mod; do not edit by hand.`,
    'module weft.dev/test/cluster/k8s',
    '',
    up.goLine,
    ...up.godebug,
    '',
    'require (',
    `\tk8s.io/kubernetes ${version}`,
    `\tgo.etcd.io/etcd/server/v3 ${up.etcdServerVersion}`,
    `\tgithub.com/coredns/coredns ${COREDNS_VERSION}`,
    ')',
    '',
    'replace (',
    ...up.staging.map((m) => `\t${m} => ${m} ${stagingVersion}`),
    ')',
    '',
    'tool (',
    ...tools.map((t) => `\t${t}`),
    ')',
    '',
  ].join('\n');
}

const sha256 = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

/**
 * Makes test/cluster/go/go.mod match the pinned version: regenerates it (and go.sum, via tidy) only when
 * the skeleton derived from upstream differs from the one the current file was made from.
 */
export async function generateWrapperModule(log: Log, version: string = K8S_VERSION): Promise<boolean> {
  const goModPath = join(WRAPPER_DIR, 'go.mod');
  const current = existsSync(goModPath) ? await readFile(goModPath, 'utf8') : '';
  const dl = await run(GO_BINARY, ['mod', 'download', '-json', `k8s.io/kubernetes@${version}`], WRAPPER_DIR);
  const info = JSON.parse(dl.stdout) as { GoMod?: string; Error?: string };
  if (!info.GoMod) throw new Error(`go mod download k8s.io/kubernetes@${version}: ${info.Error ?? 'no GoMod path'}`);
  const skeleton = skeletonGoMod(version, parseKubernetesGoMod(await readFile(info.GoMod, 'utf8')));
  const mark = `${SKELETON_MARK}${sha256(skeleton)}`;
  if (current.includes(mark) && existsSync(join(WRAPPER_DIR, 'go.sum'))) return false;
  log(`build: generating ${goModPath} for k8s.io/kubernetes ${version}`);
  await writeFile(goModPath, `${mark}\n${skeleton}`);
  await run(GO_BINARY, ['mod', 'tidy'], WRAPPER_DIR);
  return true;
}

async function readStamp(): Promise<BuildStamp | undefined> {
  try {
    return JSON.parse(await readFile(STAMP, 'utf8')) as BuildStamp;
  } catch {
    return undefined;
  }
}

async function goModHash(): Promise<string> {
  return sha256(await readFile(join(WRAPPER_DIR, 'go.mod')));
}

/** True when the cache holds a complete build of exactly the current wrapper module. */
export async function binariesReady(): Promise<boolean> {
  const stamp = await readStamp();
  if (!stamp || stamp.version !== K8S_VERSION || stamp.ldflags !== versionLdflags()) return false;
  if (stamp.goModSha256 !== (await goModHash())) return false;
  return BINARIES.every((b) => existsSync(join(BIN_DIR, b)));
}

/** An exclusive lock file so two builds of one cache do not run at once; a stale lock (dead pid) is taken over. */
export async function withLock<T>(lock: string, log: Log, fn: () => Promise<T>): Promise<T> {
  await mkdir(dirname(lock), { recursive: true });
  for (let waited = 0; ; waited++) {
    try {
      const fh = await open(lock, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
      let alive = false;
      if (holder > 0) {
        try {
          process.kill(holder, 0);
          alive = true;
        } catch {
          alive = false;
        }
      }
      if (!alive) {
        await rm(lock, { force: true });
        continue;
      }
      if (waited % 30 === 0) log(`build: waiting for the build running in pid ${holder}`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

export async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await dirSize(p);
    else if (e.isFile()) total += (await stat(p)).size;
  }
  return total;
}

/**
 * Returns the directory holding all cluster binaries, building them first when the cache lacks them.
 * A cold build takes a long time on 2 cores (see README); progress is logged every 30 seconds.
 */
export async function ensureBinaries(log: Log = (l) => console.log(l)): Promise<string> {
  if (await binariesReady()) return BIN_DIR;
  return withLock(LOCK, log, async () => {
    if (await binariesReady()) return BIN_DIR;
    const started = Date.now();
    await generateWrapperModule(log);
    const goVersion = (await run(GO_BINARY, ['env', 'GOVERSION'], WRAPPER_DIR)).stdout.trim();
    const tmp = `${BIN_DIR}.tmp`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    const ldflags = versionLdflags();
    const pkgs = Object.values(MAIN_PACKAGES);
    log(`build: go build of ${BINARIES.join(', ')} at ${K8S_VERSION} with ${goVersion} (cold: tens of minutes on 2 cores)`);
    let compiled = 0;
    let last = '';
    const timer = setInterval(() => {
      log(`build: ${Math.round((Date.now() - started) / 1000)}s, ${compiled} packages compiled, last ${last}`);
    }, 30_000);
    try {
      await run(GO_BINARY, ['build', '-v', '-trimpath', '-ldflags', ldflags, '-o', `${tmp}/`, ...pkgs], WRAPPER_DIR, (line) => {
        if (line && !line.startsWith('go: ')) {
          compiled++;
          last = line;
        }
      });
    } finally {
      clearInterval(timer);
    }
    // go names a /vN module's binary after the element before the version suffix.
    for (const candidate of ['server', 'v3']) {
      if (existsSync(join(tmp, candidate))) await rename(join(tmp, candidate), join(tmp, 'etcd'));
    }
    const missing = BINARIES.filter((b) => !existsSync(join(tmp, b)));
    if (missing.length) throw new Error(`go build finished but did not produce: ${missing.join(', ')}`);
    await rm(BIN_DIR, { recursive: true, force: true });
    await rename(tmp, BIN_DIR);
    const buildSeconds = Math.round((Date.now() - started) / 1000);
    const stamp: BuildStamp = {
      version: K8S_VERSION,
      goModSha256: await goModHash(),
      ldflags,
      goVersion,
      builtAt: new Date().toISOString(),
      buildSeconds,
      binaries: [...BINARIES],
    };
    await writeFile(STAMP, `${JSON.stringify(stamp, null, 2)}\n`);
    const mb = Math.round((await dirSize(BIN_DIR)) / 1e6);
    log(`build: done in ${buildSeconds}s; ${BIN_DIR} holds ${mb} MB`);
    return BIN_DIR;
  });
}
