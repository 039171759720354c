/**
 * Builds the real node's pieces other than the kubelet (which joins the control plane's wrapper-module
 * build in build.ts): containerd with its runc shim and ctr, runc, the CNI plugins, each from its own
 * upstream Go module at a pinned version with `go install <pkg>@<version>` (none of these modules has a
 * replace directive, so no wrapper is needed), and the pause image from test/cluster/node/pause.c.
 *
 * Each lands in `<cache>/<name>-<version>/bin` with a stamp.json; a warm start reads the stamps and
 * never runs go or gcc. Each build takes its own lock file, as build.ts does.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';

import { REPO_ROOT } from '../support/paths.js';
import { dirSize, run, withLock, type Log } from './build.js';
import {
  CACHE_ROOT,
  CNI_DIR,
  CNI_PLUGINS_VERSION,
  CONTAINERD_DIR,
  CONTAINERD_VERSION,
  GO_BINARY,
  PAUSE_IMAGE,
  RUNC_DIR,
  RUNC_VERSION,
} from './config.js';
import { buildOciArchive } from './oci.js';

export interface GoInstallSpec {
  name: string;
  dir: string;
  module: string;
  version: string;
  /** package paths relative to the module root */
  packages: string[];
  binaries: string[];
  cgo: boolean;
  tags: string[];
  ldflags: string;
}

export const GO_INSTALLS: readonly GoInstallSpec[] = [
  {
    name: 'containerd',
    dir: CONTAINERD_DIR,
    module: 'github.com/containerd/containerd/v2',
    version: CONTAINERD_VERSION,
    packages: ['cmd/containerd', 'cmd/containerd-shim-runc-v2', 'cmd/ctr'],
    binaries: ['containerd', 'containerd-shim-runc-v2', 'ctr'],
    cgo: false,
    tags: ['no_btrfs', 'no_devmapper', 'no_zfs'],
    ldflags: `-s -w -X github.com/containerd/containerd/v2/version.Version=${CONTAINERD_VERSION} -X github.com/containerd/containerd/v2/version.Revision=${CONTAINERD_VERSION}`,
  },
  {
    name: 'runc',
    dir: RUNC_DIR,
    module: 'github.com/opencontainers/runc',
    version: RUNC_VERSION,
    packages: ['.'],
    binaries: ['runc'],
    // seccomp (RuntimeDefault profiles) needs libseccomp through cgo (Debian's libseccomp-dev).
    cgo: true,
    tags: ['seccomp'],
    ldflags: `-s -w -X main.version=${RUNC_VERSION.slice(1)}`,
  },
  {
    name: 'cni-plugins',
    dir: CNI_DIR,
    module: 'github.com/containernetworking/plugins',
    version: CNI_PLUGINS_VERSION,
    packages: ['plugins/main/bridge', 'plugins/ipam/host-local', 'plugins/main/loopback', 'plugins/meta/portmap'],
    binaries: ['bridge', 'host-local', 'loopback', 'portmap'],
    cgo: false,
    tags: [],
    ldflags: `-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=${CNI_PLUGINS_VERSION}`,
  },
];

interface GoInstallStamp {
  name: string;
  module: string;
  version: string;
  packages: string[];
  cgo: boolean;
  tags: string[];
  ldflags: string;
  goVersion: string;
  builtAt: string;
  buildSeconds: number;
  binaries: string[];
}

const binDir = (s: { dir: string }): string => join(s.dir, 'bin');
const stampPath = (s: { dir: string }): string => join(s.dir, 'stamp.json');

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** True when the stamp records exactly this spec and every binary is there (no go run). */
export async function goInstallReady(spec: GoInstallSpec): Promise<boolean> {
  const st = await readJson<GoInstallStamp>(stampPath(spec));
  if (!st) return false;
  const same =
    st.module === spec.module &&
    st.version === spec.version &&
    st.cgo === spec.cgo &&
    st.ldflags === spec.ldflags &&
    JSON.stringify(st.packages) === JSON.stringify(spec.packages) &&
    JSON.stringify(st.tags) === JSON.stringify(spec.tags);
  return same && spec.binaries.every((b) => existsSync(join(binDir(spec), b)));
}

