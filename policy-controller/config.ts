/**
 * Configuration of `weft controller`: flags and environment parsed into one frozen object.
 * Every error is collected and reported together; main exits before binding a port if any.
 * Precedence: flag > environment > default. This is the only module of the controller that reads
 * process.env.
 */
import {
  CONTROL_PLANE_ENV,
  CONTROL_PLANE_NAMESPACE,
  CONTROLLER_ADMIN_PORT,
  CONTROLLER_GRPC_PORT,
  CONTROLLER_WEBHOOK_PORT,
  DEFAULT_CLUSTER_NETWORKS,
  DEFAULT_IMAGE,
  DEFAULT_TRUST_DOMAIN,
  ISSUER_SECRET_NAME,
} from '../core/contract.js';
import { parseCidr } from '../core/cidr.js';
import { formatDuration, parseDuration } from '../core/duration.js';
import { flagOrEnv } from '../core/flags.js';
import type { Configured, ExecutableSpec, FlagValues, Setting } from '../core/flags.js';
import { DEFAULT_INBOUND_POLICIES, FALLBACK_DEFAULT_INBOUND_POLICY, isDefaultInboundPolicy, type DefaultInboundPolicy } from '../core/kube-policy.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

export type IssuerSource =
  | { readonly kind: 'secret'; readonly namespace: string; readonly name: string }
  | { readonly kind: 'dir'; readonly path: string };

export interface ControllerConfig {
  /** Path of a kubeconfig; undefined means in-cluster (or the client's default lookup). */
  readonly kubeconfig: string | undefined;
  readonly namespace: string;
  readonly trustDomain: string;
  readonly logLevel: LogLevel;
  /** Lifetime of workload leaves (and of the controller's own serving certificate). */
  readonly certLifetimeMs: number;
  readonly issuer: IssuerSource;
  readonly listenHost: string;
  readonly grpcPort: number;
  readonly adminPort: number;
  /** At most this many TokenReviews in flight; more Certify calls wait in a bounded queue. */
  readonly tokenReviewConcurrency: number;
  /** Policy: the networks "cluster" means in the cluster-* default policies (CIDRs). */
  readonly clusterNetworks: readonly string[];
  /** Policy: require ReferenceGrants for cross-namespace backendRefs (default true). */
  readonly referenceGrantCheck: boolean;
  /** Policy: default inbound policy of ports no Server selects. */
  readonly defaultInboundPolicy: DefaultInboundPolicy;
  /** Validating webhook HTTPS port. */
  readonly webhookPort: number;
  /** Directory with the webhook's tls.crt and tls.key; undefined: issued by the mesh issuer. */
  readonly webhookTlsDir: string | undefined;
  /** Image of the gateway proxies the controller deploys for Gateways (docs/gateway.md). */
  readonly gatewayImage: string;
}

const DEFAULT_CERT_LIFETIME_MS = 24 * 3_600_000;
/** Below a second the 70% renewal point and the one-second precision of X.509 times collide. */
const MIN_CERT_LIFETIME_MS = 1000;
const MAX_CERT_LIFETIME_MS = 366 * 24 * 3_600_000;
const DEFAULT_TOKEN_REVIEW_CONCURRENCY = 8;

