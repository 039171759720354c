/**
 * `weft proxy`: parse the configuration (exit 2 with every error before any port opens), then run
 * the proxy until SIGTERM. Thin on purpose: the wiring lives in proxy.ts, the control-plane adapters
 * in control-plane.ts. The data ports open once the identity service has issued the certificate.
 */
import { loadProxyConfig } from './config.js';
import { connectControlPlane } from './control-plane.js';
import { serveUntilSignal } from './lifecycle.js';
import { startProxy } from './proxy.js';
import { originalDestination } from './original-dst.js';
import { PROXY_OUTBOUND_ADDRESS } from '../core/contract.js';

const log = (line: string) => process.stderr.write(`weft-proxy: ${line}\n`);

/** Runs the proxy from its environment; `weft proxy` (cli/components.ts) has refused any argument. */
export async function run(): Promise<number> {
  const parsed = loadProxyConfig();
  if (!parsed.ok) {
    for (const e of parsed.errors) log(`config: ${e}`);
    return 2;
  }
  const config = parsed.config;
  let cp;
  try {
    cp = await connectControlPlane(config, { log });
  } catch (err) {
    log(`control plane: ${(err as Error).message}`);
    return 1;
  }
  const proxy = await startProxy({
    limits: config.limits,
    podIp: config.podIp,
    opaquePorts: config.opaquePorts,
    destinations: cp.destinations,
    endpoints: cp.endpoints,
    policy: cp.policy,
    routeMetrics: cp.routeMetrics,
    certificates: cp.certificates,
    readiness: cp.readiness,
    originalDestination,
    outbound: { host: PROXY_OUTBOUND_ADDRESS, port: config.outboundPort },
    inbound: { host: '::', port: config.inboundPort },
    admin: { host: '::', port: config.adminPort },
    configDump: () => ({ ...config, trustAnchorsPem: '(redacted)', opaquePorts: [...config.opaquePorts] }),
  });
  log(`serving outbound ${proxy.outboundPort}, inbound ${proxy.inboundPort}, admin ${String(proxy.adminPort)}`);
  const code = await serveUntilSignal(proxy, config.shutdownGraceMs, log);
  cp.close();
  return code;
}
