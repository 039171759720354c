/**
 * Pod IP allocation from a CIDR (pure). The real node hands out 10.244.1.1 upward (10.244.0.0/24 is
 * the bridge's own: the host is 10.244.0.1); the simulated node uses its whole CIDR. Released
 * addresses are reused lowest-first so a long test run does not walk off the range.
 */
export function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`invalid IPv4 address ${ip}`);
  return (((parts[0] ?? 0) << 24) >>> 0) + ((parts[1] ?? 0) << 16) + ((parts[2] ?? 0) << 8) + (parts[3] ?? 0);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseCidr(cidr: string): { base: number; size: number; prefix: number } {
  const [ip, len] = cidr.split('/');
  const prefix = Number(len);
  if (ip === undefined || !Number.isInteger(prefix) || prefix < 8 || prefix > 30) throw new Error(`invalid IPv4 CIDR ${cidr}`);
  const size = 2 ** (32 - prefix);
  const base = ipToInt(ip) - (ipToInt(ip) % size);
  return { base, size, prefix };
}

export function cidrContains(cidr: string, ip: string): boolean {
  const { base, size } = parseCidr(cidr);
  const n = ipToInt(ip);
  return n >= base && n < base + size;
}

export class IpPool {
  private readonly first: number;
  private readonly last: number;
  private readonly byKey = new Map<string, number>();
  private readonly used = new Set<number>();
  private cursor: number;
  private freed: number[] = [];

  /** `skip`: how many addresses at the start of the CIDR are not handed out (network address included). */
  constructor(cidr: string, skip = 1) {
    const { base, size } = parseCidr(cidr);
    this.first = base + Math.max(1, skip);
    this.last = base + size - 2;
    this.cursor = this.first;
  }

  get allocatedCount(): number {
    return this.byKey.size;
  }

  ipOf(key: string): string | undefined {
    const n = this.byKey.get(key);
    return n === undefined ? undefined : intToIp(n);
  }

  /** Records an address already in use (found in state or in a pod's status). False if it is taken or outside. */
  reserve(key: string, ip: string): boolean {
    const n = ipToInt(ip);
    if (n < this.first || n > this.last || (this.used.has(n) && this.byKey.get(key) !== n)) return false;
    this.byKey.set(key, n);
    this.used.add(n);
    return true;
  }

  allocate(key: string): string {
    const existing = this.byKey.get(key);
    if (existing !== undefined) return intToIp(existing);
    let n: number | undefined;
    this.freed.sort((a, b) => a - b);
    while (this.freed.length > 0) {
      const f = this.freed.shift();
      if (f !== undefined && !this.used.has(f)) { n = f; break; }
    }
    while (n === undefined && this.cursor <= this.last) {
      if (!this.used.has(this.cursor)) n = this.cursor;
      this.cursor++;
    }
    if (n === undefined) throw new Error('pod CIDR exhausted');
    this.byKey.set(key, n);
    this.used.add(n);
    return intToIp(n);
  }

  release(key: string): void {
    const n = this.byKey.get(key);
    if (n === undefined) return;
    this.byKey.delete(key);
    this.used.delete(n);
    this.freed.push(n);
  }
}
