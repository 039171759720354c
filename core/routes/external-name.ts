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
