/**
 * The gateway controller's decisions, pure: whether a GatewayClass is Weft's and accepted; which of a
 * Gateway's listeners are valid (protocol, TLS, certificate references, route kinds, conflicts between
 * listeners); which routes attach to which listeners (parentRef name, sectionName and port, allowedRoutes
 * namespaces and kinds, hostname intersection); and the status of each, with the Gateway API's condition
 * types and reasons. The controller reads the objects, calls these, and writes what they return.
 *
 * Conditions carry observedGeneration but no lastTransitionTime: the status writer keeps a condition's
 * time while its status does not change (policy-controller/status/merge.ts).
 */
import type { Condition, Namespace, ParentReference, ReferenceGrant } from '../kube.js';
import { matchLabelSelector } from '../inbound/label-selector.js';
import { effectiveHostnames } from './hostname.js';
import {
  GATEWAY_GROUP, type Gateway, type GatewayClass, type Listener, type RouteGroupKind, type Secret, type SecretObjectReference,
} from './types.js';

const CORE_GROUPS = new Set(['', 'core']);

/** The route kinds a listener of each protocol (and TLS mode) can carry. */
export function kindsForProtocol(protocol: string, tlsMode: string | undefined): readonly RouteGroupKind[] {
  switch (protocol) {
    case 'HTTP':
    case 'HTTPS':
      return [{ group: GATEWAY_GROUP, kind: 'HTTPRoute' }, { group: GATEWAY_GROUP, kind: 'GRPCRoute' }];
    case 'TLS':
      return tlsMode === 'Terminate' ? [] : [{ group: GATEWAY_GROUP, kind: 'TLSRoute' }];
    default:
      return [];
  }
}

const cond = (type: string, ok: boolean, reason: string, message: string, generation: number | undefined): Condition => ({
  type, status: ok ? 'True' : 'False', reason, message, ...(generation !== undefined ? { observedGeneration: generation } : {}),
});

// --- GatewayClass -------------------------------------------------------------------------------------

export interface GatewayClassEvaluation {
  /** False: another controller's class; nothing of it is Weft's to write. */
  readonly ours: boolean;
  readonly accepted: boolean;
  readonly conditions: readonly Condition[];
}

export function evaluateGatewayClass(gc: GatewayClass, controllerName: string): GatewayClassEvaluation {
  const gen = gc.metadata.generation;
  if (gc.spec?.controllerName !== controllerName) return { ours: false, accepted: false, conditions: [] };
  const p = gc.spec.parametersRef;
  if (p !== undefined) {
    return {
      ours: true, accepted: false,
      conditions: [cond('Accepted', false, 'InvalidParameters', `parametersRef ${p.group}/${p.kind} ${p.name}: Weft's GatewayClass takes no parameters; remove parametersRef`, gen)],
    };
  }
  return { ours: true, accepted: true, conditions: [cond('Accepted', true, 'Accepted', `accepted by ${controllerName}`, gen)] };
}

// --- references -----------------------------------------------------------------------------------------

/** Whether a ReferenceGrant in the target's namespace lets `from` (group, kind, namespace) refer to the target. */
export function referenceGranted(
  grants: readonly ReferenceGrant[],
  from: { readonly group: string; readonly kind: string; readonly namespace: string },
  to: { readonly group: string; readonly kind: string; readonly namespace: string; readonly name: string },
): boolean {
  const sameGroup = (a: string, b: string) => a === b || (CORE_GROUPS.has(a) && CORE_GROUPS.has(b));
  return grants.some((g) => g.metadata.namespace === to.namespace
    && (g.spec?.from ?? []).some((f) => sameGroup(f.group, from.group) && f.kind === from.kind && f.namespace === from.namespace)
    && (g.spec?.to ?? []).some((t) => sameGroup(t.group, to.group) && t.kind === to.kind && (t.name === undefined || t.name === '' || t.name === to.name)));
}

