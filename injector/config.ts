/**
 * Configuration of `weft injector`: flags and environment parsed into one frozen object, every error
 * collected. Precedence: flag > environment > default. The only module of the injector that reads
 * process.env. Install passes the injection settings as flags in the Deployment, and mounts the
 * serving certificate (tls.crt, tls.key) and the trust anchors (ca.crt) as files.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  CONTROL_PLANE_ENV, CONTROL_PLANE_NAMESPACE, CONTROLLER_GRPC_PORT, CONTROLLER_SERVICE, DEFAULT_CLUSTER_NETWORKS, DEFAULT_IMAGE,
  DEFAULT_TRUST_DOMAIN, INJECTOR_ADMIN_PORT, INJECTOR_WEBHOOK_PORT, WEFT_VERSION,
} from '../core/contract.js';
import type { InjectionConfig } from './patch.js';
import { INBOUND_POLICIES, PROXY_LOG_LEVELS } from './settings.js';
import type { InboundPolicy, ProxyLogLevel, ProxyResources } from './settings.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/** Where install mounts the injector's files. */
export const DEFAULT_TLS_DIR = '/var/run/weft/tls';
export const DEFAULT_TRUST_ANCHORS_FILE = '/var/run/weft/identity/ca.crt';

/** Proxy resources unless annotations say otherwise: no CPU limit (throttling adds latency to every hop). */
export const DEFAULT_PROXY_RESOURCES: ProxyResources = { cpuRequest: '100m', memoryRequest: '64Mi', memoryLimit: '512Mi' };
export const DEFAULT_INIT_RESOURCES: ProxyResources = { cpuRequest: '10m', memoryRequest: '32Mi', cpuLimit: '500m', memoryLimit: '128Mi' };

export function defaultControllerAddr(namespace: string): string {
  return `${CONTROLLER_SERVICE}.${namespace}.svc.cluster.local:${CONTROLLER_GRPC_PORT}`;
}

export interface InjectorConfig {
  readonly kubeconfig: string | undefined;
  readonly namespace: string;
  readonly listenHost: string;
  readonly webhookPort: number;
  readonly adminPort: number;
  readonly tlsDir: string;
  readonly trustAnchorsFile: string;
  readonly logLevel: LogLevel;
  /** Everything of InjectionConfig except the anchors, which are read from trustAnchorsFile. */
  readonly injection: Omit<InjectionConfig, 'trustAnchorsPem'>;
}

export const USAGE = `Usage: weft injector [flags]

Runs the mutating admission webhook that adds the proxy to pods (HTTPS on the webhook port, with the
certificate in --tls-dir), and an admin server (/ready, /live, /metrics).

Flags (environment variable in brackets; flags win):
  --kubeconfig PATH              kubeconfig; in-cluster config when absent [${CONTROL_PLANE_ENV.kubeconfig}]
  --namespace NS                 control-plane namespace (default ${CONTROL_PLANE_NAMESPACE}) [${CONTROL_PLANE_ENV.namespace}]
  --listen-host HOST             address to bind (default 0.0.0.0)
  --webhook-port PORT            HTTPS webhook port (default ${INJECTOR_WEBHOOK_PORT}) [${CONTROL_PLANE_ENV.webhookPort}]
  --admin-port PORT              admin port (default ${INJECTOR_ADMIN_PORT}) [${CONTROL_PLANE_ENV.adminPort}]
  --tls-dir DIR                  holds tls.crt and tls.key, reloaded when they change (default ${DEFAULT_TLS_DIR}) [${CONTROL_PLANE_ENV.tlsDir}]
  --trust-anchors-file FILE      PEM the proxies trust (default ${DEFAULT_TRUST_ANCHORS_FILE})
  --trust-domain TD              SPIFFE trust domain (default ${DEFAULT_TRUST_DOMAIN}) [${CONTROL_PLANE_ENV.trustDomain}]
  --cluster-networks CIDRS       comma-separated (default ${DEFAULT_CLUSTER_NETWORKS.join(',')}) [${CONTROL_PLANE_ENV.clusterNetworks}]
  --proxy-image IMAGE            image of proxy-init and the proxy (default ${DEFAULT_IMAGE})
  --controller-addr HOST:PORT    the controller's gRPC address (default ${defaultControllerAddr(CONTROL_PLANE_NAMESPACE)})
  --proxy-log-level LEVEL        ${PROXY_LOG_LEVELS.join(', ')} (default info)
  --default-inbound-policy P     ${INBOUND_POLICIES.join(', ')} (default all-unauthenticated)
  --proxy-cpu-request Q, --proxy-cpu-limit Q, --proxy-memory-request Q, --proxy-memory-limit Q
                                 proxy resources (defaults: cpu request ${DEFAULT_PROXY_RESOURCES.cpuRequest}, memory request ${DEFAULT_PROXY_RESOURCES.memoryRequest}, memory limit ${DEFAULT_PROXY_RESOURCES.memoryLimit}; "" for none)
  --log-level LEVEL              ${LOG_LEVELS.join(', ')} (default info) [${CONTROL_PLANE_ENV.logLevel}]
`;

