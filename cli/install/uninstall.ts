/**
 * `weft uninstall`: prints every object install creates (names only, no secrets), in deletion order:
 * webhook configurations first (so pod creation stops calling a disappearing injector), then the
 * control plane, the cluster-scoped RBAC, and the CRDs last (deleting them deletes every Weft policy
 * object in the cluster; --keep-crds leaves them).
 *
 *   weft uninstall | kubectl delete --ignore-not-found -f -
 */
import { WEFT_VERSION } from '../../core/contract.js';
import { parseVerb, reportParse } from '../args.js';
import { DEFAULT_VALUES, formatObjects, stdio } from './command.js';
import type { Io } from './command.js';
import { loadCrds } from './crds.js';
import { renderInstall } from './render.js';
import type { InstallPki, KubeObject } from './render.js';

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
  const parsed = parseVerb<{ keepCrds?: boolean; output?: 'yaml' | 'json' }>('uninstall', argv);
  if (!parsed.ok) return reportParse(parsed, io);
  const output = parsed.opts.output ?? 'yaml';
  io.out(formatObjects(uninstallObjects(parsed.opts.keepCrds === true), output, `Weft ${WEFT_VERSION}: delete with kubectl delete --ignore-not-found -f - (the weft-system namespace takes everything in it)`));
  return 0;
}