/** A certificate reference resolved to its Secret's PEM, or why it is not usable. */
export type CertificateResolution =
  | { readonly ok: true; readonly namespace: string; readonly name: string; readonly certPem: string; readonly keyPem: string }
  | { readonly ok: false; readonly reason: 'InvalidCertificateRef' | 'RefNotPermitted'; readonly message: string };

/**
 * Checks a PEM certificate chain and key pair; returns why it is unusable, or undefined. Supplied by the
 * caller (the controller uses node:crypto), so core stays free of crypto I/O.
 */
export type KeyPairCheck = (certPem: string, keyPem: string) => string | undefined;

/** base64 -> UTF-8 text; undefined when absent or not base64. No Buffer: core also type-checks for the dashboard (DOM, no node types). */
function decode(b64: string | undefined): string | undefined {
  if (b64 === undefined) return undefined;
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
}

export function resolveCertificateRef(
  ref: SecretObjectReference,
  fromNamespace: string,
  fromKind: string,
  secrets: readonly Secret[],
  grants: readonly ReferenceGrant[],
  checkKeyPair: KeyPairCheck,
): CertificateResolution {
  const ns = ref.namespace ?? fromNamespace;
  const what = `certificateRef ${ns}/${ref.name}`;
  if (!CORE_GROUPS.has(ref.group ?? '') || (ref.kind ?? 'Secret') !== 'Secret') {
    return { ok: false, reason: 'InvalidCertificateRef', message: `${what}: ${ref.group ?? ''}/${ref.kind ?? 'Secret'} is not supported; refer to a core Secret` };
  }
  if (ns !== fromNamespace && !referenceGranted(grants, { group: GATEWAY_GROUP, kind: fromKind, namespace: fromNamespace }, { group: '', kind: 'Secret', namespace: ns, name: ref.name })) {
    return { ok: false, reason: 'RefNotPermitted', message: `${what}: no ReferenceGrant in namespace ${ns} allows ${fromKind}s of namespace ${fromNamespace} to refer to it` };
  }
  const secret = secrets.find((s) => s.metadata.namespace === ns && s.metadata.name === ref.name);
  if (secret === undefined) return { ok: false, reason: 'InvalidCertificateRef', message: `${what}: Secret not found` };
  if (secret.type !== undefined && secret.type !== 'kubernetes.io/tls') {
    return { ok: false, reason: 'InvalidCertificateRef', message: `${what}: Secret type is ${secret.type}, not kubernetes.io/tls` };
  }
  const certPem = decode(secret.data?.['tls.crt']);
  const keyPem = decode(secret.data?.['tls.key']);
  if (certPem === undefined || certPem === '' || keyPem === undefined || keyPem === '') {
    return { ok: false, reason: 'InvalidCertificateRef', message: `${what}: Secret lacks tls.crt or tls.key` };
  }
  const bad = checkKeyPair(certPem, keyPem);
  if (bad !== undefined) return { ok: false, reason: 'InvalidCertificateRef', message: `${what}: ${bad}` };
  return { ok: true, namespace: ns, name: ref.name, certPem, keyPem };
}

// --- listeners ------------------------------------------------------------------------------------------

export interface ListenerEvaluation {
  readonly listener: Listener;
  /** Accepted and its references resolved: it is configured on the gateway's proxy. */
  readonly valid: boolean;
  readonly accepted: boolean;
  readonly supportedKinds: readonly RouteGroupKind[];
  readonly certificates: readonly Extract<CertificateResolution, { ok: true }>[];
  /** Accepted, Conflicted, ResolvedRefs, Programmed, with the Gateway API's reasons. */
  readonly conditions: readonly Condition[];
}

const SUPPORTED_PROTOCOLS = new Set(['HTTP', 'HTTPS', 'TLS']);
const isTlsProtocol = (p: string) => p === 'HTTPS' || p === 'TLS';

