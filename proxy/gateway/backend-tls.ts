/**
 * The gateway's endpoints with BackendTLSPolicy applied: an Endpoints source wrapping discovery that
 * gives each endpoint of a Service port a policy targets the TLS to originate (Endpoint.tls, dialled by
 * proxy/pool.ts through proxy/backend-tls.ts). Meshed endpoints keep the mesh's mTLS: a policy never
 * replaces the gateway's own identity towards a meshed backend.
 *
 *   discovery watch(sp) -> endpoints -> + tls of sp's config (backendPortKey) -> the balancer of sp
 *   the view changes    -> setConfig: every watch whose config changed is re-emitted at once
 *
 * Endpoints with TLS pool apart from plaintext ones (endpointKey includes tlsKey), so a policy that
 * appears or changes takes effect on the next connection; connections already open finish as they are.
 */
import { backendPortKey } from '../../core/gateway/backend-tls.js';
import { originateKey, type OriginateTls } from '../backend-tls.js';
import type { Endpoint, Endpoints, ServicePort } from '../io.js';

interface Watch {
  readonly sp: ServicePort;
  readonly onUpdate: (endpoints: readonly Endpoint[]) => void;
  raw: readonly Endpoint[] | undefined;
  /** The config key the last emitted list was decorated with ('' for none). */
  emittedWith: string;
}

export class BackendTlsEndpoints implements Endpoints {
  private config = new Map<string, { readonly tls: OriginateTls; readonly key: string }>();
  private readonly watches = new Set<Watch>();

  constructor(private readonly inner: Endpoints) {}

  /** The TLS to originate per backendPortKey (the Gateway's current view). */
  setConfig(tls: ReadonlyMap<string, OriginateTls>): void {
    const next = new Map<string, { tls: OriginateTls; key: string }>();
    for (const [k, t] of tls) next.set(k, { tls: t, key: originateKey(t) });
    this.config = next;
    for (const w of this.watches) {
      if (w.raw !== undefined && this.keyFor(w.sp) !== w.emittedWith) this.emit(w);
    }
  }

  watch(sp: ServicePort, onUpdate: (endpoints: readonly Endpoint[]) => void): () => void {
    const w: Watch = { sp, onUpdate, raw: undefined, emittedWith: '' };
    this.watches.add(w);
    const stop = this.inner.watch(sp, (eps) => {
      w.raw = eps;
      this.emit(w);
    });
    return () => {
      this.watches.delete(w);
      stop();
    };
  }

  /** Why a Service port has no endpoint, as the wrapped source says (an ExternalName that does not resolve). */
  failure(sp: ServicePort): string | undefined {
    return this.inner.failure?.(sp);
  }

  private keyFor(sp: ServicePort): string {
    return this.config.get(backendPortKey(sp.namespace, sp.name, sp.port))?.key ?? '';
  }

  private emit(w: Watch): void {
    const c = this.config.get(backendPortKey(w.sp.namespace, w.sp.name, w.sp.port));
    w.emittedWith = c?.key ?? '';
    const raw = w.raw ?? [];
    w.onUpdate(c === undefined ? raw : raw.map((ep) => (ep.meshed ? ep : { ...ep, tls: c.tls, tlsKey: c.key })));
  }
}
