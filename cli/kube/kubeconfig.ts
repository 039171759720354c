/**
 * The CLI's one kubeconfig loader, with kubectl's rules:
 *
 *   --kubeconfig PATH   that file only (it must exist)
 *   KUBECONFIG=a:b:c    those files merged, missing ones skipped; for clusters, users and contexts the
 *                       first file to define a name wins, and the first current-context set wins
 *   ~/.kube/config      when KUBECONFIG is unset or empty
 *   in-cluster          when none of these exist and KUBERNETES_SERVICE_HOST/PORT and the
 *                       service-account token are there (a pod)
 *
 * then --context NAME (else current-context) picks the context, which must exist with its cluster and
 * user. Every failure is a KubeconfigError saying where it looked or what is available.
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { isIPv6 } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import type { Cluster, Context, User } from '@kubernetes/client-node';
import type { CliEnv } from '../config.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export class KubeconfigError extends Error {
  readonly code = 'KUBECONFIG';
}

export interface KubeTarget {
  readonly kubeconfig?: string | undefined;
  readonly context?: string | undefined;
}

/** Where the configuration came from, for messages: the files read, or "in-cluster". */
export interface LoadedKubeConfig {
  readonly kc: KubeConfig;
  readonly source: string;
}

function readFile(path: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(path);
  } catch (err) {
    throw new KubeconfigError(`cannot read the kubeconfig ${path}: ${(err as Error).message}`);
  }
  return kc;
}

function firstByName<T extends { readonly name: string }>(lists: readonly (readonly T[])[]): T[] {
  const seen = new Map<string, T>();
  for (const list of lists) for (const item of list) if (!seen.has(item.name)) seen.set(item.name, item);
  return [...seen.values()];
}

function merge(files: readonly string[]): KubeConfig {
  const loaded = files.map(readFile);
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: firstByName<Cluster>(loaded.map((k) => k.clusters)),
    users: firstByName<User>(loaded.map((k) => k.users)),
    contexts: firstByName<Context>(loaded.map((k) => k.contexts)),
    currentContext: loaded.map((k) => k.currentContext).find((c) => typeof c === 'string' && c !== '') ?? '',
  });
  return kc;
}

function inCluster(env: CliEnv, saDir: string): KubeConfig {
  const host = env.serviceHost ?? '';
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'in-cluster', server: `https://${isIPv6(host) ? `[${host}]` : host}:${env.servicePort ?? '443'}`, caFile: join(saDir, 'ca.crt'), skipTLSVerify: false }],
    users: [{ name: 'service-account', authProvider: { name: 'tokenFile', config: { tokenFile: join(saDir, 'token') } } }],
    contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user: 'service-account' }],
    currentContext: 'in-cluster',
  });
  return kc;
}

/** Finds and merges the kubeconfig as kubectl does, then selects the context. */
export function loadKubeConfig(target: KubeTarget, env: CliEnv, saDir = SERVICE_ACCOUNT_DIR): LoadedKubeConfig {
  let kc: KubeConfig;
  let source: string;
  if (target.kubeconfig !== undefined) {
    if (!existsSync(target.kubeconfig)) throw new KubeconfigError(`the kubeconfig ${target.kubeconfig} given by --kubeconfig does not exist`);
    kc = readFile(target.kubeconfig);
    source = target.kubeconfig;
  } else {
    const listed = env.kubeconfig !== undefined && env.kubeconfig !== '' ? env.kubeconfig.split(delimiter).filter((p) => p !== '') : undefined;
    const candidates = listed ?? [join(env.home, '.kube', 'config')];
    const present = candidates.filter((p) => existsSync(p));
    if (present.length > 0) {
      kc = merge(present);
      source = present.join(delimiter);
    } else if (env.serviceHost !== undefined && env.serviceHost !== '' && existsSync(join(saDir, 'token'))) {
      kc = inCluster(env, saDir);
      source = `in-cluster (KUBERNETES_SERVICE_HOST, ${saDir})`;
    } else {
      const looked = [
        '--kubeconfig (not given)',
        listed !== undefined ? `KUBECONFIG=${env.kubeconfig ?? ''} (${listed.length === 1 ? 'missing' : 'all missing'})` : `KUBECONFIG (unset), ${candidates[0] ?? ''} (missing)`,
        `in-cluster (${env.serviceHost === undefined || env.serviceHost === '' ? 'KUBERNETES_SERVICE_HOST unset' : `no ${join(saDir, 'token')}`})`,
      ];
      throw new KubeconfigError(`no kubeconfig found; looked at ${looked.join(', ')}`);
    }
  }
  const names = kc.contexts.map((c) => c.name);
  const available = names.length > 0 ? `available: ${names.join(', ')}` : 'it defines no contexts';
  if (target.context !== undefined) {
    if (!names.includes(target.context)) throw new KubeconfigError(`context ${JSON.stringify(target.context)} is not in the kubeconfig (${source}); ${available}`);
    kc.setCurrentContext(target.context);
  } else if (kc.currentContext === '' || kc.currentContext === undefined) {
    throw new KubeconfigError(`the kubeconfig (${source}) sets no current-context; pass --context (${available})`);
  } else if (!names.includes(kc.currentContext)) {
    throw new KubeconfigError(`the kubeconfig's current-context ${JSON.stringify(kc.currentContext)} is not one of its contexts (${source}); ${available}`);
  }
  const context = kc.getContextObject(kc.getCurrentContext());
  if (context === null) throw new KubeconfigError(`context ${JSON.stringify(kc.getCurrentContext())} is missing from ${source}`);
  if (kc.getCluster(context.cluster) === null) {
    throw new KubeconfigError(`context ${JSON.stringify(context.name)} names cluster ${JSON.stringify(context.cluster)}, which is not in the kubeconfig (${source})`);
  }
  if (context.user !== '' && kc.getUser(context.user) === null) {
    throw new KubeconfigError(`context ${JSON.stringify(context.name)} names user ${JSON.stringify(context.user)}, which is not in the kubeconfig (${source})`);
  }
  return { kc, source };
}
