/**
 * Listener and route hostnames (Gateway API, Listener.hostname and HTTPRoute/GRPCRoute/TLSRoute
 * spec.hostnames). Pure.
 *
 * A hostname is exact (`foo.example.com`) or a wildcard (`*.example.com`), which matches one or more
 * labels in place of the `*` (`a.example.com`, `a.b.example.com`) but never the bare suffix
 * (`example.com`). An absent listener hostname matches every host; a route without hostnames takes the
 * listener's. A route attaches to a listener only when the two intersect; the requests it may then
 * serve are the intersection's hostnames.
 */

/** `*.example.com` -> `.example.com`; an exact name -> undefined. */
function wildcardSuffix(host: string): string | undefined {
  return host.startsWith('*.') ? host.slice(1) : undefined;
}

/** Whether `host` (exact) is matched by `pattern` (exact or wildcard). Case-insensitive, as DNS is. */
export function hostnameMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase();
  const suffix = wildcardSuffix(p);
  return suffix === undefined ? p === h : h.endsWith(suffix) && h.length > suffix.length;
}

/** The hostname both `a` and `b` match (the more specific one), or undefined when they are disjoint. */
export function intersectHostname(a: string, b: string): string | undefined {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (x === y) return x;
  const sx = wildcardSuffix(x);
  const sy = wildcardSuffix(y);
  if (sx === undefined && sy === undefined) return undefined;
  if (sx !== undefined && sy !== undefined) {
    if (sy.endsWith(sx)) return y;
    if (sx.endsWith(sy)) return x;
    return undefined;
  }
  if (sx !== undefined) return hostnameMatches(x, y) ? y : undefined;
  return hostnameMatches(y, x) ? x : undefined;
}

/**
 * The hostnames a route serves through a listener: `{ any: true }` when neither sets any, the listener's
 * when the route sets none, else the route hostnames' intersections with the listener's (deduplicated,
 * in the route's order); undefined when the route sets hostnames and none intersects.
 */
export function effectiveHostnames(
  listenerHostname: string | undefined,
  routeHostnames: readonly string[] | undefined,
): { readonly any: true } | { readonly any: false; readonly hostnames: readonly string[] } | undefined {
  const route = routeHostnames ?? [];
  if (route.length === 0) return listenerHostname === undefined || listenerHostname === '' ? { any: true } : { any: false, hostnames: [listenerHostname.toLowerCase()] };
  if (listenerHostname === undefined || listenerHostname === '') return { any: false, hostnames: [...new Set(route.map((h) => h.toLowerCase()))] };
  const out: string[] = [];
  for (const h of route) {
    const i = intersectHostname(listenerHostname, h);
    if (i !== undefined && !out.includes(i)) out.push(i);
  }
  return out.length > 0 ? { any: false, hostnames: out } : undefined;
}

/**
 * For each hostname effectiveHostnames returns (same order), the route hostname it came from: the first
 * of the route's hostnames whose intersection it is, or '' when the route sets none. Requests pick among
 * a listener's routes by these (GatewayRouteHostnameIntersectionPrecedence): a route naming
 * `abc.example.com` goes before one naming `*.example.com`, though both serve `abc.example.com`.
 */
export function hostnameOrigins(listenerHostname: string | undefined, routeHostnames: readonly string[] | undefined, effective: readonly string[]): string[] {
  const route = (routeHostnames ?? []).map((h) => h.toLowerCase());
  if (route.length === 0) return effective.map(() => '');
  return effective.map((e) => route.find((h) => (listenerHostname === undefined || listenerHostname === '' ? h : intersectHostname(listenerHostname, h)) === e) ?? e);
}

/**
 * Precedence of listener hostnames for one request host: exact before wildcard, longer wildcard
 * suffixes (more dots) before shorter, and the empty hostname last. Larger is more specific.
 */
export function hostnameSpecificity(listenerHostname: string | undefined): number {
  if (listenerHostname === undefined || listenerHostname === '') return 0;
  const suffix = wildcardSuffix(listenerHostname);
  if (suffix === undefined) return 1_000_000;
  return 1 + suffix.split('.').length;
}
