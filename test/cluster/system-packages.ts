/**
 * The machine set-up behind `npm start`, `npm test` and `npm run test:e2e` (and `.ci/run` through
 * `npm test`): the Debian packages the build, the tests and the local cluster need, and Go for the
 * cluster build.
 *
 * It runs before anything is compiled (`node test/cluster/system-packages.ts`: Node 24 strips the types),
 * so it imports nothing from the project. Missing packages are installed with apt-get when running as
 * root (saying which, `apt-get update` once, then one `apt-get install`); otherwise it exits 1 at once,
 * naming the packages and the exact command to run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** A Debian package and what needs it. */
export interface SystemPackage {
  readonly name: string;
  readonly why: string;
}

export const SYSTEM_PACKAGES: readonly SystemPackage[] = [
  { name: 'iptables', why: 'kube-proxy, the node agent and proxy-init' },
  { name: 'iproute2', why: 'the node agent (bridge, veths, routes)' },
  { name: 'conntrack', why: 'kube-proxy' },
  { name: 'procps', why: 'sysctl, for the node agent' },
  { name: 'util-linux', why: 'nsenter, unshare and setpriv for pod processes' },
  { name: 'make', why: "node-gyp, for the proxy's SO_ORIGINAL_DST addon" },
  { name: 'g++', why: "node-gyp, for the proxy's SO_ORIGINAL_DST addon" },
  { name: 'python3', why: "node-gyp, for the proxy's SO_ORIGINAL_DST addon" },
  { name: 'libseccomp-dev', why: "runc's seccomp support (cgo), for the real node" },
  { name: 'pkg-config', why: 'the runc build, for the real node' },
  { name: 'libc6-dev', why: 'the static pause binary of the real node' },
  { name: 'busybox-static', why: "the real node's toolbox image" },
  { name: 'buildah', why: 'npm run images (no Docker engine on these machines)' },
  { name: 'mmdebstrap', why: 'npm run images: the base image from Debian packages' },
  { name: 'bash', why: 'the unit test that presses TAB with weft completion bash loaded' },
  { name: 'chromium', why: "the dashboard's browser tests (test/e2e/dashboard.test.ts drive it headless with playwright-core)" },
  { name: 'zsh', why: 'the unit test that presses TAB with weft completion zsh loaded (zsh/zpty drives both shells)' },
];

/** Go release the local cluster's Kubernetes build needs (test/cluster/README.md). */
export const GO_MINIMUM: readonly [number, number] = [1, 26];

/**
 * Installed state per package name, as dpkg reports it: `true` installed, `false` known but not
 * installed or unknown. `undefined` as a whole means dpkg itself is not there (not Debian).
 */
export type PackageQuery = (names: readonly string[]) => ReadonlyMap<string, boolean> | undefined;

export type Plan =
  | { readonly kind: 'ready' }
  | { readonly kind: 'install'; readonly missing: readonly SystemPackage[]; readonly commands: readonly (readonly string[])[] }
  | { readonly kind: 'refuse'; readonly missing: readonly SystemPackage[]; readonly message: string };

/** The apt-get invocations that install `names` (update once, then one install). */
export function aptCommands(names: readonly string[]): string[][] {
  return [
    ['apt-get', 'update', '-qq'],
    ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...names],
  ];
}

/** What to do about the system packages, from dpkg's answer and whether this process is root. */
export function planSystemPackages(packages: readonly SystemPackage[], query: PackageQuery, isRoot: boolean): Plan {
  const names = packages.map((p) => p.name);
  const state = query(names);
  const install = `apt-get update && apt-get install -y --no-install-recommends ${names.join(' ')}`;
  if (state === undefined) {
    return {
      kind: 'refuse', missing: packages,
      message: `setup: dpkg-query not found: this set-up installs Debian packages with apt-get. ` +
        `Install the equivalents of ${names.join(' ')} yourself (on Debian: ${install}).`,
    };
  }
  const missing = packages.filter((p) => state.get(p.name) !== true);
  if (missing.length === 0) return { kind: 'ready' };
  const missingNames = missing.map((p) => p.name);
  if (isRoot) return { kind: 'install', missing, commands: aptCommands(missingNames) };
  const command = `sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends ${missingNames.join(' ')}'`;
  return {
    kind: 'refuse', missing,
    message: `setup: missing system packages: ${describe(missing)}.\n` +
      `This set-up installs them only as root (the local cluster needs root anyway). Run:\n  ${command}`,
  };
}

