/**
 * An open-loop load generator that runs inside a meshed client pod (the examples image runs it as
 * `args: [load-loop]`, examples/Dockerfile).
 *
 * It starts one GET to TARGET_URL every 1000/RATE ms whatever happened to the previous ones (open loop:
 * a slow answer never slows the sending), and counts every request: started, ok (2xx), failed (any
 * other status, a network error or no answer within TIMEOUT_MS), in flight. It also counts the answers
 * per backend (the `name` field podinfo answers with) and keeps the first 200 failures with their time,
 * status, `weft-proxy-error` header and body or error text.
 *
 * A control server on 127.0.0.1:CONTROL_PORT (loopback: the proxy never sees it) answers
 *   POST /start   starts the load (nothing is sent before: the test starts it once the mesh is ready)
 *   GET  /counts  the counters now, as JSON
 *   POST /stop    stops starting requests, waits for those in flight, then answers the final counters
 */
import { createServer } from 'node:http';

export interface LoadFailure {
  /** Milliseconds since the epoch when the request started. */
  readonly at: number;
  readonly ms: number;
  readonly status: number;
  readonly proxyError: string;
  readonly detail: string;
}

export interface LoadCounts {
  readonly started: number;
  readonly ok: number;
  readonly failed: number;
  readonly inFlight: number;
  readonly stopped: boolean;
  readonly byBackend: Readonly<Record<string, number>>;
  readonly maxLatencyMs: number;
  readonly failures: readonly LoadFailure[];
}

const env = process.env;
const target = env['TARGET_URL'] ?? '';
const rate = Number(env['RATE'] ?? '20');
const timeoutMs = Number(env['TIMEOUT_MS'] ?? '10000');
const controlPort = Number(env['CONTROL_PORT'] ?? '9000');
if (!/^https?:\/\//.test(target) || !(rate > 0 && rate <= 1000) || !(timeoutMs > 0)) {
  process.stderr.write(`load-loop: bad configuration TARGET_URL=${JSON.stringify(target)} RATE=${String(rate)} TIMEOUT_MS=${String(timeoutMs)}\n`);
  process.exit(2);
}

let started = 0;
let ok = 0;
let failed = 0;
let inFlight = 0;
let maxLatencyMs = 0;
let stopped = false;
const byBackend: Record<string, number> = {};
const failures: LoadFailure[] = [];
const idle: (() => void)[] = [];

const counts = (): LoadCounts => ({ started, ok, failed, inFlight, stopped, byBackend: { ...byBackend }, maxLatencyMs, failures: [...failures] });

function fail(f: LoadFailure): void {
  failed++;
  if (failures.length < 200) failures.push(f);
  process.stdout.write(`failure ${JSON.stringify(f)}\n`);
}

async function one(): Promise<void> {
  const at = Date.now();
  started++;
  inFlight++;
  try {
    const res = await fetch(target, { signal: AbortSignal.timeout(timeoutMs) });
    const body = await res.text();
    const ms = Date.now() - at;
    maxLatencyMs = Math.max(maxLatencyMs, ms);
    if (res.status >= 200 && res.status < 300) {
      ok++;
      let name = 'unknown';
      try {
        name = String((JSON.parse(body) as { name?: unknown }).name ?? 'unknown');
      } catch {
        // not podinfo's JSON: counted under "unknown"
      }
      byBackend[name] = (byBackend[name] ?? 0) + 1;
    } else {
      fail({ at, ms, status: res.status, proxyError: res.headers.get('weft-proxy-error') ?? '', detail: body.slice(0, 300) });
    }
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    fail({ at, ms: Date.now() - at, status: 0, proxyError: '', detail: `${e.name}: ${e.message}${e.cause ? ` (${e.cause.code ?? ''} ${e.cause.message ?? ''})` : ''}` });
  } finally {
    inFlight--;
    if (inFlight === 0) for (const f of idle.splice(0)) f();
  }
}

// Ticks are scheduled against the start time, so a late timer catches up instead of drifting.
let t0 = 0;
let tick = 0;
function schedule(): void {
  if (stopped) return;
  tick++;
  setTimeout(() => {
    if (stopped) return;
    const due = Math.floor(((Date.now() - t0) * rate) / 1000);
    while (started < due) void one();
    schedule();
  }, Math.max(0, t0 + (tick * 1000) / rate - Date.now()));
}
setInterval(() => {
  process.stdout.write(`counts started=${started} ok=${ok} failed=${failed} inFlight=${inFlight} backends=${JSON.stringify(byBackend)}\n`);
}, 10_000).unref();

createServer((req, res) => {
  const reply = () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(counts()));
  };
  if (req.method === 'POST' && req.url === '/start') {
    if (t0 === 0 && !stopped) {
      t0 = Date.now();
      schedule();
    }
    reply();
  } else if (req.method === 'POST' && req.url === '/stop') {
    stopped = true;
    if (inFlight === 0) reply();
    else idle.push(reply);
  } else if (req.url === '/counts') {
    reply();
  } else {
    res.writeHead(404).end();
  }
}).listen(controlPort, '127.0.0.1');

process.on('SIGTERM', () => {
  process.stdout.write(`final started=${started} ok=${ok} failed=${failed} inFlight=${inFlight}\n`);
  process.exit(0);
});
