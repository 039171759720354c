/**
 * What the index serves: the domain views a subscriber watches, their keys, and the fingerprint
 * used to tell whether a recomputed view differs from the last one.
 *
 * Keys: inbound views are per (pod, port); destination views per (client namespace, original
 * destination ip, port), resolved to a Service port's outbound policy, a pod endpoint or unknown;
 * endpoints views per Service port. Subscribers with equal keys share one computed value.
 */
import type { InboundPortPolicy } from '../../core/inbound/types.js';
import type { OutboundPolicy, ProtocolHint } from '../../core/outbound/policy.js';

export interface EndpointView {
  readonly ip: string;
  readonly port: number;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly pod?: { readonly namespace: string; readonly name: string };
  readonly zone?: string;
  readonly node?: string;
  readonly meshed: boolean;
  /** SPIFFE ID the endpoint's certificate must carry; set when meshed. */
  readonly identity?: string;
  readonly protocol: ProtocolHint;
}

export interface EndpointsView {
  readonly serviceExists: boolean;
  readonly endpoints: readonly EndpointView[];
}

export type DestinationView =
  | { readonly kind: 'service'; readonly policy: OutboundPolicy }
  | { readonly kind: 'pod'; readonly endpoint: EndpointView }
  | { readonly kind: 'unknown' };

export type ViewKey =
  | { readonly kind: 'inbound'; readonly namespace: string; readonly pod: string; readonly port: number }
  | { readonly kind: 'destination'; readonly clientNamespace: string; readonly ip: string; readonly port: number }
  | { readonly kind: 'endpoints'; readonly namespace: string; readonly name: string; readonly port: number };

export interface ViewOf {
  inbound: InboundPortPolicy | undefined;
  destination: DestinationView;
  endpoints: EndpointsView;
}

export type ViewValue<K extends ViewKey> = ViewOf[K['kind']];

export function viewKeyString(key: ViewKey): string {
  switch (key.kind) {
    case 'inbound':
      return `in|${key.namespace}/${key.pod}|${key.port}`;
    case 'destination':
      return `out|${key.clientNamespace}|${key.ip}|${key.port}`;
    case 'endpoints':
      return `eps|${key.namespace}/${key.name}|${key.port}`;
  }
}

/**
 * A stable text of a view: compiled regexes by their source, sets and maps as arrays, functions
 * dropped. Two views with equal fingerprints send equal messages.
 */
export function fingerprint(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Set) return [...(v as Set<unknown>)];
    if (v instanceof Map) return [...(v as Map<unknown, unknown>).entries()];
    if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
    if (v !== null && typeof v === 'object' && typeof (v as { fullMatch?: unknown }).fullMatch === 'function') {
      return { regex: (v as { source: string }).source };
    }
    return v;
  });
}