async function goInstall(spec: GoInstallSpec, log: Log): Promise<void> {
  if (await goInstallReady(spec)) return;
  await withLock(join(spec.dir, 'build.lock'), log, async () => {
    if (await goInstallReady(spec)) return;
    const started = Date.now();
    const tmp = `${binDir(spec)}.tmp`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    const goVersion = (await run(GO_BINARY, ['env', 'GOVERSION'], spec.dir)).stdout.trim();
    const pkgs = spec.packages.map((p) => `${p === '.' ? spec.module : `${spec.module}/${p}`}@${spec.version}`);
    const args = ['install', '-trimpath', ...(spec.tags.length ? ['-tags', spec.tags.join(',')] : []), '-ldflags', spec.ldflags, ...pkgs];
    log(`build: ${spec.name} ${spec.version}: go ${args.join(' ')} (CGO_ENABLED=${spec.cgo ? 1 : 0})`);
    await run(GO_BINARY, args, spec.dir, undefined, { GOBIN: tmp, CGO_ENABLED: spec.cgo ? '1' : '0' });
    const missing = spec.binaries.filter((b) => !existsSync(join(tmp, b)));
    if (missing.length) throw new Error(`go install of ${spec.module}@${spec.version} did not produce: ${missing.join(', ')}`);
    await rm(binDir(spec), { recursive: true, force: true });
    await rename(tmp, binDir(spec));
    const buildSeconds = Math.round((Date.now() - started) / 1000);
    const stamp: GoInstallStamp = {
      name: spec.name,
      module: spec.module,
      version: spec.version,
      packages: spec.packages,
      cgo: spec.cgo,
      tags: spec.tags,
      ldflags: spec.ldflags,
      goVersion,
      builtAt: new Date().toISOString(),
      buildSeconds,
      binaries: spec.binaries,
    };
    await writeFile(stampPath(spec), `${JSON.stringify(stamp, null, 2)}\n`);
    log(`build: ${spec.name} ${spec.version} done in ${buildSeconds}s; ${binDir(spec)} holds ${Math.round((await dirSize(binDir(spec))) / 1e6)} MB`);
  });
}

export const PAUSE_SOURCE = join(REPO_ROOT, 'test', 'cluster', 'node', 'pause.c');
const GCC_ARGS = ['-Os', '-static', '-s', '-Wall', '-Wextra', '-Werror'];

export interface PauseBuild {
  dir: string;
  binary: string;
  /** OCI archive of PAUSE_IMAGE for `ctr images import` */
  archive: string;
  /** content hash of what the image was built from (source, gcc flags, image name) */
  inputHash: string;
}

async function pauseInputHash(): Promise<string> {
  const src = await readFile(PAUSE_SOURCE);
  return createHash('sha256').update(src).update(JSON.stringify(GCC_ARGS)).update(PAUSE_IMAGE).digest('hex').slice(0, 16);
}

