/**
 * The request-time inbound decision: may this client make this request on this (pod, port)?
 *
 * Model: `Pod -> Port <- Server <- AuthorizationPolicy -> Authentications`, compiled into an
 * InboundPortPolicy (core/inbound/compile.ts). Order of evaluation:
 *   1. A port whose policy cannot be enforced (`invalid`) denies (FORBIDDEN), except kubelet probes.
 *   2. A Server with routes selects one with the same `selectInTable` as outbound routing; no route
 *      matches: ROUTE_NOT_FOUND, except kubelet probes. A selected rule marked unsupported: refused
 *      (UNSUPPORTED).
 *   3. Any authorization (Server, Namespace, and the selected route's) whose authentications ALL
 *      hold allows.
 *   4. A kubelet probe (GET of a probe path of this port, from the probe networks) is allowed when
 *      no explicit route of the Server selected it.
 *   5. Otherwise the fallback decides: the Server's accessPolicy (default deny) or the default
 *      policy of a port without Server; `audit` allows and marks the decision.
 *
 * Invariants:
 * - Only the socket's peer address (`clientIp`) and the verified certificate identity feed the
 *   decision. Forwarded / X-Forwarded-For and every other header never do (security case 18); the
 *   request's headers only reach route selection.
 * - An identity counts only on a TLS connection; an unparsable clientIp is in no network.
 * - An `invalid` authorization never allows; its reason is reported when nothing else allowed.
 * - Pure and allocation-light: no parsing beyond the client address, no sorting, no regex compiling.
 * - A denial carries a Reason, never a status: core/reasons.ts maps it to the HTTP / gRPC answer.
 */
import { networkSetContains, parseIp, type IpAddress } from '../cidr.js';
import { identityMatches } from '../identity-match.js';
import type { DefaultInboundPolicy } from '../kube-policy.js';
import type { Reason } from '../reasons.js';
import type { RequestInfo } from '../request.js';
import { selectInTable } from '../routes/match.js';
import type { RuleSelection } from '../routes/types.js';
import type { CompiledAuthentication, CompiledAuthorization, InboundPortPolicy, InboundRoute } from './types.js';
import { inboundUnsupported } from './filters.js';

export interface InboundClient {
  /** The verified SPIFFE ID from the client certificate; absent without mTLS. */
  readonly clientIdentity?: string;
  readonly tls: boolean;
  /** The peer address of the socket (never a header). */
  readonly clientIp: string;
  /** Absent for an opaque (non-HTTP) connection: only port-wide authorizations apply. */
  readonly req?: RequestInfo;
}

/** What allowed or denied: an AuthorizationPolicy, the default policy, the accessPolicy, or the probe rule. */
export interface DecisionAuthorization {
  readonly kind: 'AuthorizationPolicy' | 'default' | 'accessPolicy' | 'probe';
  /** AuthorizationPolicy `namespace/name`, or the policy name (`all-unauthenticated`, ...). */
  readonly name: string;
}

/** Why authorizeInbound denies: no authorization allows, no Server route matches, the route's rule cannot be enforced. */
export type DenyReason = Extract<Reason, 'FORBIDDEN' | 'ROUTE_NOT_FOUND' | 'UNSUPPORTED'>;

export interface InboundDecision {
  readonly allowed: boolean;
  /** Set when the request was allowed only because the policy is `audit`: record it. */
  readonly audit?: boolean;
  /** The governing Server's name; absent under a default policy. */
  readonly server?: string;
  /** The selected route's name (for metrics and explanations). */
  readonly route?: string;
  readonly authorization?: DecisionAuthorization;
  /** Human-readable, for logs and `weft explain`; never a metric label. */
  readonly reason: string;
  /** Why a denial denies (set exactly when `allowed` is false). */
  readonly code?: DenyReason;
  /** The route rule selected, for the proxy to apply its filters. */
  readonly selection?: RuleSelection;
}

function authenticationHolds(a: CompiledAuthentication, identity: string | undefined, ip: IpAddress | undefined): boolean {
  switch (a.kind) {
    case 'MeshTLSAuthentication':
      return identityMatches(a.identities, identity);
    case 'NetworkAuthentication':
      return ip !== undefined && networkSetContains(a.networks, ip);
    case 'ServiceAccount':
      return identity !== undefined && identity === a.identity;
  }
}

function authorizationHolds(a: CompiledAuthorization, identity: string | undefined, ip: IpAddress | undefined): boolean {
  if (a.invalid !== undefined || a.authentications.length === 0) return false;
  for (const authn of a.authentications) if (!authenticationHolds(authn, identity, ip)) return false;
  return true;
}

function describeFallback(policy: DefaultInboundPolicy, from: string): string {
  return `${from} ${policy}`;
}

/** Whether `req` is a kubelet probe of this port: a GET of one of its probe paths from a probe network. */
export function isKubeletProbe(policy: InboundPortPolicy, req: RequestInfo | undefined, ip: IpAddress | undefined): boolean {
  return req !== undefined && req.method === 'GET' && policy.probes.paths.has(req.path) && ip !== undefined && networkSetContains(policy.probes.networks, ip);
}

