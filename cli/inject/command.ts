/**
 * `weft inject` and `weft uninject`: offline (un)injection of workloads in YAML from files or stdin,
 * with the same pure patch builder as the webhook (injector/patch.ts).
 *
 * inject always injects (as if the namespace said `weft.dev/inject: enabled`) unless the pod itself
 * says disabled or cannot be injected (hostNetwork, ...), which is reported. With cluster access the
 * proxy settings, trust anchors and the namespace's config.weft.dev/* defaults come from the cluster;
 * --ignore-cluster takes them from flags (the anchors from --identity-trust-anchors).
 */
import { readFileSync } from 'node:fs';
import {
  CONTROL_PLANE_NAMESPACE, DEFAULT_CLUSTER_NETWORKS, DEFAULT_IMAGE, DEFAULT_TRUST_DOMAIN, INJECT_ANNOTATION, INJECT_ENABLED,
  TRUST_ANCHORS_CONFIGMAP, WEFT_VERSION,
} from '../../core/contract.js';
import { defaultControllerAddr, DEFAULT_INIT_RESOURCES, DEFAULT_PROXY_RESOURCES } from '../../injector/config.js';
import { applyPatch } from '../../injector/jsonpatch.js';
import { decideInjection } from '../../injector/patch.js';
import type { InjectionConfig } from '../../injector/patch.js';
import type { PodLike } from '../../injector/pod.js';
import type { InboundPolicy, ProxyLogLevel } from '../../injector/settings.js';
import { uninjectPod } from '../../injector/uninject.js';
import { parseVerb, reportParse, usageError } from '../args.js';
import { checkCertificatePem, checkImage, pushIf, checkTrustDomain } from '../validate.js';
import { stdio } from '../install/command.js';
import type { Io } from '../install/command.js';
import { INSTALL_CONFIGMAP } from '../install/render.js';
import type { InstallValues } from '../install/render.js';
import { connectKube, describeApiError, orAbsent } from '../kube/client.js';
import type { KubeClients } from '../kube/client.js';
import { mapPodTemplates } from './workloads.js';
import { readInputs, readStdin, transformYaml, YamlInputError } from './yaml-io.js';

/** The flags as commander parses them from their definition in cli/verbs.ts (choices checked there). */
interface InjectOpts {
  ignoreCluster?: boolean; identityTrustAnchors?: string; image?: string; trustDomain?: string;
  proxyLogLevel?: ProxyLogLevel; defaultInboundPolicy?: InboundPolicy; namespace?: string; kubeconfig?: string; context?: string;
}

async function clusterSettings(kube: KubeClients): Promise<{ values: Partial<InstallValues>; anchors: string | undefined }> {
  const anchors = await orAbsent(kube.core.readNamespacedConfigMap({ name: TRUST_ANCHORS_CONFIGMAP, namespace: CONTROL_PLANE_NAMESPACE }));
  const values = await orAbsent(kube.core.readNamespacedConfigMap({ name: INSTALL_CONFIGMAP, namespace: CONTROL_PLANE_NAMESPACE }));
  let parsed: Partial<InstallValues> = {};
  try {
    parsed = JSON.parse(values?.data?.['values.json'] ?? '{}') as Partial<InstallValues>;
  } catch {
    parsed = {};
  }
  return { values: parsed, anchors: anchors?.data?.['ca.crt'] };
}

