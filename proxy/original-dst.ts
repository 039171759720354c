/**
 * The original destination of a connection that iptables redirected to one of the proxy's listeners
 * (design.md section 6). Outbound it names the Service ClusterIP:port or pod IP:port the app dialled;
 * inbound it names the app port the client meant. Read through the N-API addon in proxy/native.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

export interface OriginalDestination {
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
}

interface Addon {
  getOriginalDst(fd: number): OriginalDestination | null;
}

const require = createRequire(import.meta.url);
let addon: Addon | undefined;

function load(): Addon {
  // dist/proxy/original-dst.js -> <root>/proxy/native/build/Release/original_dst.node
  addon ??= require('../../proxy/native/build/Release/original_dst.node') as Addon;
  return addon;
}

/** The socket's file descriptor; libuv exposes it on the TCP handle. */
function fdOf(socket: Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: number } })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw Object.assign(new Error('socket has no file descriptor'), { code: 'EBADF' });
  return fd;
}

/**
 * The pre-NAT destination. A connection made straight to the listener reports the listener's own
 * address when conntrack tracks it, and null when conntrack has no entry for it; callers treat both
 * as "not redirected". Throws with `code` for a socket that is closed or not TCP.
 */
export function originalDestination(socket: Socket): OriginalDestination | null {
  return load().getOriginalDst(fdOf(socket));
}
