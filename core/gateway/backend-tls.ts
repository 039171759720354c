/**
 * BackendTLSPolicy (Gateway API v1, standard channel), decided purely: which policy applies to which
 * Service port, what the gateway must verify when it connects to that backend over TLS, and the status
 * each policy gets. The controller reads the objects, calls these, sends the configs to the gateway proxy
 * and writes the status; the proxy only dials.
 *
 *   policies, Services, ConfigMaps/Secrets (CA bundles)
 *     -> per policy: valid? (validation shape, targets), its CA bundle resolved, Accepted / ResolvedRefs
 *     -> per target (Service, or Service + port name): the policy that takes precedence
 *        (a port-specific policy over a whole-Service one; then the older, then namespace/name)
 *     -> BackendTlsConfig { sni hostname, CA (PEM bundle or the system store), subjectAltNames, or why
 *        connections must fail (every CA reference invalid: the client gets a 5xx) }
 *
 * Supported CA references: a ConfigMap in the policy's namespace with the bundle under `ca.crt` (the
 * API's core support; other kinds are InvalidKind). `wellKnownCACertificates: System` uses the
 * runtime's CA store.
 */
import type { Condition, Extra, KubeObject, Service } from '../kube.js';
import type { BackendTarget, CompiledRoute, ServiceTarget } from '../routes/types.js';

export interface PolicyTargetRef extends Extra {
  readonly group: string;
  readonly kind: string;
  readonly name: string;
  readonly sectionName?: string;
}

export interface SubjectAltName extends Extra {
  readonly type: 'Hostname' | 'URI' | (string & {});
  readonly hostname?: string;
  readonly uri?: string;
}

export interface BackendTLSPolicySpec extends Extra {
  readonly targetRefs?: readonly PolicyTargetRef[];
  readonly validation?: Extra & {
    readonly caCertificateRefs?: readonly (Extra & { readonly group: string; readonly kind: string; readonly name: string })[];
    readonly wellKnownCACertificates?: string;
    readonly hostname?: string;
    readonly subjectAltNames?: readonly SubjectAltName[];
  };
  readonly options?: Readonly<Record<string, string>>;
}

export interface PolicyAncestorStatus extends Extra {
  readonly ancestorRef: Extra & { readonly group?: string; readonly kind?: string; readonly name: string; readonly namespace?: string; readonly sectionName?: string };
  readonly controllerName: string;
  readonly conditions: readonly Condition[];
}

export interface BackendTLSPolicy extends KubeObject {
  readonly spec?: BackendTLSPolicySpec;
  readonly status?: Extra & { readonly ancestors?: readonly PolicyAncestorStatus[] };
}

/** A ConfigMap or Secret holding a CA bundle; `data` as the API server serves it (Secret values base64). */
export interface CaSource extends KubeObject {
  readonly kind?: string;
  readonly data?: Readonly<Record<string, string>>;
}

/** What the gateway verifies when it dials a backend under a policy. */
export interface BackendTlsConfig {
  readonly policy: { readonly namespace: string; readonly name: string };
  /** SNI, and the name verified when `subjectAltNames` is empty. */
  readonly hostname: string;
  /** PEM bundle(s), or the runtime's well-known CA store. */
  readonly ca: { readonly kind: 'pem'; readonly pem: string } | { readonly kind: 'system' };
  /** When set, the certificate must carry one of these (the hostname is then not verified). */
  readonly subjectAltNames: readonly { readonly type: 'Hostname' | 'URI'; readonly value: string }[];
}

/** Either a config to dial with, or why a connection to the target must fail (answered with a 5xx). */
export type BackendTlsDecision =
  | { readonly ok: true; readonly config: BackendTlsConfig }
  | { readonly ok: false; readonly policy: { readonly namespace: string; readonly name: string }; readonly message: string };

export interface PolicyEvaluation {
  readonly policy: BackendTLSPolicy;
  readonly accepted: Condition;
  readonly resolvedRefs: Condition;
}

export interface BackendTlsEvaluation {
  /** Key: `ns/service` (whole Service) or `ns/service/portName`. */
  readonly byTarget: ReadonlyMap<string, BackendTlsDecision>;
  /** Key: `ns/name` of the policy. */
  readonly policies: ReadonlyMap<string, PolicyEvaluation>;
}

