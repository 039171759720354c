/**
 * Command-line parsing for the echo server and client. Both accept Go flag syntax, as the upstream
 * echo image does: `--name=value`, `-name=value`, `--name value`. Unknown flags are reported as
 * warnings, never fatal, so manifests written for the upstream image keep working.
 */
import { parseDuration, pickStatus } from './format.js';

export interface ServerFlags {
  httpPorts: number[];
  grpcPorts: number[];
  tcpPorts: number[];
  tlsPorts: number[];
  crt: string;
  key: string;
  /** `--client-ca=FILE`: TLS ports require a client certificate chaining to these CAs ('' : none asked). */
  clientCa: string;
  version: string;
  cluster: string;
  /** `--control=N`: the control port (control.ts); undefined when absent (0 picks a free port). */
  controlPort: number | undefined;
  /** `--codes=...`: the status of requests without a `codes` query parameter ('' answers 200). */
  codes: string;
}

export interface ClientFlags {
  url: string;
  method: string;
  headers: Array<[string, string]>;
  count: number;
  timeoutMs: number;
  qps: number;
}

export interface Parsed<T> {
  flags: T;
  warnings: string[];
  errors: string[];
}

interface Token {
  name: string;
  value: string | undefined;
}

/** Splits argv into flags (name without dashes, value if given inline) and positionals. */
function* tokens(argv: readonly string[], takesValue: ReadonlySet<string>): Generator<Token | string> {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('-') || arg === '-') {
      yield arg;
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    if (eq >= 0) {
      yield { name: body.slice(0, eq), value: body.slice(eq + 1) };
    } else if (takesValue.has(body) && i + 1 < argv.length) {
      yield { name: body, value: argv[++i] as string };
    } else {
      yield { name: body, value: undefined };
    }
  }
}

function port(name: string, value: string | undefined, errors: string[]): number | undefined {
  const n = Number(value);
  if (value === undefined || value === '' || !Number.isInteger(n) || n < 0 || n > 65535) {
    errors.push(`--${name}: not a port: ${value ?? '(missing)'}`);
    return undefined;
  }
  return n;
}

/**
 * The ports a server started with no port flag at all listens on: those the conformance Services
 * name (http 8080, grpc 7070, tcp 9090). Upstream manifests run the echo image without args where a
 * pod only serves as a client (the consumer namespace's echo-v1); it must still start and stay up.
 */
export const DEFAULT_SERVER_PORTS = { http: 8080, grpc: 7070, tcp: 9090 } as const;

export function withDefaultPorts(flags: ServerFlags): ServerFlags {
  if (flags.httpPorts.length + flags.grpcPorts.length + flags.tcpPorts.length + flags.tlsPorts.length > 0) return flags;
  return { ...flags, httpPorts: [DEFAULT_SERVER_PORTS.http], grpcPorts: [DEFAULT_SERVER_PORTS.grpc], tcpPorts: [DEFAULT_SERVER_PORTS.tcp] };
}

const SERVER_VALUE_FLAGS = new Set(['port', 'grpc', 'tcp', 'tls', 'crt', 'key', 'client-ca', 'version', 'cluster', 'control', 'codes']);

export function parseServerFlags(argv: readonly string[]): Parsed<ServerFlags> {
  const flags: ServerFlags = { httpPorts: [], grpcPorts: [], tcpPorts: [], tlsPorts: [], crt: '', key: '', clientCa: '', version: '', cluster: '', controlPort: undefined, codes: '' };
  const warnings: string[] = [];
  const errors: string[] = [];
  const lists = { port: flags.httpPorts, grpc: flags.grpcPorts, tcp: flags.tcpPorts, tls: flags.tlsPorts } as const;
  for (const t of tokens(argv, SERVER_VALUE_FLAGS)) {
    if (typeof t === 'string') {
      warnings.push(`ignoring argument ${JSON.stringify(t)}`);
      continue;
    }
    switch (t.name) {
      case 'port':
      case 'grpc':
      case 'tcp':
      case 'tls': {
        const p = port(t.name, t.value, errors);
        if (p !== undefined) lists[t.name].push(p);
        break;
      }
      case 'crt':
      case 'key':
      case 'version':
      case 'cluster':
        flags[t.name] = t.value ?? '';
        break;
      case 'client-ca':
        flags.clientCa = t.value ?? '';
        break;
      case 'control': {
        const p = port(t.name, t.value, errors);
        if (p !== undefined) flags.controlPort = p;
        break;
      }
      case 'codes':
        if (pickStatus(t.value ?? '') === undefined) errors.push(`--codes: not a status list (e.g. 503 or 503:3,200:7): ${t.value ?? '(missing)'}`);
        else flags.codes = t.value ?? '';
        break;
      default:
        warnings.push(`ignoring unknown flag --${t.name}${t.value === undefined ? '' : `=${t.value}`}`);
    }
  }
  return { flags, warnings, errors };
}

const CLIENT_VALUE_FLAGS = new Set(['method', 'X', 'H', 'header', 'count', 'c', 'timeout', 'qps']);

export const DEFAULT_CLIENT_TIMEOUT_MS = 5000;

export function parseClientArgs(argv: readonly string[]): Parsed<ClientFlags> {
  const flags: ClientFlags = { url: '', method: 'GET', headers: [], count: 1, timeoutMs: DEFAULT_CLIENT_TIMEOUT_MS, qps: 0 };
  const warnings: string[] = [];
  const errors: string[] = [];
  for (const t of tokens(argv, CLIENT_VALUE_FLAGS)) {
    if (typeof t === 'string') {
      if (flags.url === '') flags.url = t;
      else warnings.push(`ignoring extra argument ${JSON.stringify(t)}`);
      continue;
    }
    const value = t.value ?? '';
    switch (t.name) {
      case 'method':
      case 'X':
        if (!/^[A-Za-z]+$/.test(value)) errors.push(`--method: not a method: ${value}`);
        else flags.method = value.toUpperCase();
        break;
      case 'H':
      case 'header': {
        const colon = value.indexOf(':');
        if (colon <= 0) errors.push(`-H: expected name:value, got ${JSON.stringify(value)}`);
        else flags.headers.push([value.slice(0, colon).trim(), value.slice(colon + 1).trim()]);
        break;
      }
      case 'count':
      case 'c': {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 1) errors.push(`--count: not a positive integer: ${value}`);
        else flags.count = n;
        break;
      }
      case 'timeout': {
        const ms = parseDuration(value);
        if (ms === undefined || ms <= 0) errors.push(`--timeout: not a duration (e.g. 500ms, 2s): ${value}`);
        else flags.timeoutMs = ms;
        break;
      }
      case 'qps': {
        const n = Number(value);
        if (!Number.isFinite(n) || n < 0) errors.push(`--qps: not a non-negative number: ${value}`);
        else flags.qps = n;
        break;
      }
      default:
        warnings.push(`ignoring unknown flag --${t.name}${t.value === undefined ? '' : `=${t.value}`}`);
    }
  }
  if (flags.url === '') errors.push('missing URL (http://host[:port]/path or grpc://host:port)');
  return { flags, warnings, errors };
}
