/**
 * The echo app's text format, shared by the server (which writes it) and the client (which prints it):
 * `Key=value` lines, header names in Go's canonical form, Go-style durations.
 *
 * The conformance suite and Weft's e2e tests parse this output, so the order and spelling of the keys
 * are a contract (examples/echo/README.md).
 */

/** What the server saw of one request or call. */
export interface EchoFields {
  serviceVersion: string;
  servicePort: number;
  host: string;
  url: string;
  cluster: string;
  method: string;
  proto: string;
  ip: string;
  /** Negotiated ALPN protocol on TLS ports; omitted when empty. */
  alpn: string;
  /** The subject alternative names of the client certificate a TLS port verified; omitted when none. */
  clientCert?: string;
  /** [canonical name, value] pairs, one per value, sorted by name (stable within a name). */
  requestHeaders: ReadonlyArray<readonly [string, string]>;
  hostname: string;
}

/** The server's lines, in this order. */
export function echoLines(f: EchoFields): string[] {
  const lines = [
    `ServiceVersion=${f.serviceVersion}`,
    `ServicePort=${f.servicePort}`,
    `Host=${f.host}`,
    `URL=${f.url}`,
    `Cluster=${f.cluster}`,
    `Method=${f.method}`,
    `Proto=${f.proto}`,
    `IP=${f.ip}`,
  ];
  if (f.alpn !== '') lines.push(`Alpn=${f.alpn}`);
  if (f.clientCert !== undefined && f.clientCert !== '') lines.push(`ClientCert=${f.clientCert}`);
  for (const [name, value] of f.requestHeaders) lines.push(`RequestHeader=${name}:${value}`);
  lines.push(`Hostname=${f.hostname}`);
  return lines;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Go's textproto.CanonicalMIMEHeaderKey: the first letter and every letter after a hyphen upper case,
 * the rest lower case ("x-header-set" -> "X-Header-Set"). Names with characters outside the HTTP token
 * set are returned unchanged, as Go does.
 */
export function canonicalHeaderName(name: string): string {
  if (!TOKEN.test(name)) return name;
  let upper = true;
  let out = '';
  for (const ch of name) {
    out += upper ? ch.toUpperCase() : ch.toLowerCase();
    upper = ch === '-';
  }
  return out;
}

/**
 * Groups raw [name, value, name, value, ...] header pairs by canonical name, one pair per value, names
 * sorted, values in arrival order. Pseudo-headers (":path") and names in `skip` (lower case) are left out.
 */
export function canonicalHeaderPairs(raw: readonly string[], skip: ReadonlySet<string> = new Set()): Array<[string, string]> {
  const byName = new Map<string, string[]>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (name.startsWith(':') || skip.has(name.toLowerCase())) continue;
    const key = canonicalHeaderName(name);
    const values = byName.get(key);
    if (values) values.push(value);
    else byName.set(key, [value]);
  }
  const out: Array<[string, string]> = [];
  for (const key of [...byName.keys()].sort()) for (const v of byName.get(key) ?? []) out.push([key, v]);
  return out;
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a Go duration ("500ms", "2s", "1m30s", "1.5s", "0") into milliseconds. A bare number is taken
 * as seconds, as the upstream echo client does for --timeout. Returns undefined when malformed.
 */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    part.lastIndex = pos;
    const m = part.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    pos = part.lastIndex;
  }
  return total;
}

/** Strips the IPv4-mapped prefix and brackets, so callers see "10.0.0.7" or "fd00::7". */
export function plainAddress(address: string | undefined): string {
  if (address === undefined) return '';
  const unbracketed = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  return unbracketed.startsWith('::ffff:') && unbracketed.includes('.') ? unbracketed.slice(7) : unbracketed;
}

/** Picks a status from `codes=500` or `codes=503:1,200:3` (weighted). Undefined when malformed. */
export function pickStatus(codes: string, random: () => number = Math.random): number | undefined {
  const choices: Array<{ code: number; weight: number }> = [];
  for (const item of codes.split(',')) {
    const [c, w] = item.split(':');
    const code = Number(c);
    const weight = w === undefined ? 1 : Number(w);
    if (!Number.isInteger(code) || code < 100 || code > 599 || !Number.isFinite(weight) || weight < 0) return undefined;
    choices.push({ code, weight });
  }
  const total = choices.reduce((s, c) => s + c.weight, 0);
  if (total <= 0) return undefined;
  let r = random() * total;
  for (const c of choices) {
    if (r < c.weight) return c.code;
    r -= c.weight;
  }
  return choices[choices.length - 1]?.code;
}
