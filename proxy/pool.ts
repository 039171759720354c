/**
 * Connections to upstreams, pooled per (endpoint, identity) and reused across requests:
 *
 *   http1(ep)  an undici Pool: HTTP/1.1 keep-alive connections, mTLS (ALPN weft/http1.1) when `ep` is
 *              meshed, plain TCP otherwise (non-meshed pods; the local app on the inbound side)
 *   http2(ep)  one multiplexed node:http2 session (ALPN weft/h2 when meshed, h2c otherwise)
 *   opaque(ep) a fresh connection per downstream connection (ALPN weft/opaque when meshed)
 *
 * An endpoint with `tls` (a backend outside the mesh under the gateway's BackendTLSPolicy) is dialled
 * with TLS verified as the policy says (./backend-tls.ts) instead of plain TCP.
 *
 * A mutual-TLS handshake costs ~1.5 ms of CPU, so reuse is what keeps handshakes under 1 per 1,000
 * requests. Pools idle out after the keep-alive time; sessions that received GOAWAY are replaced.
 */
import { connect as netConnect, Socket as NetSocket } from 'node:net';
import type { Socket } from 'node:net';
import { connect as h2Connect } from 'node:http2';
import type { ClientHttp2Session } from 'node:http2';
import { createRequire } from 'node:module';
import type { Pool as UndiciPool } from 'undici';
import { MESH_ALPN } from '../core/contract.js';
import type { ProxyLimits } from './config.js';
import type { MeshTls } from './mtls.js';
import type { Endpoint } from './io.js';
import { endpointKey } from './balancer.js';
import { loopError } from './self-guard.js';
import { BackendTlsContexts } from './backend-tls.js';
import type { SelfAddresses } from './self-guard.js';

/**
 * undici's Pool alone: its package index also loads fetch, WebSocket, caches and web streams, which
 * measured +14 MB of RSS in the proxy process against +2.5 MB for the dispatcher it uses.
 */
