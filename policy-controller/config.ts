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
  DEFAULT_TRUST_DOMAIN,
  ISSUER_SECRET_NAME,
} from '../core/contract.js';
import { parseCidr } from '../core/cidr.js';
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
}

export const USAGE = `Usage: weft controller [flags]

Flags (environment variable in brackets; flags win):
  --kubeconfig PATH               kubeconfig to use; in-cluster config when absent [${CONTROL_PLANE_ENV.kubeconfig}]
  --namespace NS                  control-plane namespace (default ${CONTROL_PLANE_NAMESPACE}) [${CONTROL_PLANE_ENV.namespace}]
  --trust-domain TD               SPIFFE trust domain (default ${DEFAULT_TRUST_DOMAIN}) [${CONTROL_PLANE_ENV.trustDomain}]
  --cert-lifetime DURATION        workload certificate lifetime, e.g. 24h, 60s (default 24h) [${CONTROL_PLANE_ENV.certLifetime}]
  --issuer-secret [NS/]NAME       Secret holding the issuer (default <namespace>/${ISSUER_SECRET_NAME}) [${CONTROL_PLANE_ENV.issuerSecret}]
  --issuer-dir DIR                read the issuer from DIR/{ca.crt,tls.crt,tls.key} instead [${CONTROL_PLANE_ENV.issuerDir}]
  --listen-host HOST              address the servers bind (default 0.0.0.0)
  --grpc-port PORT                gRPC port (default ${CONTROLLER_GRPC_PORT}) [${CONTROL_PLANE_ENV.grpcPort}]
  --admin-port PORT               admin HTTP port: /ready /live /metrics (default ${CONTROLLER_ADMIN_PORT}) [${CONTROL_PLANE_ENV.adminPort}]
  --token-review-concurrency N    concurrent TokenReviews (default 8) [${CONTROL_PLANE_ENV.tokenReviewConcurrency}]
  --log-level LEVEL               ${LOG_LEVELS.join(', ')} (default info) [${CONTROL_PLANE_ENV.logLevel}]
  --cluster-networks CIDRS        comma-separated networks of the cluster-* policies (default ${DEFAULT_CLUSTER_NETWORKS.join(',')}) [${CONTROL_PLANE_ENV.clusterNetworks}]
  --reference-grant-check BOOL    require ReferenceGrants for cross-namespace backendRefs (default true) [${CONTROL_PLANE_ENV.referenceGrantCheck}]
  --default-inbound-policy P      ${DEFAULT_INBOUND_POLICIES.join(', ')} (default ${FALLBACK_DEFAULT_INBOUND_POLICY}) [${CONTROL_PLANE_ENV.defaultInboundPolicy}]
  --webhook-port PORT             validating webhook HTTPS port (default ${CONTROLLER_WEBHOOK_PORT}) [${CONTROL_PLANE_ENV.webhookPort}]
  --tls-dir DIR                   the webhook's tls.crt and tls.key (default: issued by the mesh issuer) [${CONTROL_PLANE_ENV.tlsDir}]
`;

const FLAGS = [
  'kubeconfig', 'namespace', 'trust-domain', 'cert-lifetime', 'issuer-secret', 'issuer-dir', 'listen-host',
  'grpc-port', 'admin-port', 'token-review-concurrency', 'log-level',
  'cluster-networks', 'reference-grant-check', 'default-inbound-policy', 'webhook-port', 'tls-dir',
] as const;
type Flag = (typeof FLAGS)[number];

export type ParseResult =
  | { readonly ok: true; readonly config: ControllerConfig }
  | { readonly ok: false; readonly help: boolean; readonly errors: readonly string[] };

const UNITS_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses "24h", "90s", "1h30m", "1500ms"; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return undefined;
  return parts.reduce((sum, p) => sum + Number(p[1]) * (UNITS_MS[p[2] ?? ''] ?? NaN), 0);
}

