/**
 * A KubeConfig whose requests share one connection pool to the API server.
 *
 * @kubernetes/client-node's `applySecurityAuthentication` builds a new undici Agent on every call,
 * and every API call made here goes through it: each list page, each route status PATCH, each
 * Lease renewal (every 2 s), each watch (re)connection (a quiet watch reconnects every 30 s), each
 * TokenReview. Each of those Agents opened its own TLS connection with its own SecureContext (CA,
 * client certificate and key parsed again) and left it to idle out: thousands of handshakes while
 * the controller writes route status after a start, and a steady churn of native TLS allocations
 * afterwards, which glibc malloc keeps as resident memory.
 *
 * Here the library still builds the request (headers and tokens are refreshed per request, as
 * before), but the request goes out on one long-lived Agent that pools keep-alive connections. The
 * Agent is replaced every `refreshMs`, so TLS material that changes in the kubeconfig (a rotated CA
 * bundle or client certificate) takes effect as it did; the replaced Agent closes once its
 * requests, watches included, have ended.
 */
import { KubeConfig, type RequestContext } from '@kubernetes/client-node';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

/** How long one Agent serves new requests before a fresh one (with re-read TLS material) takes over. */
export const POOL_REFRESH_MS = 10 * 60_000;

export class PooledKubeConfig extends KubeConfig {
  private pool: { readonly dispatcher: Dispatcher; readonly since: number } | undefined;

  constructor(
    private readonly refreshMs = POOL_REFRESH_MS,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    // No TLS options (plain HTTP): the library uses fetch's global dispatcher, already shared.
    if (fresh === undefined) return;
    const t = this.now();
    if (this.pool === undefined || t - this.pool.since >= this.refreshMs) {
      const old = this.pool?.dispatcher;
      this.pool = { dispatcher: fresh, since: t };
      old?.close().catch(() => undefined);
      return;
    }
    // Never used: closing it releases nothing but its bookkeeping.
    fresh.close().catch(() => undefined);
    context.setDispatcher(this.pool.dispatcher);
  }
}
