/**
 * The load generator: starts requests against webapp at a steady rate, whatever the answers take (open
 * loop), and prints the counts every REPORT_INTERVAL_MS, so the effect of a route (a 10% error share,
 * 504s from a timeout, 403s from a policy) reads straight from its log:
 *
 *   traffic: total 1000 requests: 2xx=901 4xx=0 5xx=99 no-answer=0, success 90.10% | last 10.0s: 50 requests, success 92.00%
 *
 * Most ticks send GET /. Every WRITE_EVERY-th tick instead runs a write cycle (POST /books, PUT
 * /books/:id, DELETE /books/:id), so PUT/POST/DELETE routes see traffic too. With MAX_REQUESTS the run
 * stops after that many requests and prints the totals with `final`.
 */
import type { TrafficConfig } from './config.js';
import type { Log } from './http.js';

export interface TrafficOptions extends TrafficConfig {
  readonly log: Log;
}

export interface Counts {
  requests: number;
  ok: number;
  clientError: number;
  serverError: number;
  /** No HTTP answer: refused, reset, or slower than UPSTREAM_TIMEOUT_MS. */
  noAnswer: number;
  /** Ticks dropped because too many requests were still waiting (the generator never queues). */
  skipped: number;
  /** Answers by status code. */
  byStatus: Record<string, number>;
}

export interface RunningTraffic {
  counts(): Counts;
  /** Stops starting requests, waits for those in flight, prints and returns the totals. */
  stop(): Promise<Counts>;
  /** Resolves with the totals once MAX_REQUESTS were answered (or after stop()). */
  readonly finished: Promise<Counts>;
}

/** More requests than this waiting at once means webapp is not keeping up: ticks are skipped. */
const MAX_IN_FLIGHT = 100;

const emptyCounts = (): Counts => ({ requests: 0, ok: 0, clientError: 0, serverError: 0, noAnswer: 0, skipped: 0, byStatus: {} });

function successRate(c: Counts): string {
  return c.requests === 0 ? 'n/a' : `${((100 * c.ok) / c.requests).toFixed(2)}%`;
}

/** One report line: the totals, then the requests since the previous report. */
export function formatReport(total: Counts, interval: Counts, intervalMs: number, final = false): string {
  const skipped = total.skipped > 0 ? ` skipped-ticks=${total.skipped}` : '';
  const head = `${final ? 'final: ' : ''}total ${total.requests} requests: 2xx=${total.ok} 4xx=${total.clientError} 5xx=${total.serverError} no-answer=${total.noAnswer}${skipped}, success ${successRate(total)}`;
  return final ? head : `${head} | last ${(intervalMs / 1000).toFixed(1)}s: ${interval.requests} requests, success ${successRate(interval)}`;
}

export function startTraffic(opts: TrafficOptions): RunningTraffic {
  const total = emptyCounts();
  let interval = emptyCounts();
  let intervalStart = Date.now();
  let inFlight = 0;
  let started = 0;
  let tick = 0;
  let stopped = false;
  let created = 0;
  let finish: (c: Counts) => void = () => undefined;
  const finished = new Promise<Counts>((resolve) => (finish = resolve));
  const idle: Array<() => void> = [];

  const record = (status: number | undefined): void => {
    for (const c of [total, interval]) {
      c.requests++;
      if (status === undefined) c.noAnswer++;
      else {
        c.byStatus[status] = (c.byStatus[status] ?? 0) + 1;
        if (status < 400) c.ok++;
        else if (status < 500) c.clientError++;
        else c.serverError++;
      }
    }
  };

  /** Sends one request; returns the parsed JSON body when the answer was 2xx JSON. */
  const send = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    started++;
    const init: RequestInit = { method, signal: AbortSignal.timeout(opts.upstreamTimeoutMs) };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { 'content-type': 'application/json' };
    }
    try {
      const res = await fetch(`${opts.webappUrl}${path}`, init);
      const text = await res.text();
      record(res.status);
      if (res.status >= 300 || !(res.headers.get('content-type') ?? '').includes('json')) return undefined;
      return JSON.parse(text) as unknown;
    } catch {
      record(undefined);
      return undefined;
    }
  };

  /** Requests a running write cycle will still send: held back from the budget so the cycle can finish. */
  let reserved = 0;
  const writeCycle = async (): Promise<void> => {
    const n = ++created;
    let held = 2;
    reserved += held;
    try {
      const book = (await send('POST', '/books', { title: `Traffic Volume ${n}`, author: `Traffic Author ${n % 5}` })) as { id?: number } | undefined;
      if (typeof book?.id !== 'number') return;
      held--;
      reserved--;
      await send('PUT', `/books/${book.id}`, { title: `Traffic Volume ${n}, revised` });
      held--;
      reserved--;
      await send('DELETE', `/books/${book.id}`);
    } finally {
      reserved -= held;
    }
  };

  const budgetLeft = (): number => (opts.maxRequests === 0 ? Number.POSITIVE_INFINITY : opts.maxRequests - started - reserved);

  const track = (p: Promise<unknown>): void => {
    inFlight++;
    void p.finally(() => {
      inFlight--;
      if (inFlight === 0) for (const wake of idle.splice(0)) wake();
      if (opts.maxRequests > 0 && started >= opts.maxRequests && inFlight === 0) void stop();
    });
  };

  const period = 1000 / opts.ratePerSecond;
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const onTick = (): void => {
    if (stopped) return;
    if (budgetLeft() <= 0) {
      // A write cycle that ends early gives its reserved requests back: keep ticking until it settles.
      if (reserved > 0) timer = setTimeout(onTick, period);
      return;
    }
    tick++;
    if (inFlight >= MAX_IN_FLIGHT) {
      total.skipped++;
      interval.skipped++;
    } else if (opts.writeEvery > 0 && tick % opts.writeEvery === 0 && budgetLeft() >= 3) track(writeCycle());
    else track(send('GET', '/'));
    // Schedule against the start time, so slow callbacks do not lower the rate.
    timer = setTimeout(onTick, Math.max(0, t0 + tick * period - Date.now()));
  };
  const reporter = setInterval(() => {
    const now = Date.now();
    opts.log(formatReport(total, interval, now - intervalStart));
    interval = emptyCounts();
    intervalStart = now;
  }, opts.reportIntervalMs);

  opts.log(`sending to ${opts.webappUrl} at ${opts.ratePerSecond}/s${opts.writeEvery > 0 ? `, a write cycle every ${opts.writeEvery} ticks` : ', GET / only'}${opts.maxRequests > 0 ? `, ${opts.maxRequests} requests` : ''}`);
  onTick();

  const stop = async (): Promise<Counts> => {
    if (!stopped) {
      stopped = true;
      clearTimeout(timer);
      clearInterval(reporter);
      if (inFlight > 0) await new Promise<void>((resolve) => idle.push(resolve));
      opts.log(formatReport(total, interval, Date.now() - intervalStart, true));
      finish(total);
    }
    return finished;
  };
  return { counts: () => structuredClone(total), stop, finished };
}
