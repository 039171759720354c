/**
 * `weft injector`: config -> trust anchors -> serving certificate -> admin :9990 -> webhook :8443.
 * Exits before binding a port when the configuration, the anchors or the certificate are unusable.
 */
import { once } from 'node:events';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { NamespaceLookup } from './admission.js';
import { readTrustAnchors } from './config.js';
import type { InjectorConfig } from './config.js';
import { createAdminServer, createWebhookServer, listen, readTlsDir } from './server.js';

/** The serving certificate is re-read this often; a rotated Secret reaches the mount within a minute. */
const TLS_RELOAD_MS = 30_000;
/** A namespace read must not eat the API server's webhook timeout (10 s by default). */
const NAMESPACE_TIMEOUT_MS = 4_000;

export function kubeNamespaceLookup(kubeconfig: string | undefined): NamespaceLookup {
  const kc = new KubeConfig();
  if (kubeconfig !== undefined) kc.loadFromFile(kubeconfig);
  else kc.loadFromDefault();
  const core = kc.makeApiClient(CoreV1Api);
  return async (name) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${NAMESPACE_TIMEOUT_MS} ms`)), NAMESPACE_TIMEOUT_MS);
    });
    try {
      const ns = await Promise.race([core.readNamespace({ name }), timeout]);
      return { name, annotations: ns.metadata?.annotations ?? {} };
    } catch (err) {
      if (err instanceof ApiException) throw new Error(`HTTP ${err.code} reading namespace ${name}`, { cause: err });
      throw err;
    } finally {
      clearTimeout(timer);
    }
  };
}

export interface RunningInjector {
  readonly webhookPort: number;
  readonly adminPort: number;
  close(): Promise<void>;
}

export async function startInjector(config: InjectorConfig, deps: { lookupNamespace?: NamespaceLookup; log?: Logger } = {}): Promise<RunningInjector> {
  const log = deps.log ?? pino({ level: config.logLevel, base: { component: 'injector' } });
  const trustAnchorsPem = readTrustAnchors(config.trustAnchorsFile);
  let tls = await readTlsDir(config.tlsDir);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const pending = new Set(['webhook']);
  const admin = createAdminServer(registry, () => [...pending]);
  const webhook = createWebhookServer({
    tls,
    injection: { ...config.injection, trustAnchorsPem },
    lookupNamespace: deps.lookupNamespace ?? kubeNamespaceLookup(config.kubeconfig),
    registry,
    log,
  });
  const adminPort = await listen(admin, config.listenHost, config.adminPort);
  const webhookPort = await listen(webhook, config.listenHost, config.webhookPort);
  pending.delete('webhook');
  log.info({ webhookPort, adminPort, image: config.injection.image }, 'injector ready');
  const reload = setInterval(() => {
    readTlsDir(config.tlsDir).then((next) => {
      if (next.cert === tls.cert && next.key === tls.key) return;
      webhook.setSecureContext({ cert: next.cert, key: next.key });
      tls = next;
      log.info('serving certificate reloaded');
    }).catch((err: unknown) => log.warn({ err }, 'reading the serving certificate failed; keeping the current one'));
  }, TLS_RELOAD_MS);
  reload.unref();
  return {
    webhookPort,
    adminPort,
    close: async () => {
      clearInterval(reload);
      webhook.closeAllConnections();
      admin.closeAllConnections();
      await Promise.all([new Promise((r) => webhook.close(r)), new Promise((r) => admin.close(r))]);
    },
  };
}

/** Runs the injector with its config (parsed by `weft injector`, cli/components.ts) until a signal. */
export async function run(config: InjectorConfig): Promise<number> {
  let injector: RunningInjector;
  try {
    injector = await startInjector(config);
  } catch (err) {
    process.stderr.write(`weft injector: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT')]);
  await injector.close();
  return 0;
}
