/**
 * The TLS-termination benchmark (issue 20): HTTPS requests through `weft gateway` against nginx doing
 * the same job, in one run on this machine. Three TLS-terminating reverse proxies, each one process,
 * each in front of the same plaintext nginx backend answering a 2-byte body over upstream keep-alive:
 *   - nginx (the reference): one worker, `listen ssl`, TLS 1.3, the same certificate,
 *   - the Weft gateway (./gateway-harness.ts): startGateway with one HTTPS listener and one HTTPRoute,
 *     view computed by the controller's code and sent through the wire types, route metrics on and
 *     scraped every 2 s during the load,
 *   - the Node.js floor (../proxy-hop/node-floor-proxy.ts, server role without client certificates):
 *     node:https + undici's Pool, no gateway logic, the same runtime flags as Weft.
 * Every process runs for the whole benchmark and the load visits them in rounds (forward order in odd
 * rounds, reverse in even ones). Per round and proxy: wrk over HTTPS with keep-alive (handshakes
 * amortized over the run), then, unless `--handshakes 0`, wrk with `Connection: close` (a TLS
 * handshake per request; wrk offers its last session ticket, so these are resumed handshakes where the
 * server resumes: the run checks that with a client of its own and prints it). CPU is utime+stime of the proxy process from /proc/<pid>/stat around the
 * load, per 1,000 requests, and its ratio to nginx of the same round; the table gives medians and the
 * ratio range. V8 CPU profiles of a fresh gateway and a fresh floor under the keep-alive load say
 * where the gateway's CPU above the floor goes (per bucket of code, per 1,000 requests of that load).
 * The target (gateway CPU per request at most 3x nginx's) is printed with met / not met; `--write` puts
 * the block into bench/README.md. Exit 1 only on a bad measurement (failed requests, a route counter
 * short of what wrk sent).
 *
 * Usage: node dist/bench/gateway-tls/run.js [--rounds 5] [--duration 10] [--handshakes 5] [--connections 32] [--write]
 * Env: WEFT_GATEWAY_NODE_FLAGS overrides the V8 flags the Node.js processes run with (default: the
 * gateway Deployment's, GATEWAY_NODE_FLAGS in core/gateway/render.ts).
 */
import { execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { REPO_ROOT } from '../../test/support/paths.js';
import { id, TestPki } from '../../test/support/proxy-fixtures.js';
import { GATEWAY_NODE_FLAGS, GATEWAY_RUNTIME_ENV } from '../../core/gateway/render.js';
import { proxyProcessEnv } from '../../test/support/proxy-spawn.js';
import { writeReadmeSection } from '../../test/support/fuzz-report.js';
import { selfSignedServer } from '../../test/support/tls-certs.js';
import { counterSum, median, parseTlsSummary, range, ratios } from '../figures.js';
import { BUCKETS, cpuByBucket, type Bucket, type CpuProfile } from '../proxy-hop/profile.js';
import { BenchProcesses, cpuMs, freePort, rssMb, wrk } from '../support.js';
import type { GatewayHarnessSpec } from './gateway-harness.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const DURATION = Number(opt('duration', '10'));
const HANDSHAKES = Number(opt('handshakes', '5'));
const CONNECTIONS = Number(opt('connections', '32'));
const ROUNDS = Number(opt('rounds', '5'));
const WRITE = args.includes('--write');
const TARGET = 3;
const nodeFlags = (process.env['WEFT_GATEWAY_NODE_FLAGS'] ?? GATEWAY_NODE_FLAGS.join(' ')).split(' ').filter((f) => f !== '');
/** The gateway container's environment besides its configuration (GATEWAY_RUNTIME_ENV; NODE_OPTIONS as flags instead). */
const gatewayProcessEnv = () => proxyProcessEnv(process.env, GATEWAY_RUNTIME_ENV);
for (const [n, v] of [['rounds', ROUNDS], ['duration', DURATION], ['connections', CONNECTIONS]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${n} must be a positive integer, got ${String(v)}`);
}
if (!Number.isInteger(HANDSHAKES) || HANDSHAKES < 0) throw new Error(`--handshakes must be a whole number of seconds (0: off), got ${String(HANDSHAKES)}`);

const procs = new BenchProcesses('weft-gwtls-');
interface Proxy { readonly name: string; readonly port: number; readonly proc: ChildProcess; readonly admin?: number }
interface Sample { cpuPer1k: number; rps: number; failed: number; sent: number }
type Variant = 'keep-alive' | 'handshake per request';
const VARIANTS: readonly Variant[] = HANDSHAKES > 0 ? ['keep-alive', 'handshake per request'] : ['keep-alive'];

const scrape = (port: number) => fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());

async function measure(p: Proxy, variant: Variant, warmSeconds: number): Promise<Sample> {
  const url = `https://127.0.0.1:${p.port}/`;
  const headers = variant === 'keep-alive' ? [] : ['Connection: close'];
  const seconds = variant === 'keep-alive' ? DURATION : HANDSHAKES;
  const warm = warmSeconds > 0 ? wrk(url, { seconds: warmSeconds, connections: CONNECTIONS, headers }) : undefined; // pools, JIT
  await new Promise((r) => setTimeout(r, 300));
  // Metrics on: the gateway's admin port is scraped every 2 s during the measurement, as a Prometheus would.
  const scraper = p.admin === undefined ? undefined : setInterval(() => void scrape(p.admin!).catch(() => undefined), 2_000);
  const c0 = cpuMs(p.proc.pid!);
  const w = wrk(url, { seconds, connections: CONNECTIONS, headers });
  const c1 = cpuMs(p.proc.pid!);
  if (scraper !== undefined) clearInterval(scraper);
  if (w.requests === 0) throw new Error(`${p.name} (${variant}): wrk completed no request`);
  return { cpuPer1k: (c1 - c0) / (w.requests / 1000), rps: w.rps, failed: w.errors + w.non2xx + (warm === undefined ? 0 : warm.errors + warm.non2xx), sent: (warm?.requests ?? 0) + w.requests };
}

/** Protocol, cipher and key exchange a handshake of the system's OpenSSL (the library wrk uses) gets. */
function tlsOf(port: number): string {
  let out = '';
  try {
    out = execFileSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`], { input: '', timeout: 10_000, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
  } catch (err) {
    out = (err as { stdout?: Buffer }).stdout?.toString() ?? '';
  }
  const t = parseTlsSummary(out);
  return t === undefined ? 'unknown (openssl s_client printed no session)' : `${t.protocol} ${t.cipher}${t.keyExchange === undefined ? '' : `, ${t.keyExchange}`}`;
}

/** One request on a new TLS connection (offering `session`); whether the server resumed it, and the ticket it sent. */
function tlsRequest(port: number, session?: Buffer): Promise<{ reused: boolean; ticket: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    const s: TLSSocket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(session === undefined ? {} : { session }) });
    let ticket: Buffer | undefined;
    s.on('session', (t: Buffer) => {
      ticket = t;
    });
    let reused: boolean | undefined;
    s.once('secureConnect', () => {
      reused = s.isSessionReused();
      // The server closes after its answer (a half-close from here could be reset before it answers).
      s.write('GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n');
      s.resume();
    });
    s.once('close', () => (reused === undefined ? reject(new Error(`no TLS session with port ${port}`)) : resolve({ reused, ticket })));
    s.on('error', () => undefined); // a reset after the answer changes nothing; before the handshake, 'close' rejects
  });
}

/** Whether a second connection offering the first one's session ticket is resumed. */
async function resumes(port: number): Promise<boolean> {
  const first = await tlsRequest(port);
  return first.ticket !== undefined && (await tlsRequest(port, first.ticket)).reused;
}

const load0 = loadavg();
const t0 = Date.now();
const pki = await TestPki.create();
const serving = selfSignedServer(['gateway.bench.test']);
const certFile = procs.file('serving.crt', serving.certPem);
const keyFile = procs.file('serving.key', serving.keyPem);
const backendPort = await freePort();
await procs.nginx('backend', `  server { listen 127.0.0.1:${backendPort}; location / { return 200 "ok"; } }`);
const proxies: Proxy[] = [];

const NGINX = 'nginx, 1 worker';
{
  const port = await freePort();
  const proc = await procs.nginx('nginx-tls', `  upstream app { server 127.0.0.1:${backendPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate ${certFile}; ssl_certificate_key ${keyFile};
    keepalive_timeout 120s;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }`);
  proxies.push({ name: NGINX, port, proc });
}

const GATEWAY = 'Weft gateway (1 HTTPS listener, 1 HTTPRoute, route metrics)';
async function gateway(extraFlags: readonly string[] = [], tag = 'gateway'): Promise<Proxy> {
  const spec: GatewayHarnessSpec = { identity: await pki.certificate(id('edge', 'gw-weft-gateway')), serving, listenerPort: 443, backendPort };
  const harness = join(REPO_ROOT, 'dist', 'bench', 'gateway-tls', 'gateway-harness.js');
  const g = await procs.spawnReady(process.execPath, [...nodeFlags, ...extraFlags, harness, procs.file(`${tag}.json`, JSON.stringify(spec))], gatewayProcessEnv());
  return { name: GATEWAY, port: g.info['port']!, proc: g.child, admin: g.info['admin']! };
}
proxies.push(await gateway());

const FLOOR = 'Node.js floor: node:https + undici, no gateway logic';
async function floorProxy(extraFlags: readonly string[] = [], tag = 'floor'): Promise<Proxy> {
  const f = await procs.spawnReady(process.execPath, [...nodeFlags, ...extraFlags, join(REPO_ROOT, 'dist', 'bench', 'proxy-hop', 'node-floor-proxy.js'), procs.file(`${tag}.json`, JSON.stringify({
    role: 'server', listenPort: 0, targetPort: backendPort, keyPem: serving.keyPem, certPem: serving.certPem,
  }))], gatewayProcessEnv());
  return { name: FLOOR, port: f.info['port']!, proc: f.child };
}
proxies.push(await floorProxy());
const idleRss = new Map(proxies.map((p) => [p.name, rssMb(p.proc.pid!)]));
const negotiated = new Map(proxies.map((p) => [p.name, tlsOf(p.port)]));
const resumption = new Map<string, boolean>();
for (const p of proxies) resumption.set(p.name, await resumes(p.port));

// --- rounds ------------------------------------------------------------------------------------------
const key = (p: Proxy, v: Variant) => `${p.name}\u0000${v}`;
const samples = new Map<string, Sample[]>(proxies.flatMap((p) => VARIANTS.map((v) => [key(p, v), []])));
for (let round = 1; round <= ROUNDS; round++) {
  const order = round % 2 === 1 ? proxies : [...proxies].reverse();
  for (const v of VARIANTS) {
    for (const p of order) samples.get(key(p, v))!.push(await measure(p, v, round === 1 ? 2 : 1));
  }
  const line = VARIANTS.map((v) => `${v}: ${proxies.map((p) => `${p.name.split(/[,:(]/)[0]!.trim()} ${samples.get(key(p, v))!.at(-1)!.cpuPer1k.toFixed(1)}`).join(', ')}`).join('; ');
  process.stdout.write(`round ${round}/${ROUNDS} (load average ${loadavg()[0]!.toFixed(2)}) ms CPU / 1k req: ${line}\n`);
}
const gw = proxies.find((p) => p.name === GATEWAY)!;
const routeCounted = counterSum(await scrape(gw.admin!), 'weft_outbound_requests_total', { route_name: 'web-route', status_code: '200' });
const gwSent = VARIANTS.reduce((a, v) => a + samples.get(key(gw, v))!.reduce((b, s) => b + s.sent, 0), 0);
const loadedRss = new Map(proxies.map((p) => [p.name, rssMb(p.proc.pid!)]));

// --- where the CPU goes: V8 CPU profiles of a fresh gateway and a fresh floor under the keep-alive load --
/**
 * Profiles `p` (started with --cpu-prof into `dir`) over one keep-alive load: its /proc CPU per 1k
 * requests of that load, apportioned to the buckets by their share of the busy samples taken during
 * it (a sample's interval is wall time, which on a loaded machine includes waits for a core, so the
 * profile gives the shares and /proc the amount).
 */
async function profileOf(p: Proxy, dir: string): Promise<{ perK: Map<Bucket, number>; cpuPer1k: number }> {
  const url = `https://127.0.0.1:${p.port}/`;
  wrk(url, { seconds: 2, connections: CONNECTIONS });
  await new Promise((r) => setTimeout(r, 300));
  const c0 = cpuMs(p.proc.pid!);
  const t0Load = Date.now();
  const w = wrk(url, { seconds: DURATION, connections: CONNECTIONS });
  const t1Load = Date.now();
  const c1 = cpuMs(p.proc.pid!);
  const exited = new Promise((r) => p.proc.once('exit', r));
  const tKill = Date.now();
  p.proc.kill('SIGTERM');
  await exited;
  const profiles = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile);
  const busy = cpuByBucket(profiles, { fromBeforeEndUs: (tKill - t0Load) * 1000, toBeforeEndUs: (tKill - t1Load) * 1000 });
  const k = w.requests / 1000;
  const cpuPer1k = (c1 - c0) / k;
  const busyMs = [...busy.values()].reduce((a, b) => a + b, 0);
  if (busyMs === 0) throw new Error(`${p.name}: the CPU profile has no busy sample during the load`);
  return { perK: new Map([...busy].map(([b, ms]) => [b, (cpuPer1k * ms) / busyMs])), cpuPer1k };
}
const PROF_FLAGS = (dir: string) => ['--cpu-prof', `--cpu-prof-dir=${dir}`];
const gwProfile = await profileOf(await gateway(PROF_FLAGS(join(procs.work, 'prof-gateway')), 'profiled'), join(procs.work, 'prof-gateway'));
const floorProfile = await profileOf(await floorProxy(PROF_FLAGS(join(procs.work, 'prof-floor')), 'floor-profiled'), join(procs.work, 'prof-floor'));
const NATIVE: Bucket = 'native socket writes and reads (syscalls, TLS record encryption, loopback delivery)';
const sum = (m: Map<Bucket, number>) => [...m.values()].reduce((a, b) => a + b, 0);

// --- figures -----------------------------------------------------------------------------------------
const load1 = loadavg();
const minutes = ((Date.now() - t0) / 60_000).toFixed(1);
const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
const series = (p: Proxy, v: Variant, f: (s: Sample) => number) => samples.get(key(p, v))!.map(f);
const cpu = (p: Proxy, v: Variant) => series(p, v, (s) => s.cpuPer1k);
const ratioTo = (p: Proxy, ref: Proxy, v: Variant) => ratios(cpu(p, v), cpu(ref, v));
const nginx = proxies[0]!;
const floor = proxies.find((p) => p.name === FLOOR)!;
const headline = median(ratioTo(gw, nginx, 'keep-alive'));
const met = headline <= TARGET;
const failedAny = [...samples.values()].some((ss) => ss.some((s) => s.failed > 0)) || routeCounted < gwSent;

const table = (v: Variant) => [
  `| ${v === 'keep-alive' ? 'proxy (keep-alive)' : 'proxy (Connection: close)'} | CPU ms / 1k req | ratio to nginx (median) | ratio range | req/s | RSS idle / after (MB) | failed |`,
  '|---|---|---|---|---|---|---|',
  ...proxies.map((p) => `| ${p.name} | ${median(cpu(p, v)).toFixed(1)} | ${median(ratioTo(p, nginx, v)).toFixed(2)} | ${range(ratioTo(p, nginx, v))} | ${median(series(p, v, (s) => s.rps)).toFixed(0)} | ${idleRss.get(p.name)!.toFixed(0)} / ${loadedRss.get(p.name)!.toFixed(0)} | ${series(p, v, (s) => s.failed).reduce((a, b) => a + b, 0)} |`),
];
const lines = [
  `Measured ${date} UTC in ${minutes} min: ${ROUNDS} rounds; per round and proxy wrk -t2 -c${CONNECTIONS} over HTTPS, ${DURATION} s with keep-alive${HANDSHAKES > 0 ? ` and ${HANDSHAKES} s with \`Connection: close\`` : ''} (forward order in odd rounds, reverse in even), 2-byte nginx backend, all on this 2-core machine; load average (1/5/15 min) ${load0.map((x) => x.toFixed(2)).join(' / ')} before, ${load1.map((x) => x.toFixed(2)).join(' / ')} after. Node.js processes ran with \`MALLOC_ARENA_MAX=${gatewayProcessEnv()['MALLOC_ARENA_MAX'] ?? ''} node ${nodeFlags.join(' ')}\` (the gateway Deployment's GATEWAY_RUNTIME_ENV). CPU is the proxy process's utime+stime; figures are medians of the rounds, a ratio is taken within a round.`,
  '',
  `TLS each proxy negotiated with the system's OpenSSL client (wrk's library): ${proxies.map((p) => `${p.name.split(/[,:(]/)[0]!.trim()} ${negotiated.get(p.name)!}`).join('; ')}.`,
  '',
  ...table('keep-alive'),
  ...(HANDSHAKES > 0 ? ['', `A new TLS connection per request (wrk sends \`Connection: close\` and reconnects offering its last session ticket; a second connection offering the first one's ticket was resumed by: ${proxies.map((p) => `${p.name.split(/[,:(]/)[0]!.trim()} ${resumption.get(p.name)! ? 'yes' : 'no'}`).join(', ')}):`, '', ...table('handshake per request')] : []),
  '',
  `Gateway over the Node.js floor (same runtime flags, same libraries, no gateway logic; median of the rounds' ratios): ${VARIANTS.map((v) => `${v} ${median(ratioTo(gw, floor, v)).toFixed(2)}x`).join(', ')}; the floor itself is ${VARIANTS.map((v) => `${median(ratioTo(floor, nginx, v)).toFixed(2)}x nginx (${v})`).join(', ')}.`,
  '',
  `Route counter of the gateway (weft_outbound_requests_total, route web-route, 200): ${routeCounted} requests for ${gwSent} sent by wrk (warm-ups included).`,
  '',
  `Where the CPU goes: V8 CPU profiles (\`--cpu-prof\`) of a fresh gateway and a fresh floor, each under one more ${DURATION} s keep-alive load after a warm-up. Each process's /proc CPU per 1k requests of that load (with the profiler on: gateway ${gwProfile.cpuPer1k.toFixed(1)}, floor ${floorProfile.cpuPer1k.toFixed(1)} ms) is split by the share of the busy samples (self time, idle excluded) each bucket took during the load. The profiler samples the main thread only; GC helper threads' CPU is split like the rest.`,
  '',
  '| code running | gateway ms / 1k req | floor ms / 1k req | gateway minus floor |',
  '|---|---|---|---|',
  ...[...BUCKETS].sort((a, b) => (gwProfile.perK.get(b) ?? 0) - (gwProfile.perK.get(a) ?? 0)).map((b) => {
    const g = gwProfile.perK.get(b) ?? 0;
    const f = floorProfile.perK.get(b) ?? 0;
    return `| ${b} | ${g.toFixed(1)} | ${f.toFixed(1)} | ${g - f >= 0 ? '+' : ''}${(g - f).toFixed(1)} |`;
  }),
  `| all | ${sum(gwProfile.perK).toFixed(1)} | ${sum(floorProfile.perK).toFixed(1)} | ${sum(gwProfile.perK) - sum(floorProfile.perK) >= 0 ? '+' : ''}${(sum(gwProfile.perK) - sum(floorProfile.perK)).toFixed(1)} |`,
  '',
  'Target (issue 20):',
  '',
  '| figure | target | this run | | what limits it (figures of this run) |',
  '|---|---|---|---|---|',
  `| Weft gateway, CPU per HTTPS request (keep-alive) | <= ${TARGET}x nginx | ${headline.toFixed(2)}x | ${met ? 'met' : '**not met**'} | ${met ? '' : `the Node.js floor alone (node:https + undici, no gateway logic, same flags) is ${median(ratioTo(floor, nginx, 'keep-alive')).toFixed(2)}x nginx; the gateway is ${median(ratioTo(gw, floor, 'keep-alive')).toFixed(2)}x the floor. Profiled, ms CPU per 1k requests: gateway ${sum(gwProfile.perK).toFixed(1)}, floor ${sum(floorProfile.perK).toFixed(1)}; of the gateway's, its own code (proxy/, core/) ${(gwProfile.perK.get('Weft code (proxy/, core/)') ?? 0).toFixed(1)} and native socket I/O with TLS records ${(gwProfile.perK.get(NATIVE) ?? 0).toFixed(1)} (floor ${(floorProfile.perK.get(NATIVE) ?? 0).toFixed(1)})`} |`,
];
process.stdout.write(`${lines.join('\n')}\n`);
if (WRITE) {
  await writeReadmeSection(join(REPO_ROOT, 'bench', 'README.md'), 'gateway-tls', lines.join('\n'), '## gateway-tls: CPU per request of TLS termination');
}
procs.cleanup();
process.exit(failedAny ? 1 : 0);
