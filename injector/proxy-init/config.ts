/**
 * `weft proxy-init` flags (no environment), parsed into one frozen object with every error reported together. The
 * defaults are the contract's ports and UID; the injector passes only the skipped port lists.
 */
import type { Configured, ExecutableSpec, FlagValues } from '../../core/flags.js';
import { normalisePorts } from '../settings.js';
import type { PortRange } from '../settings.js';
import { DEFAULT_REDIRECT } from './rules.js';
import type { RedirectOptions } from './rules.js';

export type Ipv6Mode = 'auto' | 'on' | 'off';

export interface ProxyInitConfig {
  readonly redirect: RedirectOptions;
  readonly ipv6: Ipv6Mode;
  readonly dryRun: boolean;
}

/** proxy-init's flags: `weft proxy-init` parses them with commander from this table (cli/components.ts). */
export const PROXY_INIT_FLAGS: ExecutableSpec = {
  command: 'weft proxy-init',
  description: `Sets up the pod's iptables redirection (run as the injected init container, root with NET_ADMIN and
NET_RAW): inbound TCP to the proxy's inbound port, outbound TCP to its outbound port, except the
proxy's own UID, loopback, the admin port and the skipped ports. Safe to run again: Weft's chains are
flushed and rebuilt, the jumps into them added once.`,
  flags: [
    { name: 'skip-inbound-ports', value: 'list', help: 'ports or ranges not redirected inbound, e.g. 9102,8000-8099' },
    { name: 'skip-outbound-ports', value: 'list', help: 'destination ports or ranges not redirected outbound' },
    { name: 'inbound-port', value: 'port', default: String(DEFAULT_REDIRECT.inboundPort), help: "the proxy's inbound port (1-65535)" },
    { name: 'outbound-port', value: 'port', default: String(DEFAULT_REDIRECT.outboundPort), help: "the proxy's outbound port (1-65535)" },
    { name: 'admin-port', value: 'port', default: String(DEFAULT_REDIRECT.adminPort), help: "the proxy's admin port, never redirected (1-65535)" },
    { name: 'proxy-uid', value: 'uid', default: String(DEFAULT_REDIRECT.proxyUid), help: "the proxy's UID, never redirected" },
    { name: 'ipv6', value: 'mode', default: 'auto', help: 'also program ip6tables: on, off, or auto (when ip6tables works here)' },
    { name: 'dry-run', help: 'print the iptables-restore input and change nothing' },
  ],
};

export function parsePortList(text: string): PortRange[] | string {
  const out: PortRange[] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part);
    const lo = Number(m?.[1]);
    const hi = Number(m?.[2] ?? m?.[1]);
    if (m === null || lo < 1 || hi > 65535 || lo > hi) return `${JSON.stringify(part)} is not a port or a range (8000-8099)`;
    out.push({ lo, hi });
  }
  return normalisePorts(out);
}

/** The config from the flags given (parsed by the dispatcher); every problem at once. */
export function loadProxyInitConfig(values: FlagValues): Configured<ProxyInitConfig> {
  const errors: string[] = [];
  const int = (flag: string, dflt: number, max: number): number => {
    const v = values.get(flag);
    if (typeof v !== 'string') return dflt;
    if (!/^\d+$/.test(v) || Number(v) > max || (max === 65535 && Number(v) === 0)) {
      errors.push(`--${flag}: ${JSON.stringify(v)} is not a number between ${max === 65535 ? 1 : 0} and ${max}`);
      return dflt;
    }
    return Number(v);
  };
  const ports = (flag: string): PortRange[] => {
    const v = values.get(flag);
    if (typeof v !== 'string') return [];
    const r = parsePortList(v);
    if (typeof r === 'string') {
      errors.push(`--${flag}: ${r}`);
      return [];
    }
    return r;
  };
  const ipv6V = values.get('ipv6');
  const ipv6 = typeof ipv6V === 'string' ? ipv6V : 'auto';
  if (ipv6 !== 'auto' && ipv6 !== 'on' && ipv6 !== 'off') errors.push(`--ipv6: ${JSON.stringify(ipv6)} is not auto, on or off`);
  const redirect: RedirectOptions = {
    inboundPort: int('inbound-port', DEFAULT_REDIRECT.inboundPort, 65535),
    outboundPort: int('outbound-port', DEFAULT_REDIRECT.outboundPort, 65535),
    adminPort: int('admin-port', DEFAULT_REDIRECT.adminPort, 65535),
    proxyUid: int('proxy-uid', DEFAULT_REDIRECT.proxyUid, 2 ** 31 - 1),
    skipInboundPorts: ports('skip-inbound-ports'),
    skipOutboundPorts: ports('skip-outbound-ports'),
  };
  if (new Set([redirect.inboundPort, redirect.outboundPort, redirect.adminPort]).size !== 3) {
    errors.push('the inbound, outbound and admin ports must differ');
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, config: Object.freeze({ redirect: Object.freeze(redirect), ipv6: ipv6 as Ipv6Mode, dryRun: values.get('dry-run') === true }) };
}
