/**
 * TLSRoute on a Gateway's TLS listeners in Passthrough mode, pure: the route's backends resolved
 * (core Services, across namespaces only by ReferenceGrant), and the per-connection decision of the
 * gateway proxy, which reads only the ClientHello's SNI and pipes the still encrypted bytes on.
 *
 *   ClientHello SNI on a port -> the most specific TLS listener hostname matching it (./view.ts)
 *     -> the TLSRoute attached there with the most specific hostname matching the SNI
 *     -> a backend by weight -> its Service port (the gateway's picker dials an endpoint; opaque)
 *   no TLS listener, no route for the SNI -> ROUTE_NOT_FOUND; the chosen backend does not resolve ->
 *   BACKEND_UNRESOLVED / NOT_PERMITTED (the proxy closes the connection: there is nothing to answer in)
 *
 * TLSRoute v1 (Gateway API v1.7.0): hostnames required, exactly one rule of 1-16 backendRefs.
 */
import type { BackendObjectReference } from '../kube.js';
import { pickWeighted } from '../outbound/route.js';
import type { BackendFailure, BackendTarget, ServiceTarget } from '../routes/types.js';
import { hostnameMatches, hostnameSpecificity } from './hostname.js';
import type { TLSRoute } from './types.js';

export interface TlsBackend {
  readonly target: BackendTarget;
  readonly weight: number;
}

/** A TLSRoute as a TLS listener serves it. */
export interface TlsRouteView {
  readonly namespace: string;
  readonly name: string;
  /** The hostnames it serves through the listener (its own intersected with the listener's); '' for any. */
  readonly hostnames: readonly string[];
  /**
   * Per hostname (same order), the route's own hostname it comes from ('' when the route sets none;
   * ./hostname.ts hostnameOrigins); absent: the hostnames themselves.
   */
  readonly origins?: readonly string[];
  readonly backends: readonly TlsBackend[];
}

export interface TlsRouteCompiled {
  readonly backends: readonly TlsBackend[];
  readonly refFailures: readonly { readonly reason: BackendFailure; readonly message: string }[];
}

/** The route's backends resolved with `resolve` (the gateway's resolver, kind TLSRoute). */
export function compileTlsRoute(route: TLSRoute, resolve: (ref: BackendObjectReference, kind: 'TLSRoute') => BackendTarget): TlsRouteCompiled {
  const backends: TlsBackend[] = [];
  const refFailures: { reason: BackendFailure; message: string }[] = [];
  for (const rule of route.spec?.rules ?? []) {
    for (const ref of rule.backendRefs ?? []) {
      const target = resolve(ref, 'TLSRoute');
      if (target.kind === 'error') refFailures.push({ reason: target.reason, message: target.message });
      backends.push({ target, weight: ref.weight ?? 1 });
    }
  }
  return { backends, refFailures };
}

const specificity = (h: string) => hostnameSpecificity(h) + h.length / 1000;

/**
 * The route serving `sni` among a listener's: the most specific matching hostname; '' matches any SNI
 * (and none). Between routes matching equally well, the one whose own hostname is more specific
 * (GatewayRouteHostnameIntersectionPrecedence: a route naming abc.example.com before one naming
 * *.example.com narrowed to it by the listener); then the first in the list.
 */
export function selectTlsRoute(routes: readonly TlsRouteView[], sni: string | undefined): TlsRouteView | undefined {
  const host = (sni ?? '').toLowerCase();
  let best: { route: TlsRouteView; score: number; origin: number } | undefined;
  for (const r of routes) {
    r.hostnames.forEach((h, i) => {
      const ok = h === '' || (host !== '' && hostnameMatches(h, host));
      if (!ok) return;
      const score = h === '' ? 0 : specificity(h);
      const o = r.origins?.[i] ?? h;
      const origin = o === '' ? 0 : specificity(o);
      if (best === undefined || score > best.score || (score === best.score && origin > best.origin)) best = { route: r, score, origin };
    });
  }
  return best?.route;
}

export type TlsPassthroughDecision =
  | { readonly kind: 'forward'; readonly listener: string; readonly route: { readonly namespace: string; readonly name: string }; readonly backend: ServiceTarget }
  | {
      readonly kind: 'error'; readonly code: 'ROUTE_NOT_FOUND' | 'BACKEND_UNRESOLVED' | 'NOT_PERMITTED'; readonly listener?: string; readonly message: string;
      /** The TLSRoute selected, when the error is about its backends. */
      readonly route?: { readonly namespace: string; readonly name: string };
    };

/** The backend of a route for one connection: by weight; a backend that does not resolve refuses it. */
export function decideTlsBackend(listener: string, route: TlsRouteView, rand: () => number): TlsPassthroughDecision {
  const total = route.backends.reduce((n, b) => n + Math.max(0, b.weight), 0);
  const picked = total > 0 ? pickWeighted(route.backends.filter((b) => b.weight > 0), total, rand) : undefined;
  const where = `TLSRoute ${route.namespace}/${route.name}`;
  const ref = { namespace: route.namespace, name: route.name };
  if (picked === undefined) return { kind: 'error', code: 'BACKEND_UNRESOLVED', listener, message: `${where} has no backend of positive weight`, route: ref };
  const t = picked.target;
  if (t.kind === 'error') return { kind: 'error', code: t.reason === 'RefNotPermitted' ? 'NOT_PERMITTED' : 'BACKEND_UNRESOLVED', listener, message: `${where}: ${t.message}`, route: ref };
  return { kind: 'forward', listener, route: { namespace: route.namespace, name: route.name }, backend: t };
}
