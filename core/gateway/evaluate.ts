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
import type { LabelSelector } from '../kube-policy.js';
import { effectiveHostnames, hostnameOrigins } from './hostname.js';
import {
  GATEWAY_GROUP, type FrontendValidation, type Gateway, type GatewayClass, type Listener, type ListenerSet, type RouteGroupKind, type Secret, type SecretObjectReference,
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
  /**
   * The listener's name among all a gateway serves: its own name for a Gateway's listener,
   * `<namespace>/<listenerset>/<name>` for a ListenerSet's (listener names are unique only per object).
   */
  readonly key: string;
  /** The ListenerSet the listener comes from; absent: the Gateway's own. */
  readonly listenerSet?: { readonly namespace: string; readonly name: string };
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

/**
 * The client certificate validation (spec.tls.frontend) that applies to HTTPS listeners on `port`: the
 * port's perPort entry when there is one (even without validation: it overrides the default), else
 * the default; undefined when none asks for validation.
 */
export function frontendValidationFor(gw: Gateway, port: number): FrontendValidation | undefined {
  const frontend = gw.spec?.tls?.frontend;
  const perPort = frontend?.perPort?.find((p) => p.port === port);
  return perPort !== undefined ? perPort.tls?.validation : frontend?.default?.validation;
}

export function evaluateListeners(gw: Gateway, ctx: GatewayContext): readonly ListenerEvaluation[] {
  const listeners = gw.spec?.listeners ?? [];
  return evaluateListenerList(gw, listeners, { generation: gw.metadata.generation, namespace: gw.metadata.namespace ?? 'default', kind: 'Gateway' }, conflicts(listeners), ctx);
}

interface ListenerOwner {
  readonly generation: number | undefined;
  readonly namespace: string;
  readonly kind: 'Gateway' | 'ListenerSet';
  /** ListenerSets: the set's name (listener keys and messages). */
  readonly name?: string;
}

type Clashes = ReadonlyMap<string, { reason: 'ProtocolConflict' | 'HostnameConflict'; with: string[] }>;

function evaluateListenerList(gw: Gateway, listeners: readonly Listener[], owner: ListenerOwner, clash: Clashes, ctx: GatewayContext): ListenerEvaluation[] {
  const gen = owner.generation;
  const ns = owner.namespace;
  const set = owner.kind === 'ListenerSet' && owner.name !== undefined ? { namespace: ns, name: owner.name } : undefined;
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
      // The protocol is served; the value of tls.mode is not (the Gateway API's reason for it).
      accepted = false;
      acceptedReason = 'UnsupportedValue';
      acceptedMessage = 'TLS listeners in Terminate mode are not supported; use protocol HTTPS to terminate, or tls.mode Passthrough';
    }
    // Client certificate validation is not implemented: serving such a listener would let in clients
    // the Gateway asks to refuse. Not accepted (fail closed), with the Gateway API's reasons.
    const validation = l.protocol === 'HTTPS' ? frontendValidationFor(gw, l.port) : undefined;
    const refProblems: { reason: string; message: string }[] = [];
    if (accepted && validation !== undefined) {
      const refs = (validation.caCertificateRefs ?? []).map((r) => `${r.kind ?? 'ConfigMap'} ${r.namespace ?? ns}/${r.name}`).join(', ');
      const message = `client certificate validation (spec.tls.frontend, CA ${refs || 'none'}) is not supported by Weft's gateway yet; the listener is not served rather than served without validating clients`;
      accepted = false;
      acceptedReason = 'NoValidCACertificate';
      acceptedMessage = message;
      refProblems.push({ reason: 'InvalidCACertificateRef', message });
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

    if (invalidKinds.length > 0) {
      refProblems.push({ reason: 'InvalidRouteKinds', message: `route kinds ${invalidKinds.map((k) => `${k.group ?? GATEWAY_GROUP}/${k.kind}`).join(', ')} cannot attach to a ${l.protocol} listener` });
    }
    const certificates: Extract<CertificateResolution, { ok: true }>[] = [];
    if (l.protocol === 'HTTPS' || (l.protocol === 'TLS' && mode === 'Terminate')) {
      const refs = l.tls?.certificateRefs ?? [];
      if (refs.length === 0) refProblems.push({ reason: 'InvalidCertificateRef', message: 'tls.certificateRefs is empty; an HTTPS listener needs a certificate Secret' });
      for (const ref of refs) {
        const r = resolveCertificateRef(ref, ns, owner.kind, ctx.secrets, ctx.referenceGrants, ctx.checkKeyPair);
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
      : cond('Programmed', false, conflict !== undefined ? conflict.reason : 'Invalid', `not configured: ${accepted ? (first?.message ?? '') : acceptedMessage}`, gen));
    const key = set === undefined ? l.name : `${set.namespace}/${set.name}/${l.name}`;
    return { listener: l, key, ...(set !== undefined ? { listenerSet: set } : {}), valid, accepted, supportedKinds, certificates, conditions };
  });
}