/** The controller's flags: `weft controller` parses them with commander from this table (cli/components.ts). */
export const CONTROLLER_FLAGS: ExecutableSpec = {
  command: 'weft controller',
  description: `Runs the control plane: the identity CA (Certify), the policy controller (watches, policy
and discovery streams, route status), the validating webhook and the admin server (/ready, /live,
/metrics).`,
  flags: [
    { name: 'kubeconfig', value: 'path', env: CONTROL_PLANE_ENV.kubeconfig, help: 'kubeconfig to use; in-cluster config when absent' },
    { name: 'namespace', value: 'ns', env: CONTROL_PLANE_ENV.namespace, default: CONTROL_PLANE_NAMESPACE, help: 'control-plane namespace' },
    { name: 'trust-domain', value: 'td', env: CONTROL_PLANE_ENV.trustDomain, default: DEFAULT_TRUST_DOMAIN, help: 'SPIFFE trust domain (a lower-case DNS name)' },
    {
      name: 'cert-lifetime', value: 'duration', env: CONTROL_PLANE_ENV.certLifetime, default: formatDuration(DEFAULT_CERT_LIFETIME_MS),
      help: `workload certificate lifetime, from ${formatDuration(MIN_CERT_LIFETIME_MS)} to ${formatDuration(MAX_CERT_LIFETIME_MS)}, e.g. 24h, 1h30m, 90s (a number needs a unit)`,
    },
    { name: 'issuer-secret', value: '[ns/]name', env: CONTROL_PLANE_ENV.issuerSecret, default: `<namespace>/${ISSUER_SECRET_NAME}`, help: 'Secret holding the issuer' },
    { name: 'issuer-dir', value: 'dir', env: CONTROL_PLANE_ENV.issuerDir, help: 'read the issuer from DIR/{ca.crt,tls.crt,tls.key} instead of a Secret' },
    { name: 'listen-host', value: 'host', default: '0.0.0.0', help: 'address the servers bind' },
    { name: 'grpc-port', value: 'port', env: CONTROL_PLANE_ENV.grpcPort, default: String(CONTROLLER_GRPC_PORT), help: 'gRPC port (0-65535)' },
    { name: 'admin-port', value: 'port', env: CONTROL_PLANE_ENV.adminPort, default: String(CONTROLLER_ADMIN_PORT), help: 'admin HTTP port: /ready, /live, /metrics (0-65535)' },
    { name: 'token-review-concurrency', value: 'n', env: CONTROL_PLANE_ENV.tokenReviewConcurrency, default: String(DEFAULT_TOKEN_REVIEW_CONCURRENCY), help: 'TokenReviews in flight at once (1-1000)' },
    { name: 'log-level', value: 'level', env: CONTROL_PLANE_ENV.logLevel, default: 'info', help: `log level: ${LOG_LEVELS.join(', ')}` },
    { name: 'cluster-networks', value: 'cidrs', env: CONTROL_PLANE_ENV.clusterNetworks, default: DEFAULT_CLUSTER_NETWORKS.join(','), help: 'comma-separated networks of the cluster-* policies' },
    { name: 'reference-grant-check', value: 'bool', env: CONTROL_PLANE_ENV.referenceGrantCheck, default: 'true', help: 'require ReferenceGrants for cross-namespace backendRefs: true or false' },
    { name: 'default-inbound-policy', value: 'policy', env: CONTROL_PLANE_ENV.defaultInboundPolicy, default: FALLBACK_DEFAULT_INBOUND_POLICY, help: `policy of ports no Server selects: ${DEFAULT_INBOUND_POLICIES.join(', ')}` },
    { name: 'webhook-port', value: 'port', env: CONTROL_PLANE_ENV.webhookPort, default: String(CONTROLLER_WEBHOOK_PORT), help: 'validating webhook HTTPS port (0-65535)' },
    { name: 'tls-dir', value: 'dir', env: CONTROL_PLANE_ENV.tlsDir, help: "the webhook's tls.crt and tls.key (default: issued by the mesh issuer)" },
    { name: 'gateway-image', value: 'image', env: CONTROL_PLANE_ENV.gatewayImage, default: DEFAULT_IMAGE, help: "image of the Gateways' proxies (weft gateway) the controller deploys" },
  ],
};

