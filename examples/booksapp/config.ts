/**
 * Configuration of the booksapp programs, from the environment: the only module that reads it.
 * Each parser takes the environment as an argument (tests pass a plain object), reports every error at
 * once, and returns a frozen object; main.ts exits before binding a port when anything is wrong.
 *
 * Ports and upstream URLs default to what manifests/booksapp.yaml uses, so the programs run there with
 * no environment at all: webapp 7000, authors 7001, books 7002, podinfo 9898, error-injector 8080.
 */

export type Env = Readonly<Record<string, string | undefined>>;

/** The programs main.js runs: `main.js <app>`, `args: [booksapp, <app>]` in the examples image. */
export const APP_NAMES = ['webapp', 'books', 'authors', 'traffic', 'podinfo', 'error-injector'] as const;
export type AppName = (typeof APP_NAMES)[number];

export const DEFAULT_PORTS = { webapp: 7000, authors: 7001, books: 7002, podinfo: 9898, errorInjector: 8080 } as const;

/** How long a program waits for an upstream answer before giving up with 504. */
const DEFAULT_UPSTREAM_TIMEOUT_MS = 5000;

export interface WebappConfig {
  readonly port: number;
  readonly booksUrl: string;
  readonly authorsUrl: string;
  readonly upstreamTimeoutMs: number;
}

export interface BooksConfig {
  readonly port: number;
  readonly authorsUrl: string;
  readonly upstreamTimeoutMs: number;
}

export interface AuthorsConfig {
  readonly port: number;
  /** Share (0..1) of API requests answered 500 on purpose. Probes are never failed. */
  readonly failureRate: number;
  /** Delay added to a share of API requests (DELAY_RATE), for the timeouts scenario. */
  readonly delayMs: number;
  readonly delayRate: number;
}

export interface TrafficConfig {
  readonly webappUrl: string;
  /** Requests started per second, whatever the answers take (open loop). */
  readonly ratePerSecond: number;
  readonly reportIntervalMs: number;
  /** Stop (and print the totals) after this many requests; 0 runs until SIGTERM. */
  readonly maxRequests: number;
  /** Every Nth tick adds a write cycle (POST, PUT, DELETE of a book); 0 sends only GET /. */
  readonly writeEvery: number;
  readonly upstreamTimeoutMs: number;
}

export interface PodinfoConfig {
  readonly port: number;
  readonly name: string;
}

export interface ErrorInjectorConfig {
  readonly port: number;
}

export type Parsed<T> = { readonly ok: true; readonly config: T } | { readonly ok: false; readonly errors: readonly string[] };

/** Reads typed values from an environment, collecting every error instead of stopping at the first. */
class Reader {
  readonly errors: string[] = [];
  constructor(private readonly env: Env) {}

  port(name: string, fallback: number): number {
    return this.integer(name, fallback, 0, 65535);
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      this.errors.push(`${name}=${raw}: want an integer from ${min} to ${max}`);
      return fallback;
    }
    return n;
  }

  fraction(name: string, fallback: number): number {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0 || n > 1) {
      this.errors.push(`${name}=${raw}: want a number from 0 to 1`);
      return fallback;
    }
    return n;
  }

  positive(name: string, fallback: number): number {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) {
      this.errors.push(`${name}=${raw}: want a number above 0`);
      return fallback;
    }
    return n;
  }

  url(name: string, fallback: string): string {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    try {
      const u = new URL(raw);
      if (u.protocol !== 'http:') throw new Error('not http');
      return raw.replace(/\/+$/, '');
    } catch {
      this.errors.push(`${name}=${raw}: want an http:// URL`);
      return fallback;
    }
  }

  text(name: string, fallback: string): string {
    const raw = this.env[name];
    return raw === undefined || raw === '' ? fallback : raw;
  }

  done<T>(config: T): Parsed<T> {
    return this.errors.length > 0 ? { ok: false, errors: this.errors } : { ok: true, config: Object.freeze(config) };
  }
}

export function webappConfig(env: Env): Parsed<WebappConfig> {
  const r = new Reader(env);
  return r.done({
    port: r.port('PORT', DEFAULT_PORTS.webapp),
    booksUrl: r.url('BOOKS_URL', `http://books:${DEFAULT_PORTS.books}`),
    authorsUrl: r.url('AUTHORS_URL', `http://authors:${DEFAULT_PORTS.authors}`),
    upstreamTimeoutMs: r.integer('UPSTREAM_TIMEOUT_MS', DEFAULT_UPSTREAM_TIMEOUT_MS, 1, 600_000),
  });
}

export function booksConfig(env: Env): Parsed<BooksConfig> {
  const r = new Reader(env);
  return r.done({
    port: r.port('PORT', DEFAULT_PORTS.books),
    authorsUrl: r.url('AUTHORS_URL', `http://authors:${DEFAULT_PORTS.authors}`),
    upstreamTimeoutMs: r.integer('UPSTREAM_TIMEOUT_MS', DEFAULT_UPSTREAM_TIMEOUT_MS, 1, 600_000),
  });
}

export function authorsConfig(env: Env): Parsed<AuthorsConfig> {
  const r = new Reader(env);
  const delayMs = r.integer('DELAY_MS', 0, 0, 600_000);
  return r.done({
    port: r.port('PORT', DEFAULT_PORTS.authors),
    failureRate: r.fraction('FAILURE_RATE', 0),
    delayMs,
    // DELAY_MS alone slows every request; DELAY_RATE narrows it to a share.
    delayRate: r.fraction('DELAY_RATE', 1),
  });
}

export function trafficConfig(env: Env): Parsed<TrafficConfig> {
  const r = new Reader(env);
  return r.done({
    webappUrl: r.url('WEBAPP_URL', `http://webapp:${DEFAULT_PORTS.webapp}`),
    ratePerSecond: r.positive('RATE_PER_SECOND', 5),
    reportIntervalMs: r.integer('REPORT_INTERVAL_MS', 10_000, 100, 3_600_000),
    maxRequests: r.integer('MAX_REQUESTS', 0, 0, Number.MAX_SAFE_INTEGER),
    writeEvery: r.integer('WRITE_EVERY', 10, 0, 1_000_000),
    upstreamTimeoutMs: r.integer('UPSTREAM_TIMEOUT_MS', DEFAULT_UPSTREAM_TIMEOUT_MS, 1, 600_000),
  });
}

export function podinfoConfig(env: Env): Parsed<PodinfoConfig> {
  const r = new Reader(env);
  return r.done({ port: r.port('PORT', DEFAULT_PORTS.podinfo), name: r.text('NAME', 'podinfo') });
}

export function errorInjectorConfig(env: Env): Parsed<ErrorInjectorConfig> {
  const r = new Reader(env);
  return r.done({ port: r.port('PORT', DEFAULT_PORTS.errorInjector) });
}

/** The process environment, for main.ts. */
export function processEnv(): Env {
  return process.env;
}