export type ParseResult =
  | { readonly ok: true; readonly config: InjectorConfig }
  | { readonly ok: false; readonly help: boolean; readonly errors: readonly string[] };

const STRING_FLAGS = [
  'kubeconfig', 'namespace', 'listen-host', 'webhook-port', 'admin-port', 'tls-dir', 'trust-anchors-file', 'trust-domain',
  'cluster-networks', 'proxy-image', 'controller-addr', 'proxy-log-level', 'default-inbound-policy', 'proxy-cpu-request',
  'proxy-cpu-limit', 'proxy-memory-request', 'proxy-memory-limit', 'log-level',
] as const;
type Flag = (typeof STRING_FLAGS)[number];

const QUANTITY = /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;

export function parseInjectorConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParseResult {
  let values: Partial<Record<Flag | 'help', string | boolean>>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: { ...Object.fromEntries(STRING_FLAGS.map((f) => [f, { type: 'string' as const }])), help: { type: 'boolean', short: 'h' } },
    }) as { values: Partial<Record<Flag | 'help', string | boolean>> });
  } catch (err) {
    return { ok: false, help: false, errors: [(err as Error).message] };
  }
  if (values.help === true) return { ok: false, help: true, errors: [] };
  const errors: string[] = [];
  const pick = (flag: Flag, envName?: string): { value: string; from: string } | undefined => {
    const f = values[flag];
    if (typeof f === 'string') return { value: f, from: `--${flag}` };
    const e = envName === undefined ? undefined : env[envName];
    return e !== undefined && e !== '' ? { value: e, from: envName ?? '' } : undefined;
  };
  const port = (flag: Flag, envName: string, dflt: number): number => {
    const v = pick(flag, envName);
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v.value) || Number(v.value) > 65535) {
      errors.push(`${v.from}: ${JSON.stringify(v.value)} is not a port number (0-65535)`);
      return dflt;
    }
    return Number(v.value);
  };
  const oneOf = <T extends string>(flag: Flag, envName: string | undefined, allowed: readonly T[], dflt: T): T => {
    const v = pick(flag, envName);
    if (v === undefined) return dflt;
    if ((allowed as readonly string[]).includes(v.value)) return v.value as T;
    errors.push(`${v.from}: ${JSON.stringify(v.value)} is not one of ${allowed.join(', ')}`);
    return dflt;
  };
  const quantity = (flag: Flag, dflt: string | undefined): string | undefined => {
    const v = pick(flag);
    if (v === undefined) return dflt;
    if (v.value === '') return undefined;
    if (!QUANTITY.test(v.value)) errors.push(`${v.from}: ${JSON.stringify(v.value)} is not a resource quantity (e.g. 100m, 64Mi)`);
    return v.value;
  };

  const namespace = pick('namespace', CONTROL_PLANE_ENV.namespace)?.value ?? CONTROL_PLANE_NAMESPACE;
  const trustDomain = pick('trust-domain', CONTROL_PLANE_ENV.trustDomain)?.value ?? DEFAULT_TRUST_DOMAIN;
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(trustDomain)) errors.push(`trust domain ${JSON.stringify(trustDomain)} is not a lower-case DNS name`);
  const networks = (pick('cluster-networks', CONTROL_PLANE_ENV.clusterNetworks)?.value.split(',') ?? [...DEFAULT_CLUSTER_NETWORKS])
    .map((s) => s.trim()).filter((s) => s !== '');
  for (const n of networks) if (!/^[0-9a-fA-F.:]+\/\d{1,3}$/.test(n)) errors.push(`cluster network ${JSON.stringify(n)} is not a CIDR`);
  const controllerAddr = pick('controller-addr')?.value ?? defaultControllerAddr(namespace);
  if (!/^[^\s:]+:\d+$/.test(controllerAddr) && !/^\[[0-9a-fA-F:]+\]:\d+$/.test(controllerAddr)) {
    errors.push(`--controller-addr: ${JSON.stringify(controllerAddr)} is not host:port`);
  }

  const config: InjectorConfig = {
    kubeconfig: pick('kubeconfig', CONTROL_PLANE_ENV.kubeconfig)?.value,
    namespace,
    listenHost: pick('listen-host')?.value ?? '0.0.0.0',
    webhookPort: port('webhook-port', CONTROL_PLANE_ENV.webhookPort, INJECTOR_WEBHOOK_PORT),
    adminPort: port('admin-port', CONTROL_PLANE_ENV.adminPort, INJECTOR_ADMIN_PORT),
    tlsDir: pick('tls-dir', CONTROL_PLANE_ENV.tlsDir)?.value ?? DEFAULT_TLS_DIR,
    trustAnchorsFile: pick('trust-anchors-file')?.value ?? DEFAULT_TRUST_ANCHORS_FILE,
    logLevel: oneOf('log-level', CONTROL_PLANE_ENV.logLevel, LOG_LEVELS, 'info'),
    injection: {
      image: pick('proxy-image')?.value ?? DEFAULT_IMAGE,
      proxyVersion: WEFT_VERSION,
      trustDomain,
      controllerAddr,
      clusterNetworks: networks,
      logLevel: oneOf<ProxyLogLevel>('proxy-log-level', undefined, PROXY_LOG_LEVELS, 'info'),
      defaultInboundPolicy: oneOf<InboundPolicy>('default-inbound-policy', undefined, INBOUND_POLICIES, 'all-unauthenticated'),
      resources: {
        cpuRequest: quantity('proxy-cpu-request', DEFAULT_PROXY_RESOURCES.cpuRequest),
        cpuLimit: quantity('proxy-cpu-limit', DEFAULT_PROXY_RESOURCES.cpuLimit),
        memoryRequest: quantity('proxy-memory-request', DEFAULT_PROXY_RESOURCES.memoryRequest),
        memoryLimit: quantity('proxy-memory-limit', DEFAULT_PROXY_RESOURCES.memoryLimit),
      },
      initResources: DEFAULT_INIT_RESOURCES,
    },
  };
  if (errors.length > 0) return { ok: false, help: false, errors };
  return { ok: true, config: Object.freeze(config) };
}

export function loadInjectorConfig(argv: readonly string[]): ParseResult {
  return parseInjectorConfig(argv, process.env);
}

/** Reads the trust anchors file; throws with the path when absent or not PEM. */
export function readTrustAnchors(path: string): string {
  const pem = readFileSync(path, 'utf8');
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`${path} holds no PEM certificate`);
  return pem;
}
