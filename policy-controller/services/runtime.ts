/**
 * Wires the policy controller into `weft controller`:
 *
 *   watches (one per kind) -> PolicyIndex -> InboundPolicy / OutboundPolicy / Discovery streams (gRPC 8090)
 *                                        -> RouteStatusWriter (leader only, Lease) -> status subresource
 *                                        -> BackendPolicyStatusWriter (XBackendTrafficPolicy status, same Lease)
 *                                        -> GatewayStatusWriter (GatewayClass, Gateway, routes' Gateway parents; same Lease)
 *                                        -> LimitPolicyStatusWriter (InboundLimitPolicy status, same Lease)
 *   validating webhook (HTTPS 8443); admin: /metrics gauges, /ready details, /debug/policy dumps
 *
 * main.ts calls `startPolicyController` before the gRPC server listens; the services are added to
 * that server. Readiness waits for every watch's first list (a missing CRD counts as listed: it is
 * reported, not waited for).
 */
import type { ServerResponse } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { DiscoveryService } from '../../api/gen/weft/discovery/v1/discovery.js';
import { CONTROLLER_STATUS_LEASE } from '../../core/contract.js';
import { InboundPolicyService } from '../../api/gen/weft/inbound/v1/inbound.js';
import { OutboundPolicyService } from '../../api/gen/weft/outbound/v1/outbound.js';
import type { ControllerConfig } from '../config.js';
import type { GrpcServer } from '../grpc/server.js';
import { PolicyIndex } from '../index/index.js';
import { RESOURCE_KINDS } from '../index/kinds.js';
import { informerMetrics, ResourceWatch } from '../k8s/informer.js';
import { RESOURCES } from '../k8s/resources.js';
import { LeaderLease } from '../status/lease.js';
import { RouteStatusWriter } from '../status/writer.js';
import { BackendPolicyStatusWriter } from '../status/policy-writer.js';
import { GatewayStatusWriter } from '../status/gateway-writer.js';
import { GatewayPolicyService } from '../../api/gen/weft/gateway/v1/gateway.js';
import { GatewayViewService } from './gateway.js';
import { GatewayWorkloads } from '../status/gateway-workload.js';
import { GATEWAY_RUNTIME_ENV } from '../../core/gateway/render.js';
import { CONTROLLER_GRPC_PORT, CONTROLLER_SERVICE } from '../../core/contract.js';
import { LimitPolicyStatusWriter } from '../status/limit-writer.js';
import { WebhookServer } from '../webhook/server.js';
import { DEFAULT_CONVERT_OPTIONS, portPolicy, servicePolicy } from './convert.js';
import { streamMetrics } from './metrics.js';
import { PolicyServices } from './services.js';

/** The proxy's log levels (proxy/config.ts); another controller level gives the gateways `info`. */
const PROXY_LOG_LEVELS: ReadonlySet<string> = new Set(['debug', 'info', 'warn', 'error']);

export interface PolicyControllerDeps {
  readonly config: ControllerConfig;
  readonly kc: KubeConfig;
  readonly grpc: GrpcServer;
  readonly registry: Registry;
  readonly log: Logger;
  /** The trust anchors the gateway proxies the controller deploys must trust (the issuer's ca.crt). */
  readonly anchorsPem?: () => string;
  /** A serving certificate for the webhook from the mesh issuer (used without --tls-dir). */
  readonly issueWebhookCert: () => Promise<{ certPem: string; keyPem: string }>;
}

export interface PolicyController {
  readonly index: PolicyIndex;
  readonly webhookPort: number;
  /** Components not ready yet. */
  notReady(): string[];
  /** Facts for /ready (missing CRDs, failing watches). */
  details(): string[];
  /** Serves GET /debug/policy; false when the path is not its own. */
  handleAdmin(path: string, url: URL, res: ServerResponse): boolean;
  close(): Promise<void>;
}


