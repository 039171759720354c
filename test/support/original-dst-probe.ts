/**
 * Runs inside a test network namespace: listens where the proxy would (an inbound port on every
 * address, an outbound port on loopback) and prints one JSON line per accepted connection with the
 * original destination the addon reports. Exits after `count` connections or 20 s.
 * Usage: original-dst-probe.js <inboundPort> <outboundPort> <count>
 */
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { originalDestination } from '../../proxy/original-dst.js';

const [inboundPort, outboundPort, count] = process.argv.slice(2).map(Number);
let seen = 0;
const servers: ReturnType<typeof createServer>[] = [];

function onConnection(listener: string) {
  return (socket: Socket) => {
    let line: string;
    try {
      line = JSON.stringify({ listener, orig: originalDestination(socket), local: `${socket.localAddress}:${socket.localPort}` });
    } catch (e) {
      line = JSON.stringify({ listener, error: (e as NodeJS.ErrnoException).code ?? String(e) });
    }
    process.stdout.write(line + '\n');
    socket.end();
    if (++seen >= (count ?? 1)) {
      for (const s of servers) s.close();
      clearTimeout(timer);
    }
  };
}

const timer = setTimeout(() => process.exit(2), 20_000);
const listen = (port: number, host: string, name: string) =>
  new Promise<void>((resolve, reject) => {
    const s = createServer(onConnection(name));
    servers.push(s);
    s.once('error', reject);
    s.listen({ port, host, ipv6Only: host === '::1' }, resolve);
  });

await listen(inboundPort!, '::', 'inbound');
await listen(outboundPort!, '127.0.0.1', 'outbound');
await listen(outboundPort!, '::1', 'outbound');
process.stdout.write('READY\n');
