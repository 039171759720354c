/**
 * The CLI's access to the cluster: the KubeConfig kubeconfig.ts loads with kubectl's rules
 * (--kubeconfig/--context, else KUBECONFIG merged, ~/.kube/config, in-cluster), typed API clients, and
 * `orAbsent` that turns a 404 (only a 404) into undefined so callers can say what is missing.
 */
import {
  AdmissionregistrationV1Api, ApiException, ApiextensionsV1Api, AppsV1Api, CoreV1Api, VersionApi,
} from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { cliEnv } from '../config.js';
import type { CliEnv } from '../config.js';
import { describeKubeError } from './errors.js';
import { loadKubeConfig } from './kubeconfig.js';
import type { KubeTarget } from './kubeconfig.js';

export type { KubeTarget };

export interface KubeClients {
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly ext: ApiextensionsV1Api;
  readonly admission: AdmissionregistrationV1Api;
  readonly version: VersionApi;
  /** The API server's URL, for messages. */
  readonly server: string;
  /** A failed call's reason, naming the server and the cause (describeKubeError). */
  describe(err: unknown): string;
}

/** Clients for the cluster the kubeconfig (kubectl's rules, kubeconfig.ts) selects; throws KubeconfigError. */
export function connectKube(target: KubeTarget, env: CliEnv = cliEnv()): KubeClients {
  const { kc } = loadKubeConfig(target, env);
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    ext: kc.makeApiClient(ApiextensionsV1Api),
    admission: kc.makeApiClient(AdmissionregistrationV1Api),
    version: kc.makeApiClient(VersionApi),
    server: kc.getCurrentCluster()?.server ?? '(no cluster in the kubeconfig)',
    describe: (err: unknown) => describeKubeError(err, kc.getCurrentCluster()?.server ?? '(no cluster in the kubeconfig)'),
  };
}

export async function orAbsent<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof ApiException && err.code === 404) return undefined;
    throw err;
  }
}

/** A one-line reason for a failed API call, naming the server and the cause (kube/errors.ts). */
export function describeApiError(err: unknown, server: string): string {
  return describeKubeError(err, server);
}