export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParseResult {
  const errors: string[] = [];
  const flags = new Map<Flag, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') return { ok: false, help: true, errors: [] };
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    const name = m?.[1];
    if (m === null || name === undefined || !(FLAGS as readonly string[]).includes(name)) {
      errors.push(`unknown argument ${JSON.stringify(arg)}`);
      continue;
    }
    let value = m[2];
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) {
        errors.push(`--${name} needs a value`);
        continue;
      }
      i++;
    }
    flags.set(name as Flag, value);
  }

  const pick = (flag: Flag, envName: string | undefined): { value: string; from: string } | undefined => {
    const f = flags.get(flag);
    if (f !== undefined) return { value: f, from: `--${flag}` };
    const e = envName === undefined ? undefined : env[envName];
    if (e !== undefined && e !== '') return { value: e, from: envName ?? '' };
    return undefined;
  };
  const port = (flag: Flag, envName: string, def: number): number => {
    const v = pick(flag, envName);
    if (v === undefined) return def;
    const n = Number(v.value);
    if (!/^\d+$/.test(v.value) || n > 65535) {
      errors.push(`${v.from}: ${JSON.stringify(v.value)} is not a port number (0-65535)`);
      return def;
    }
    return n;
  };

  const namespace = pick('namespace', CONTROL_PLANE_ENV.namespace)?.value ?? CONTROL_PLANE_NAMESPACE;
  const trustDomainV = pick('trust-domain', CONTROL_PLANE_ENV.trustDomain);
  const trustDomain = trustDomainV?.value ?? DEFAULT_TRUST_DOMAIN;
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(trustDomain)) {
    errors.push(`${trustDomainV?.from ?? 'trust domain'}: ${JSON.stringify(trustDomain)} is not a valid trust domain (lower-case DNS name)`);
  }

  const logV = pick('log-level', CONTROL_PLANE_ENV.logLevel);
  let logLevel: LogLevel = 'info';
  if (logV !== undefined) {
    if ((LOG_LEVELS as readonly string[]).includes(logV.value)) logLevel = logV.value as LogLevel;
    else errors.push(`${logV.from}: ${JSON.stringify(logV.value)} is not one of ${LOG_LEVELS.join(', ')}`);
  }

  const lifetimeV = pick('cert-lifetime', CONTROL_PLANE_ENV.certLifetime);
  let certLifetimeMs = 24 * 3_600_000;
  if (lifetimeV !== undefined) {
    const ms = parseDuration(lifetimeV.value);
    // Below a second the 70% renewal point and the one-second precision of X.509 times collide.
    if (ms === undefined || ms < 1000 || ms > 366 * 24 * 3_600_000) {
      errors.push(`${lifetimeV.from}: ${JSON.stringify(lifetimeV.value)} is not a duration between 1s and 8784h (e.g. 24h, 60s)`);
    } else certLifetimeMs = ms;
  }

  const dirV = pick('issuer-dir', CONTROL_PLANE_ENV.issuerDir);
  const secretV = pick('issuer-secret', CONTROL_PLANE_ENV.issuerSecret);
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

  const grpcPort = port('grpc-port', CONTROL_PLANE_ENV.grpcPort, CONTROLLER_GRPC_PORT);
  const adminPort = port('admin-port', CONTROL_PLANE_ENV.adminPort, CONTROLLER_ADMIN_PORT);
  if (grpcPort !== 0 && grpcPort === adminPort) errors.push(`the gRPC and admin ports are both ${grpcPort}`);

  const concV = pick('token-review-concurrency', CONTROL_PLANE_ENV.tokenReviewConcurrency);
  let tokenReviewConcurrency = 8;
  if (concV !== undefined) {
    const n = Number(concV.value);
    if (!/^\d+$/.test(concV.value) || n < 1 || n > 1000) errors.push(`${concV.from}: ${JSON.stringify(concV.value)} is not an integer from 1 to 1000`);
    else tokenReviewConcurrency = n;
  }

  const netV = pick('cluster-networks', CONTROL_PLANE_ENV.clusterNetworks);
  let clusterNetworks: readonly string[] = DEFAULT_CLUSTER_NETWORKS;
  if (netV !== undefined) {
    const list = netV.value.split(',').map((x) => x.trim()).filter((x) => x !== '');
    const bad = list.map((c) => ({ c, r: parseCidr(c) })).filter((x) => !x.r.ok);
    if (list.length === 0) errors.push(`${netV.from}: lists no networks`);
    for (const b of bad) errors.push(`${netV.from}: ${JSON.stringify(b.c)} is not a CIDR (${b.r.ok ? '' : b.r.reason})`);
    clusterNetworks = list;
  }
  const grantV = pick('reference-grant-check', CONTROL_PLANE_ENV.referenceGrantCheck);
  let referenceGrantCheck = true;
  if (grantV !== undefined) {
    if (grantV.value === 'true' || grantV.value === 'false') referenceGrantCheck = grantV.value === 'true';
    else errors.push(`${grantV.from}: ${JSON.stringify(grantV.value)} is not true or false`);
  }
  const dipV = pick('default-inbound-policy', CONTROL_PLANE_ENV.defaultInboundPolicy);
  let defaultInboundPolicy: DefaultInboundPolicy = FALLBACK_DEFAULT_INBOUND_POLICY;
  if (dipV !== undefined) {
    if (isDefaultInboundPolicy(dipV.value)) defaultInboundPolicy = dipV.value;
    else errors.push(`${dipV.from}: ${JSON.stringify(dipV.value)} is not one of ${DEFAULT_INBOUND_POLICIES.join(', ')}`);
  }
  const webhookPort = port('webhook-port', CONTROL_PLANE_ENV.webhookPort, CONTROLLER_WEBHOOK_PORT);
  if (webhookPort !== 0 && (webhookPort === grpcPort || webhookPort === adminPort)) errors.push(`the webhook port ${webhookPort} is also the gRPC or admin port`);
  const webhookTlsDir = pick('tls-dir', CONTROL_PLANE_ENV.tlsDir)?.value;

  if (errors.length > 0) return { ok: false, help: false, errors };
  return {
    ok: true,
    config: Object.freeze({
      kubeconfig: pick('kubeconfig', CONTROL_PLANE_ENV.kubeconfig)?.value,
      namespace,
      trustDomain,
      logLevel,
      certLifetimeMs,
      issuer: Object.freeze(issuer),
      listenHost: flags.get('listen-host') ?? '0.0.0.0',
      grpcPort,
      adminPort,
      tokenReviewConcurrency,
      clusterNetworks: Object.freeze([...clusterNetworks]),
      referenceGrantCheck,
      defaultInboundPolicy,
      webhookPort,
      webhookTlsDir,
    }),
  };
}

/** Parses the process's own flags and environment. */
export function loadConfig(argv: readonly string[]): ParseResult {
  return parseConfig(argv, process.env);
}
