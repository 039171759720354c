/**
 * `weft uninstall`: prints every object install creates (names only, no secrets), in deletion order:
 * webhook configurations first (so pod creation stops calling a disappearing injector), then the
 * control plane, the cluster-scoped RBAC, and the CRDs last (deleting them deletes every Weft policy
 * object in the cluster; --keep-crds leaves them).
 *
 *   weft uninstall | kubectl delete --ignore-not-found -f -
 */
import { parseArgs } from 'node:util';
import { WEFT_VERSION } from '../../core/contract.js';
import { DEFAULT_VALUES, formatObjects, stdio } from './command.js';
import type { Io } from './command.js';
import { loadCrds } from './crds.js';
import { renderInstall } from './render.js';
import type { InstallPki, KubeObject } from './render.js';

const USAGE = `Usage: weft uninstall [flags] | kubectl delete --ignore-not-found -f -

Prints what to delete to remove Weft: the webhook configurations, the weft-system namespace and
everything in it, the cluster-wide RBAC and Weft's CRDs (which deletes every Server,
AuthorizationPolicy, MeshTLSAuthentication and NetworkAuthentication in the cluster).
Meshed pods keep their proxy until they are recreated: remove the weft.dev/inject annotations and
restart the workloads (or pipe their YAML through weft uninject) first.

Flags:
  --keep-crds          leave Weft's CRDs (and so the policy objects) in place
  -o, --output yaml|json
  -h, --help
`;

const NO_PKI: InstallPki = {
  anchorsPem: '', issuer: { certPem: '', keyPem: '' },
  injectorTls: { certPem: '', keyPem: '', caPem: '' }, controllerWebhookTls: { certPem: '', keyPem: '', caPem: '' },
};

const ORDER = ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'Namespace', 'ClusterRoleBinding', 'ClusterRole', 'CustomResourceDefinition'];

/** Only what names an object: deleting needs no spec, and nothing secret is printed. */
export function uninstallObjects(keepCrds: boolean): KubeObject[] {
  const all = renderInstall({ ...DEFAULT_VALUES, crds: keepCrds ? [] : loadCrds() }, NO_PKI);
  return all
    .filter((o) => ORDER.includes(o.kind))
    .sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind))
    .map((o) => ({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name } }));
}

export function runUninstall(argv: readonly string[], io: Io = stdio): number {
  let v: Record<string, string | boolean | undefined>;
  try {
    ({ values: v } = parseArgs({ args: [...argv], strict: true, allowPositionals: false, options: { 'keep-crds': { type: 'boolean' }, output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    io.err(`weft uninstall: ${(err as Error).message}\n\nRun \`weft uninstall --help\` for the flags.\n`);
    return 2;
  }
  if (v['help'] === true) {
    io.out(USAGE);
    return 0;
  }
  const output = typeof v['output'] === 'string' ? v['output'] : 'yaml';
  if (output !== 'yaml' && output !== 'json') {
    io.err(`weft uninstall: --output: ${JSON.stringify(output)} is not yaml or json\n`);
    return 2;
  }
  io.out(formatObjects(uninstallObjects(v['keep-crds'] === true), output, `Weft ${WEFT_VERSION}: delete with kubectl delete --ignore-not-found -f - (the weft-system namespace takes everything in it)`));
  return 0;
}