const Pool = createRequire(import.meta.url)('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
type Pool = UndiciPool;

/** Connections per upstream endpoint and pool: a peer proxy needs about its concurrency. */
const MAX_CONNECTIONS_PER_UPSTREAM = 256;

function hostOf(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

/** Whether an upstream's pool was closed by the idle sweep (or shut down): take a new one. */
export function isRetired(up: { readonly dispatcher: unknown }): boolean {
  const d = up.dispatcher as { closed?: boolean; destroyed?: boolean };
  return d.closed === true || d.destroyed === true;
}

export class UpstreamPools {
  private readonly h1 = new Map<string, Pool>();
  /** When each HTTP/1 pool was last handed out. */
  private readonly h1Used = new Map<string, number>();
  private readonly h2 = new Map<string, ClientHttp2Session>();
  /** TLS origination to backends outside the mesh (Endpoint.tls, the gateway's BackendTLSPolicy). */
  private readonly backendTls = new BackendTlsContexts();
  private closed = false;

  constructor(private readonly mesh: MeshTls, private readonly limits: ProxyLimits, private readonly self: SelfAddresses) {}

  /** The loop error when `ep` is this proxy's own listener (counted), else undefined. */
  private loop(ep: Endpoint): Error | undefined {
    if (!this.self.isSelf(ep.ip, ep.port)) return undefined;
    this.self.refused++;
    return loopError(ep.ip, ep.port);
  }

  http1(ep: Endpoint): Pool {
    const key = endpointKey(ep);
    let pool = this.h1.get(key);
    if (pool === undefined || pool.closed || pool.destroyed) {
      // Over the bound: the pools holding no connection go first, least recently handed out first.
      if (this.h1.size >= this.limits.maxDestinations) this.sweep(0, Date.now(), this.h1.size - this.limits.maxDestinations + 1);
      pool = this.newPool(ep);
      this.h1.set(key, pool);
    }
    this.h1Used.set(key, Date.now());
    return pool;
  }

  /**
   * Closes and forgets the HTTP/1 pools not handed out for `idleMs` that hold no connection and no
   * request (their keep-alive connections have timed out), so the pools of destinations the app no
   * longer dials do not pile up. Listeners that cached such a pool take a new one (`isRetired`).
   */
  sweep(idleMs: number, now: number = Date.now(), limit = Number.POSITIVE_INFINITY): number {
    const idle = [...this.h1Used].filter(([, at]) => now - at >= idleMs).sort((a, b) => a[1] - b[1]);
    let n = 0;
    for (const [key] of idle) {
      if (n >= limit) break;
      const pool = this.h1.get(key);
      if (pool === undefined) continue;
      const st = pool.stats;
      if (st.connected > 0 || st.pending > 0 || st.running > 0) continue;
      this.h1.delete(key);
      this.h1Used.delete(key);
      void pool.close().catch(() => undefined);
      n++;
    }
    return this.h1.size + this.h2.size;
  }

  /**
   * A dispatcher holding one new connection to `ep`, for a request sent again after its pooled
   * connection was closed under it (the pool's other idle connections may be closing too). Closed by
   * the caller once the request is dispatched; it then finishes the request and lets go.
   */
  oneShot(ep: Endpoint): Pool {
    return this.newPool(ep, 1);
  }

  private newPool(ep: Endpoint, connections = MAX_CONNECTIONS_PER_UPSTREAM): Pool {
    const identity = ep.meshed ? ep.identity : undefined;
    const timeoutMs = this.limits.connectTimeoutMs;
    const connect = this.self.isSelf(ep.ip, ep.port)
      ? (_opts: object, cb: (err: Error | null, socket: Socket | null) => void) => cb(this.loop(ep) ?? loopError(ep.ip, ep.port), null)
      : identity !== undefined
      ? (_opts: object, cb: (err: Error | null, socket: Socket | null) => void) => {
        this.mesh.connect({ host: ep.ip, port: ep.port, identity, alpn: MESH_ALPN.http1, timeoutMs }).then((s) => cb(null, s), (err: Error) => cb(err, null));
      }
      : ep.tls !== undefined
      ? (_opts: object, cb: (err: Error | null, socket: Socket | null) => void) => {
        this.backendTls.connect(ep.ip, ep.port, ep.tls!, ['http/1.1'], timeoutMs, ep.source).then((s) => cb(null, s), (err: Error) => cb(err, null));
      }
      : { timeout: timeoutMs, noDelay: true };
    return new Pool(`http://${hostOf(ep.ip)}:${ep.port}`, {
      connect: connect as unknown as NonNullable<UndiciPool.Options['connect']>,
      connections,
      ...(ep.source === undefined ? {} : { localAddress: ep.source }),
      pipelining: 1,
      keepAliveTimeout: this.limits.upstreamKeepAliveMs,
      keepAliveMaxTimeout: this.limits.upstreamKeepAliveMs,
      keepAliveTimeoutThreshold: 1_000,
      bodyTimeout: 0,
      headersTimeout: 0,
      maxHeaderSize: 64 * 1024,
      strictContentLength: true,
    });
  }

  http2(ep: Endpoint): ClientHttp2Session {
    const key = endpointKey(ep);
    const existing = this.h2.get(key);
    if (existing !== undefined && !existing.closed && !existing.destroyed) return existing;
    const identity = ep.meshed ? ep.identity : undefined;
    const timeoutMs = this.limits.connectTimeoutMs;
    const session = h2Connect(`http://${hostOf(ep.ip)}:${ep.port}`, {
      createConnection: () => this.self.isSelf(ep.ip, ep.port)
        ? refusedSocket(this.loop(ep)!)
        : identity !== undefined
        ? this.mesh.connectSocket({ host: ep.ip, port: ep.port, identity, alpn: MESH_ALPN.h2, timeoutMs })
        : ep.tls !== undefined
        ? this.backendTls.connectSocket(ep.ip, ep.port, ep.tls, ['h2'], timeoutMs, ep.source)
        : netConnect({ host: ep.ip, port: ep.port, noDelay: true, ...(ep.source === undefined ? {} : { localAddress: ep.source }) }),
      settings: { enablePush: false, maxHeaderListSize: this.limits.h2MaxHeaderListBytes * 2 },
      maxSessionMemory: 32,
    });
    const forget = () => {
      if (this.h2.get(key) === session) this.h2.delete(key);
    };
    session.on('goaway', forget);
    session.on('close', forget);
    session.on('error', forget);
    session.setTimeout(this.limits.upstreamKeepAliveMs, () => {
      forget();
      session.close();
    });
    this.h2.set(key, session);
    return session;
  }

  /** A new connection for one opaque stream. */
  async opaque(ep: Endpoint): Promise<Socket> {
    return this.dial(ep, MESH_ALPN.opaque);
  }

  /** A new connection for one HTTP/1.1 upgrade exchange (ALPN weft/http1.1 when meshed). */
  async upgrade(ep: Endpoint): Promise<Socket> {
    return this.dial(ep, MESH_ALPN.http1);
  }

  private async dial(ep: Endpoint, alpn: string): Promise<Socket> {
    const loop = this.loop(ep);
    if (loop !== undefined) throw loop;
    if (ep.meshed && ep.identity !== undefined) {
      return this.mesh.connect({ host: ep.ip, port: ep.port, identity: ep.identity, alpn, timeoutMs: this.limits.connectTimeoutMs });
    }
    if (ep.tls !== undefined) return this.backendTls.connect(ep.ip, ep.port, ep.tls, ['http/1.1'], this.limits.connectTimeoutMs, ep.source);
    return new Promise((resolve, reject) => {
      const s = netConnect({ host: ep.ip, port: ep.port, noDelay: true, ...(ep.source === undefined ? {} : { localAddress: ep.source }) });
      const timer = setTimeout(() => s.destroy(Object.assign(new Error('connect timed out'), { code: 'UND_ERR_CONNECT_TIMEOUT' })), this.limits.connectTimeoutMs);
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
    });
  }

  /** Gracefully closes HTTP/2 sessions (GOAWAY) and lets HTTP/1 pools finish what is in flight. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.h2.values()) s.close();
    await Promise.allSettled([...this.h1.values()].map((p) => p.close()));
    this.h1.clear();
    this.h1Used.clear();
    this.h2.clear();
  }

  destroy(): void {
    for (const s of this.h2.values()) s.destroy();
    for (const p of this.h1.values()) void p.destroy().catch(() => undefined);
    this.h1.clear();
    this.h2.clear();
  }

  /** For tests and metrics: pooled upstreams. */
  get size(): { http1: number; http2: number } {
    return { http1: this.h1.size, http2: this.h2.size };
  }
}

/** A socket that fails at once: what an HTTP/2 session gets instead of a connection to itself. */
function refusedSocket(err: Error): Socket {
  const s = new NetSocket();
  process.nextTick(() => s.destroy(err));
  return s;
}