export async function runInject(argv: readonly string[], io: Io = stdio, stdin: () => Promise<string> = readStdin): Promise<number> {
  const parsed = parseVerb<InjectOpts>('inject', argv);
  if (!parsed.ok) return reportParse(parsed, io);
  const values = parsed.opts;
  const positionals = parsed.args;
  const str = (k: keyof InjectOpts) => { const x = values[k]; return typeof x === 'string' ? x : undefined; };
  const errors: string[] = [];
  const logLevel = values.proxyLogLevel;
  const policy = values.defaultInboundPolicy;
  if (values.image !== undefined) pushIf(errors, checkImage('image', values.image));
  if (values.trustDomain !== undefined) pushIf(errors, checkTrustDomain('trust-domain', values.trustDomain));
  let anchors: string | undefined;
  const anchorsFile = values.identityTrustAnchors;
  if (anchorsFile !== undefined) {
    try {
      anchors = readFileSync(anchorsFile, 'utf8');
      pushIf(errors, checkCertificatePem('identity-trust-anchors', anchorsFile, anchors));
    } catch (err) {
      errors.push(`--identity-trust-anchors: ${(err as Error).message}`);
    }
  }
  const ignoreCluster = values.ignoreCluster === true;
  if (ignoreCluster && anchorsFile === undefined) errors.push('--ignore-cluster needs --identity-trust-anchors (the proxies must know which anchors to trust)');
  if (errors.length > 0) return reportParse(usageError('inject', ...errors), io);

  let kubeServer = '(not connected)';
  try {
    let stored: Partial<InstallValues> = {};
    let kube: KubeClients | undefined;
    if (!ignoreCluster) {
      try {
        kube = connectKube({ kubeconfig: str('kubeconfig'), context: str('context') });
        kubeServer = kube.server;
        const s = await clusterSettings(kube);
        stored = s.values;
        anchors ??= s.anchors;
      } catch (err) {
        const why = kube === undefined ? (err as Error).message : `cannot read Weft's settings from the cluster: ${kube.describe(err)}`;
        io.err(`weft inject: ${why}\n  fix: check your kubeconfig, or use --ignore-cluster --identity-trust-anchors FILE\n`);
        return 1;
      }
      if (anchors === undefined) {
        io.err(`weft inject: the cluster has no ${CONTROL_PLANE_NAMESPACE}/${TRUST_ANCHORS_CONFIGMAP}: is Weft installed?\n  fix: weft install | kubectl apply --server-side -f -, or use --ignore-cluster --identity-trust-anchors FILE\n`);
        return 1;
      }
    }
    const config: InjectionConfig = {
      image: str('image') ?? stored.image ?? DEFAULT_IMAGE,
      proxyVersion: WEFT_VERSION,
      trustDomain: str('trustDomain') ?? stored.trustDomain ?? DEFAULT_TRUST_DOMAIN,
      trustAnchorsPem: anchors ?? '',
      controllerAddr: defaultControllerAddr(CONTROL_PLANE_NAMESPACE),
      clusterNetworks: stored.clusterNetworks ?? DEFAULT_CLUSTER_NETWORKS,
      logLevel: (logLevel ?? stored.proxyLogLevel ?? 'info') as ProxyLogLevel,
      defaultInboundPolicy: (policy ?? stored.defaultInboundPolicy ?? 'all-unauthenticated') as InboundPolicy,
      resources: DEFAULT_PROXY_RESOURCES,
      initResources: DEFAULT_INIT_RESOURCES,
    };
    const defaultNs = str('namespace') ?? 'default';
    const nsAnnotations = new Map<string, Record<string, string>>();
    const inputs = await readInputs(positionals, stdin);
    // Namespace defaults (config.weft.dev/*) are read once per namespace named in the input.
    if (kube !== undefined) {
      const names = new Set<string>();
      for (const input of inputs) {
        transformYaml(input.name, input.text, (obj) => {
          mapPodTemplates(obj, (v) => { names.add(v.namespace ?? defaultNs); return v.pod; });
          return undefined;
        });
      }
      for (const name of names) {
        const ns = await orAbsent(kube.core.readNamespace({ name }));
        nsAnnotations.set(name, ns?.metadata?.annotations ?? {});
      }
    }
    const outputs: string[] = [];
    for (const input of inputs) {
      outputs.push(transformYaml(input.name, input.text, (obj) => {
        let changed = false;
        const next = mapPodTemplates(obj, (v) => {
          const nsName = v.namespace ?? defaultNs;
          const namespace = { name: nsName, annotations: { ...(nsAnnotations.get(nsName) ?? {}), [INJECT_ANNOTATION]: INJECT_ENABLED } };
          const r = decideInjection(v.pod, namespace, config);
          io.err(`${v.ref}: ${r.action === 'inject' ? 'injected' : r.action === 'skip' ? `not injected: ${r.reason}` : r.reason}\n`);
          if (r.action !== 'inject') return v.pod;
          changed = true;
          return applyPatch(v.pod, r.patch);
        }, (ref, why) => io.err(`${ref}: ${why}\n`));
        return changed ? next : undefined;
      }));
    }
    io.out(outputs.filter((o) => o !== '').join('---\n'));
    return 0;
  } catch (err) {
    io.err(`weft inject: ${err instanceof YamlInputError ? err.message : describeApiError(err, kubeServer)}\n`);
    return 1;
  }
}

export async function runUninject(argv: readonly string[], io: Io = stdio, stdin: () => Promise<string> = readStdin): Promise<number> {
  const parsed = parseVerb('uninject', argv);
  if (!parsed.ok) return reportParse(parsed, io);
  const positionals = parsed.args;
  try {
    const outputs: string[] = [];
    for (const input of await readInputs(positionals, stdin)) {
      outputs.push(transformYaml(input.name, input.text, (obj) => {
        let changed = false;
        const next = mapPodTemplates(obj, (v) => {
          const r = uninjectPod(v.pod as PodLike);
          io.err(`${v.ref}: ${r.changed ? 'uninjected' : 'had no proxy'}\n`);
          changed ||= r.changed;
          return r.pod;
        }, (ref, why) => io.err(`${ref}: ${why.replace('inject the', 'uninject the')}\n`));
        return changed ? next : undefined;
      }));
    }
    io.out(outputs.filter((o) => o !== '').join('---\n'));
    return 0;
  } catch (err) {
    io.err(`weft uninject: ${(err as Error).message}\n`);
    return 1;
  }
}
