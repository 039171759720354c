/**
 * The proxy's configuration: the ONE place that reads process.env. `parseProxyConfig` turns the
 * PROXY_ENV variables (set by the injector) into a frozen, typed object and reports every error at
 * once; `weft proxy` exits before opening a port when there is any.
 *
 * Limits that are not per-pod settings (timeouts, HTTP/2 settings, flood thresholds) live in
 * DEFAULT_LIMITS with the reason for each value; tests override them through `ProxyLimits`.
 */
import { isIP } from 'node:net';
import {
  HEADERS_WITH_UNDERSCORES_ACTIONS, type HeadersWithUnderscoresAction,
  DEFAULT_CLUSTER_NETWORKS, DEFAULT_OPAQUE_PORTS, DEFAULT_TRUST_DOMAIN, PROXY_ADMIN_PORT, PROXY_ENV, PROXY_INBOUND_PORT,
  PROXY_OUTBOUND_PORT,
} from '../core/contract.js';
import type { ExecutableSpec } from '../core/flags.js';
import { formatDuration, parseDuration } from '../core/duration.js';

export interface ProxyLimits {
  /** A client that never sends a byte is given this long before detection gives up (design.md 6). */
  readonly detectTimeoutMs: number;
  /** Headers must arrive within this (slowloris, case 33). */
  readonly headersTimeoutMs: number;
  /** A whole request (headers and body) must arrive within this (slow bodies, case 33). */
  readonly requestTimeoutMs: number;
  /** An idle downstream connection is closed after this. */
  readonly idleTimeoutMs: number;
  /** HTTP/1 keep-alive towards the app and peers; shorter than the peer's idle timeout to avoid races. */
  readonly upstreamKeepAliveMs: number;
  /** Largest request header block accepted (431 above; case 32). */
  readonly maxHeaderBytes: number;
  readonly h2MaxConcurrentStreams: number;
  readonly h2MaxHeaderListBytes: number;
  /** Per connection and second: new streams reset by the client, PINGs, SETTINGS, empty frames. */
  readonly h2MaxResetsPerSecond: number;
  readonly h2MaxPingsPerSecond: number;
  readonly h2MaxSettingsPerSecond: number;
  /** Connections accepted from one client IP at once on the inbound listener. */
  readonly maxConnectionsPerPeer: number;
  /** Request bodies up to this size are buffered so they can be retried (Linkerd uses 64 KiB). */
  readonly maxRetryBodyBytes: number;
  /** Connecting to a peer or the app fails after this. */
  readonly connectTimeoutMs: number;
  /**
   * Inbound request headers whose names contain `_`: CGI-style servers (WSGI, Rack, PHP-FPM) map `-` and
   * `_` to one variable, so `weft_client_id` could shadow the identity header. 'drop' (the default)
   * removes them before the app, 'reject' answers 400, 'allow' forwards them (Envoy's
   * headers_with_underscores_action).
   */
  readonly headersWithUnderscores: UnderscoreHeaderAction;
  /**
   * A destination nothing used for this long is forgotten: its policy lookup and discovery watches end
   * (the controller drops them too), its balancer and idle upstream pools go. The next connection looks
   * it up again. Bounds the proxy's memory whatever addresses its app dials (linkerd2-proxy drops idle
   * discovery the same way).
   */
  readonly destinationIdleTimeoutMs: number;
  /**
   * At most this many destinations are remembered in each cache (policy lookups, balancers, upstream
   * pools): past it the least recently used idle ones are forgotten at once, and a lookup that finds
   * every remembered destination in use is answered once and not kept. An app dialling thousands of
   * new addresses a second cannot outgrow the proxy's heap (each lookup holds a gRPC stream).
   */
  readonly maxDestinations: number;
}

export type UnderscoreHeaderAction = HeadersWithUnderscoresAction;
const UNDERSCORE_HEADER_ACTIONS: readonly UnderscoreHeaderAction[] = HEADERS_WITH_UNDERSCORES_ACTIONS;

export const DEFAULT_LIMITS: ProxyLimits = Object.freeze({
  detectTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  // node's own default: long enough for large uploads, finite for slow-body attacks.
  requestTimeoutMs: 300_000,
  idleTimeoutMs: 120_000,
  upstreamKeepAliveMs: 60_000,
  maxHeaderBytes: 32 * 1024,
  h2MaxConcurrentStreams: 256,
  h2MaxHeaderListBytes: 32 * 1024,
  // A legitimate client resets a few streams a second (cancelled calls); rapid reset does thousands.
  h2MaxResetsPerSecond: 200,
  h2MaxPingsPerSecond: 20,
  h2MaxSettingsPerSecond: 20,
  // Every client proxy pools its connections, so one peer needs about its concurrency, not thousands.
  maxConnectionsPerPeer: 512,
  maxRetryBodyBytes: 64 * 1024,
  connectTimeoutMs: 3_000,
  headersWithUnderscores: 'drop',
  destinationIdleTimeoutMs: 60_000,
  maxDestinations: 500,
});

