/**
 * What every container running Weft's proxy code needs from its pod to join the mesh, built once for
 * the injector's sidecar (injector/patch.ts) and, later, the gateway's Deployment (docs/gateway.md):
 * the environment its config module reads (PROXY_ENV: who it is, whom it trusts, where the controller
 * is) and the projected ServiceAccount token it presents to the identity service. Pure.
 */
import { IDENTITY_TOKEN_AUDIENCE, PROXY_ENV } from './contract.js';

/** Projected token volume: the proxy presents it to the identity service (design.md section 5). */
export const IDENTITY_TOKEN_VOLUME = 'weft-identity-token';
export const IDENTITY_TOKEN_DIR = '/var/run/secrets/tokens';
/** A day, refreshed by the kubelet at 80%; the identity service checks it with TokenReview. */
export const IDENTITY_TOKEN_SECONDS = 86_400;

export type EnvVar = Record<string, unknown>;

/** The pod volume holding the identity token. */
export function identityTokenVolume(): Record<string, unknown> {
  return {
    name: IDENTITY_TOKEN_VOLUME,
    projected: {
      sources: [{ serviceAccountToken: { audience: IDENTITY_TOKEN_AUDIENCE, expirationSeconds: IDENTITY_TOKEN_SECONDS, path: IDENTITY_TOKEN_VOLUME } }],
    },
  };
}

/** The container's mount of that volume. */
export function identityTokenMount(): Record<string, unknown> {
  return { name: IDENTITY_TOKEN_VOLUME, mountPath: IDENTITY_TOKEN_DIR, readOnly: true };
}

function fieldEnv(name: string, fieldPath: string): EnvVar {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

export interface ProxyBaseEnvOptions {
  readonly trustDomain: string;
  readonly trustAnchorsPem: string;
  /** host:port of the controller's gRPC server (policy, discovery, identity). */
  readonly controllerAddr: string;
  readonly logLevel: string;
  /** The sidecar's default inbound policy; absent for a proxy without an inbound side. */
  readonly defaultInboundPolicy?: string;
  readonly clusterNetworks: readonly string[];
  readonly shutdownGraceSeconds: number;
}

/** The pod's identity (downward API), the trust settings, the controller and the token file, in this order. */
export function proxyBaseEnv(o: ProxyBaseEnvOptions): EnvVar[] {
  return [
    fieldEnv(PROXY_ENV.podName, 'metadata.name'),
    fieldEnv(PROXY_ENV.podNamespace, 'metadata.namespace'),
    fieldEnv(PROXY_ENV.podIp, 'status.podIP'),
    fieldEnv(PROXY_ENV.serviceAccount, 'spec.serviceAccountName'),
    fieldEnv(PROXY_ENV.nodeIp, 'status.hostIP'),
    { name: PROXY_ENV.trustDomain, value: o.trustDomain },
    { name: PROXY_ENV.trustAnchorsPem, value: o.trustAnchorsPem },
    { name: PROXY_ENV.controllerAddr, value: o.controllerAddr },
    { name: PROXY_ENV.identityTokenFile, value: `${IDENTITY_TOKEN_DIR}/${IDENTITY_TOKEN_VOLUME}` },
    { name: PROXY_ENV.logLevel, value: o.logLevel },
    ...(o.defaultInboundPolicy !== undefined ? [{ name: PROXY_ENV.defaultInboundPolicy, value: o.defaultInboundPolicy }] : []),
    { name: PROXY_ENV.clusterNetworks, value: o.clusterNetworks.join(',') },
    { name: PROXY_ENV.shutdownGraceSeconds, value: String(o.shutdownGraceSeconds) },
  ];
}
