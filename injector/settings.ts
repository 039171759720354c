/**
 * The per-pod proxy settings: config.weft.dev/* annotations of the namespace (defaults) overlaid by the
 * pod's own (overrides), key by key, over the install-wide defaults. Pure; every invalid value is
 * reported, none is silently dropped.
 *
 *   install defaults  <-  namespace annotations  <-  pod annotations
 *
 * Port lists accept numbers, ranges (`8000-8099`) and, for inbound lists, the names of the pod's
 * container ports (`http`), resolved here so the proxy and proxy-init only ever see numbers.
 */
import { CONFIG_ANNOTATIONS, HEADERS_WITH_UNDERSCORES_ACTIONS } from '../core/contract.js';
import type { HeadersWithUnderscoresAction } from '../core/contract.js';
import type { ContainerLike } from './pod.js';

export type ProxyLogLevel = 'debug' | 'info' | 'warn' | 'error';
export const PROXY_LOG_LEVELS: readonly ProxyLogLevel[] = ['debug', 'info', 'warn', 'error'];

export type InboundPolicy =
  | 'all-unauthenticated' | 'all-authenticated' | 'cluster-authenticated' | 'cluster-unauthenticated' | 'deny' | 'audit';
export const INBOUND_POLICIES: readonly InboundPolicy[] = [
  'all-unauthenticated', 'all-authenticated', 'cluster-authenticated', 'cluster-unauthenticated', 'deny', 'audit',
];

export interface ProxyResources {
  readonly cpuRequest?: string | undefined;
  readonly cpuLimit?: string | undefined;
  readonly memoryRequest?: string | undefined;
  readonly memoryLimit?: string | undefined;
}

/** An inclusive port range; a single port has lo === hi. */
export interface PortRange {
  readonly lo: number;
  readonly hi: number;
}

export interface ProxySettings {
  readonly skipInboundPorts: readonly PortRange[];
  readonly skipOutboundPorts: readonly PortRange[];
  readonly opaquePorts: readonly PortRange[];
  readonly logLevel: ProxyLogLevel;
  readonly defaultInboundPolicy: InboundPolicy;
  /** Set only when an annotation asks: the proxy's own default (drop) applies otherwise. */
  readonly headersWithUnderscores?: HeadersWithUnderscoresAction | undefined;
  readonly resources: ProxyResources;
}

export interface SettingsDefaults {
  readonly logLevel: ProxyLogLevel;
  readonly defaultInboundPolicy: InboundPolicy;
  readonly resources: ProxyResources;
}

export type SettingsResult =
  | { readonly ok: true; readonly settings: ProxySettings }
  | { readonly ok: false; readonly errors: readonly string[] };

/** Kubernetes resource quantities: 100m, 0.5, 64Mi, 1G, 1e3. */
const QUANTITY = /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;

