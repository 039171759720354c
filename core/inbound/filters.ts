/**
 * What the selected rule of a Server's route does to an allowed request on the server side: its
 * RequestHeaderModifier, ResponseHeaderModifier, URLRewrite and RequestRedirect filters, applied in
 * order as on the client side. backendRefs mean nothing on a route whose parent is a Server (the
 * inbound proxy always forwards to its own pod), so a RequestMirror there, like any filter Weft does
 * not implement, makes the rule fail closed (500) instead of being ignored. The rule's `timeouts`
 * and `retry` apply to the forward to the app as they do to a backend on the client side.
 */
import { normalizeAuthority } from '../request.js';
import type { RequestInfo } from '../request.js';
import { applyFilterList, startEffects } from '../routes/filters.js';
import type { RetryPolicy } from '../retry.js';
import type { CompiledFilter, HeaderOps, RouteTimeouts, RuleSelection } from '../routes/types.js';

export type InboundRuleEffect =
  | {
      readonly kind: 'forward';
      readonly requestHeaderOps: readonly HeaderOps[];
      readonly responseHeaderOps: readonly HeaderOps[];
      /** The path to send to the app (rewritten or as normalised), without the query. */
      readonly path: string;
      /** The Host / :authority to send (URLRewrite hostname); absent: as received. */
      readonly authority?: string;
      /** The rule's `timeouts` (request: the whole exchange; backendRequest: each attempt). */
      readonly timeouts: RouteTimeouts;
      /** The rule's `retry` (HTTPRoute); absent: no retry on the app's answer. */
      readonly retry?: RetryPolicy;
    }
  | { readonly kind: 'redirect'; readonly status: number; readonly location: string; readonly responseHeaderOps: readonly HeaderOps[] }
  /** A CORS preflight, answered by the server proxy (core/routes/cors.ts). */
  | { readonly kind: 'preflight'; readonly status: number; readonly responseHeaderOps: readonly HeaderOps[] }
  | { readonly kind: 'unsupported'; readonly message: string };

/** Why the rule cannot be enforced on the server side, or undefined when it can. */
export function inboundUnsupported(filters: readonly CompiledFilter[]): string | undefined {
  for (const f of filters) {
    if (f.kind === 'unsupported') return `filter ${f.type} is not supported`;
    if (f.kind === 'mirror') return 'RequestMirror is not supported on a route whose parent is a Server';
  }
  return undefined;
}

/** Applies the selected rule's filters to an allowed request that reached app port `port`. Never throws. */
export function inboundRuleEffect(sel: RuleSelection, req: RequestInfo, port: number): InboundRuleEffect {
  const unsupported = inboundUnsupported(sel.rule.filters);
  if (unsupported !== undefined) return { kind: 'unsupported', message: `route ${sel.route.name} rule ${sel.rule.index}: ${unsupported}` };
  const acc = startEffects(req.path, req.authority);
  const redirect = applyFilterList(sel.rule.filters, acc, sel.match, {
    requestScheme: 'http',
    requestHost: req.host,
    fallbackHost: req.host,
    // The port the client dialled is not known here: the request's own authority says it, else the app port.
    listenerPort: normalizeAuthority(req.authority)?.port ?? port,
    rawQuery: req.rawQuery,
    request: req,
  });
  if (redirect?.kind === 'preflight') return { kind: 'preflight', status: redirect.status, responseHeaderOps: [...acc.res, redirect.headers] };
  if (redirect !== undefined) return { kind: 'redirect', status: redirect.status, location: redirect.location, responseHeaderOps: acc.res };
  return {
    kind: 'forward', requestHeaderOps: acc.req, responseHeaderOps: acc.res, path: acc.path, ...(acc.hostRewritten ? { authority: acc.authority } : {}),
    timeouts: sel.rule.timeouts, ...(sel.rule.retry !== undefined ? { retry: sel.rule.retry } : {}),
  };
}
