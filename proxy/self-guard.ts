/**
 * The proxy's own sockets, so it never dials itself (security-cases W2). A request whose original
 * destination is one of the proxy's ports, or an endpoint that is this pod (or loopback, or the
 * unspecified address) on one of those ports, would come straight back to a listener and refill
 * itself: inbound refuses such connections, and every dial goes through `isSelf`.
 */
import { ProxyError } from './errors.js';

export class SelfAddresses {
  private readonly ports = new Set<number>();
  /** Dials refused because they would reach this proxy. */
  refused = 0;

  constructor(private readonly podIp: string) {}

  /** Records a port this proxy listens on (once bound: tests bind port 0). */
  addPort(port: number): void {
    this.ports.add(port);
  }

  isOwnPort(port: number): boolean {
    return this.ports.has(port);
  }

  /** True when `ip:port` is one of this proxy's own listening sockets. */
  isSelf(ip: string, port: number): boolean {
    if (!this.ports.has(port)) return false;
    const a = ip.toLowerCase().startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip.toLowerCase();
    return a === this.podIp.toLowerCase() || a === '0.0.0.0' || a === '::' || a === '::1' || a === 'localhost' || a.startsWith('127.');
  }
}

/** The error a dial to the proxy itself fails with: a ProxyError, so it is answered as LOOP, not retried. */
export function loopError(ip: string, port: number): ProxyError {
  return new ProxyError('LOOP', `refused to dial ${ip.includes(':') ? `[${ip}]` : ip}:${port}: it is this proxy's own listener`);
}