export type DefaultInboundPolicy =
  | 'all-unauthenticated' | 'all-authenticated' | 'cluster-authenticated' | 'cluster-unauthenticated' | 'deny' | 'audit';
const INBOUND_POLICIES: readonly DefaultInboundPolicy[] = [
  'all-unauthenticated', 'all-authenticated', 'cluster-authenticated', 'cluster-unauthenticated', 'deny', 'audit',
];

export interface ProxyConfig {
  readonly podName: string;
  readonly podNamespace: string;
  readonly podIp: string;
  readonly serviceAccount: string;
  readonly nodeIp: string | undefined;
  readonly trustDomain: string;
  readonly trustAnchorsPem: string;
  readonly controllerAddr: string;
  readonly identityTokenFile: string;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly inboundPorts: readonly number[];
  readonly opaquePorts: ReadonlySet<number>;
  readonly defaultInboundPolicy: DefaultInboundPolicy;
  readonly clusterNetworks: readonly string[];
  readonly probeNetworks: readonly string[];
  readonly shutdownGraceMs: number;
  readonly outboundPort: number;
  readonly inboundPort: number;
  readonly adminPort: number;
  readonly limits: ProxyLimits;
}

export type ConfigResult = { readonly ok: true; readonly config: ProxyConfig } | { readonly ok: false; readonly errors: readonly string[] };

const DEFAULT_TOKEN_FILE = '/var/run/secrets/tokens/weft-identity-token';
const PROXY_LEVELS: readonly ProxyConfig['logLevel'][] = ['debug', 'info', 'warn', 'error'];

/** Shutdown grace unless WEFT_SHUTDOWN_GRACE_SECONDS says otherwise (Kubernetes' default grace period). */
const DEFAULT_SHUTDOWN_GRACE_SECONDS = 30;

/**
 * `weft proxy` takes no flags: the injector sets these variables. Its help (-h) is generated from this
 * table (cli/components.ts), one line per variable with its default; any other argument is a usage error.
 */
export const PROXY_SETTINGS: ExecutableSpec = {
  command: 'weft proxy',
  description: `Runs the sidecar proxy (inbound, outbound and admin listeners) in a meshed pod. It takes no flags:
the injector configures it through the environment variables below (docs/proxy.md).`,
  flags: [],
  environment: [
    { name: PROXY_ENV.podName, help: "the pod's name (required)" },
    { name: PROXY_ENV.podNamespace, help: "the pod's namespace (required)" },
    { name: PROXY_ENV.podIp, help: "the pod's IP address (required)" },
    { name: PROXY_ENV.serviceAccount, help: "the pod's ServiceAccount (required)" },
    { name: PROXY_ENV.nodeIp, help: "the node's IP address, where kubelet probes come from" },
    { name: PROXY_ENV.trustDomain, default: DEFAULT_TRUST_DOMAIN, help: 'SPIFFE trust domain' },
    { name: PROXY_ENV.trustAnchorsPem, help: 'PEM certificates the proxy trusts (required)' },
    { name: PROXY_ENV.controllerAddr, help: "the controller's gRPC address, host:port (required)" },
    { name: PROXY_ENV.identityTokenFile, default: DEFAULT_TOKEN_FILE, help: 'projected ServiceAccount token sent to Certify' },
    { name: PROXY_ENV.logLevel, default: 'info', help: `${PROXY_LEVELS.join(', ')}` },
    { name: PROXY_ENV.inboundPorts, help: "the app's container ports, ports or ranges, comma-separated" },
    { name: PROXY_ENV.opaquePorts, default: DEFAULT_OPAQUE_PORTS.join(','), help: 'ports proxied as TCP without protocol detection (added to the default)' },
    { name: PROXY_ENV.defaultInboundPolicy, default: 'all-unauthenticated', help: INBOUND_POLICIES.join(', ') },
    { name: PROXY_ENV.clusterNetworks, default: DEFAULT_CLUSTER_NETWORKS.join(','), help: 'CIDRs of the cluster, for the cluster-* policies' },
    { name: PROXY_ENV.probeNetworks, default: `$${PROXY_ENV.nodeIp}`, help: 'CIDRs kubelet probes come from' },
    { name: PROXY_ENV.certLifetimeHint, help: 'not read by the proxy: the controller decides certificate lifetimes (weft controller --cert-lifetime)' },
    { name: PROXY_ENV.shutdownGraceSeconds, default: String(DEFAULT_SHUTDOWN_GRACE_SECONDS), help: 'seconds (0-3600) to drain connections after SIGTERM' },
    { name: PROXY_ENV.outboundPort, default: String(PROXY_OUTBOUND_PORT), help: 'outbound listener port' },
    { name: PROXY_ENV.inboundPort, default: String(PROXY_INBOUND_PORT), help: 'inbound listener port' },
    { name: PROXY_ENV.adminPort, default: String(PROXY_ADMIN_PORT), help: 'admin port (/ready, /live, /metrics)' },
    { name: PROXY_ENV.detectTimeout, default: formatDuration(DEFAULT_LIMITS.detectTimeoutMs), help: 'how long a client may stay silent before the connection is treated as opaque (a duration: 500ms, 10s)' },
    { name: PROXY_ENV.maxConnectionsPerPeer, default: String(DEFAULT_LIMITS.maxConnectionsPerPeer), help: 'connections accepted from one client IP at once (inbound)' },
    { name: PROXY_ENV.headersWithUnderscores, default: DEFAULT_LIMITS.headersWithUnderscores, help: `inbound header names with _: ${UNDERSCORE_HEADER_ACTIONS.join(', ')}` },
    { name: PROXY_ENV.destinationIdleTimeout, default: formatDuration(DEFAULT_LIMITS.destinationIdleTimeoutMs), help: 'how long an unused destination is remembered (a duration: 30s, 5m)' },
    { name: PROXY_ENV.maxDestinations, default: String(DEFAULT_LIMITS.maxDestinations), help: 'destinations remembered per cache' },
  ],
};