/** Checks a PEM CA bundle; returns why it is unusable, or undefined. Supplied by the caller (node:crypto). */
export type CaBundleCheck = (pem: string) => string | undefined;

const CORE_GROUPS = new Set(['', 'core']);

const cond = (type: string, ok: boolean, reason: string, message: string, generation: number | undefined): Condition => ({
  type, status: ok ? 'True' : 'False', reason, message, ...(generation !== undefined ? { observedGeneration: generation } : {}),
});


const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** Older first, then namespace/name: the Gateway API's precedence between policies. */
export function policyPrecedence(a: KubeObject, b: KubeObject): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = keyOf(a);
  const kb = keyOf(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

type Resolved =
  | { readonly ok: true; readonly ca: BackendTlsConfig['ca'] }
  | { readonly ok: false; readonly acceptedReason: string; readonly refsReason: string; readonly message: string };

function resolveCa(p: BackendTLSPolicy, configMaps: readonly CaSource[], checkCa: CaBundleCheck): { resolved: Resolved; refProblems: string[]; refReason: string } {
  const v = p.spec?.validation;
  const ns = p.metadata.namespace ?? '';
  const refs = v?.caCertificateRefs ?? [];
  const wellKnown = v?.wellKnownCACertificates ?? '';
  if (refs.length > 0 && wellKnown !== '') {
    return { resolved: { ok: false, acceptedReason: 'Invalid', refsReason: 'ResolvedRefs', message: 'validation sets both caCertificateRefs and wellKnownCACertificates; set one' }, refProblems: [], refReason: 'ResolvedRefs' };
  }
  if (refs.length === 0) {
    if (wellKnown === 'System') return { resolved: { ok: true, ca: { kind: 'system' } }, refProblems: [], refReason: 'ResolvedRefs' };
    const message = wellKnown === ''
      ? 'validation needs caCertificateRefs or wellKnownCACertificates'
      : `wellKnownCACertificates ${JSON.stringify(wellKnown)} is not supported; Weft supports "System"`;
    return { resolved: { ok: false, acceptedReason: 'Invalid', refsReason: 'ResolvedRefs', message }, refProblems: [], refReason: 'ResolvedRefs' };
  }
  const pems: string[] = [];
  const problems: string[] = [];
  let refReason = 'ResolvedRefs';
  for (const r of refs) {
    const what = `caCertificateRef ${r.kind} ${ns}/${r.name}`;
    if (!CORE_GROUPS.has(r.group) || r.kind !== 'ConfigMap') {
      problems.push(`${what}: kind ${r.group === '' ? '' : `${r.group}/`}${r.kind} is not supported; refer to a ConfigMap with the bundle under ca.crt`);
      if (refReason === 'ResolvedRefs') refReason = 'InvalidKind';
      continue;
    }
    const source = configMaps.find((o) => o.metadata.namespace === ns && o.metadata.name === r.name);
    const pem = source?.data?.['ca.crt'];
    const bad = source === undefined ? `${r.kind} not found` : pem === undefined || pem.trim() === '' ? 'it has no ca.crt' : checkCa(pem);
    if (bad !== undefined) {
      problems.push(`${what}: ${bad}`);
      refReason = 'InvalidCACertificateRef';
      continue;
    }
    pems.push(pem as string);
  }
  if (pems.length === 0) {
    return { resolved: { ok: false, acceptedReason: 'NoValidCACertificate', refsReason: refReason, message: problems.join('; ') }, refProblems: problems, refReason };
  }
  return { resolved: { ok: true, ca: { kind: 'pem', pem: pems.join('\n') } }, refProblems: problems, refReason };
}

function sansOf(p: BackendTLSPolicy): { sans: BackendTlsConfig['subjectAltNames']; problem?: string } {
  const out: { type: 'Hostname' | 'URI'; value: string }[] = [];
  for (const s of p.spec?.validation?.subjectAltNames ?? []) {
    if (s.type === 'Hostname' && s.hostname) out.push({ type: 'Hostname', value: s.hostname.toLowerCase() });
    else if (s.type === 'URI' && s.uri) out.push({ type: 'URI', value: s.uri });
    else return { sans: out, problem: `subjectAltNames entry of type ${s.type} lacks its ${s.type === 'URI' ? 'uri' : 'hostname'}` };
  }
  return { sans: out };
}

/**
 * Evaluates every BackendTLSPolicy. `services` are used to check targets exist (TargetNotFound) and that a
 * sectionName names a port of the Service.
 */
export function evaluateBackendTls(
  policies: readonly BackendTLSPolicy[],
  services: readonly Service[],
  configMaps: readonly CaSource[],
  checkCa: CaBundleCheck,
): BackendTlsEvaluation {
  const sorted = [...policies].sort(policyPrecedence);
  const byTarget = new Map<string, BackendTlsDecision>();
  const evaluations = new Map<string, PolicyEvaluation>();
  for (const p of sorted) {
    const gen = p.metadata.generation;
    const ns = p.metadata.namespace ?? '';
    const ref = { namespace: ns, name: p.metadata.name };
    const { resolved, refProblems, refReason } = resolveCa(p, configMaps, checkCa);
    const resolvedRefs = refProblems.length > 0
      ? cond('ResolvedRefs', false, refReason, refProblems.join('; '), gen)
      : cond('ResolvedRefs', true, 'ResolvedRefs', 'every CA certificate reference resolved', gen);
    const hostname = (p.spec?.validation?.hostname ?? '').toLowerCase();
    const { sans, problem: sanProblem } = sansOf(p);
    let invalid: string | undefined = !resolved.ok && resolved.acceptedReason === 'Invalid' ? resolved.message : undefined;
    if (invalid === undefined && hostname === '') invalid = 'validation.hostname is required: it is the SNI and the name verified';
    if (invalid === undefined && sanProblem !== undefined) invalid = sanProblem;
    const targets: string[] = [];
    const missing: string[] = [];
    for (const t of p.spec?.targetRefs ?? []) {
      if (!CORE_GROUPS.has(t.group) || t.kind !== 'Service') {
        invalid ??= `targetRef ${t.group}/${t.kind} ${t.name}: only core Services are supported`;
        continue;
      }
      const svc = services.find((s) => s.metadata.namespace === ns && s.metadata.name === t.name);
      if (svc === undefined) { missing.push(`Service ${ns}/${t.name} not found`); continue; }
      if (t.sectionName !== undefined && !(svc.spec?.ports ?? []).some((sp) => sp.name === t.sectionName)) {
        missing.push(`Service ${ns}/${t.name} has no port named ${t.sectionName}`);
        continue;
      }
      targets.push(t.sectionName === undefined ? `${ns}/${t.name}` : `${ns}/${t.name}/${t.sectionName}`);
    }
    let accepted: Condition;
    if (invalid !== undefined) accepted = cond('Accepted', false, 'Invalid', invalid, gen);
    else if (targets.length === 0) accepted = cond('Accepted', false, 'TargetNotFound', missing.join('; ') || 'no targetRefs', gen);
    else if (targets.every((k) => byTarget.has(k))) {
      const winner = byTarget.get(targets[0] as string);
      const by = winner === undefined ? '' : ` by ${winner.ok ? winner.config.policy.namespace : winner.policy.namespace}/${winner.ok ? winner.config.policy.name : winner.policy.name}`;
      accepted = cond('Accepted', false, 'Conflicted', `every target already has an older BackendTLSPolicy${by}`, gen);
    } else if (!resolved.ok) accepted = cond('Accepted', false, resolved.acceptedReason, resolved.message, gen);
    else accepted = cond('Accepted', true, 'Accepted', 'accepted', gen);
    evaluations.set(keyOf(p), { policy: p, accepted, resolvedRefs });
    if (invalid !== undefined) continue;
    for (const k of targets) {
      if (byTarget.has(k)) continue;
      byTarget.set(k, resolved.ok
        ? { ok: true, config: { policy: ref, hostname, ca: resolved.ca, subjectAltNames: sans } }
        : { ok: false, policy: ref, message: `BackendTLSPolicy ${ns}/${p.metadata.name}: ${resolved.message}` });
    }
  }
  return { byTarget, policies: evaluations };
}

/** The decision for a backend Service port: a port-specific policy first, then the whole Service's. */
export function backendTlsFor(evaluation: BackendTlsEvaluation, namespace: string, service: string, portName: string | undefined): BackendTlsDecision | undefined {
  if (portName !== undefined && portName !== '') {
    const specific = evaluation.byTarget.get(`${namespace}/${service}/${portName}`);
    if (specific !== undefined) return specific;
  }
  return evaluation.byTarget.get(`${namespace}/${service}`);
}

/**
 * A policy's status.ancestors for `controllerName`: one entry per Gateway (ancestor) whose routes send
 * traffic to one of its targets, each with the policy's conditions. Entries of other controllers are kept.
 */
export function backendTlsAncestors(
  policy: BackendTLSPolicy,
  evaluation: PolicyEvaluation,
  gateways: readonly { readonly namespace: string; readonly name: string }[],
  controllerName: string,
): PolicyAncestorStatus[] {
  const others = (policy.status?.ancestors ?? []).filter((a) => a.controllerName !== controllerName);
  const ours = [...gateways]
    .sort((a, b) => (a.namespace + '/' + a.name < b.namespace + '/' + b.name ? -1 : 1))
    .map((g): PolicyAncestorStatus => ({
      ancestorRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: g.namespace, name: g.name },
      controllerName,
      conditions: [evaluation.accepted, evaluation.resolvedRefs],
    }));
  // The Gateway API caps ancestors at 16.
  return [...others, ...ours].slice(0, 16);
}

