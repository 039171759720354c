/**
 * The CLI's access to the cluster: a KubeConfig from --kubeconfig/--context (else the default
 * lookup: KUBECONFIG, ~/.kube/config, in-cluster), typed API clients, and `orAbsent` that turns a 404
 * into undefined so callers can say what is missing instead of failing on it.
 */
import {
  AdmissionregistrationV1Api, ApiException, ApiextensionsV1Api, AppsV1Api, CoreV1Api, KubeConfig, VersionApi,
} from '@kubernetes/client-node';

export interface KubeTarget {
  readonly kubeconfig?: string | undefined;
  readonly context?: string | undefined;
}

export interface KubeClients {
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly ext: ApiextensionsV1Api;
  readonly admission: AdmissionregistrationV1Api;
  readonly version: VersionApi;
  /** The API server's URL, for messages. */
  readonly server: string;
}

export function connectKube(target: KubeTarget): KubeClients {
  const kc = new KubeConfig();
  if (target.kubeconfig !== undefined) kc.loadFromFile(target.kubeconfig);
  else kc.loadFromDefault();
  if (target.context !== undefined) kc.setCurrentContext(target.context);
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    ext: kc.makeApiClient(ApiextensionsV1Api),
    admission: kc.makeApiClient(AdmissionregistrationV1Api),
    version: kc.makeApiClient(VersionApi),
    server: kc.getCurrentCluster()?.server ?? '(no cluster in the kubeconfig)',
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

/** A one-line reason for an API error (the Status message when the server sent one). */
export function describeApiError(err: unknown): string {
  if (err instanceof ApiException) {
    const body = typeof err.body === 'string' ? err.body : JSON.stringify(err.body);
    try {
      const status = JSON.parse(body) as { message?: string };
      if (status.message !== undefined) return `HTTP ${err.code}: ${status.message}`;
    } catch {
      // not a Status object
    }
    return `HTTP ${err.code}`;
  }
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e.cause?.message !== undefined ? `${e.message} (${e.cause.message})` : e.message;
}