export async function startPolicyController(d: PolicyControllerDeps): Promise<PolicyController> {
  const { config, log, registry } = d;
  const index = new PolicyIndex({
    trustDomain: config.trustDomain,
    clusterNetworks: config.clusterNetworks,
    referenceGrantCheck: config.referenceGrantCheck,
    defaultInboundPolicy: config.defaultInboundPolicy,
    autoFlush: true,
  });

  const smetrics = streamMetrics(registry);
  const services = new PolicyServices({
    index,
    trustDomain: config.trustDomain,
    convert: DEFAULT_CONVERT_OPTIONS,
    metrics: smetrics,
    log: log.child({ component: 'policy' }),
  });
  d.grpc.addService('weft.inbound.v1.InboundPolicy', InboundPolicyService, services.inboundHandlers());
  d.grpc.addService('weft.outbound.v1.OutboundPolicy', OutboundPolicyService, services.outboundHandlers());
  d.grpc.addService('weft.discovery.v1.Discovery', DiscoveryService, services.discoveryHandlers());
  const gatewayViews = new GatewayViewService({
    index, trustDomain: config.trustDomain, convert: DEFAULT_CONVERT_OPTIONS, metrics: smetrics, log: log.child({ component: 'gateway' }),
  });
  d.grpc.addService('weft.gateway.v1.GatewayPolicy', GatewayPolicyService, gatewayViews.handlers());

  const sizes = () => index.sizes();
  new Gauge({
    name: 'weft_index_objects',
    help: 'Objects in the policy index, by kind',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      const s = sizes();
      for (const k of RESOURCE_KINDS) this.set({ kind: k }, s.objects[k]);
    },
  });
  new Gauge({
    name: 'weft_index_views',
    help: 'Index shards and views: outbound_shards, inbound_shards, cached_views, subscribed_views',
    labelNames: ['what'],
    registers: [registry],
    collect() {
      const s = sizes();
      this.set({ what: 'outbound_shards' }, s.outboundShards);
      this.set({ what: 'inbound_shards' }, s.inboundShards);
      this.set({ what: 'cached_views' }, s.cachedViews);
      this.set({ what: 'subscribed_views' }, s.subscribedViews);
    },
  });

  const statusLog = log.child({ component: 'status' });
  const anchorsPem = d.anchorsPem;
  const workloads = anchorsPem === undefined ? undefined : new GatewayWorkloads({
    kc: d.kc,
    log: statusLog,
    render: () => ({
      image: config.gatewayImage, trustDomain: config.trustDomain, trustAnchorsPem: anchorsPem(),
      controllerAddr: `${CONTROLLER_SERVICE}.${config.namespace}.svc.cluster.local:${CONTROLLER_GRPC_PORT}`,
      clusterNetworks: config.clusterNetworks, logLevel: PROXY_LOG_LEVELS.has(config.logLevel) ? config.logLevel : 'info',
      runtimeEnv: GATEWAY_RUNTIME_ENV,
    }),
  });
  const gatewayWriter = new GatewayStatusWriter({ kc: d.kc, index, isLeader: () => lease.isLeader(), log: statusLog, registry, ...(workloads !== undefined ? { workloads } : {}) });
  const imetrics = informerMetrics(registry);
  const watchLog = log.child({ component: 'watch' });
  const watches = RESOURCES.map(
    (r) =>
      new ResourceWatch(d.kc, r, {
        apply: (kind, obj) => {
          const changed = index.apply(kind, obj as never);
          if (changed) {
            gatewayWriter.changed(kind);
            gatewayViews.changed(kind);
          }
          return changed;
        },
        delete: (kind, obj) => {
          const changed = index.delete(kind, obj as never);
          if (changed) {
            gatewayWriter.changed(kind);
            gatewayViews.changed(kind);
          }
          return changed;
        },
      }, {
        log: watchLog,
        metrics: imetrics,
      }),
  );
  for (const w of watches) w.start();
  const synced = new Set<string>();
  for (const w of watches) {
    void w.synced().then(() => {
      synced.add(w.kind);
      if (synced.size === watches.length) log.info({ sizes: index.sizes().objects }, 'all watches synced');
    });
  }

  const writer: RouteStatusWriter = new RouteStatusWriter({ kc: d.kc, index, isLeader: () => lease.isLeader(), log: statusLog, registry });
  const policyWriter = new BackendPolicyStatusWriter({ kc: d.kc, index, isLeader: () => lease.isLeader(), log: statusLog, registry });
  const limitWriter = new LimitPolicyStatusWriter({ kc: d.kc, index, isLeader: () => lease.isLeader(), log: statusLog, registry });
  const lease = new LeaderLease(d.kc, {
    namespace: config.namespace,
    name: CONTROLLER_STATUS_LEASE,
    log: statusLog,
    onChange: (leader) => {
      if (leader) {
        writer.enqueueAll();
        policyWriter.enqueueAll();
        gatewayWriter.enqueueAll();
        limitWriter.enqueueAll();
      }
    },
  });
  lease.start();

  const webhook = new WebhookServer({
    validate: { trustDomain: config.trustDomain },
    log: log.child({ component: 'webhook' }),
    registry,
    ...(config.webhookTlsDir !== undefined ? { tlsDir: config.webhookTlsDir } : { issue: d.issueWebhookCert }),
  });
  const webhookPort = await webhook.listen(config.listenHost, config.webhookPort);
  log.info({ port: webhookPort }, 'webhook server listening');

  const json = (res: ServerResponse, code: number, body: unknown) =>
    res.writeHead(code, { 'content-type': 'application/json' }).end(`${JSON.stringify(body, null, 2)}\n`);

  return {
    index,
    webhookPort,
    notReady: () => (synced.size === watches.length ? [] : watches.filter((w) => !synced.has(w.kind)).map((w) => `watch ${w.kind}`)),
    details: () => watches.filter((w) => w.state !== 'synced').map((w) => `${w.kind}: ${w.state}${w.why !== '' ? ` (${w.why})` : ''}`),
    handleAdmin(path, url, res) {
      if (path !== '/debug/policy') return false;
      const q = url.searchParams;
      const port = Number(q.get('port'));
      const [ns, name] = (q.get('pod') ?? q.get('service') ?? '').split('/');
      if (!Number.isInteger(port) || port < 1 || port > 65535 || ns === undefined || ns === '' || name === undefined || name === '') {
        json(res, 400, { error: 'use ?pod=<ns>/<name>&port=<n> or ?service=<ns>/<name>&port=<n>&clientNamespace=<ns>' });
        return true;
      }
      if (q.has('pod')) {
        const v = index.view({ kind: 'inbound', namespace: ns, pod: name, port });
        if (v === undefined) json(res, 404, { error: `pod ${ns}/${name} is not in the index` });
        else json(res, 200, { pod: `${ns}/${name}`, port, policy: portPolicy(v, DEFAULT_CONVERT_OPTIONS), diagnostics: v.diagnostics });
        return true;
      }
      const clientNs = q.get('clientNamespace') ?? ns;
      const v = index.serviceView(clientNs, ns, name, port);
      if (v === undefined) json(res, 404, { error: `Service ${ns}/${name} with port ${port} is not in the index` });
      else json(res, 200, { service: `${ns}/${name}`, port, clientNamespace: clientNs, policy: servicePolicy(v, DEFAULT_CONVERT_OPTIONS) });
      return true;
    },
    async close() {
      writer.stop();
      policyWriter.stop();
      gatewayWriter.stop();
      gatewayViews.stop();
      limitWriter.stop();
      await lease.stop();
      await webhook.close();
      await Promise.all(watches.map((w) => w.stop()));
    },
  };
}