/** The conflict of each listener with others on its port, if any: ProtocolConflict before HostnameConflict. */
function conflicts(listeners: readonly Listener[]): Map<string, { reason: 'ProtocolConflict' | 'HostnameConflict'; with: string[] }> {
  const out = new Map<string, { reason: 'ProtocolConflict' | 'HostnameConflict'; with: string[] }>();
  const byPort = new Map<number, Listener[]>();
  for (const l of listeners) byPort.set(l.port, [...(byPort.get(l.port) ?? []), l]);
  for (const group of byPort.values()) {
    for (const l of group) {
      // HTTP shares a port only with HTTP; HTTPS and TLS share one (both select by SNI). Other
      // protocols (TCP, UDP) are not accepted and take no port.
      const protocolClash = group.filter((o) => o !== l && SUPPORTED_PROTOCOLS.has(o.protocol) && SUPPORTED_PROTOCOLS.has(l.protocol)
        && (o.protocol === 'HTTP') !== (l.protocol === 'HTTP'));
      if (protocolClash.length > 0) {
        out.set(l.name, { reason: 'ProtocolConflict', with: protocolClash.map((o) => o.name) });
        continue;
      }
      const hostClash = group.filter((o) => o !== l && SUPPORTED_PROTOCOLS.has(o.protocol) && SUPPORTED_PROTOCOLS.has(l.protocol)
        && (isTlsProtocol(o.protocol) === isTlsProtocol(l.protocol)) && (o.hostname ?? '').toLowerCase() === (l.hostname ?? '').toLowerCase());
      if (hostClash.length > 0) out.set(l.name, { reason: 'HostnameConflict', with: hostClash.map((o) => o.name) });
    }
  }
  return out;
}

export interface GatewayContext {
  readonly secrets: readonly Secret[];
  readonly referenceGrants: readonly ReferenceGrant[];
  readonly checkKeyPair: KeyPairCheck;
  /**
   * The listener protocols the gateway proxy serves (default HTTP, HTTPS and TLS). A listener with
   * another protocol is not accepted (UnsupportedProtocol), and the message names the ones served.
   */
  readonly protocols?: ReadonlySet<string>;
  /**
   * The route kinds the gateway proxy serves (default every kind of the protocol). Other kinds are
   * left out of supportedKinds, so they do not attach (NotAllowedByListeners) and naming them in
   * allowedRoutes.kinds is InvalidRouteKinds.
   */
  readonly routeKinds?: ReadonlySet<string>;
}

