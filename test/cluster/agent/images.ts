/**
 * The image-to-command table: the node agent has no container runtime, so each image a pod names maps
 * to a local entry point. Model: image -> { entrypoint, cmd, aliases }, where the entrypoint and cmd play
 * the roles of an image's ENTRYPOINT and CMD (Kubernetes' `command` replaces the first, `args` the
 * second) and aliases turn a first word such as `weft` or `client` into the program that implements it.
 *
 * Paths are resolved inside the container's mount namespace, where the clone is bind-mounted read-only
 * at REPO_MOUNT and the Node binary at NODE_MOUNT, so processes under any UID can read them.
 */
import { EXAMPLES_IMAGE_REPOSITORY, IMAGE_REPOSITORY } from '../../../core/contract.js';

/** Where the clone (with its dist/ and node_modules/) appears inside every container. */
export const REPO_MOUNT = '/opt/weft';
/** Where the agent's own Node binary appears inside every container. */
export const NODE_MOUNT = '/opt/weft-node/node';
/** The upstream conformance echo image, served by Weft's own echo app. */
export const ECHO_IMAGE_REPOSITORY = 'registry.k8s.io/gateway-api/echo-advanced';

export interface ImageEntry {
  /** Plays the image's ENTRYPOINT; `command` in the container spec replaces it. */
  readonly entrypoint: readonly string[];
  /** Plays the image's CMD; `args` in the container spec replaces it. */
  readonly cmd: readonly string[];
  /** First words that name a program of the image (`weft`, `client`), expanded to their argv prefix. */
  readonly aliases: Readonly<Record<string, readonly string[]>>;
  /**
   * Whether an unknown first word is an argument of the entrypoint (the weft dispatcher takes `proxy`,
   * the examples image takes an app name) rather than a program to look up on PATH.
   */
  readonly wordsAreEntrypointArgs: boolean;
}

export type ImageResolution =
  | { readonly ok: true; readonly argv: readonly string[]; readonly imageID: string }
  | { readonly ok: false; readonly reason: 'ErrImagePull' | 'InvalidImageName' | 'RunContainerError'; readonly message: string };

const WEFT_CLI = [NODE_MOUNT, `${REPO_MOUNT}/dist/cli/main.js`];
const ECHO_SERVER = [NODE_MOUNT, `${REPO_MOUNT}/dist/examples/echo/server.js`];
const ECHO_CLIENT = [NODE_MOUNT, `${REPO_MOUNT}/dist/examples/echo/client.js`];
const EXAMPLES = [NODE_MOUNT, `${REPO_MOUNT}/dist/examples`];

const COMMON_ALIASES: Readonly<Record<string, readonly string[]>> = {
  node: [NODE_MOUNT],
  weft: WEFT_CLI,
  client: ECHO_CLIENT,
};

const SHELL: ImageEntry = { entrypoint: [], cmd: ['sh'], aliases: COMMON_ALIASES, wordsAreEntrypointArgs: false };

/** Repository (without tag or digest) -> entry. Matching ignores the tag: every version maps alike. */
const TABLE: ReadonlyMap<string, ImageEntry> = new Map<string, ImageEntry>([
  [IMAGE_REPOSITORY, { entrypoint: ['weft'], cmd: [], aliases: COMMON_ALIASES, wordsAreEntrypointArgs: true }],
  [EXAMPLES_IMAGE_REPOSITORY, { entrypoint: ['examples'], cmd: [], aliases: { ...COMMON_ALIASES, examples: EXAMPLES }, wordsAreEntrypointArgs: true }],
  [ECHO_IMAGE_REPOSITORY, { entrypoint: ['echo-server'], cmd: [], aliases: { ...COMMON_ALIASES, 'echo-server': ECHO_SERVER }, wordsAreEntrypointArgs: false }],
  // Debian commands stand in for the small images tests use.
  ['busybox', SHELL],
  ['docker.io/library/busybox', SHELL],
  ['alpine', SHELL],
  ['docker.io/library/alpine', SHELL],
  ['debian', { ...SHELL, cmd: ['bash'] }],
  ['docker.io/library/debian', { ...SHELL, cmd: ['bash'] }],
  ['node', { entrypoint: [], cmd: ['node'], aliases: COMMON_ALIASES, wordsAreEntrypointArgs: false }],
  ['docker.io/library/node', { entrypoint: [], cmd: ['node'], aliases: COMMON_ALIASES, wordsAreEntrypointArgs: false }],
  ['registry.k8s.io/pause', { entrypoint: ['sleep'], cmd: ['infinity'], aliases: COMMON_ALIASES, wordsAreEntrypointArgs: false }],
]);

