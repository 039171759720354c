/**
 * What the inbound and outbound listeners share: the accepting TCP server, the downstream HTTP/1 and
 * HTTP/2 servers that parse what it hands them, the tracked connections, and the lifecycle the proxy
 * drives on shutdown (beginDrain -> closeIdle ... whenEmpty -> destroy). HTTP/1 requests, upgrades and
 * HTTP/2 streams go to the shared protocol adapters (proxy/adapters/) with the listener's Direction;
 * a listener supplies what happens on a connection and its Direction (its plan).
 */
import { createServer } from 'node:net';
import type { Server, ServerOpts, Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { serveHttp1 } from './adapters/http1.js';
import { serveStream } from './adapters/h2.js';
import { serveUpgrade } from './adapters/upgrade.js';
import { ConnectionSet, createDownstreamServers, firstRequestDeadline, getContext } from './connection.js';
import type { DownstreamServers } from './connection.js';
import type { ProxyDeps } from './deps.js';
import type { DirectionStats } from './metrics.js';
import type { Direction } from './plan.js';

/** `C`: what a listener keeps per downstream connection (setContext), handed to its plan. */
export abstract class ListenerBase<C> {
  protected readonly server: Server;
  protected readonly downstream: DownstreamServers;
  protected readonly connections: ConnectionSet;
  protected draining = false;
  protected readonly isDraining = (): boolean => this.draining;

  private readonly limits: ProxyDeps['limits'];
  private readonly directionStats: DirectionStats;

  protected constructor(deps: ProxyDeps, stats: DirectionStats, serverOptions: ServerOpts) {
    this.limits = deps.limits;
    this.directionStats = stats;
    this.connections = new ConnectionSet(stats);
    this.downstream = createDownstreamServers(
      deps.limits,
      stats,
      (req, res) => this.onRequest(req, res),
      (req, socket, head) => this.onUpgrade(req, socket, head),
      (stream, headers) => this.onStream(stream, headers),
    );
    this.server = createServer(serverOptions, (s) => this.onConnection(s));
  }

  protected abstract readonly direction: Direction<C>;
  protected abstract onConnection(socket: Socket): void;

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    serveHttp1(this.direction, getContext<C>(req.socket), req, res);
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    serveUpgrade(this.direction, getContext<C>(req.socket), { req, socket, head });
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    serveStream(this.direction, getContext<C>(stream.session?.socket), stream, headers);
  }

  /** Hands a detected plaintext HTTP/1 connection to the HTTP/1 server; its first head is due by the header timeout from accept. */
  protected handHttp1(socket: Socket, acceptedAt: number): void {
    firstRequestDeadline(socket, acceptedAt, this.limits.headersTimeoutMs, this.directionStats);
    this.downstream.http1.emit('connection', socket);
    socket.resume();
  }

  /**
   * Hands a socket back to the HTTP/1 server: after an upgrade the upstream did not accept, the next
   * bytes on the connection are a new request, parsed, routed and authorized like any other.
   */
  protected resumeHttp1(socket: Duplex): void {
    this.downstream.http1.emit('connection', socket);
    socket.resume();
  }

  listen(port: number, host: string): Promise<{ port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.removeListener('error', reject);
        resolve({ port: (this.server.address() as { port: number }).port });
      });
    });
  }

  /** Stops accepting; in-flight requests finish (HTTP/1 with Connection: close, HTTP/2 with GOAWAY). */
  beginDrain(): void {
    this.draining = true;
    this.server.close();
    for (const s of this.downstream.h2Sessions) s.close();
    this.downstream.http1.closeIdleConnections();
  }

  closeIdle(): void {
    this.downstream.http1.closeIdleConnections();
  }

  get openConnections(): number {
    return this.connections.size;
  }

  whenEmpty(): Promise<void> {
    return this.connections.empty();
  }

  destroy(): void {
    this.server.close();
    this.downstream.http1.close(); // stops node's connection-checking interval
    this.downstream.http2.close();
    this.connections.destroyAll();
  }

  get address(): { port: number } {
    return { port: (this.server.address() as { port: number }).port };
  }
}

/**
 * The shutdown of a set of listeners (the sidecar's two, a gateway's per port): stop accepting, close
 * idle HTTP/1 connections every 50 ms, wait until every connection has ended or `graceMs` passed, then
 * close whatever is left.
 */
export async function drainListeners(listeners: readonly Pick<ListenerBase<never>, 'beginDrain' | 'closeIdle' | 'whenEmpty' | 'destroy'>[], graceMs: number): Promise<void> {
  for (const l of listeners) l.beginDrain();
  const tick = setInterval(() => {
    for (const l of listeners) l.closeIdle();
  }, 50);
  await Promise.race([Promise.all(listeners.map((l) => l.whenEmpty())), new Promise((r) => setTimeout(r, Math.max(0, graceMs)))]);
  clearInterval(tick);
  for (const l of listeners) l.destroy();
}
