/**
 * Services of type ExternalName as route backends. Such a Service has no endpoints: it is a DNS alias
 * (`spec.externalName`). A route's backendRef to one resolves to a ServiceTarget carrying the name;
 * the proxy resolves the name with DNS and connects to the addresses at the backendRef's port (the
 * Service's own `ports`, usually absent on an ExternalName Service, are not consulted: nothing maps
 * ports for an alias). Pure.
 */
import type { Service } from '../kube.js';

/** RFC 1123 host name (lower or upper case; an IPv4 literal matches too), optionally ending with a dot. */
const HOSTNAME = /^(?=.{1,253}\.?$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

export type ExternalName = { readonly ok: true; readonly name: string } | { readonly ok: false; readonly message: string };

/** The DNS name (or IPv4 literal) an ExternalName Service aliases; undefined for any other Service type. */
export function externalNameOf(svc: Service): ExternalName | undefined {
  if (svc.spec?.type !== 'ExternalName') return undefined;
  const name = (svc.spec.externalName ?? '').trim();
  if (name === '') return { ok: false, message: 'has no spec.externalName' };
  if (!HOSTNAME.test(name)) return { ok: false, message: `has spec.externalName ${JSON.stringify(name)}, which is not a DNS name` };
  return { ok: true, name: name.toLowerCase() };
}

/** The cluster DNS domain the proxies assume (kubelet's default `--cluster-domain`). */
export const CLUSTER_DOMAIN = 'cluster.local';

/**
 * The in-cluster Service an ExternalName names, when its DNS name is one of cluster DNS's Service
 * names: `<service>.<namespace>.svc.<cluster domain>` or `<service>.<namespace>.svc` (a trailing dot
 * allowed). Such an alias is reached like the Service itself (its endpoints from discovery, mTLS and
 * the peer's identity when meshed) instead of through its ClusterIP in plaintext. Any other name
 * (another domain, a pod or headless record with more labels) is left to DNS.
 */
export function clusterServiceOf(name: string, clusterDomain: string = CLUSTER_DOMAIN): { readonly namespace: string; readonly name: string } | undefined {
  const labels = name.toLowerCase().replace(/\.$/, '').split('.');
  const domain = clusterDomain.toLowerCase().split('.');
  const rest = labels.length === 3 ? [] : labels.slice(3);
  if (labels.length !== 3 && (rest.length !== domain.length || rest.some((l, i) => l !== domain[i]))) return undefined;
  const [service, namespace, svc] = labels;
  if (svc !== 'svc' || service === undefined || namespace === undefined || service === '' || namespace === '') return undefined;
  return { namespace, name: service };
}
