/**
 * The boundary between the proxy and the control plane: builds the Destinations, Endpoints,
 * PolicyHook and CertificateProvider the transport needs from the api/ gRPC clients and the identity
 * client. Those clients are being built in api/ and identity/; until they land this boundary reports
 * plainly that the proxy cannot run against a cluster yet (tests and the benchmark feed the transport
 * directly).
 */
import type { ProxyConfig } from './config.js';
import { ProxyError } from './errors.js';
import type { CertificateProvider, Destinations, Endpoints, PolicyHook, ReadinessSource } from './ports.js';

export interface ControlPlane {
  readonly destinations: Destinations;
  readonly endpoints: Endpoints;
  readonly policy: PolicyHook;
  readonly certificates: CertificateProvider;
  readonly readiness: readonly ReadinessSource[];
  close(): void;
}

export function connectControlPlane(config: ProxyConfig): Promise<ControlPlane> {
  return Promise.reject(new ProxyError('NOT_READY',
    `no control-plane client is wired yet (discovery and policy watches from api/, the identity client from identity/); controller ${config.controllerAddr} not contacted`));
}
