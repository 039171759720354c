/**
 * The controller's gRPC server (port 8090): one TLS listener, services added by name. The identity
 * service is the first; the policy and discovery services of the policy controller join with
 * `addService` before `listen`.
 *
 * TLS: the server presents its own certificate (issued by the mesh issuer for the controller's SPIFFE
 * ID) and renews it at 70% of its lifetime; grpc-js swaps the SecureContext for new connections.
 * Client certificates are requested but not required: Certify callers have none yet, mTLS streams
 * check theirs in their handlers.
 */
import { Server, experimental } from '@grpc/grpc-js';
import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** A grpc-js CertificateProvider fed by the controller (no files). */
export class ServingCertificates implements experimental.CertificateProvider {
  private ca: Buffer | undefined;
  private identity: { certificate: Buffer; privateKey: Buffer } | undefined;
  private readonly caListeners = new Set<CaListener>();
  private readonly idListeners = new Set<IdentityListener>();

  update(keyPem: string, certChainPem: string, anchorsPem: string): void {
    this.ca = Buffer.from(anchorsPem);
    this.identity = { certificate: Buffer.from(certChainPem), privateKey: Buffer.from(keyPem) };
    for (const l of this.caListeners) l({ caCertificate: this.ca });
    for (const l of this.idListeners) l(this.identity);
  }

  // grpc-js registers these listeners before its own watcher and never replays the first value to
  // it, so the current certificate is delivered on a microtask, once the watcher is in place.
  addCaCertificateListener(l: CaListener): void {
    this.caListeners.add(l);
    queueMicrotask(() => {
      if (this.ca !== undefined && this.caListeners.has(l)) l({ caCertificate: this.ca });
    });
  }
  removeCaCertificateListener(l: CaListener): void {
    this.caListeners.delete(l);
  }
  addIdentityCertificateListener(l: IdentityListener): void {
    this.idListeners.add(l);
    queueMicrotask(() => {
      if (this.identity !== undefined && this.idListeners.has(l)) l(this.identity);
    });
  }
  removeIdentityCertificateListener(l: IdentityListener): void {
    this.idListeners.delete(l);
  }
}

export class GrpcServer {
  private readonly server = new Server({
    // Bounds what one connection can cost: Certify messages are a few KB.
    'grpc.max_receive_message_length': 1024 * 1024,
    'grpc.keepalive_time_ms': 60_000,
  });
  readonly certificates = new ServingCertificates();
  private readonly names: string[] = [];

  constructor(private readonly log: Logger) {}

  addService(name: string, definition: ServiceDefinition, implementation: UntypedServiceImplementation): void {
    this.server.addService(definition, implementation);
    this.names.push(name);
  }

  /** Binds host:port (0 picks one) over TLS and resolves with the bound port. */
  async listen(host: string, port: number): Promise<number> {
    // grpc-js's factory passes its first argument on as the identity provider and its second as the
    // CA provider; giving the same object for both is unambiguous.
    const creds = experimental.createCertificateProviderServerCredentials(this.certificates, this.certificates, false);
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    const bound = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(address, creds, (err, p) => (err !== null ? reject(err) : resolve(p)));
    });
    this.log.info({ address: `${host}:${bound}`, services: this.names }, 'gRPC server listening');
    return bound;
  }

  /** Stops accepting calls, waits up to graceMs for running ones, then cuts the rest. */
  async close(graceMs = 5000): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
