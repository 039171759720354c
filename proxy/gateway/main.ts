/**
 * `weft gateway`: parse the configuration (exit 2 with every error before any port opens), connect to
 * the control plane (identity, discovery, the Gateway's view), then serve the Gateway's listener ports
 * until SIGTERM. Thin: the wiring lives in ./server.ts, the control-plane adapter in ../control-plane.ts.
 */
import { connectControlPlane } from '../control-plane.js';
import { serveUntilSignal } from '../lifecycle.js';
import { loadGatewayConfig } from './config.js';
import { startGateway } from './server.js';

const log = (line: string) => process.stderr.write(`weft-gateway: ${line}\n`);

/** Runs the gateway from its environment; `weft gateway` (cli/components.ts) has refused any argument. */
export async function run(): Promise<number> {
  const parsed = loadGatewayConfig();
  if (!parsed.ok) {
    for (const e of parsed.errors) log(`config: ${e}`);
    return 2;
  }
  const { proxy: config, gatewayName } = parsed.config;
  let cp;
  try {
    cp = await connectControlPlane(config, { log, gateway: { namespace: config.podNamespace, name: gatewayName } });
  } catch (err) {
    log(`control plane: ${(err as Error).message}`);
    return 1;
  }
  const view = cp.gatewayView;
  if (view === undefined) {
    log('control plane: no gateway view (internal error)');
    return 1;
  }
  const gateway = await startGateway({
    limits: config.limits,
    podIp: config.podIp,
    endpoints: cp.endpoints,
    policy: cp.policy,
    routeMetrics: cp.routeMetrics,
    certificates: cp.certificates,
    readiness: cp.readiness,
    view,
    host: '::',
    admin: { host: '::', port: config.adminPort },
    configDump: () => ({ gateway: `${config.podNamespace}/${gatewayName}`, ...config, trustAnchorsPem: '(redacted)', opaquePorts: [] }),
    log,
  });
  log(`serving Gateway ${config.podNamespace}/${gatewayName}: ports ${[...gateway.ports().keys()].join(', ') || '(none yet)'}, admin ${String(gateway.adminPort)}`);
  const code = await serveUntilSignal(gateway, config.shutdownGraceMs, log);
  cp.close();
  setTimeout(() => {
    log('exiting: a handle was still open after the drain');
    process.exit(code);
  }, 500).unref();
  return code;
}
