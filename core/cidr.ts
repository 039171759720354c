/**
 * IP addresses and CIDR blocks, IPv4 and IPv6, parsed and matched by hand: core/ is pure and imports
 * no node: built-in (node:net's BlockList would do this), and the whole job is small.
 *
 * Model: an address is four 32-bit words (IPv4 uses word 0 only); a CIDR is an address, a prefix
 * length and a family. `NetworkSet` is the compiled form of a list of `{cidr, except[]}` entries,
 * built once at compile time so that the per-request test is a few integer comparisons.
 *
 * Invariants:
 * - Parsing returns values, never throws. Anything ambiguous is rejected rather than guessed:
 *   leading zeros in IPv4 octets (`010.0.0.1` is octal to some parsers), empty groups, prefix lengths
 *   outside 0..32 / 0..128, trailing garbage.
 * - An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`, what a dual-stack socket reports for an IPv4
 *   peer) is matched as the IPv4 address it carries, so IPv4 CIDRs cover IPv4 peers on any socket.
 * - A zone index (`fe80::1%eth0`) is dropped: a CIDR cannot name a zone.
 * - Host bits set below the prefix (`10.1.2.3/8`) are cleared; the block is what the prefix says.
 * - The families never mix: an IPv4 CIDR never contains an IPv6 address and vice versa.
 */

export type IpFamily = 4 | 6;

export interface IpAddress {
  readonly family: IpFamily;
  /** Four unsigned 32-bit words, most significant first; IPv4 uses word 0, the rest are 0. */
  readonly words: readonly [number, number, number, number];
}

export interface Cidr {
  readonly family: IpFamily;
  /** The network address with host bits cleared. */
  readonly words: readonly [number, number, number, number];
  readonly prefix: number;
  /** Canonical text, e.g. `10.0.0.0/8`, `fd00::/8`. */
  readonly text: string;
}

export type CidrResult = { readonly ok: true; readonly cidr: Cidr } | { readonly ok: false; readonly reason: string };

