/**
 * The live side of gateways in `weft stat|routes|explain`: lists what the gateway decision reads
 * (listSnapshot plus GatewayClasses and Gateways), finds the Gateway's proxy pods, collects their
 * metrics like the sidecars' (scrape of /metrics on the admin port through the API server, or
 * Prometheus), and prints ./gateway.ts's and ./gateway-explain.ts's tables and explanations.
 *
 *   stat gateway                list: one row per Gateway Weft serves (-n NS, or -A)
 *   stat gateway/NAME           one row per listener and route
 *   routes gateway/NAME         listeners, then per listener, route, rule and backend
 *   explain gateway/NAME ...    one request through the gateway
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { GATEWAY_API_GROUP } from '../../core/contract.js';
import type { Gateway, GatewayClass } from '../../core/gateway/types.js';
import type { ClusterSnapshot, Pod } from '../../core/kube.js';
import type { Io } from '../install/command.js';
import { ApiError, apiJson, installSettings, listSnapshot } from './cluster.js';
import { summarize } from './figures.js';
import { explainGateway, renderGatewayExplanation, type GatewayExplanation, type GatewayRequest } from './gateway-explain.js';
import {
  gatewayDecision, gatewayPods, gatewayRouteRows, gatewaySeriesKeyOf, gatewayStatKeyOf, gatewayWorkloadName, lookupGateway, renderGatewayList,
  renderGatewayRoutes, renderGatewayStat, weftGateways, type GatewayObjects,
} from './gateway.js';
import type { MetricsSource, PodTarget } from './sources.js';
import type { OutputFormat } from './views.js';

async function listOptional<T>(kc: KubeConfig, path: string): Promise<T[]> {
  try {
    return (await apiJson<{ items?: T[] }>(kc, path)).items ?? [];
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return [];
    throw err;
  }
}

/** Everything the gateway decision reads, cluster-wide; Gateway API kinds not installed list as empty. */
export async function listGatewayObjects(kc: KubeConfig): Promise<{ world: GatewayObjects; snapshot: ClusterSnapshot }> {
  const [snapshot, gatewayClasses, gateways] = await Promise.all([
    listSnapshot(kc),
    listOptional<GatewayClass>(kc, `/apis/${GATEWAY_API_GROUP}/v1/gatewayclasses`),
    listOptional<Gateway>(kc, `/apis/${GATEWAY_API_GROUP}/v1/gateways`),
  ]);
  return {
    snapshot,
    world: {
      gatewayClasses, gateways, httpRoutes: snapshot.httpRoutes, grpcRoutes: snapshot.grpcRoutes, services: snapshot.services,
      referenceGrants: snapshot.referenceGrants, namespaces: snapshot.namespaces,
    },
  };
}

const targetsOf = (pods: readonly Pod[]): PodTarget[] => pods.map((p) => ({ namespace: p.metadata.namespace ?? '', name: p.metadata.name }));

export interface GatewayObserveArgs {
  readonly name?: string;
  readonly namespace: string;
  readonly allNamespaces: boolean;
  readonly format: OutputFormat;
  readonly windowSeconds: number;
}

type Collect = (pods: number, run: () => ReturnType<MetricsSource['collect']>) => ReturnType<MetricsSource['collect']>;