/** The config from the flags given (parsed by the dispatcher) and the environment; every problem at once. */
export function parseConfig(values: FlagValues, env: Readonly<Record<string, string | undefined>>): Configured<ControllerConfig> {
  const errors: string[] = [];
  const pick = (flag: string): Setting | undefined => flagOrEnv(CONTROLLER_FLAGS, values, env, flag);
  const port = (flag: string, def: number): number => {
    const v = pick(flag);
    if (v === undefined) return def;
    const n = Number(v.value);
    if (!/^\d+$/.test(v.value) || n > 65535) {
      errors.push(`${v.from}: ${JSON.stringify(v.value)} is not a port number (0-65535)`);
      return def;
    }
    return n;
  };

  const namespace = pick('namespace')?.value ?? CONTROL_PLANE_NAMESPACE;
  const trustDomainV = pick('trust-domain');
  const trustDomain = trustDomainV?.value ?? DEFAULT_TRUST_DOMAIN;
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(trustDomain)) {
    errors.push(`${trustDomainV?.from ?? 'trust domain'}: ${JSON.stringify(trustDomain)} is not a valid trust domain (lower-case DNS name)`);
  }

  const logV = pick('log-level');
  let logLevel: LogLevel = 'info';
  if (logV !== undefined) {
    if ((LOG_LEVELS as readonly string[]).includes(logV.value)) logLevel = logV.value as LogLevel;
    else errors.push(`${logV.from}: ${JSON.stringify(logV.value)} is not one of ${LOG_LEVELS.join(', ')}`);
  }

  const lifetimeV = pick('cert-lifetime');
  let certLifetimeMs = DEFAULT_CERT_LIFETIME_MS;
  if (lifetimeV !== undefined) {
    const d = parseDuration(lifetimeV.value);
    if (!d.ok) errors.push(`${lifetimeV.from}: ${JSON.stringify(lifetimeV.value)} is not a duration: ${d.why}`);
    else if (d.ms < MIN_CERT_LIFETIME_MS || d.ms > MAX_CERT_LIFETIME_MS) {
      errors.push(`${lifetimeV.from}: ${JSON.stringify(lifetimeV.value)} is not between ${formatDuration(MIN_CERT_LIFETIME_MS)} and ${formatDuration(MAX_CERT_LIFETIME_MS)}`);
    } else certLifetimeMs = d.ms;
  }

  const dirV = pick('issuer-dir');
  const secretV = pick('issuer-secret');
  let issuer: IssuerSource = { kind: 'secret', namespace, name: ISSUER_SECRET_NAME };
  if (dirV !== undefined && secretV !== undefined) {
    errors.push(`${dirV.from} and ${secretV.from} both name an issuer: give one`);
  } else if (dirV !== undefined) {
    issuer = { kind: 'dir', path: dirV.value };
  } else if (secretV !== undefined) {
    const parts = secretV.value.split('/');
    const [a, b] = parts;
    const valid = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;
    if (parts.length === 1 && a !== undefined && valid.test(a)) issuer = { kind: 'secret', namespace, name: a };
    else if (parts.length === 2 && a !== undefined && b !== undefined && valid.test(a) && valid.test(b)) issuer = { kind: 'secret', namespace: a, name: b };
    else errors.push(`${secretV.from}: ${JSON.stringify(secretV.value)} is not NAME or NAMESPACE/NAME`);
  }

  const grpcPort = port('grpc-port', CONTROLLER_GRPC_PORT);
  const adminPort = port('admin-port', CONTROLLER_ADMIN_PORT);
  if (grpcPort !== 0 && grpcPort === adminPort) errors.push(`the gRPC and admin ports are both ${grpcPort}`);

  const concV = pick('token-review-concurrency');
  let tokenReviewConcurrency = DEFAULT_TOKEN_REVIEW_CONCURRENCY;
  if (concV !== undefined) {
    const n = Number(concV.value);
    if (!/^\d+$/.test(concV.value) || n < 1 || n > 1000) errors.push(`${concV.from}: ${JSON.stringify(concV.value)} is not an integer from 1 to 1000`);
    else tokenReviewConcurrency = n;
  }

  const netV = pick('cluster-networks');
  let clusterNetworks: readonly string[] = DEFAULT_CLUSTER_NETWORKS;
  if (netV !== undefined) {
    const list = netV.value.split(',').map((x) => x.trim()).filter((x) => x !== '');
    const bad = list.map((c) => ({ c, r: parseCidr(c) })).filter((x) => !x.r.ok);
    if (list.length === 0) errors.push(`${netV.from}: lists no networks`);
    for (const b of bad) errors.push(`${netV.from}: ${JSON.stringify(b.c)} is not a CIDR (${b.r.ok ? '' : b.r.reason})`);
    clusterNetworks = list;
  }
  const grantV = pick('reference-grant-check');
  let referenceGrantCheck = true;
  if (grantV !== undefined) {
    if (grantV.value === 'true' || grantV.value === 'false') referenceGrantCheck = grantV.value === 'true';
    else errors.push(`${grantV.from}: ${JSON.stringify(grantV.value)} is not true or false`);
  }
  const dipV = pick('default-inbound-policy');
  let defaultInboundPolicy: DefaultInboundPolicy = FALLBACK_DEFAULT_INBOUND_POLICY;
  if (dipV !== undefined) {
    if (isDefaultInboundPolicy(dipV.value)) defaultInboundPolicy = dipV.value;
    else errors.push(`${dipV.from}: ${JSON.stringify(dipV.value)} is not one of ${DEFAULT_INBOUND_POLICIES.join(', ')}`);
  }
  const webhookPort = port('webhook-port', CONTROLLER_WEBHOOK_PORT);
  if (webhookPort !== 0 && (webhookPort === grpcPort || webhookPort === adminPort)) errors.push(`the webhook port ${webhookPort} is also the gRPC or admin port`);
  const webhookTlsDir = pick('tls-dir')?.value;
  const gatewayImage = pick('gateway-image')?.value ?? DEFAULT_IMAGE;
  if (/\s/.test(gatewayImage) || gatewayImage === '') errors.push(`gateway image ${JSON.stringify(gatewayImage)} is not an image reference`);

  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    config: Object.freeze({
      kubeconfig: pick('kubeconfig')?.value,
      namespace,
      trustDomain,
      logLevel,
      certLifetimeMs,
      issuer: Object.freeze(issuer),
      listenHost: pick('listen-host')?.value ?? '0.0.0.0',
      grpcPort,
      adminPort,
      tokenReviewConcurrency,
      clusterNetworks: Object.freeze([...clusterNetworks]),
      referenceGrantCheck,
      defaultInboundPolicy,
      webhookPort,
      webhookTlsDir,
      gatewayImage,
    }),
  };
}

/** The config from the flags given and the process's environment. */
export function loadConfig(values: FlagValues): Configured<ControllerConfig> {
  return parseConfig(values, process.env);
}
