/**
 * The differential test's upstream: a raw TCP server that records every byte it receives, splits the
 * stream into requests with the strict parser of diff-http1.ts, and answers each complete request
 * `200` with a 2-byte body (headers only for HEAD). Bytes the strict parser refuses are recorded as an
 * error and the connection is closed; a connection that closes mid-request leaves a `partial` record.
 */
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { parseMessage, type Parsed } from './diff-http1.js';

export type Received =
  | { readonly kind: 'request'; readonly msg: Parsed; readonly conn: number }
  | { readonly kind: 'error'; readonly reason: string; readonly bytes: string; readonly conn: number }
  | { readonly kind: 'partial'; readonly bytes: number; readonly conn: number };

export class RecordingUpstream {
  received: Received[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private conns = 0;
  port = 0;

  constructor() {
    this.server = createServer((s) => this.onConnection(s));
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  reset(): void {
    this.received = [];
  }

  private onConnection(s: Socket): void {
    const conn = ++this.conns;
    this.sockets.add(s);
    let buf = Buffer.alloc(0);
    let dead = false;
    s.on('error', () => undefined);
    s.on('close', () => {
      this.sockets.delete(s);
      if (!dead && buf.length > 0) this.received.push({ kind: 'partial', bytes: buf.length, conn });
    });
    s.on('data', (d: Buffer) => {
      if (dead) return;
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const r = parseMessage(buf, 'request');
        if (r.kind === 'more') return;
        if (r.kind === 'error') {
          dead = true;
          this.received.push({ kind: 'error', reason: r.reason, bytes: buf.toString('latin1').slice(0, 400), conn });
          s.destroy();
          return;
        }
        this.received.push({ kind: 'request', msg: r.msg, conn });
        buf = buf.subarray(r.msg.length);
        const head = r.msg.startLine.startsWith('HEAD ');
        s.write(head ? 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n' : 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      }
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
