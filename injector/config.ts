/**
 * Configuration of `weft injector`: flags and environment parsed into one frozen object, every error
 * collected. Precedence: flag > environment > default. The only module of the injector that reads
 * process.env. Install passes the injection settings as flags in the Deployment, and mounts the
 * serving certificate (tls.crt, tls.key) and the trust anchors (ca.crt) as files.
 */
import { readFileSync } from 'node:fs';
import {
  CONTROL_PLANE_ENV, CONTROL_PLANE_NAMESPACE, CONTROLLER_GRPC_PORT, CONTROLLER_SERVICE, DEFAULT_CLUSTER_NETWORKS, DEFAULT_IMAGE,
  DEFAULT_TRUST_DOMAIN, INJECTOR_ADMIN_PORT, INJECTOR_WEBHOOK_PORT, WEFT_VERSION,
} from '../core/contract.js';
import { parseCidr } from '../core/cidr.js';
import { flagOrEnv } from '../core/flags.js';
import type { Configured, ExecutableSpec, FlagValues, Setting } from '../core/flags.js';
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

/** The injector's flags: `weft injector` parses them with commander from this table (cli/components.ts). */
export const INJECTOR_FLAGS: ExecutableSpec = {
  command: 'weft injector',
  description: `Runs the mutating admission webhook that adds the proxy to pods (HTTPS on the webhook port, with the
certificate in --tls-dir), and an admin server (/ready, /live, /metrics).`,
  flags: [
    { name: 'kubeconfig', value: 'path', env: CONTROL_PLANE_ENV.kubeconfig, help: 'kubeconfig; in-cluster config when absent' },
    { name: 'namespace', value: 'ns', env: CONTROL_PLANE_ENV.namespace, default: CONTROL_PLANE_NAMESPACE, help: 'control-plane namespace' },
    { name: 'listen-host', value: 'host', default: '0.0.0.0', help: 'address to bind' },
    { name: 'webhook-port', value: 'port', env: CONTROL_PLANE_ENV.webhookPort, default: String(INJECTOR_WEBHOOK_PORT), help: 'HTTPS webhook port (0-65535)' },
    { name: 'admin-port', value: 'port', env: CONTROL_PLANE_ENV.adminPort, default: String(INJECTOR_ADMIN_PORT), help: 'admin port: /ready, /live, /metrics (0-65535)' },
    { name: 'tls-dir', value: 'dir', env: CONTROL_PLANE_ENV.tlsDir, default: DEFAULT_TLS_DIR, help: 'holds tls.crt and tls.key, reloaded when they change' },
    { name: 'trust-anchors-file', value: 'file', default: DEFAULT_TRUST_ANCHORS_FILE, help: 'PEM the proxies trust' },
    { name: 'trust-domain', value: 'td', env: CONTROL_PLANE_ENV.trustDomain, default: DEFAULT_TRUST_DOMAIN, help: 'SPIFFE trust domain (a lower-case DNS name)' },
    { name: 'cluster-networks', value: 'cidrs', env: CONTROL_PLANE_ENV.clusterNetworks, default: DEFAULT_CLUSTER_NETWORKS.join(','), help: 'comma-separated CIDRs of the cluster' },
    { name: 'proxy-image', value: 'image', default: DEFAULT_IMAGE, help: 'image of proxy-init and the proxy' },
    { name: 'controller-addr', value: 'host:port', default: defaultControllerAddr(CONTROL_PLANE_NAMESPACE), help: "the controller's gRPC address (the namespace follows --namespace)" },
    { name: 'proxy-log-level', value: 'level', default: 'info', help: `log level of the proxies: ${PROXY_LOG_LEVELS.join(', ')}` },
    { name: 'default-inbound-policy', value: 'policy', default: 'all-unauthenticated', help: `what a port no Server selects allows: ${INBOUND_POLICIES.join(', ')}` },
    { name: 'proxy-cpu-request', value: 'quantity', default: DEFAULT_PROXY_RESOURCES.cpuRequest, help: 'CPU request of the proxy ("" for none)' },
    { name: 'proxy-cpu-limit', value: 'quantity', help: 'CPU limit of the proxy (default none: throttling adds latency to every hop)' },
    { name: 'proxy-memory-request', value: 'quantity', default: DEFAULT_PROXY_RESOURCES.memoryRequest, help: 'memory request of the proxy ("" for none)' },
    { name: 'proxy-memory-limit', value: 'quantity', default: DEFAULT_PROXY_RESOURCES.memoryLimit, help: 'memory limit of the proxy ("" for none)' },
    { name: 'log-level', value: 'level', env: CONTROL_PLANE_ENV.logLevel, default: 'info', help: `log level: ${LOG_LEVELS.join(', ')}` },
  ],
};

const QUANTITY = /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;