/** `namespace/name/port`: how a Service port is keyed in a gateway's backend TLS configuration. */
export const backendPortKey = (namespace: string, name: string, port: number): string => `${namespace}/${name}/${port}`;

/** The Service ports a set of compiled routes sends to (backendRefs and mirrors), keyed by backendPortKey. */
export function routeServicePorts(routes: Iterable<CompiledRoute>): Map<string, ServiceTarget> {
  const out = new Map<string, ServiceTarget>();
  const add = (t: BackendTarget) => {
    if (t.kind === 'service') out.set(backendPortKey(t.namespace, t.name, t.port), t);
  };
  for (const r of routes) {
    for (const rule of r.rules) {
      for (const f of rule.filters) if (f.kind === 'mirror') add(f.target);
      for (const b of rule.backends) {
        add(b.target);
        for (const f of b.filters) if (f.kind === 'mirror') add(f.target);
      }
    }
  }
  return out;
}

/**
 * The backend TLS decisions for the Service ports `routes` send to: the port's name (from `services`)
 * selects a port-specific policy first. Ports no policy targets are absent (plaintext, or mTLS when meshed).
 */
export function backendTlsForRoutes(evaluation: BackendTlsEvaluation, routes: Iterable<CompiledRoute>, services: readonly Service[]): Map<string, BackendTlsDecision> {
  const out = new Map<string, BackendTlsDecision>();
  if (evaluation.byTarget.size === 0) return out;
  for (const [key, t] of routeServicePorts(routes)) {
    const svc = services.find((s) => s.metadata.namespace === t.namespace && s.metadata.name === t.name);
    const portName = svc?.spec?.ports?.find((p) => p.port === t.port)?.name;
    const d = backendTlsFor(evaluation, t.namespace, t.name, portName);
    if (d !== undefined) out.set(key, d);
  }
  return out;
}