export function evaluateListeners(gw: Gateway, ctx: GatewayContext): readonly ListenerEvaluation[] {
  const gen = gw.metadata.generation;
  const ns = gw.metadata.namespace ?? 'default';
  const listeners = gw.spec?.listeners ?? [];
  const clash = conflicts(listeners);
  return listeners.map((l): ListenerEvaluation => {
    const conditions: Condition[] = [];
    const mode = l.tls?.mode ?? (isTlsProtocol(l.protocol) ? 'Terminate' : undefined);
    let accepted = true;
    let acceptedReason = 'Accepted';
    let acceptedMessage = 'the listener is accepted';
    const served = ctx.protocols ?? SUPPORTED_PROTOCOLS;
    if (!SUPPORTED_PROTOCOLS.has(l.protocol) || !served.has(l.protocol)) {
      accepted = false;
      acceptedReason = 'UnsupportedProtocol';
      acceptedMessage = `protocol ${l.protocol} is not supported; Weft's gateway serves ${[...served].join(', ')}`;
    } else if (l.protocol === 'TLS' && mode === 'Terminate') {
      accepted = false;
      acceptedReason = 'UnsupportedProtocol';
      acceptedMessage = 'TLS listeners in Terminate mode are not supported; use protocol HTTPS to terminate, or tls.mode Passthrough';
    }
    const conflict = clash.get(l.name);
    if (conflict !== undefined) {
      accepted = false;
      acceptedReason = conflict.reason;
      acceptedMessage = `${conflict.reason === 'ProtocolConflict' ? 'another protocol' : 'the same hostname'} on port ${l.port} in listener ${conflict.with.join(', ')}`;
    }
    conditions.push(cond('Accepted', accepted, acceptedReason, acceptedMessage, gen));
    conditions.push(conflict !== undefined
      ? { ...cond('Conflicted', true, conflict.reason, acceptedMessage, gen) }
      : cond('Conflicted', false, 'NoConflicts', 'no conflict with other listeners', gen));

    // Route kinds: the protocol's, narrowed by allowedRoutes.kinds; unknown kinds are refused by name.
    const protocolKinds = kindsForProtocol(l.protocol, mode).filter((k) => ctx.routeKinds === undefined || ctx.routeKinds.has(k.kind));
    const wanted = l.allowedRoutes?.kinds ?? [];
    const same = (a: RouteGroupKind, b: RouteGroupKind) => (a.group ?? GATEWAY_GROUP) === (b.group ?? GATEWAY_GROUP) && a.kind === b.kind;
    const supportedKinds = wanted.length === 0 ? protocolKinds : protocolKinds.filter((k) => wanted.some((w) => same(w, k)));
    const invalidKinds = wanted.filter((w) => !protocolKinds.some((k) => same(w, k)));

    const refProblems: { reason: string; message: string }[] = [];
    if (invalidKinds.length > 0) {
      refProblems.push({ reason: 'InvalidRouteKinds', message: `route kinds ${invalidKinds.map((k) => `${k.group ?? GATEWAY_GROUP}/${k.kind}`).join(', ')} cannot attach to a ${l.protocol} listener` });
    }
    const certificates: Extract<CertificateResolution, { ok: true }>[] = [];
    if (l.protocol === 'HTTPS' || (l.protocol === 'TLS' && mode === 'Terminate')) {
      const refs = l.tls?.certificateRefs ?? [];
      if (refs.length === 0) refProblems.push({ reason: 'InvalidCertificateRef', message: 'tls.certificateRefs is empty; an HTTPS listener needs a certificate Secret' });
      for (const ref of refs) {
        const r = resolveCertificateRef(ref, ns, 'Gateway', ctx.secrets, ctx.referenceGrants, ctx.checkKeyPair);
        if (r.ok) certificates.push(r);
        else refProblems.push({ reason: r.reason, message: r.message });
      }
    }
    const first = refProblems[0];
    conditions.push(first === undefined
      ? cond('ResolvedRefs', true, 'ResolvedRefs', 'all references resolved', gen)
      : cond('ResolvedRefs', false, first.reason, refProblems.map((p) => p.message).join('; '), gen));
    const valid = accepted && first === undefined;
    conditions.push(valid
      ? cond('Programmed', true, 'Programmed', 'configured on the gateway proxy', gen)
      : cond('Programmed', false, 'Invalid', `not configured: ${accepted ? (first?.message ?? '') : acceptedMessage}`, gen));
    return { listener: l, valid, accepted, supportedKinds, certificates, conditions };
  });
}

// --- route attachment -------------------------------------------------------------------------------------

export interface AttachableRoute {
  readonly kind: 'HTTPRoute' | 'GRPCRoute' | 'TLSRoute';
  readonly namespace: string;
  readonly name: string;
  readonly hostnames?: readonly string[];
  readonly parentRefs: readonly ParentReference[];
}

export interface ListenerAttachment {
  readonly listener: string;
  /** Hostnames the route serves through it; `any` when neither sets one. */
  readonly hostnames: { readonly any: true } | { readonly any: false; readonly hostnames: readonly string[] };
}

export interface ParentAttachment {
  readonly parentRef: ParentReference;
  readonly accepted: boolean;
  /** Accepted, NotAllowedByListeners, NoMatchingListenerHostname, NoMatchingParent. */
  readonly reason: string;
  readonly message: string;
  readonly listeners: readonly ListenerAttachment[];
}

