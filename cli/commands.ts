/**
 * The table of `weft` entry points. One executable dispatches every one of them, so the node agent,
 * the image and users run the same code. A command module exports `run(argv): Promise<number>` and is
 * loaded only when its verb is called, so `weft proxy` never loads the CLI's Kubernetes client.
 */

export interface CommandModule {
  /** Runs the command with the arguments after the verb; resolves to the exit code. */
  run(argv: readonly string[]): Promise<number>;
}

export interface CommandSpec {
  readonly summary: string;
  /** Component entry points (run in pods) are listed apart from the user verbs in --help. */
  readonly kind: 'component' | 'user';
  /** Absent while the command is not built yet: calling it fails with a message naming what is missing. */
  readonly load?: () => Promise<CommandModule>;
  readonly missing?: string;
}

export const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  proxy: { kind: 'component', summary: 'run the sidecar proxy (inbound, outbound, admin)', load: () => import('../proxy/main.js') },
  controller: { kind: 'component', summary: 'run the policy controller, identity CA and validating webhook', load: () => import('../policy-controller/main.js') },
  injector: { kind: 'component', summary: 'run the mutating admission webhook that injects the proxy', load: () => import('../injector/main.js') },
  'proxy-init': { kind: 'component', summary: "set up the pod's iptables redirection (init container)", load: () => import('../injector/proxy-init/main.js') },
  install: { kind: 'user', summary: 'print the manifests that install Weft', load: () => import('./install.js') },
  upgrade: { kind: 'user', summary: 'print upgrade manifests that keep the trust anchor', load: () => import('./upgrade.js') },
  uninstall: { kind: 'user', summary: 'print what to delete to remove Weft', load: () => import('./uninstall.js') },
  check: { kind: 'user', summary: 'check the cluster and the mesh, with a fix for each failure', load: () => import('./check.js') },
  inject: { kind: 'user', summary: 'add the proxy to workloads in YAML from a file or stdin', load: () => import('./inject.js') },
  uninject: { kind: 'user', summary: 'remove the proxy from workloads in YAML', load: () => import('./uninject.js') },
  stat: { kind: 'user', summary: 'success rate, RPS and latency per workload', load: () => import('./stat.js') },
  routes: { kind: 'user', summary: 'success rate, RPS and latency per route and backend of a Service', load: () => import('./routes.js') },
  authz: { kind: 'user', summary: 'allowed and denied requests per server, route and authorization', load: () => import('./authz.js') },
  explain: { kind: 'user', summary: 'show which route, backend and authorization decide a request', load: () => import('./explain.js') },
  diagnostics: { kind: 'user', summary: 'show the policy the controller pushes for a pod or Service port', load: () => import('./diagnostics.js') },
  version: { kind: 'user', summary: 'print the version', load: () => import('./version.js') },
};