/** The config from the flags given (parsed by the dispatcher) and the environment; every problem at once. */
export function parseInjectorConfig(values: FlagValues, env: Readonly<Record<string, string | undefined>>): Configured<InjectorConfig> {
  const errors: string[] = [];
  const pick = (flag: string): Setting | undefined => flagOrEnv(INJECTOR_FLAGS, values, env, flag);
  const port = (flag: string, dflt: number): number => {
    const v = pick(flag);
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v.value) || Number(v.value) > 65535) {
      errors.push(`${v.from}: ${JSON.stringify(v.value)} is not a port number (0-65535)`);
      return dflt;
    }
    return Number(v.value);
  };
  const oneOf = <T extends string>(flag: string, allowed: readonly T[], dflt: T): T => {
    const v = pick(flag);
    if (v === undefined) return dflt;
    if ((allowed as readonly string[]).includes(v.value)) return v.value as T;
    errors.push(`${v.from}: ${JSON.stringify(v.value)} is not one of ${allowed.join(', ')}`);
    return dflt;
  };
  const quantity = (flag: string, dflt: string | undefined): string | undefined => {
    const v = pick(flag);
    if (v === undefined) return dflt;
    if (v.value === '') return undefined;
    if (!QUANTITY.test(v.value)) errors.push(`${v.from}: ${JSON.stringify(v.value)} is not a resource quantity (e.g. 100m, 64Mi)`);
    return v.value;
  };

  const namespace = pick('namespace')?.value ?? CONTROL_PLANE_NAMESPACE;
  const trustDomainV = pick('trust-domain');
  const trustDomain = trustDomainV?.value ?? DEFAULT_TRUST_DOMAIN;
  if (trustDomainV !== undefined && !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(trustDomain)) {
    errors.push(`${trustDomainV.from}: ${JSON.stringify(trustDomain)} is not a trust domain (a lower-case DNS name)`);
  }
  const networksV = pick('cluster-networks');
  const networks = (networksV?.value.split(',') ?? [...DEFAULT_CLUSTER_NETWORKS]).map((s) => s.trim()).filter((s) => s !== '');
  if (networksV !== undefined && networks.length === 0) errors.push(`${networksV.from}: lists no networks`);
  for (const n of networks) {
    const cidr = parseCidr(n);
    if (!cidr.ok) errors.push(`${networksV?.from ?? 'cluster networks'}: ${JSON.stringify(n)} is not a CIDR (${cidr.reason})`);
  }
  const controllerAddr = pick('controller-addr')?.value ?? defaultControllerAddr(namespace);
  if (!/^[^\s:]+:\d+$/.test(controllerAddr) && !/^\[[0-9a-fA-F:]+\]:\d+$/.test(controllerAddr)) {
    errors.push(`--controller-addr: ${JSON.stringify(controllerAddr)} is not host:port`);
  }

  const config: InjectorConfig = {
    kubeconfig: pick('kubeconfig')?.value,
    namespace,
    listenHost: pick('listen-host')?.value ?? '0.0.0.0',
    webhookPort: port('webhook-port', INJECTOR_WEBHOOK_PORT),
    adminPort: port('admin-port', INJECTOR_ADMIN_PORT),
    tlsDir: pick('tls-dir')?.value ?? DEFAULT_TLS_DIR,
    trustAnchorsFile: pick('trust-anchors-file')?.value ?? DEFAULT_TRUST_ANCHORS_FILE,
    logLevel: oneOf('log-level', LOG_LEVELS, 'info'),
    injection: {
      image: pick('proxy-image')?.value ?? DEFAULT_IMAGE,
      proxyVersion: WEFT_VERSION,
      trustDomain,
      controllerAddr,
      clusterNetworks: networks,
      logLevel: oneOf<ProxyLogLevel>('proxy-log-level', PROXY_LOG_LEVELS, 'info'),
      defaultInboundPolicy: oneOf<InboundPolicy>('default-inbound-policy', INBOUND_POLICIES, 'all-unauthenticated'),
      resources: {
        cpuRequest: quantity('proxy-cpu-request', DEFAULT_PROXY_RESOURCES.cpuRequest),
        cpuLimit: quantity('proxy-cpu-limit', DEFAULT_PROXY_RESOURCES.cpuLimit),
        memoryRequest: quantity('proxy-memory-request', DEFAULT_PROXY_RESOURCES.memoryRequest),
        memoryLimit: quantity('proxy-memory-limit', DEFAULT_PROXY_RESOURCES.memoryLimit),
      },
      initResources: DEFAULT_INIT_RESOURCES,
    },
  };
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, config: Object.freeze(config) };
}

/** The config from the flags given and the process's environment. */
export function loadInjectorConfig(values: FlagValues): Configured<InjectorConfig> {
  return parseInjectorConfig(values, process.env);
}

/** Reads the trust anchors file; throws with the path when absent or not PEM. */
export function readTrustAnchors(path: string): string {
  const pem = readFileSync(path, 'utf8');
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`${path} holds no PEM certificate`);
  return pem;
}