/** Whether a parentRef names this Gateway (group and kind default to the Gateway's). */
export function refersToGateway(ref: ParentReference, routeNamespace: string, gw: Gateway): boolean {
  return (ref.group ?? GATEWAY_GROUP) === GATEWAY_GROUP && (ref.kind ?? 'Gateway') === 'Gateway'
    && (ref.namespace ?? routeNamespace) === (gw.metadata.namespace ?? 'default') && ref.name === gw.metadata.name;
}

function namespaceAllowed(l: Listener, gwNamespace: string, routeNamespace: string, namespaces: readonly Namespace[]): boolean {
  const from = l.allowedRoutes?.namespaces?.from ?? 'Same';
  if (from === 'All') return true;
  if (from === 'Same') return routeNamespace === gwNamespace;
  if (from === 'Selector') {
    const selector = l.allowedRoutes?.namespaces?.selector;
    if (selector === undefined) return false;
    const labels = namespaces.find((n) => n.metadata.name === routeNamespace)?.metadata.labels;
    // A selector Weft cannot evaluate admits nothing (fail closed).
    return matchLabelSelector(selector, { ...labels, 'kubernetes.io/metadata.name': routeNamespace }).kind === 'match';
  }
  return false;
}

/**
 * How one parentRef of a route attaches to a Gateway: to every listener the ref selects (sectionName,
 * port) that admits the route's namespace and kind and whose hostname intersects the route's.
 */
export function attachParent(
  route: AttachableRoute,
  ref: ParentReference,
  gw: Gateway,
  listeners: readonly ListenerEvaluation[],
  namespaces: readonly Namespace[],
): ParentAttachment {
  const gwNs = gw.metadata.namespace ?? 'default';
  const selected = listeners.filter((e) => (ref.sectionName === undefined || ref.sectionName === e.listener.name)
    && (ref.port === undefined || ref.port === e.listener.port));
  const refused = (reason: string, message: string): ParentAttachment => ({ parentRef: ref, accepted: false, reason, message, listeners: [] });
  if (selected.length === 0) {
    const which = [ref.sectionName !== undefined ? `sectionName ${ref.sectionName}` : '', ref.port !== undefined ? `port ${ref.port}` : ''].filter((s) => s !== '').join(' and ');
    return refused('NoMatchingParent', `Gateway ${gwNs}/${gw.metadata.name} has no listener with ${which || 'any name'}`);
  }
  const admitting = selected.filter((e) => e.supportedKinds.some((k) => (k.group ?? GATEWAY_GROUP) === GATEWAY_GROUP && k.kind === route.kind)
    && namespaceAllowed(e.listener, gwNs, route.namespace, namespaces));
  if (admitting.length === 0) {
    return refused('NotAllowedByListeners', `no listener of Gateway ${gwNs}/${gw.metadata.name} (${selected.map((e) => e.listener.name).join(', ')}) admits ${route.kind}s from namespace ${route.namespace}`);
  }
  const attached: ListenerAttachment[] = [];
  for (const e of admitting) {
    const hostnames = effectiveHostnames(e.listener.hostname, route.hostnames);
    if (hostnames !== undefined) attached.push({ listener: e.listener.name, hostnames });
  }
  if (attached.length === 0) {
    return refused('NoMatchingListenerHostname', `the route's hostnames (${(route.hostnames ?? []).join(', ')}) match no hostname of listeners ${admitting.map((e) => `${e.listener.name} (${e.listener.hostname ?? '*'})`).join(', ')}`);
  }
  return { parentRef: ref, accepted: true, reason: 'Accepted', message: `attached to listeners ${attached.map((a) => a.listener).join(', ')}`, listeners: attached };
}

// --- the Gateway as a whole --------------------------------------------------------------------------------

export interface GatewayEvaluation {
  readonly listeners: readonly ListenerEvaluation[];
  /** Per route (`Kind/ns/name`), its parentRefs to this Gateway. */
  readonly routes: ReadonlyMap<string, readonly ParentAttachment[]>;
  readonly attachedRoutes: ReadonlyMap<string, number>;
  readonly accepted: boolean;
  readonly conditions: readonly Condition[];
}

