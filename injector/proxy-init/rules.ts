/**
 * The iptables rules proxy-init installs in the pod's network namespace, as pure data: nat-table input
 * for iptables-restore, one per address family, plus the jumps into Weft's own chains.
 *
 *   PREROUTING -p tcp -> WEFT_INBOUND:  admin port, skipped ports  -> RETURN;  rest -> REDIRECT PROXY_INBOUND_PORT
 *   OUTPUT     -p tcp -> WEFT_OUTBOUND: from 127.0.0.6 over lo -> RETURN (the inbound proxy to its app)
 *                                       proxy UID over lo to the pod's own IP -> WEFT_INBOUND (IPv4)
 *                                       proxy UID, loopback, skipped ports -> RETURN;  rest -> REDIRECT PROXY_OUTBOUND_PORT
 *
 * Idempotent: the restore input declares both chains, which flushes and rebuilds them atomically, and
 * each jump is added only when `-C` does not find it. Nothing outside these two chains and two jumps
 * is touched, and all of it lives in the pod's own network namespace.
 *
 * The proxy's own traffic (PROXY_UID) is never redirected: its outbound connections go straight to
 * peers and its inbound forwarding reaches the app. Loopback is left alone so the app can talk to
 * itself and to the proxy's admin port. The admin port is excluded inbound so the kubelet's probes
 * reach the proxy's /ready and /live directly.
 *
 * One exception to the proxy UID's pass: a pod that calls a Service can be answered by its own pod.
 * The client proxy then connects (mTLS) to its own pod IP; such a packet leaves through lo and never
 * crosses PREROUTING, so OUTPUT sends it to WEFT_INBOUND, and the inbound listener terminates it like
 * any peer's. The inbound proxy reaches the app from 127.0.0.6 (PROXY_INBOUND_SOURCE_V4), which the
 * first rule lets through, so its own forwarding never loops back. Over IPv6 the self-call is not
 * redirected (no second loopback source): such a call fails rather than reaching the app unchecked.
 */
import { PROXY_ADMIN_PORT, PROXY_INBOUND_PORT, PROXY_INBOUND_SOURCE_V4, PROXY_OUTBOUND_PORT, PROXY_UID } from '../../core/contract.js';
import type { PortRange } from '../settings.js';

export const INBOUND_CHAIN = 'WEFT_INBOUND';
export const OUTBOUND_CHAIN = 'WEFT_OUTBOUND';

export type Family = 4 | 6;

export interface RedirectOptions {
  readonly inboundPort: number;
  readonly outboundPort: number;
  readonly adminPort: number;
  readonly proxyUid: number;
  readonly skipInboundPorts: readonly PortRange[];
  readonly skipOutboundPorts: readonly PortRange[];
}

export const DEFAULT_REDIRECT: RedirectOptions = {
  inboundPort: PROXY_INBOUND_PORT,
  outboundPort: PROXY_OUTBOUND_PORT,
  adminPort: PROXY_ADMIN_PORT,
  proxyUid: PROXY_UID,
  skipInboundPorts: [],
  skipOutboundPorts: [],
};

const dport = (r: PortRange) => (r.lo === r.hi ? `${r.lo}` : `${r.lo}:${r.hi}`);

/** The rules of each chain, in iptables-save syntax without the `-A <chain>` prefix. */
export function chainRules(o: RedirectOptions, family: Family): { inbound: string[]; outbound: string[] } {
  const inbound = [
    `-p tcp -m tcp --dport ${o.adminPort} -j RETURN`,
    ...o.skipInboundPorts.map((r) => `-p tcp -m tcp --dport ${dport(r)} -j RETURN`),
    `-p tcp -j REDIRECT --to-ports ${o.inboundPort}`,
  ];
  const selfCall = family === 4 ? [
    `-s ${PROXY_INBOUND_SOURCE_V4}/32 -o lo -j RETURN`,
    `! -d 127.0.0.0/8 -o lo -m owner --uid-owner ${o.proxyUid} -j ${INBOUND_CHAIN}`,
  ] : [];
  const outbound = [
    ...selfCall,
    `-m owner --uid-owner ${o.proxyUid} -j RETURN`,
    '-o lo -j RETURN',
    `-d ${family === 4 ? '127.0.0.0/8' : '::1/128'} -j RETURN`,
    ...o.skipOutboundPorts.map((r) => `-p tcp -m tcp --dport ${dport(r)} -j RETURN`),
    `-p tcp -j REDIRECT --to-ports ${o.outboundPort}`,
  ];
  return { inbound, outbound };
}

/** Input for `iptables-restore --noflush`: declaring the chains flushes them, then they are refilled. */
export function restoreInput(o: RedirectOptions, family: Family): string {
  const { inbound, outbound } = chainRules(o, family);
  return [
    '*nat',
    `:${INBOUND_CHAIN} - [0:0]`,
    `:${OUTBOUND_CHAIN} - [0:0]`,
    ...inbound.map((r) => `-A ${INBOUND_CHAIN} ${r}`),
    ...outbound.map((r) => `-A ${OUTBOUND_CHAIN} ${r}`),
    'COMMIT',
    '',
  ].join('\n');
}

/** The jumps from the built-in chains into Weft's, as iptables arguments after `-t nat -C|-A`. */
export function jumps(): readonly (readonly string[])[] {
  return [
    ['PREROUTING', '-p', 'tcp', '-j', INBOUND_CHAIN],
    ['OUTPUT', '-p', 'tcp', '-j', OUTBOUND_CHAIN],
  ];
}