/** Decides one inbound request (or opaque connection). Never throws. */
export function authorizeInbound(policy: InboundPortPolicy, client: InboundClient): InboundDecision {
  const ip = parseIp(client.clientIp);
  const identity = client.tls && client.clientIdentity ? client.clientIdentity : undefined;
  const req = client.req;
  const server = policy.server?.name;
  const named = server !== undefined ? { server } : {};

  const isProbe = isKubeletProbe(policy, req, ip);
  const probeAllowed = (routeName?: string): InboundDecision => ({
    allowed: true,
    ...named,
    ...(routeName !== undefined ? { route: routeName } : {}),
    authorization: { kind: 'probe', name: 'probe' },
    reason: `kubelet probe of ${req?.path ?? ''} from a probe network`,
  });
  const deny = (code: DenyReason, reason: string, extra: Partial<InboundDecision> = {}): InboundDecision => ({
    allowed: false,
    ...named,
    ...extra,
    reason,
    code,
  });

  if (policy.invalid !== undefined) {
    if (isProbe) return probeAllowed();
    return deny('FORBIDDEN', `policy of port ${policy.port} cannot be enforced: ${policy.invalid}`);
  }

  let route: InboundRoute | undefined;
  let selection: RuleSelection | undefined;
  if (req !== undefined && policy.routes.length > 0) {
    selection = selectInTable(policy.routeTable, req);
    if (selection === undefined) {
      if (isProbe) return probeAllowed();
      return deny('ROUTE_NOT_FOUND', `no route of Server ${server ?? ''} matches ${req.method} ${req.path}`);
    }
    route = policy.routePolicies.get(selection.route);
  }
  const routed = {
    ...(route !== undefined ? { route: route.name } : {}),
    ...(selection !== undefined ? { selection } : {}),
  };
  if (selection?.rule.unsupported !== undefined) {
    return deny('UNSUPPORTED', `route ${selection.route.name} rule ${selection.rule.index} uses what Weft does not implement: ${selection.rule.unsupported}`, routed);
  }
  const filterProblem = selection !== undefined ? inboundUnsupported(selection.rule.filters) : undefined;
  if (selection !== undefined && filterProblem !== undefined) {
    return deny('UNSUPPORTED', `route ${selection.route.name} rule ${selection.rule.index}: ${filterProblem}`, routed);
  }

  const invalid: string[] = [];
  const check = (list: readonly CompiledAuthorization[]): InboundDecision | undefined => {
    for (const a of list) {
      if (a.invalid !== undefined) {
        invalid.push(`AuthorizationPolicy ${a.namespace}/${a.name} cannot be enforced: ${a.invalid}`);
        continue;
      }
      if (authorizationHolds(a, identity, ip)) {
        return {
          allowed: true,
          ...named,
          ...routed,
          authorization: { kind: 'AuthorizationPolicy', name: `${a.namespace}/${a.name}` },
          reason: `allowed by AuthorizationPolicy ${a.namespace}/${a.name} (${a.target.kind} ${a.target.name})`,
        };
      }
    }
    return undefined;
  };
  const byPort = check(policy.authorizations);
  if (byPort !== undefined) return byPort;
  if (route !== undefined) {
    const byRoute = check(route.authorizations);
    if (byRoute !== undefined) return byRoute;
  }

  if (isProbe && route === undefined) return probeAllowed();

  const fb = policy.fallback;
  const kind = fb.source === 'server' ? 'accessPolicy' : 'default';
  const from = fb.source === 'server' ? `Server ${server ?? ''} accessPolicy` : `${fb.source} default policy`;
  const because = invalid.length > 0 ? `; ${invalid.join('; ')}` : '';
  const noAuthz = policy.server !== undefined ? 'no authorization allows this client' : 'no Server selects this port';
  const allow = (audit: boolean): InboundDecision => ({
    allowed: true,
    ...named,
    ...routed,
    ...(audit ? { audit: true } : {}),
    authorization: { kind, name: fb.policy },
    reason: audit
      ? `audit: would be denied (${noAuthz}${because}); allowed by ${describeFallback(fb.policy, from)}`
      : `${noAuthz}; allowed by ${describeFallback(fb.policy, from)}`,
  });
  const refuse = (why: string): InboundDecision =>
    deny('FORBIDDEN', `${noAuthz}${because}; ${describeFallback(fb.policy, from)} ${why}`, {
      ...routed,
      authorization: { kind, name: fb.policy },
    });
  const inCluster = ip !== undefined && networkSetContains(policy.clusterNetworks, ip);
  switch (fb.policy) {
    case 'all-unauthenticated':
      return allow(false);
    case 'audit':
      return allow(true);
    case 'deny':
      return refuse('denies');
    case 'all-authenticated':
      return identity !== undefined ? allow(false) : refuse('requires an mTLS-authenticated client');
    case 'cluster-unauthenticated':
      return inCluster ? allow(false) : refuse(`requires a client in the cluster networks (${client.clientIp} is not)`);
    case 'cluster-authenticated':
      if (identity === undefined) return refuse('requires an mTLS-authenticated client');
      return inCluster ? allow(false) : refuse(`requires a client in the cluster networks (${client.clientIp} is not)`);
  }
}
