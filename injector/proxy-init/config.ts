/**
 * `weft proxy-init` flags, parsed into one frozen object with every error reported together. The
 * defaults are the contract's ports and UID; the injector passes only the skipped port lists.
 */
import { parseArgs } from 'node:util';
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

export const USAGE = `Usage: weft proxy-init [flags]

Sets up the pod's iptables redirection (run as the injected init container, root with NET_ADMIN and
NET_RAW): inbound TCP to the proxy's inbound port, outbound TCP to its outbound port, except the
proxy's own UID, loopback, the admin port and the skipped ports. Safe to run again: Weft's chains are
flushed and rebuilt, the jumps into them added once.

Flags:
  --skip-inbound-ports LIST    ports or ranges not redirected inbound, e.g. 9102,8000-8099
  --skip-outbound-ports LIST   destination ports or ranges not redirected outbound
  --inbound-port PORT          the proxy's inbound port (default ${DEFAULT_REDIRECT.inboundPort})
  --outbound-port PORT         the proxy's outbound port (default ${DEFAULT_REDIRECT.outboundPort})
  --admin-port PORT            the proxy's admin port, never redirected (default ${DEFAULT_REDIRECT.adminPort})
  --proxy-uid UID              the proxy's UID, never redirected (default ${DEFAULT_REDIRECT.proxyUid})
  --ipv6 auto|on|off           also program ip6tables: auto = when it works here (default auto)
  --dry-run                    print the iptables-restore input and change nothing
  -h, --help                   this help
`;

export type ParseResult =
  | { readonly ok: true; readonly config: ProxyInitConfig }
  | { readonly ok: false; readonly help: boolean; readonly errors: readonly string[] };

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

export function parseProxyInitArgs(argv: readonly string[]): ParseResult {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        'skip-inbound-ports': { type: 'string' },
        'skip-outbound-ports': { type: 'string' },
        'inbound-port': { type: 'string' },
        'outbound-port': { type: 'string' },
        'admin-port': { type: 'string' },
        'proxy-uid': { type: 'string' },
        ipv6: { type: 'string' },
        'dry-run': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return { ok: false, help: false, errors: [(err as Error).message] };
  }
  if (values['help'] === true) return { ok: false, help: true, errors: [] };
  const errors: string[] = [];
  const int = (flag: string, dflt: number, max: number): number => {
    const v = values[flag];
    if (typeof v !== 'string') return dflt;
    if (!/^\d+$/.test(v) || Number(v) > max || (max === 65535 && Number(v) === 0)) {
      errors.push(`--${flag}: ${JSON.stringify(v)} is not a number between ${max === 65535 ? 1 : 0} and ${max}`);
      return dflt;
    }
    return Number(v);
  };
  const ports = (flag: string): PortRange[] => {
    const v = values[flag];
    if (typeof v !== 'string') return [];
    const r = parsePortList(v);
    if (typeof r === 'string') {
      errors.push(`--${flag}: ${r}`);
      return [];
    }
    return r;
  };
  const ipv6 = typeof values['ipv6'] === 'string' ? values['ipv6'] : 'auto';
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
  if (errors.length > 0) return { ok: false, help: false, errors };
  return { ok: true, config: Object.freeze({ redirect: Object.freeze(redirect), ipv6: ipv6 as Ipv6Mode, dryRun: values['dry-run'] === true }) };
}