/** The policy (`namespace/name`) behind a decision. */
export const decisionPolicyKey = (d: BackendTlsDecision): string => {
  const p = d.ok ? d.config.policy : d.policy;
  return `${p.namespace}/${p.name}`;
};

/**
 * The Gateways a policy's status names as ancestors: those whose routes send to one of its targets
 * (whether the policy won the target or not, so a Conflicted policy says so where it matters).
 */
export function policyAncestors(
  policy: BackendTLSPolicy,
  views: ReadonlyMap<string, { readonly namespace: string; readonly name: string; readonly routes: Iterable<CompiledRoute> }>,
  services: readonly Service[],
): { readonly namespace: string; readonly name: string }[] {
  const ns = policy.metadata.namespace ?? '';
  const targets = (policy.spec?.targetRefs ?? []).filter((t) => CORE_GROUPS.has(t.group) && t.kind === 'Service');
  if (targets.length === 0) return [];
  const out: { namespace: string; name: string }[] = [];
  for (const v of views.values()) {
    const hit = [...routeServicePorts(v.routes).values()].some((sp) => sp.namespace === ns && targets.some((t) => {
      if (t.name !== sp.name) return false;
      if (t.sectionName === undefined) return true;
      const svc = services.find((s) => s.metadata.namespace === ns && s.metadata.name === sp.name);
      return svc?.spec?.ports?.find((p) => p.port === sp.port)?.name === t.sectionName;
    }));
    if (hit) out.push({ namespace: v.namespace, name: v.name });
  }
  return out;
}