/** Parses the environment; never throws. */
export function parseProxyConfig(env: Readonly<Record<string, string | undefined>>): ConfigResult {
  const errors: string[] = [];
  const get = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const required = (name: string): string => {
    const v = get(name);
    if (v === undefined) errors.push(`${name} is required`);
    return v ?? '';
  };
  const port = (name: string, dflt: number): number => {
    const v = get(name);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535) {
      errors.push(`${name}=${v}: expected a port number (1-65535)`);
      return dflt;
    }
    return n;
  };
  const ports = (name: string): number[] => {
    const v = get(name);
    if (v === undefined) return [];
    const out: number[] = [];
    for (const part of v.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
      const range = /^(\d+)-(\d+)$/.exec(part);
      const lo = Number(range ? range[1] : part);
      const hi = Number(range ? range[2] : part);
      if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || hi > 65535 || lo > hi || hi - lo > 65535) {
        errors.push(`${name}: "${part}" is not a port or a port range`);
        continue;
      }
      for (let p = lo; p <= hi; p++) out.push(p);
    }
    return out;
  };
  // One duration grammar (core/duration.ts) for every setting that is a duration; the millisecond
  // variables these replaced are refused by name rather than ignored.
  const duration = (name: string, dflt: number): number => {
    const v = get(name);
    if (v === undefined) return dflt;
    const d = parseDuration(v);
    if (!d.ok) errors.push(`${name}=${v}: ${d.why}`);
    else if (d.ms <= 0) errors.push(`${name}=${v}: expected a duration above 0, e.g. ${formatDuration(dflt)}`);
    return d.ok && d.ms > 0 ? d.ms : dflt;
  };
  for (const [old, now] of [['WEFT_DETECT_TIMEOUT_MS', PROXY_ENV.detectTimeout], ['WEFT_DESTINATION_IDLE_TIMEOUT_MS', PROXY_ENV.destinationIdleTimeout]] as const) {
    if (get(old) !== undefined) errors.push(`${old} is no longer read: set ${now} to a duration instead (e.g. ${now}=10s)`);
  }
  const positiveInt = (name: string, dflt: number): number => {
    const v = get(name);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) {
      errors.push(`${name}=${v}: expected a positive integer`);
      return dflt;
    }
    return n;
  };
  const cidrs = (name: string, dflt: readonly string[]): string[] => {
    const v = get(name);
    if (v === undefined) return [...dflt];
    const list = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
    for (const c of list) {
      const [ip, bits, extra] = c.split('/');
      const fam = isIP(ip ?? '');
      const max = fam === 6 ? 128 : 32;
      if (fam === 0 || extra !== undefined || (bits !== undefined && (!/^\d+$/.test(bits) || Number(bits) > max))) {
        errors.push(`${name}: "${c}" is not a CIDR`);
      }
    }
    return list;
  };

  const podIp = required(PROXY_ENV.podIp);
  if (podIp !== '' && isIP(podIp) === 0) errors.push(`${PROXY_ENV.podIp}=${podIp}: not an IP address`);
  const nodeIp = get(PROXY_ENV.nodeIp);
  if (nodeIp !== undefined && isIP(nodeIp) === 0) errors.push(`${PROXY_ENV.nodeIp}=${nodeIp}: not an IP address`);
  const anchors = required(PROXY_ENV.trustAnchorsPem);
  if (anchors !== '' && !anchors.includes('-----BEGIN CERTIFICATE-----')) {
    errors.push(`${PROXY_ENV.trustAnchorsPem}: expected PEM certificates`);
  }
  const level = get(PROXY_ENV.logLevel) ?? 'info';
  if (!(PROXY_LEVELS as readonly string[]).includes(level)) errors.push(`${PROXY_ENV.logLevel}=${level}: expected debug, info, warn or error`);
  const policy = get(PROXY_ENV.defaultInboundPolicy) ?? 'all-unauthenticated';
  if (!(INBOUND_POLICIES as readonly string[]).includes(policy)) {
    errors.push(`${PROXY_ENV.defaultInboundPolicy}=${policy}: expected one of ${INBOUND_POLICIES.join(', ')}`);
  }
  const grace = get(PROXY_ENV.shutdownGraceSeconds);
  let shutdownGraceMs = DEFAULT_SHUTDOWN_GRACE_SECONDS * 1000;
  if (grace !== undefined) {
    const n = Number(grace);
    if (!Number.isFinite(n) || n < 0 || n > 3600) errors.push(`${PROXY_ENV.shutdownGraceSeconds}=${grace}: expected seconds (0-3600)`);
    else shutdownGraceMs = Math.round(n * 1000);
  }
  const underscores = get(PROXY_ENV.headersWithUnderscores) ?? DEFAULT_LIMITS.headersWithUnderscores;
  if (!(UNDERSCORE_HEADER_ACTIONS as readonly string[]).includes(underscores)) {
    errors.push(`${PROXY_ENV.headersWithUnderscores}=${underscores}: expected one of ${UNDERSCORE_HEADER_ACTIONS.join(', ')}`);
  }
  const opaque = new Set<number>([...DEFAULT_OPAQUE_PORTS, ...ports(PROXY_ENV.opaquePorts)]);

  const config: ProxyConfig = {
    podName: required(PROXY_ENV.podName),
    podNamespace: required(PROXY_ENV.podNamespace),
    podIp,
    serviceAccount: required(PROXY_ENV.serviceAccount),
    nodeIp,
    trustDomain: get(PROXY_ENV.trustDomain) ?? DEFAULT_TRUST_DOMAIN,
    trustAnchorsPem: anchors,
    controllerAddr: required(PROXY_ENV.controllerAddr),
    identityTokenFile: get(PROXY_ENV.identityTokenFile) ?? DEFAULT_TOKEN_FILE,
    logLevel: level as ProxyConfig['logLevel'],
    inboundPorts: ports(PROXY_ENV.inboundPorts),
    opaquePorts: opaque,
    defaultInboundPolicy: policy as DefaultInboundPolicy,
    clusterNetworks: cidrs(PROXY_ENV.clusterNetworks, DEFAULT_CLUSTER_NETWORKS),
    probeNetworks: cidrs(PROXY_ENV.probeNetworks, nodeIp !== undefined ? [nodeIp] : []),
    shutdownGraceMs,
    outboundPort: port(PROXY_ENV.outboundPort, PROXY_OUTBOUND_PORT),
    inboundPort: port(PROXY_ENV.inboundPort, PROXY_INBOUND_PORT),
    adminPort: port(PROXY_ENV.adminPort, PROXY_ADMIN_PORT),
    limits: Object.freeze({
      ...DEFAULT_LIMITS,
      detectTimeoutMs: duration(PROXY_ENV.detectTimeout, DEFAULT_LIMITS.detectTimeoutMs),
      maxConnectionsPerPeer: positiveInt(PROXY_ENV.maxConnectionsPerPeer, DEFAULT_LIMITS.maxConnectionsPerPeer),
      destinationIdleTimeoutMs: duration(PROXY_ENV.destinationIdleTimeout, DEFAULT_LIMITS.destinationIdleTimeoutMs),
      maxDestinations: positiveInt(PROXY_ENV.maxDestinations, DEFAULT_LIMITS.maxDestinations),
      headersWithUnderscores: (UNDERSCORE_HEADER_ACTIONS as readonly string[]).includes(underscores)
        ? underscores as UnderscoreHeaderAction : DEFAULT_LIMITS.headersWithUnderscores,
    }),
  };
  if (new Set([config.outboundPort, config.inboundPort, config.adminPort]).size !== 3) {
    errors.push('the outbound, inbound and admin ports must differ');
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, config: Object.freeze(config) };
}

/** The configuration of this process, from process.env. */
export function loadProxyConfig(): ConfigResult {
  return parseProxyConfig(process.env);
}
