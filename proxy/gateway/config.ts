/**
 * `weft gateway`'s configuration: the ONE place the gateway reads process.env. The controller's
 * Deployment (core/gateway/render.ts) sets the proxy's base environment (core/proxy-env.ts: pod,
 * identity, trust, controller) and the Gateway's name; they are parsed by the proxy's own rules
 * (proxy/config.ts parseProxyConfig) plus the name. Like `weft proxy`, it takes no flags.
 */
import { PROXY_ENV } from '../../core/contract.js';
import type { ExecutableSpec } from '../../core/flags.js';
import { GATEWAY_NAME_ENV } from '../../core/gateway/render.js';
import { parseProxyConfig, PROXY_SETTINGS, type ProxyConfig } from '../config.js';

export interface GatewayConfig {
  /** The proxy settings the gateway shares with the sidecar (identity, controller, limits, admin port). */
  readonly proxy: ProxyConfig;
  /** The Gateway served; its namespace is the pod's. */
  readonly gatewayName: string;
}

export type GatewayConfigResult = { readonly ok: true; readonly config: GatewayConfig } | { readonly ok: false; readonly errors: readonly string[] };

/** The sidecar-only settings the gateway does not read. */
const SIDECAR_ONLY: ReadonlySet<string> = new Set([
  PROXY_ENV.inboundPorts, PROXY_ENV.opaquePorts, PROXY_ENV.defaultInboundPolicy, PROXY_ENV.probeNetworks, PROXY_ENV.outboundPort,
  PROXY_ENV.inboundPort, PROXY_ENV.maxConnectionsPerPeer, PROXY_ENV.headersWithUnderscores, PROXY_ENV.certLifetimeHint,
]);

export const GATEWAY_SETTINGS: ExecutableSpec = {
  command: 'weft gateway',
  description: `Runs a Gateway's proxy (Gateway API, HTTP listeners): it serves the listener ports of the Gateway
named below, routes each request by the routes attached to it and forwards to the backends, over mTLS
to meshed ones. It takes no flags: the controller's Deployment sets these variables (docs/gateway.md).`,
  flags: [],
  environment: [
    { name: GATEWAY_NAME_ENV, help: 'the Gateway served, in the pod\'s namespace (required)' },
    ...(PROXY_SETTINGS.environment ?? []).filter((e) => !SIDECAR_ONLY.has(e.name)),
  ],
};

/** Parses the environment; never throws. */
export function parseGatewayConfig(env: Readonly<Record<string, string | undefined>>): GatewayConfigResult {
  const proxy = parseProxyConfig(env);
  const errors = proxy.ok ? [] : [...proxy.errors];
  const name = env[GATEWAY_NAME_ENV]?.trim() ?? '';
  if (name === '') errors.push(`${GATEWAY_NAME_ENV} is required`);
  else if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length > 253) errors.push(`${GATEWAY_NAME_ENV}=${name}: not a Kubernetes object name`);
  if (!proxy.ok || errors.length > 0) return { ok: false, errors };
  return { ok: true, config: Object.freeze({ proxy: proxy.config, gatewayName: name }) };
}

/** The configuration of this process, from process.env. */
export function loadGatewayConfig(): GatewayConfigResult {
  return parseGatewayConfig(process.env);
}