/** A valid listener of a Gateway nothing serves: Programmed=False Pending, saying why. */
function pendingWhenUnserved(e: ListenerEvaluation, unserved: string | undefined, gen: number | undefined): ListenerEvaluation {
  if (unserved === undefined || !e.valid) return e;
  return { ...e, conditions: e.conditions.map((c) => (c.type === 'Programmed' ? cond('Programmed', false, 'Pending', unserved, gen) : c)) };
}

// --- ListenerSets ----------------------------------------------------------------------------------------

/** Whether a ListenerSet's parentRef names this Gateway (group and kind default to the Gateway's). */
export function listenerSetRefersTo(ls: ListenerSet, gw: Gateway): boolean {
  const ref = ls.spec?.parentRef;
  return ref !== undefined && (ref.group ?? GATEWAY_GROUP) === GATEWAY_GROUP && (ref.kind ?? 'Gateway') === 'Gateway'
    && (ref.namespace ?? ls.metadata.namespace ?? 'default') === (gw.metadata.namespace ?? 'default') && ref.name === gw.metadata.name;
}

/** Whether the Gateway's spec.allowedListeners admits ListenerSets of `namespace` (default: none). */
export function listenerSetAllowed(gw: Gateway, namespace: string, namespaces: readonly Namespace[]): boolean {
  const allowed = gw.spec?.allowedListeners?.namespaces;
  return namespacesAdmit(allowed?.from ?? 'None', allowed?.selector, gw.metadata.namespace ?? 'default', namespace, namespaces);
}

/** Listener precedence among ListenerSets: the older first (creationTimestamp), then by namespace/name. */
export function listenerSetOrder(a: ListenerSet, b: ListenerSet): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${a.metadata.namespace ?? ''}/${a.metadata.name}`;
  const kb = `${b.metadata.namespace ?? ''}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

const transportOf = (protocol: string) => (protocol === 'UDP' ? 'udp' : 'tcp');
const familyOf = (protocol: string) => (isTlsProtocol(protocol) ? 'TLS' : protocol);

/** How `l` clashes with `o`, a listener of higher precedence: another protocol or the same hostname on its port. */
function clashOf(l: Listener, o: Listener): 'ProtocolConflict' | 'HostnameConflict' | undefined {
  if (l.port !== o.port || transportOf(l.protocol) !== transportOf(o.protocol)) return undefined;
  if (familyOf(l.protocol) !== familyOf(o.protocol)) return 'ProtocolConflict';
  return (l.hostname ?? '').toLowerCase() === (o.hostname ?? '').toLowerCase() ? 'HostnameConflict' : undefined;
}