/** `go version` output -> [major, minor], or undefined when it is not a release version line. */
export function parseGoVersion(output: string): [number, number] | undefined {
  const m = /\bgo(\d+)\.(\d+)/.exec(output);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Why Go is not usable for the cluster build, or undefined when it is. */
export function goProblem(found: { path: string; version: string } | undefined, minimum: readonly [number, number] = GO_MINIMUM): string | undefined {
  const want = `Go ${minimum[0]}.${minimum[1]} or newer`;
  const get = 'install it from https://go.dev/dl/ into /usr/local/go (or set WEFT_GO to its go binary)';
  if (!found) return `setup: ${want} is needed to build the local cluster; no go on PATH, /usr/local/go/bin or /usr/lib/go/bin: ${get}.`;
  const v = parseGoVersion(found.version);
  if (!v) return `setup: ${found.path} version printed ${JSON.stringify(found.version.trim())}, not a Go release: ${want} is needed; ${get}.`;
  const [maj, min] = v;
  if (maj < minimum[0] || (maj === minimum[0] && min < minimum[1])) {
    return `setup: ${found.path} is go${maj}.${min}; ${want} is needed to build the local cluster: ${get}.`;
  }
  return undefined;
}

function describe(packages: readonly SystemPackage[]): string {
  return packages.map((p) => `${p.name} (${p.why})`).join(', ');
}

/** dpkg-query's view of `names`; undefined when dpkg-query cannot run. */
export function dpkgQuery(names: readonly string[]): ReadonlyMap<string, boolean> | undefined {
  // Exit status 1 just means some name is unknown to dpkg; stdout still lists the known ones.
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package}\\t${db:Status-Status}\\n', ...names], { encoding: 'utf8' });
  if (r.error) return undefined;
  const state = new Map<string, boolean>(names.map((n) => [n, false]));
  for (const line of r.stdout.split('\n')) {
    const [name, status] = line.split('\t');
    // Multi-arch packages print `name:arch`.
    const base = name?.split(':')[0];
    if (base && state.has(base)) state.set(base, status === 'installed');
  }
  return state;
}

function findGo(goEnv: string | undefined, pathEnv: string): { path: string; version: string } | undefined {
  const candidates = goEnv ? [goEnv] : [...pathEnv.split(':').filter(Boolean).map((d) => `${d}/go`), '/usr/local/go/bin/go', '/usr/lib/go/bin/go'];
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    const r = spawnSync(path, ['version'], { encoding: 'utf8' });
    return { path, version: r.error ? String(r.error.message) : r.stdout };
  }
  return undefined;
}

function main(): number {
  const isRoot = process.getuid?.() === 0;
  const plan = planSystemPackages(SYSTEM_PACKAGES, dpkgQuery, isRoot);
  if (plan.kind === 'refuse') {
    console.error(plan.message);
    return 1;
  }
  if (plan.kind === 'install') {
    console.log(`setup: installing missing system packages as root: ${describe(plan.missing)}`);
    for (const cmd of plan.commands) {
      console.log(`setup: ${cmd.join(' ')}`);
      const r = spawnSync(cmd[0]!, cmd.slice(1), { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
      if (r.status !== 0) {
        console.error(`setup: ${cmd.join(' ')} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}); nothing else was changed.`);
        return 1;
      }
    }
    const after = planSystemPackages(SYSTEM_PACKAGES, dpkgQuery, isRoot);
    if (after.kind !== 'ready') {
      console.error(`setup: apt-get succeeded but dpkg still lacks ${after.missing.map((p) => p.name).join(' ')}`);
      return 1;
    }
    console.log(`setup: installed ${plan.missing.map((p) => p.name).join(' ')}`);
  }
  const problem = goProblem(findGo(process.env['WEFT_GO'], process.env['PATH'] ?? ''));
  if (problem) {
    console.error(problem);
    return 1;
  }
  return 0;
}

if (import.meta.main) process.exitCode = main();