export function resolveSettings(
  namespaceAnnotations: Readonly<Record<string, string>>,
  podAnnotations: Readonly<Record<string, string>>,
  containers: readonly ContainerLike[],
  defaults: SettingsDefaults,
): SettingsResult {
  const errors: string[] = [];
  const pick = (key: string): { value: string; from: string } | undefined => {
    const pod = podAnnotations[key];
    if (pod !== undefined) return { value: pod.trim(), from: `pod annotation ${key}` };
    const ns = namespaceAnnotations[key];
    if (ns !== undefined) return { value: ns.trim(), from: `namespace annotation ${key}` };
    return undefined;
  };
  const namedPorts = new Map<string, number>();
  for (const c of containers) {
    for (const p of c.ports ?? []) if (p.name !== undefined && p.name !== '') namedPorts.set(p.name, p.containerPort);
  }
  const portList = (key: string, allowNames: boolean): PortRange[] => {
    const v = pick(key);
    if (v === undefined || v.value === '') return [];
    const out: PortRange[] = [];
    for (const part of v.value.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
      const named = allowNames ? namedPorts.get(part) : undefined;
      if (named !== undefined) {
        out.push({ lo: named, hi: named });
        continue;
      }
      const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part);
      const lo = Number(m?.[1]);
      const hi = Number(m?.[2] ?? m?.[1]);
      if (m === null || lo < 1 || hi > 65535 || lo > hi) {
        const what = allowNames ? 'a port, a range (8000-8099) or the name of a container port of the pod' : 'a port or a range (8000-8099)';
        errors.push(`${v.from}: ${JSON.stringify(part)} is not ${what}`);
        continue;
      }
      out.push({ lo, hi });
    }
    return normalisePorts(out);
  };
  const oneOf = <T extends string>(key: string, allowed: readonly T[], dflt: T): T => {
    const v = pick(key);
    if (v === undefined) return dflt;
    if ((allowed as readonly string[]).includes(v.value)) return v.value as T;
    errors.push(`${v.from}: ${JSON.stringify(v.value)} is not one of ${allowed.join(', ')}`);
    return dflt;
  };
  const quantity = (key: string, dflt: string | undefined): string | undefined => {
    const v = pick(key);
    if (v === undefined) return dflt;
    if (QUANTITY.test(v.value)) return v.value;
    errors.push(`${v.from}: ${JSON.stringify(v.value)} is not a resource quantity (e.g. 100m, 0.5, 64Mi)`);
    return dflt;
  };

  const settings: ProxySettings = {
    skipInboundPorts: portList(CONFIG_ANNOTATIONS.skipInboundPorts, true),
    skipOutboundPorts: portList(CONFIG_ANNOTATIONS.skipOutboundPorts, false),
    opaquePorts: portList(CONFIG_ANNOTATIONS.opaquePorts, true),
    logLevel: oneOf(CONFIG_ANNOTATIONS.proxyLogLevel, PROXY_LOG_LEVELS, defaults.logLevel),
    defaultInboundPolicy: oneOf(CONFIG_ANNOTATIONS.defaultInboundPolicy, INBOUND_POLICIES, defaults.defaultInboundPolicy),
    headersWithUnderscores: pick(CONFIG_ANNOTATIONS.headersWithUnderscores) === undefined
      ? undefined : oneOf<HeadersWithUnderscoresAction>(CONFIG_ANNOTATIONS.headersWithUnderscores, HEADERS_WITH_UNDERSCORES_ACTIONS, 'drop'),
    resources: {
      cpuRequest: quantity(CONFIG_ANNOTATIONS.proxyCpuRequest, defaults.resources.cpuRequest),
      cpuLimit: quantity(CONFIG_ANNOTATIONS.proxyCpuLimit, defaults.resources.cpuLimit),
      memoryRequest: quantity(CONFIG_ANNOTATIONS.proxyMemoryRequest, defaults.resources.memoryRequest),
      memoryLimit: quantity(CONFIG_ANNOTATIONS.proxyMemoryLimit, defaults.resources.memoryLimit),
    },
  };
  return errors.length > 0 ? { ok: false, errors } : { ok: true, settings };
}

/** Sorted, merged ranges: [8080, 8000-8090, 9000] -> 8000-8090, 9000. */
export function normalisePorts(ranges: readonly PortRange[]): PortRange[] {
  const sorted = [...ranges].sort((a, b) => a.lo - b.lo || a.hi - b.hi);
  const out: PortRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && r.lo <= last.hi + 1) out[out.length - 1] = { lo: last.lo, hi: Math.max(last.hi, r.hi) };
    else out.push(r);
  }
  return out;
}

/** `8000-8090,9000`: the syntax the proxy's config and proxy-init's flags parse. */
export function formatPorts(ranges: readonly PortRange[]): string {
  return ranges.map((r) => (r.lo === r.hi ? `${r.lo}` : `${r.lo}-${r.hi}`)).join(',');
}

export function portInRanges(port: number, ranges: readonly PortRange[]): boolean {
  return ranges.some((r) => port >= r.lo && port <= r.hi);
}