/** `weft stat gateway[/NAME]` and `weft routes gateway/NAME`; the exit code. */
export async function runGatewayObserve(verb: 'stat' | 'routes', kc: KubeConfig, args: GatewayObserveArgs, source: MetricsSource, io: Io, progress: Collect): Promise<number> {
  const { world, snapshot } = await listGatewayObjects(kc);
  const decision = gatewayDecision(world);
  if (args.name === undefined) {
    const gateways = weftGateways(world, args.allNamespaces ? undefined : args.namespace, decision);
    const groups = gateways.map((g) => ({ gw: g, ns: g.metadata.namespace ?? 'default', ...gatewayPods(snapshot.pods, g.metadata.namespace ?? 'default', g.metadata.name) }));
    const scraped = targetsOf(groups.flatMap((g) => g.ready));
    const got = await progress(scraped.length, () => source.collect('outbound', scraped, args.windowSeconds));
    const byGateway = summarize(got.samples, 'outbound', (l) => `${l['service_namespace'] ?? ''}/${l['service_name'] ?? ''}`);
    const figures = new Map(byGateway.map((g) => [g.key, g.figures]));
    io.out(renderGatewayList(groups.map((g) => {
      const f = figures.get(`${g.ns}/${g.gw.metadata.name}`);
      return { namespace: g.ns, name: g.gw.metadata.name, ready: g.ready.length, pods: g.pods.length, ...(f !== undefined ? { figures: f } : {}) };
    }), got.windowSeconds, args.format, { namespaceColumn: args.allNamespaces }).text);
    for (const p of got.problems) io.err(`weft ${verb}: could not read ${p}\n`);
    return 0;
  }
  const found = lookupGateway(world, args.namespace, args.name, decision);
  if (!found.ok) {
    io.err(`weft ${verb}: ${found.error}\n`);
    return 1;
  }
  const { pods, ready } = gatewayPods(snapshot.pods, found.namespace, found.name);
  if (ready.length === 0) {
    const deploy = gatewayWorkloadName(found.name);
    io.err(`weft ${verb}: Gateway ${found.namespace}/${found.name} has no ready gateway pod (${pods.length} pod${pods.length === 1 ? '' : 's'} of Deployment ${deploy}, none ready): nothing to read the figures from; kubectl -n ${found.namespace} describe deploy/${deploy}\n`);
    return 1;
  }
  const got = await progress(ready.length, () => source.collect('outbound', targetsOf(ready), args.windowSeconds));
  if (verb === 'stat') {
    io.out(renderGatewayStat(found, summarize(got.samples, 'outbound', gatewayStatKeyOf(found, args.format === 'wide')), got.windowSeconds, args.format).text);
  } else {
    const rows = gatewayRouteRows(found.view, summarize(got.samples, 'outbound', gatewaySeriesKeyOf(found)));
    io.out(renderGatewayRoutes(found, rows, got.windowSeconds, args.format).text);
  }
  for (const p of got.problems) io.err(`weft ${verb}: could not read ${p}\n`);
  return 0;
}

/** `weft explain gateway/NAME` on the live cluster. A missing or foreign Gateway is an answer (ok: false), not a throw. */
export async function explainGatewayLive(kc: KubeConfig, namespace: string, name: string, request: Omit<GatewayRequest, 'port' | 'host'> & { readonly port?: number; readonly host?: string }): Promise<GatewayExplanation> {
  const [{ world, snapshot }, settings] = await Promise.all([listGatewayObjects(kc), installSettings(kc)]);
  const found = lookupGateway(world, namespace, name);
  if (!found.ok) return found;
  let port = request.port;
  if (port === undefined) {
    const ports = found.view.ports.map((p) => p.port);
    if (ports.length !== 1) {
      return { ok: false, error: `give the listener port (--port, or the URL's port): Gateway ${namespace}/${name} ${ports.length === 0 ? 'serves no port' : `serves ports ${ports.join(', ')}`}` };
    }
    port = ports[0]!;
  }
  const host = request.host ?? found.gateway.status?.addresses?.[0]?.value ?? `${gatewayWorkloadName(name)}.${namespace}`;
  const ip = gatewayPods(snapshot.pods, namespace, name).ready[0]?.status?.podIP;
  return explainGateway(found, snapshot, { ...request, port, host }, {
    trustDomain: settings.trustDomain, clusterNetworks: settings.clusterNetworks,
    ...(settings.defaultInboundPolicy !== undefined ? { defaultPolicy: settings.defaultInboundPolicy } : {}),
    ...(ip !== undefined ? { gatewayIp: ip } : {}),
  });
}

export { renderGatewayExplanation };
