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
  // Everything the proxy opened is closed now. If a library still holds a handle, the process (and so
  // the pod's termination) would wait for SIGKILL at the end of the grace period: seen under upstream's
  // conformance suite, whose namespace deletions then exceeded its 30 s DeleteTimeout. The timer is
  // unref'd, so a clean event loop still exits at once.
  setTimeout(() => {
    log('exiting: a handle was still open after the drain');
    process.exit(code);
  }, EXIT_AFTER_DRAIN_MS).unref();
  return code;
}

/** How long after the drain a still-busy event loop is given before the process exits anyway. */
const EXIT_AFTER_DRAIN_MS = 500;
