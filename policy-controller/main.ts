/**
 * `weft controller`: the control plane process. Today it runs the identity CA (Identity.Certify on
 * the gRPC port) and the admin server; the policy controller adds its watches and services to the
 * same gRPC server (`GrpcServer.addService`) before it listens.
 *
 *   config -> admin :9990 -> issuer (Secret or dir) -> serving cert -> gRPC :8090 [Identity] -> ready
 */
import { once } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { IdentityService as IdentityServiceDefinition } from '../api/gen/weft/identity/v1/identity.js';
import { controllerDnsNames } from '../core/contract.js';
import { CertificateAuthority } from '../identity/ca.js';
import type { CaCredential } from '../identity/ca.js';
import { controllerSpiffeId } from '../identity/spiffe.js';
import { createAdminServer, listen } from './admin.js';
import type { ControllerConfig } from './config.js';
import { describeIssuerSource, loadIssuer } from './grpc/identity/issuer-source.js';
import { KubeTokenReviewer, loadKubeConfig } from './grpc/identity/kube.js';
import { ConcurrencyLimiter } from './grpc/identity/limiter.js';
import { identityMetrics } from './grpc/identity/metrics.js';
import { IdentityService } from './grpc/identity/service.js';
import type { TokenReviewer } from './grpc/identity/token.js';
import { GrpcServer } from './grpc/server.js';
import { startPolicyController, type PolicyController } from './services/runtime.js';

/** Test seams: a TokenReviewer double and a ready-made logger. */
export interface ControllerDeps {
  readonly reviewer?: TokenReviewer;
  readonly log?: Logger;
  /**
   * Run the policy controller (watches, policy/discovery services, route status, webhook). Default:
   * on, unless a TokenReviewer double says the caller runs without a cluster.
   */
  readonly policy?: boolean;
}

export interface RunningController {
  readonly grpcPort: number;
  readonly adminPort: number;
  /** The anchors proxies must trust (from the issuer's ca.crt). */
  readonly anchorsPem: string;
  close(): Promise<void>;
}

/** How often the issuer source is read again, so a rotated issuer takes effect without a restart. */
const ISSUER_RELOAD_MS = 60_000;
/** Waiting calls allowed per TokenReview slot before Certify answers RESOURCE_EXHAUSTED. */
const QUEUE_PER_SLOT = 32;

export async function startController(config: ControllerConfig, deps: ControllerDeps = {}): Promise<RunningController> {
  const log = deps.log ?? pino({ level: config.logLevel, base: { component: 'controller' } });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const pending = new Set(['issuer', 'grpc']);
  const timers: NodeJS.Timeout[] = [];
  let policy: PolicyController | undefined;
  const admin: HttpServer = createAdminServer({
    registry,
    notReady: () => [...pending, ...(policy?.notReady() ?? [])],
    details: () => policy?.details() ?? [],
    handle: (path, url, res) => policy?.handleAdmin(path, url, res) ?? false,
  });
  const grpc = new GrpcServer(log);
  const close = async () => {
    for (const t of timers) clearTimeout(t);
    await policy?.close();
    await grpc.close();
    admin.closeAllConnections();
    await new Promise<void>((resolve) => admin.close(() => resolve()));
  };

  try {
    const adminPort = await listen(admin, config.listenHost, config.adminPort);
    log.info({ port: adminPort }, 'admin server listening');

    let kube: KubeConfig | undefined;
    const kubeConfig = () => (kube ??= loadKubeConfig(config.kubeconfig));

    const credential = await loadIssuer(config.issuer, kubeConfig);
    let ca = CertificateAuthority.load(credential);
    pending.delete('issuer');
    log.info({ source: describeIssuerSource(config.issuer), issuerNotAfter: ca.notAfter.toISOString() }, 'issuer loaded');

    const serve = async () => {
      const serving = await ca.issueServing({
        spiffeId: controllerSpiffeId(config.trustDomain),
        dnsNames: controllerDnsNames(),
        lifetimeMs: config.certLifetimeMs,
      });
      grpc.certificates.update(serving.keyPem, [serving.certPem, ...serving.chainPem].join(''), ca.anchorsPem);
      const renewIn = 0.7 * (serving.notAfter.getTime() - Date.now());
      const t = setTimeout(() => {
        serve().catch((err: unknown) => log.error({ err }, 'renewing the serving certificate failed'));
      }, renewIn);
      t.unref();
      timers.push(t);
      log.debug({ notAfter: serving.notAfter.toISOString() }, 'serving certificate issued');
    };
    await serve();

    const reload = () => {
      const t = setTimeout(() => {
        loadIssuer(config.issuer, kubeConfig)
          .then((next: CaCredential) => {
            if (next.certPem !== ca.credential.certPem || next.keyPem !== ca.credential.keyPem || next.anchorsPem !== ca.anchorsPem) {
              ca = CertificateAuthority.load(next);
              log.info({ issuerNotAfter: ca.notAfter.toISOString() }, 'issuer rotated');
              return serve();
            }
            return undefined;
          })
          .catch((err: unknown) => log.warn({ err }, 'reloading the issuer failed; keeping the current one'))
          .finally(reload);
      }, ISSUER_RELOAD_MS);
      t.unref();
      timers.push(t);
    };
    reload();

    const identity = new IdentityService({
      trustDomain: config.trustDomain,
      issuer: () => ca,
      reviewer: deps.reviewer ?? new KubeTokenReviewer(kubeConfig()),
      leafLifetimeMs: config.certLifetimeMs,
      limiter: new ConcurrencyLimiter(config.tokenReviewConcurrency, config.tokenReviewConcurrency * QUEUE_PER_SLOT),
      metrics: identityMetrics(registry),
      log: log.child({ component: 'identity' }),
    });
    grpc.addService('weft.identity.v1.Identity', IdentityServiceDefinition, identity.handlers());

    // The policy controller needs a cluster; without one (identity-only tests) it stays off.
    if (!(deps.policy ?? deps.reviewer === undefined)) {
      log.info('policy controller off (no cluster in this process)');
    } else if (kubeConfig().getCurrentCluster() === null) {
      log.warn('no Kubernetes cluster configured: policy, discovery, route status and the webhook are off');
    } else {
      policy = await startPolicyController({
        config,
        kc: kubeConfig(),
        grpc,
        registry,
        log,
        anchorsPem: () => ca.anchorsPem,
        issueWebhookCert: async () => {
          const s = await ca.issueServing({ spiffeId: controllerSpiffeId(config.trustDomain), dnsNames: controllerDnsNames(), lifetimeMs: config.certLifetimeMs });
          return { certPem: [s.certPem, ...s.chainPem].join(''), keyPem: s.keyPem };
        },
      });
    }

    const grpcPort = await grpc.listen(config.listenHost, config.grpcPort);
    pending.delete('grpc');
    return { grpcPort, adminPort, anchorsPem: ca.anchorsPem, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Runs the controller with its config (parsed by `weft controller`, cli/components.ts) until a signal. */
export async function run(config: ControllerConfig): Promise<number> {
  const log = pino({ level: config.logLevel, base: { component: 'controller' } });
  let controller: RunningController;
  try {
    controller = await startController(config, { log });
  } catch (err) {
    log.fatal({ err }, `weft controller failed to start: ${(err as Error).message}`);
    return 1;
  }
  const signal = await Promise.race([once(process, 'SIGTERM').then(() => 'SIGTERM'), once(process, 'SIGINT').then(() => 'SIGINT')]);
  log.info({ signal }, 'shutting down');
  await controller.close();
  return 0;
}