/** Compiles pause.c statically and packs it as PAUSE_IMAGE; cached by the hash of its inputs. */
export async function ensurePause(log: Log): Promise<PauseBuild> {
  const inputHash = await pauseInputHash();
  const dir = join(CACHE_ROOT, `pause-${inputHash}`);
  const out: PauseBuild = { dir, binary: join(dir, 'pause'), archive: join(dir, 'pause.oci.tar'), inputHash };
  if (existsSync(out.archive) && existsSync(out.binary)) return out;
  return withLock(join(CACHE_ROOT, 'pause.lock'), log, async () => {
    if (existsSync(out.archive) && existsSync(out.binary)) return out;
    const started = Date.now();
    const rootfs = join(dir, 'rootfs.tmp');
    await rm(rootfs, { recursive: true, force: true });
    await mkdir(rootfs, { recursive: true });
    await run('gcc', [...GCC_ARGS, '-o', join(rootfs, 'pause'), PAUSE_SOURCE], dir);
    await buildOciArchive(rootfs, { name: PAUSE_IMAGE, entrypoint: ['/pause'] }, out.archive);
    await copyFile(join(rootfs, 'pause'), out.binary);
    await rm(rootfs, { recursive: true, force: true });
    log(`build: pause image ${PAUSE_IMAGE} from ${PAUSE_SOURCE} in ${Date.now() - started} ms`);
    return out;
  });
}

/** The toolbox image for real-node tests: Debian's statically linked busybox (package busybox-static). */
export const TOOLBOX_IMAGE_REPO = 'weft.dev/test/toolbox';
const BUSYBOX = '/bin/busybox';
const TOOLBOX_APPLETS = ['sh', 'id', 'cat', 'echo', 'sleep', 'dd', 'touch', 'rm', 'mkdir', 'cp', 'mv', 'ls', 'head', 'tail', 'tr', 'wc', 'sed', 'printf', 'kill', 'date', 'true', 'false', 'env', 'ps', 'mount', 'grep', 'httpd', 'nc', 'wget', 'hostname', 'ip', 'nslookup'];

export interface ToolboxBuild {
  name: string;
  archive: string;
}

/** Packs the host's static busybox into an image named after its content hash (rebuilt when it changes). */
export async function ensureToolbox(log: Log): Promise<ToolboxBuild> {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} not found: install Debian's busybox-static (see .ci/run)`);
  const bb = await readFile(BUSYBOX);
  const hash = createHash('sha256').update(bb).update(TOOLBOX_APPLETS.join(',')).digest('hex').slice(0, 16);
  const name = `${TOOLBOX_IMAGE_REPO}:${hash}`;
  const dir = join(CACHE_ROOT, 'toolbox');
  const archive = join(dir, `toolbox-${hash}.oci.tar`);
  if (existsSync(archive)) return { name, archive };
  return withLock(join(CACHE_ROOT, 'toolbox.lock'), log, async () => {
    if (existsSync(archive)) return { name, archive };
    const rootfs = join(dir, 'rootfs.tmp');
    await rm(rootfs, { recursive: true, force: true });
    await mkdir(join(rootfs, 'bin'), { recursive: true });
    for (const d of ['tmp', 'etc', 'proc', 'sys', 'dev']) await mkdir(join(rootfs, d), { recursive: true });
    await copyFile(BUSYBOX, join(rootfs, 'bin', 'busybox'));
    for (const a of TOOLBOX_APPLETS) await symlink('busybox', join(rootfs, 'bin', a));
    await writeFile(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
    await writeFile(join(rootfs, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
    await buildOciArchive(rootfs, { name, entrypoint: ['/bin/sh'] }, archive);
    await rm(rootfs, { recursive: true, force: true });
    log(`build: toolbox image ${name} from ${BUSYBOX}`);
    return { name, archive };
  });
}

export interface NodeBinaries {
  containerd: string;
  runc: string;
  cni: string;
  pause: PauseBuild;
  toolbox: ToolboxBuild;
}

/** Makes sure containerd, runc, the CNI plugins and the pause/toolbox images are built; returns their folders. */
export async function ensureNodeBinaries(log: Log = (l) => console.log(l)): Promise<NodeBinaries> {
  for (const spec of GO_INSTALLS) await goInstall(spec, log);
  const [containerd, runc, cni] = GO_INSTALLS.map(binDir);
  if (!containerd || !runc || !cni) throw new Error('GO_INSTALLS is missing an entry');
  return { containerd, runc, cni, pause: await ensurePause(log), toolbox: await ensureToolbox(log) };
}