export interface GatewayRuntime {
  /** The address clients reach the gateway on, once its Service has one. */
  readonly address?: string;
  /** What `address` is (status.addresses[].type); default IPAddress. */
  readonly addressType?: 'IPAddress' | 'Hostname';
  /** Whether the gateway's proxies are ready. */
  readonly ready: boolean;
  /**
   * Set when nothing is deployed to serve the Gateway at all: why. The Gateway and each valid
   * listener are then Programmed=False (Pending) with this message, whatever address and ready say.
   */
  readonly unserved?: string;
}

export const routeKey = (r: Pick<AttachableRoute, 'kind' | 'namespace' | 'name'>): string => `${r.kind}/${r.namespace}/${r.name}`;

export function evaluateGateway(
  gw: Gateway,
  ctx: GatewayContext & { readonly namespaces: readonly Namespace[]; readonly routes: readonly AttachableRoute[]; readonly runtime: GatewayRuntime },
): GatewayEvaluation {
  const gen = gw.metadata.generation;
  const unserved = ctx.runtime.unserved;
  const listeners = evaluateListeners(gw, ctx).map((e): ListenerEvaluation => (unserved === undefined || !e.valid ? e : {
    ...e, conditions: e.conditions.map((c) => (c.type === 'Programmed' ? cond('Programmed', false, 'Pending', unserved, gen) : c)),
  }));
  const routes = new Map<string, ParentAttachment[]>();
  const attachedRoutes = new Map<string, number>(listeners.map((e) => [e.listener.name, 0]));
  for (const route of ctx.routes) {
    const refs = route.parentRefs.filter((ref) => refersToGateway(ref, route.namespace, gw));
    if (refs.length === 0) continue;
    const results = refs.map((ref) => attachParent(route, ref, gw, listeners, ctx.namespaces));
    routes.set(routeKey(route), results);
    const counted = new Set(results.flatMap((r) => r.listeners.map((l) => l.listener)));
    for (const name of counted) attachedRoutes.set(name, (attachedRoutes.get(name) ?? 0) + 1);
  }
  const conditions: Condition[] = [];
  const invalid = listeners.filter((e) => !e.valid);
  const anyValid = listeners.some((e) => e.valid);
  const requested = gw.spec?.addresses ?? [];
  let accepted: boolean;
  if (requested.length > 0) {
    accepted = false;
    conditions.push(cond('Accepted', false, 'UnsupportedAddress', `spec.addresses (${requested.map((a) => a.value ?? '').join(', ')}) cannot be honoured: the gateway's Service assigns its address`, gen));
  } else if (!anyValid) {
    accepted = false;
    conditions.push(cond('Accepted', false, 'ListenersNotValid', `no listener is valid: ${invalid.map((e) => e.listener.name).join(', ')}`, gen));
  } else {
    accepted = true;
    conditions.push(invalid.length > 0
      ? cond('Accepted', true, 'ListenersNotValid', `listeners ${invalid.map((e) => e.listener.name).join(', ')} are not valid; the others are accepted`, gen)
      : cond('Accepted', true, 'Accepted', 'accepted', gen));
  }
  if (!accepted) conditions.push(cond('Programmed', false, 'Invalid', 'the Gateway is not accepted', gen));
  else if (unserved !== undefined) conditions.push(cond('Programmed', false, 'Pending', unserved, gen));
  else if (ctx.runtime.address === undefined) conditions.push(cond('Programmed', false, 'AddressNotAssigned', "the gateway's Service has no address yet", gen));
  else if (!ctx.runtime.ready) conditions.push(cond('Programmed', false, 'Pending', 'waiting for a ready gateway proxy', gen));
  else conditions.push(cond('Programmed', true, 'Programmed', `serving on ${ctx.runtime.address}`, gen));
  return { listeners, routes, attachedRoutes, accepted, conditions };
}