export interface ListenerSetEvaluation {
  readonly listenerSet: ListenerSet;
  /** Allowed, under an accepted Gateway, with a valid listener; a set refused as a whole has no listener evaluated. */
  readonly accepted: boolean;
  readonly listeners: readonly ListenerEvaluation[];
  /** Accepted and Programmed, with the Gateway API's ListenerSet reasons. */
  readonly conditions: readonly Condition[];
}

/**
 * The ListenerSets attached to a Gateway, in precedence order. A set's listener that clashes with a
 * listener of higher precedence (the Gateway's own, then older sets', then earlier in its own set)
 * that is not itself conflicted is Conflicted, and only it: the listener that came first keeps serving.
 */
function evaluateListenerSets(gw: Gateway, sets: readonly ListenerSet[], gatewayListeners: readonly ListenerEvaluation[], gatewayAccepted: boolean,
  ctx: GatewayContext & { readonly namespaces: readonly Namespace[]; readonly runtime: GatewayRuntime }): ListenerSetEvaluation[] {
  const gwRef = `Gateway ${gw.metadata.namespace ?? 'default'}/${gw.metadata.name}`;
  const claimed: { listener: Listener; name: string }[] = gatewayListeners
    .filter((e) => !e.conditions.some((c) => c.type === 'Conflicted' && c.status === 'True'))
    .map((e) => ({ listener: e.listener, name: e.key }));
  const out: ListenerSetEvaluation[] = [];
  for (const ls of [...sets].filter((x) => listenerSetRefersTo(x, gw)).sort(listenerSetOrder)) {
    const gen = ls.metadata.generation;
    const ns = ls.metadata.namespace ?? 'default';
    const refused = (reason: string, message: string): ListenerSetEvaluation => ({
      listenerSet: ls, accepted: false, listeners: [],
      conditions: [cond('Accepted', false, reason, message, gen), cond('Programmed', false, reason, message, gen)],
    });
    if (!listenerSetAllowed(gw, ns, ctx.namespaces)) {
      const from = gw.spec?.allowedListeners?.namespaces?.from ?? 'None';
      out.push(refused('NotAllowed', `${gwRef} does not allow ListenerSets from namespace ${ns} (spec.allowedListeners.namespaces.from: ${from}${from === 'None' && gw.spec?.allowedListeners === undefined ? ', the default' : ''})`));
      continue;
    }
    if (!gatewayAccepted) {
      out.push(refused('ParentNotAccepted', `${gwRef} is not accepted`));
      continue;
    }
    const listeners = ls.spec?.listeners ?? [];
    const clash = new Map<string, { reason: 'ProtocolConflict' | 'HostnameConflict'; with: string[] }>();
    const mine: { listener: Listener; name: string }[] = [];
    for (const l of listeners) {
      const against = [...claimed, ...mine];
      const hit = against.map((o) => ({ o, reason: clashOf(l, o.listener) })).filter((x) => x.reason !== undefined);
      const protocol = hit.filter((x) => x.reason === 'ProtocolConflict');
      const chosen = protocol.length > 0 ? protocol : hit;
      if (chosen.length > 0) clash.set(l.name, { reason: chosen[0]!.reason!, with: chosen.map((x) => x.o.name) });
      else mine.push({ listener: l, name: `${ns}/${ls.metadata.name}/${l.name}` });
    }
    claimed.push(...mine);
    const unserved = ctx.runtime.unserved;
    const evaluated = evaluateListenerList(gw, listeners, { generation: gen, namespace: ns, kind: 'ListenerSet', name: ls.metadata.name }, clash, ctx)
      .map((e) => pendingWhenUnserved(e, unserved, gen));
    const invalid = evaluated.filter((e) => !e.valid);
    const anyValid = evaluated.some((e) => e.valid);
    const notValid = evaluated.length === 0 ? 'the ListenerSet has no listeners' : `listeners ${invalid.map((e) => e.listener.name).join(', ')} are not valid`;
    const conditions = !anyValid
      ? [cond('Accepted', false, 'ListenersNotValid', notValid, gen), cond('Programmed', false, 'ListenersNotValid', notValid, gen)]
      : [
        invalid.length > 0 ? cond('Accepted', true, 'ListenersNotValid', `${notValid}; the others are accepted`, gen) : cond('Accepted', true, 'Accepted', `attached to ${gwRef}`, gen),
        unserved !== undefined ? cond('Programmed', false, 'Pending', unserved, gen) : cond('Programmed', true, 'Programmed', `its valid listeners are configured on the proxy of ${gwRef}`, gen),
      ];
    out.push({ listenerSet: ls, accepted: anyValid, listeners: evaluated, conditions });
  }
  return out;
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
  /** Per hostname (same order), the route's own hostname it comes from ('' when the route sets none): ./hostname.ts hostnameOrigins. */
  readonly origins?: readonly string[];
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

/**
 * Whether a `namespaces: {from, selector}` admission (a listener's allowedRoutes, a Gateway's
 * allowedListeners) admits objects of `namespace`; `Same` means `ownerNamespace`'s. A selector Weft
 * cannot evaluate, or a `from` it does not know (None included), admits nothing (fail closed).
 */
function namespacesAdmit(from: string, selector: LabelSelector | undefined, ownerNamespace: string, namespace: string, namespaces: readonly Namespace[]): boolean {
  if (from === 'All') return true;
  if (from === 'Same') return namespace === ownerNamespace;
  if (from === 'Selector') {
    if (selector === undefined) return false;
    const labels = namespaces.find((n) => n.metadata.name === namespace)?.metadata.labels;
    return matchLabelSelector(selector, { ...labels, 'kubernetes.io/metadata.name': namespace }).kind === 'match';
  }
  return false;
}

function namespaceAllowed(l: Listener, ownerNamespace: string, routeNamespace: string, namespaces: readonly Namespace[]): boolean {
  const n = l.allowedRoutes?.namespaces;
  return namespacesAdmit(n?.from ?? 'Same', n?.selector, ownerNamespace, routeNamespace, namespaces);
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
  listenerSet?: { readonly namespace: string; readonly name: string },
): ParentAttachment {
  const gwNs = gw.metadata.namespace ?? 'default';
  const parent = listenerSet === undefined ? `Gateway ${gwNs}/${gw.metadata.name}` : `ListenerSet ${listenerSet.namespace}/${listenerSet.name}`;
  const selected = listeners.filter((e) => (ref.sectionName === undefined || ref.sectionName === e.listener.name)
    && (ref.port === undefined || ref.port === e.listener.port));
  const refused = (reason: string, message: string): ParentAttachment => ({ parentRef: ref, accepted: false, reason, message, listeners: [] });
  if (selected.length === 0) {
    const which = [ref.sectionName !== undefined ? `sectionName ${ref.sectionName}` : '', ref.port !== undefined ? `port ${ref.port}` : ''].filter((s) => s !== '').join(' and ');
    return refused('NoMatchingParent', `${parent} has no listener with ${which || 'any name'}`);
  }
  const admitting = selected.filter((e) => e.supportedKinds.some((k) => (k.group ?? GATEWAY_GROUP) === GATEWAY_GROUP && k.kind === route.kind)
    && namespaceAllowed(e.listener, e.listenerSet?.namespace ?? gwNs, route.namespace, namespaces));
  if (admitting.length === 0) {
    return refused('NotAllowedByListeners', `no listener of ${parent} (${selected.map((e) => e.listener.name).join(', ')}) admits ${route.kind}s from namespace ${route.namespace}`);
  }
  const attached: ListenerAttachment[] = [];
  for (const e of admitting) {
    const hostnames = effectiveHostnames(e.listener.hostname, route.hostnames);
    if (hostnames === undefined) continue;
    attached.push(hostnames.any ? { listener: e.key, hostnames } : { listener: e.key, hostnames, origins: hostnameOrigins(e.listener.hostname, route.hostnames, hostnames.hostnames) });
  }
  if (attached.length === 0) {
    return refused('NoMatchingListenerHostname', `the route's hostnames (${(route.hostnames ?? []).join(', ')}) match no hostname of listeners ${admitting.map((e) => `${e.listener.name} (${e.listener.hostname ?? '*'})`).join(', ')}`);
  }
  const names = admitting.filter((e) => attached.some((a) => a.listener === e.key)).map((e) => e.listener.name);
  return { parentRef: ref, accepted: true, reason: 'Accepted', message: `attached to listeners ${names.join(', ')}${listenerSet === undefined ? '' : ` of ${parent}`}`, listeners: attached };
}

/** Whether a parentRef names this ListenerSet (kind ListenerSet must be given; group defaults to the Gateway API's). */
export function refersToListenerSet(ref: ParentReference, routeNamespace: string, ls: ListenerSet): boolean {
  return (ref.group ?? GATEWAY_GROUP) === GATEWAY_GROUP && ref.kind === 'ListenerSet'
    && (ref.namespace ?? routeNamespace) === (ls.metadata.namespace ?? 'default') && ref.name === ls.metadata.name;
}

// --- the Gateway as a whole --------------------------------------------------------------------------------

export interface GatewayEvaluation {
  /** The Gateway's own listeners. */
  readonly listeners: readonly ListenerEvaluation[];
  /** The ListenerSets referring to the Gateway, in precedence order, allowed or not. */
  readonly listenerSets: readonly ListenerSetEvaluation[];
  /** How many of them are attached (allowed and Accepted): status.attachedListenerSets. */
  readonly attachedListenerSets: number;
  /** Per route (`Kind/ns/name`), its parentRefs to this Gateway and its ListenerSets. */
  readonly routes: ReadonlyMap<string, readonly ParentAttachment[]>;
  /** Per listener key (ListenerEvaluation.key), the routes attached. */
  readonly attachedRoutes: ReadonlyMap<string, number>;
  readonly accepted: boolean;
  readonly conditions: readonly Condition[];
  /** spec.tls.backend.clientCertificateRef resolved: what the gateway presents to TLS backends. */
  readonly backendClientCertificate?: { readonly certPem: string; readonly keyPem: string };
}

/** Every listener a Gateway's proxy may serve: its own, then its ListenerSets' in precedence order. */
export function allListeners(e: Pick<GatewayEvaluation, 'listeners' | 'listenerSets'>): ListenerEvaluation[] {
  return [...e.listeners, ...e.listenerSets.flatMap((s) => s.listeners)];
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
  ctx: GatewayContext & {
    readonly namespaces: readonly Namespace[];
    readonly routes: readonly AttachableRoute[];
    readonly runtime: GatewayRuntime;
    /** Every ListenerSet (those referring to other Gateways are ignored); absent: none. */
    readonly listenerSets?: readonly ListenerSet[];
  },
): GatewayEvaluation {
  const gen = gw.metadata.generation;
  const unserved = ctx.runtime.unserved;
  const listeners = evaluateListeners(gw, ctx).map((e) => pendingWhenUnserved(e, unserved, gen));
  const conditions: Condition[] = [];
  const invalid = listeners.filter((e) => !e.valid);
  const anyValid = listeners.some((e) => e.valid);
  // An IPAddress entry without a value asks for an address the implementation picks: the gateway's
  // Service assigns one (GatewayAddressEmpty). A value (a static address) or another type cannot be honoured.
  const requested = (gw.spec?.addresses ?? []).filter((a) => (a.value ?? '') !== '' || (a.type ?? 'IPAddress') !== 'IPAddress');
  let accepted: boolean;
  const params = gw.spec?.infrastructure?.parametersRef;
  if (params !== undefined) {
    accepted = false;
    conditions.push(cond('Accepted', false, 'InvalidParameters', `infrastructure.parametersRef ${params.group}/${params.kind} ${params.name}: Weft's gateways take no parameters; remove it (spec.infrastructure.labels and annotations are applied)`, gen));
  } else if (requested.length > 0) {
    accepted = false;
    conditions.push(cond('Accepted', false, 'UnsupportedAddress', `spec.addresses (${requested.map((a) => `${a.type ?? 'IPAddress'} ${a.value ?? '(no value)'}`).join(', ')}) cannot be honoured: the gateway's Service assigns its address (an IPAddress entry without a value is accepted)`, gen));
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
  const listenerSets = evaluateListenerSets(gw, ctx.listenerSets ?? [], listeners, accepted, ctx);
  const routes = new Map<string, ParentAttachment[]>();
  const attachedRoutes = new Map<string, number>(allListeners({ listeners, listenerSets }).map((e) => [e.key, 0]));
  for (const route of ctx.routes) {
    const results: ParentAttachment[] = [];
    for (const ref of route.parentRefs) {
      if (refersToGateway(ref, route.namespace, gw)) {
        const r = attachParent(route, ref, gw, listeners, ctx.namespaces);
        const inSet = r.reason === 'NoMatchingParent' && ref.sectionName !== undefined
          ? listenerSets.find((s) => s.listeners.some((l) => l.listener.name === ref.sectionName)) : undefined;
        results.push(inSet === undefined ? r : {
          ...r, message: `${r.message}; ListenerSet ${inSet.listenerSet.metadata.namespace ?? 'default'}/${inSet.listenerSet.metadata.name} has it: a ListenerSet's listener is reached through a parentRef to the ListenerSet`,
        });
        continue;
      }
      const set = listenerSets.find((s) => refersToListenerSet(ref, route.namespace, s.listenerSet));
      if (set === undefined) continue;
      const lsNs = set.listenerSet.metadata.namespace ?? 'default';
      const lsName = set.listenerSet.metadata.name;
      results.push(set.accepted
        ? attachParent(route, ref, gw, set.listeners, ctx.namespaces, { namespace: lsNs, name: lsName })
        : { parentRef: ref, accepted: false, reason: 'NoMatchingParent', message: `ListenerSet ${lsNs}/${lsName} is not attached to its Gateway: ${set.conditions[0]?.message ?? ''}`, listeners: [] });
    }
    if (results.length === 0) continue;
    routes.set(routeKey(route), results);
    const counted = new Set(results.flatMap((r) => r.listeners.map((l) => l.listener)));
    for (const name of counted) attachedRoutes.set(name, (attachedRoutes.get(name) ?? 0) + 1);
  }
  // ResolvedRefs only speaks of the backend client certificate (the listeners' references have their own).
  const clientRef = gw.spec?.tls?.backend?.clientCertificateRef;
  let backendClientCertificate: GatewayEvaluation['backendClientCertificate'];
  if (clientRef !== undefined) {
    const r = resolveCertificateRef(clientRef, gw.metadata.namespace ?? '', 'Gateway', ctx.secrets, ctx.referenceGrants, ctx.checkKeyPair);
    if (r.ok) {
      backendClientCertificate = { certPem: r.certPem, keyPem: r.keyPem };
      conditions.push(cond('ResolvedRefs', true, 'ResolvedRefs', 'tls.backend.clientCertificateRef resolved', gen));
    } else {
      conditions.push(cond('ResolvedRefs', false, r.reason === 'RefNotPermitted' ? 'RefNotPermitted' : 'InvalidClientCertificateRef', `tls.backend.clientCertificateRef: ${r.message}`, gen));
    }
  }
  const attachedListenerSets = listenerSets.filter((s) => s.accepted).length;
  return { listeners, listenerSets, attachedListenerSets, routes, attachedRoutes, accepted, conditions, ...(backendClientCertificate !== undefined ? { backendClientCertificate } : {}) };
}