const DECIMAL_OCTET = /^(0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseIpv4Word(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!DECIMAL_OCTET.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value >>> 0;
}

function parseIpv6Words(text: string): [number, number, number, number] | undefined {
  if (text.length === 0) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (half: string): number[] | undefined => {
    if (half === '') return [];
    const out: number[] = [];
    const parts = half.split(':');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      if (i === parts.length - 1 && part.includes('.')) {
        const v4 = parseIpv4Word(part);
        if (v4 === undefined) return undefined;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else if (HEX_GROUP.test(part)) {
        out.push(parseInt(part, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groupsOf(halves[0] as string);
  const tail = halves.length === 2 ? groupsOf(halves[1] as string) : [];
  if (head === undefined || tail === undefined) return undefined;
  // An embedded IPv4 address is only allowed at the very end.
  if (halves.length === 2 && (halves[0] as string).includes('.')) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    if (head.length !== 8) return undefined;
    groups = head;
  }
  const g = (i: number): number => groups[i] as number;
  return [
    ((g(0) << 16) | g(1)) >>> 0,
    ((g(2) << 16) | g(3)) >>> 0,
    ((g(4) << 16) | g(5)) >>> 0,
    ((g(6) << 16) | g(7)) >>> 0,
  ];
}

/** Parses an IPv4 or IPv6 address as a socket reports it. IPv4-mapped IPv6 becomes IPv4. */
export function parseIp(text: string): IpAddress | undefined {
  if (text.includes(':')) {
    const zone = text.indexOf('%');
    const words = parseIpv6Words(zone >= 0 ? text.slice(0, zone) : text);
    if (words === undefined) return undefined;
    if (words[0] === 0 && words[1] === 0 && words[2] === 0xffff) {
      return { family: 4, words: [words[3], 0, 0, 0] };
    }
    return { family: 6, words };
  }
  const v4 = parseIpv4Word(text);
  return v4 === undefined ? undefined : { family: 4, words: [v4, 0, 0, 0] };
}

/** Mask of the bits of word `index` that belong to a prefix of `prefix` bits. */
function wordMask(prefix: number, index: number): number {
  const bits = Math.min(32, Math.max(0, prefix - index * 32));
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

function formatWords(family: IpFamily, words: readonly number[]): string {
  if (family === 4) {
    const w = words[0] as number;
    return `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
  }
  const groups: number[] = [];
  for (const w of words) groups.push(w >>> 16, w & 0xffff);
  // Compress the longest run of zero groups (length >= 2), as RFC 5952 says.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/**
 * Parses `address/prefix`, or a bare address (a single-host block). IPv4-mapped IPv6 blocks are not
 * accepted (write the IPv4 block): matching folds mapped peers into IPv4, so such a block could
 * never match and would be a silent no-op.
 */
export function parseCidr(text: string): CidrResult {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addressText = slash >= 0 ? trimmed.slice(0, slash) : trimmed;
  if (addressText.includes('%')) return { ok: false, reason: `CIDR ${JSON.stringify(text)} has a zone index` };
  let family: IpFamily;
  let words: [number, number, number, number];
  if (addressText.includes(':')) {
    const w = parseIpv6Words(addressText);
    if (w === undefined) return { ok: false, reason: `${JSON.stringify(text)} is not an IPv6 CIDR` };
    if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) {
      return { ok: false, reason: `${JSON.stringify(text)} is IPv4-mapped IPv6; write the IPv4 CIDR instead` };
    }
    family = 6;
    words = w;
  } else {
    const v4 = parseIpv4Word(addressText);
    if (v4 === undefined) return { ok: false, reason: `${JSON.stringify(text)} is not an IPv4 CIDR` };
    family = 4;
    words = [v4, 0, 0, 0];
  }
  const maxPrefix = family === 4 ? 32 : 128;
  let prefix = maxPrefix;
  if (slash >= 0) {
    const prefixText = trimmed.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > maxPrefix) {
      return { ok: false, reason: `${JSON.stringify(text)} has a prefix length outside 0..${maxPrefix}` };
    }
    prefix = Number(prefixText);
  }
  const masked: [number, number, number, number] = [
    (words[0] & wordMask(prefix, 0)) >>> 0,
    (words[1] & wordMask(prefix, 1)) >>> 0,
    (words[2] & wordMask(prefix, 2)) >>> 0,
    (words[3] & wordMask(prefix, 3)) >>> 0,
  ];
  return { ok: true, cidr: { family, words: masked, prefix, text: `${formatWords(family, masked)}/${prefix}` } };
}

export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.family !== ip.family) return false;
  for (let i = 0; i < 4; i++) {
    const mask = wordMask(cidr.prefix, i);
    if (mask === 0) return true;
    if (((ip.words[i] as number) & mask) >>> 0 !== cidr.words[i]) return false;
  }
  return true;
}

/** One `{cidr, except[]}` entry as NetworkAuthentication spells it. */
export interface NetworkSpec {
  readonly cidr: string;
  readonly except?: readonly string[];
}

export interface NetworkSet {
  readonly entries: readonly { readonly cidr: Cidr; readonly except: readonly Cidr[] }[];
}

export type NetworkSetResult =
  | { readonly ok: true; readonly networks: NetworkSet }
  | { readonly ok: false; readonly reason: string };

/** Compiles networks; one unparsable CIDR (block or exception) rejects the whole set. */
export function compileNetworks(specs: readonly NetworkSpec[]): NetworkSetResult {
  const entries: { cidr: Cidr; except: Cidr[] }[] = [];
  for (const spec of specs) {
    if (typeof spec.cidr !== 'string') return { ok: false, reason: 'network without a cidr' };
    const block = parseCidr(spec.cidr);
    if (!block.ok) return block;
    const except: Cidr[] = [];
    for (const text of spec.except ?? []) {
      if (typeof text !== 'string') return { ok: false, reason: `except of ${spec.cidr} is not a string` };
      const parsed = parseCidr(text);
      if (!parsed.ok) return parsed;
      except.push(parsed.cidr);
    }
    entries.push({ cidr: block.cidr, except });
  }
  return { ok: true, networks: { entries } };
}

/** Compiles plain CIDR strings (cluster networks, probe networks). */
export function compileCidrList(cidrs: readonly string[]): NetworkSetResult {
  return compileNetworks(cidrs.map((cidr) => ({ cidr })));
}

/** True when `ip` is inside some entry's block and outside that entry's exceptions. */
export function networkSetContains(set: NetworkSet, ip: IpAddress): boolean {
  for (const entry of set.entries) {
    if (!cidrContains(entry.cidr, ip)) continue;
    if (entry.except.some((ex) => cidrContains(ex, ip))) continue;
    return true;
  }
  return false;
}