/** `repo[:tag][@digest]` -> repo. A registry port (`host:5000/x`) is not a tag. */
export function imageRepository(image: string): string {
  const at = image.indexOf('@');
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

export function lookupImage(image: string): ImageEntry | undefined {
  return TABLE.get(imageRepository(image));
}

/** A stable, fake image ID: the table has no digests, so the ID names the reference it resolved. */
export function localImageID(image: string): string {
  return `weft-local://${image}`;
}

/**
 * The argv a container runs: `command` (else the entrypoint) followed by `args` (else, only when
 * `command` is absent, the cmd), as Kubernetes combines them; then the first word is expanded.
 */
export function resolveContainerArgv(image: string, command: readonly string[] | undefined, args: readonly string[] | undefined,
  isHostProgram: (name: string) => boolean = () => false): ImageResolution {
  if (image.trim() === '') return { ok: false, reason: 'InvalidImageName', message: 'the container has no image' };
  const entry = lookupImage(image);
  if (entry === undefined) {
    return { ok: false, reason: 'ErrImagePull', message: `image ${JSON.stringify(image)} is not in the node agent's image table (test/cluster/agent/images.ts)` };
  }
  const head = command !== undefined && command.length > 0 ? command : entry.entrypoint;
  const tail = args ?? (command !== undefined && command.length > 0 ? [] : entry.cmd);
  // A `command` naming a real program (sh, iptables) runs it, as in the image; only a word that is neither
  // an alias nor a program is taken as an argument of the image's entrypoint (`command: [proxy]`).
  const wordsAreArgs = entry.wordsAreEntrypointArgs && !(command !== undefined && command.length > 0 && isHostProgram(command[0] ?? ''));
  const argv = expandFirstWord({ ...entry, wordsAreEntrypointArgs: wordsAreArgs }, [...head, ...tail]);
  if (argv.length === 0) return { ok: false, reason: 'RunContainerError', message: 'no command specified' };
  return { ok: true, argv, imageID: localImageID(image) };
}

/** The argv of an exec (probe, hook, `kubectl exec`-like) in a container of this image. */
export function resolveExecArgv(image: string, argv: readonly string[]): readonly string[] {
  const entry = lookupImage(image) ?? SHELL;
  return expandFirstWord({ ...entry, wordsAreEntrypointArgs: false }, argv);
}

function expandFirstWord(entry: ImageEntry, argv: readonly string[]): readonly string[] {
  const [first, ...rest] = argv;
  if (first === undefined) return [];
  const alias = entry.aliases[first] ?? entry.aliases[baseName(first)];
  if (alias !== undefined) return [...alias, ...rest];
  if (entry.wordsAreEntrypointArgs && !first.startsWith('/')) {
    const [ep, ...epRest] = entry.entrypoint;
    const epAlias = ep === undefined ? undefined : entry.aliases[ep];
    if (epAlias !== undefined) return [...epAlias, ...epRest, ...argv];
  }
  return argv;
}

/** The working directory when the container sets none: the clone for Weft's images, `/` otherwise. */
export function defaultWorkingDir(image: string): string {
  const repo = imageRepository(image);
  return repo === IMAGE_REPOSITORY || repo === EXAMPLES_IMAGE_REPOSITORY || repo === ECHO_IMAGE_REPOSITORY ? REPO_MOUNT : '/';
}

/** Whether `name` is an executable on PATH (or an absolute path), as the container would find it. */
export function hostProgramExists(name: string, path: string, isExecutable: (file: string) => boolean): boolean {
  if (name.includes('/')) return isExecutable(name);
  return path.split(':').some((dir) => dir !== '' && isExecutable(`${dir}/${name}`));
}

function baseName(path: string): string {
  const i = path.lastIndexOf('/');
  return i >= 0 ? path.slice(i + 1) : path;
}

/**
 * The examples image runs `node dist/examples/<app>...`: the first argument names the app, found as
 * `<app>.js`, `<app>/main.js`, `<app>/server.js` or `<app>/index.js` under dist/examples.
 * Pure: `exists` checks a path relative to the clone root.
 */
export function resolveExamplesApp(argv: readonly string[], exists: (repoRelative: string) => boolean): readonly string[] {
  const examplesDir = `${REPO_MOUNT}/dist/examples`;
  if (argv[0] !== NODE_MOUNT || argv[1] !== examplesDir) return argv;
  const app = argv[2];
  if (app === undefined) return argv;
  const candidates = [`${app}.js`, `${app}/main.js`, `${app}/server.js`, `${app}/index.js`];
  const found = candidates.find((c) => exists(`dist/examples/${c}`));
  return [NODE_MOUNT, `${examplesDir}/${found ?? `${app}.js`}`, ...argv.slice(3)];
}
