/**
 * The table of `weft` entry points. One executable dispatches every one of them, so the node agent,
 * the image and users run the same code. A command module exports `run(argv): Promise<number>` and is
 * loaded only when its verb is called, so `weft proxy` never loads the CLI's Kubernetes client.
 * Summaries, arguments and flags come from the one definition of each verb, cli/verbs.ts.
 */
import { VERBS } from './verbs.js';

export interface CommandModule {
  /**
   * Runs the command with the arguments after the verb; resolves to the exit code. The components
   * (components.ts) write their help and usage errors to `io` (the process's stdout and stderr when absent).
   */
  run(argv: readonly string[], io?: { out(text: string): void; err(text: string): void }): Promise<number>;
}

export interface CommandSpec {
  readonly summary: string;
  /** Component entry points (run in pods) are listed apart from the user verbs in --help. */
  readonly kind: 'component' | 'user';
  /** Absent while the command is not built yet: calling it fails with a message naming what is missing. */
  readonly load?: () => Promise<CommandModule>;
  readonly missing?: string;
}

const LOADERS: Readonly<Record<keyof typeof VERBS & string, () => Promise<CommandModule>>> = {
  // The components: commander parses their flags from their tables (components.ts), then their main runs.
  proxy: () => import('./components.js').then((m) => m.COMPONENTS.proxy),
  gateway: () => import('./components.js').then((m) => m.COMPONENTS.gateway),
  controller: () => import('./components.js').then((m) => m.COMPONENTS.controller),
  injector: () => import('./components.js').then((m) => m.COMPONENTS.injector),
  'proxy-init': () => import('./components.js').then((m) => m.COMPONENTS['proxy-init']),
  install: () => import('./install.js'),
  upgrade: () => import('./upgrade.js'),
  uninstall: () => import('./uninstall.js'),
  check: () => import('./check.js'),
  inject: () => import('./inject.js'),
  uninject: () => import('./uninject.js'),
  stat: () => import('./stat.js'),
  routes: () => import('./routes.js'),
  authz: () => import('./authz.js'),
  explain: () => import('./explain.js'),
  diagnostics: () => import('./diagnostics.js'),
  dashboard: () => import('./dashboard.js'),
  version: () => import('./version.js'),
  completion: () => import('./completion.js'),
};

export const COMMANDS: Readonly<Record<string, CommandSpec>> = Object.fromEntries(
  Object.entries(VERBS).map(([name, def]) => [name, { kind: def.kind, summary: def.summary, ...(Object.hasOwn(LOADERS, name) ? { load: LOADERS[name] } : {}) }]),
);
