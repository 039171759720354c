/**
 * The meshed-hop benchmark (design.md section 8): the same hop, in one run on this machine, through
 *   - a Weft proxy pair (client proxy -> mTLS -> server proxy; transport only: allow-all policy),
 *   - the Weft pair with policy: one HTTPRoute on the client, one Server + AuthorizationPolicy on the
 *     server, per-route metrics registered and scraped (bench/proxy-hop/policy-harness.ts),
 *   - an nginx pair (one worker each, mTLS between them, upstream keep-alive),
 *   - a bare http-proxy-3 pair (keep-alive agents, mTLS between them),
 * each in front of the same nginx backend answering a 2-byte body, loaded by wrk. For each pair it
 * reads utime+stime of both proxy processes from /proc/<pid>/stat before and after the load and
 * prints CPU ms per 1,000 requests, throughput and RSS, with ratios to nginx; `--write` puts the table
 * into bench/README.md. Gates: Weft's transport pair at most 3x nginx's CPU per request, the policy
 * pair at most 3.5x (exit 1 otherwise). Also measured, no gate: latency at 1,000 rps open loop
 * (autocannon -R, which corrects for coordinated omission; never -C) straight to the backend, through
 * the nginx pair and through the Weft policy pair, and RSS idle and loaded.
 *
 * Usage: node dist/bench/proxy-hop/run.js [--duration 10] [--connections 32] [--write]
 * Env: WEFT_PROXY_NODE_FLAGS overrides the V8 flags the Weft proxies run with.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../test/support/paths.js';
import { id, TestPki } from '../../test/support/proxy-fixtures.js';
import type { HarnessSpec } from '../../test/support/proxy-harness.js';
import type { PolicyHarnessSpec } from './policy-harness.js';
import { PROXY_NODE_FLAGS, proxyProcessEnv } from '../../test/support/proxy-spawn.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const DURATION = Number(opt('duration', '10'));
const CONNECTIONS = Number(opt('connections', '32'));
const WRITE = args.includes('--write');
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
const nodeFlags = (process.env['WEFT_PROXY_NODE_FLAGS'] ?? PROXY_NODE_FLAGS.join(' ')).split(' ').filter((f) => f !== '');

const work = mkdtempSync(join(tmpdir(), 'weft-hop-'));
const children: ChildProcess[] = [];
const cleanup = () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
};
process.on('exit', cleanup);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS; // fields 14 and 15: utime, stime
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

function spawnReady(cmd: string, argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; info: Record<string, number> }> {
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (\{.*\})/.exec(out);
      if (m) resolve({ child, info: JSON.parse(m[1]!) as Record<string, number> });
    });
    child.once('exit', (c) => reject(new Error(`${cmd} exited ${String(c)}: ${err}`)));
  });
}

function nginx(name: string, body: string): Promise<ChildProcess> {
  const dir = join(work, name);
  execFileSync('mkdir', ['-p', dir]);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, `daemon off;\nmaster_process off;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log warn;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n  client_body_temp_path ${dir};\n  proxy_temp_path ${dir};\n  fastcgi_temp_path ${dir};\n  uwsgi_temp_path ${dir};\n  scgi_temp_path ${dir};\n  keepalive_requests 1000000;\n${body}\n}\n`);
  const child = spawn('nginx', ['-c', conf, '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (c) => reject(new Error(`nginx ${name} exited ${String(c)}: ${readFileSync(join(dir, 'error.log'), 'utf8')}`)));
    setTimeout(() => resolve(child), 300);
  });
}

interface WrkResult { requests: number; seconds: number; rps: number; errors: number; non2xx: number }

function wrk(port: number, seconds: number): WrkResult {
  const out = execFileSync('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${seconds}s`, `http://127.0.0.1:${port}/`]).toString();
  const m = /(\d+) requests in ([\d.]+)(\w+)/.exec(out);
  const unit = m?.[3] === 'ms' ? 0.001 : m?.[3] === 'm' ? 60 : 1;
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const requests = Number(m?.[1] ?? 0);
  const secs = Number(m?.[2] ?? seconds) * unit;
  return {
    requests, seconds: secs, rps: requests / secs,
    errors: errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    non2xx: Number(non2xx?.[1] ?? 0),
  };
}

interface Latency { p50: number; p90: number; p99: number; rps: number; errors: number }

const AUTOCANNON = join(REPO_ROOT, 'node_modules', 'autocannon', 'autocannon.js');
const RATE = Number(opt('rate', '1000'));

/** Open-loop latency at RATE requests/s (autocannon -R), in ms. */
function latency(port: number, seconds: number): Latency {
  const out = execFileSync(process.execPath, [AUTOCANNON, '-R', String(RATE), '-c', String(CONNECTIONS), '-d', String(seconds), '--json', `http://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const j = JSON.parse(out) as { latency: Record<string, number>; requests: { average: number }; errors: number; non2xx: number };
  return { p50: j.latency['p50'] ?? NaN, p90: j.latency['p90'] ?? NaN, p99: j.latency['p99'] ?? NaN, rps: j.requests.average, errors: j.errors + j.non2xx };
}

interface Row { name: string; cpuPer1k: number; clientCpuPer1k: number; serverCpuPer1k: number; rps: number; rssClient: number; rssServer: number; failed: number; sent: number }

async function measure(name: string, port: number, client: ChildProcess, server: ChildProcess): Promise<Row> {
  const warm = wrk(port, 2); // warm up: pools, JIT
  await new Promise((r) => setTimeout(r, 300));
  const c0 = cpuMs(client.pid!);
  const s0 = cpuMs(server.pid!);
  const w = wrk(port, DURATION);
  const c1 = cpuMs(client.pid!);
  const s1 = cpuMs(server.pid!);
  const k = w.requests / 1000;
  return {
    name,
    cpuPer1k: (c1 - c0 + s1 - s0) / k,
    clientCpuPer1k: (c1 - c0) / k,
    serverCpuPer1k: (s1 - s0) / k,
    rps: w.rps,
    rssClient: rssMb(client.pid!),
    rssServer: rssMb(server.pid!),
    failed: w.errors + w.non2xx,
    sent: warm.requests + w.requests,
  };
}

function stop(...cs: ChildProcess[]): void {
  for (const c of cs) c.kill('SIGKILL');
}

const load0 = loadavg()[0]!;
const pki = await TestPki.create();
const backendPort = await freePort();
await nginx('backend', `  server { listen 127.0.0.1:${backendPort}; location / { return 200 "ok"; } }`);
const rows: Row[] = [];
let weftIdle = { client: 0, server: 0 };
const latencies: { name: string; l: Latency }[] = [];
const idleRss: Record<string, { client: number; server: number }> = {};
const LAT_SECONDS = Math.max(5, DURATION);
latencies.push({ name: 'backend directly (no hop)', l: latency(backendPort, LAT_SECONDS) });

// --- nginx pair ------------------------------------------------------------------------------------
{
  const serverCert = await pki.serving(id('demo', 'web'), ['web.demo']);
  const clientCert = await pki.certificate(id('demo', 'client'));
  for (const [n, pem] of [['server.crt', serverCert.certChainPem], ['server.key', serverCert.keyPem], ['client.crt', clientCert.certChainPem], ['client.key', clientCert.keyPem], ['ca.crt', pki.anchorsPem]] as const) {
    writeFileSync(join(work, n), pem);
  }
  const sPort = await freePort();
  const cPort = await freePort();
  const server = await nginx('nginx-server', `  upstream app { server 127.0.0.1:${backendPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${sPort} ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate ${work}/server.crt; ssl_certificate_key ${work}/server.key;
    ssl_client_certificate ${work}/ca.crt; ssl_verify_client on; ssl_verify_depth 3;
    keepalive_timeout 120s;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }`);
  const client = await nginx('nginx-client', `  upstream peer { server 127.0.0.1:${sPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${cPort};
    location / {
      proxy_pass https://peer; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_ssl_certificate ${work}/client.crt; proxy_ssl_certificate_key ${work}/client.key;
      proxy_ssl_protocols TLSv1.3; proxy_ssl_session_reuse on;
      proxy_ssl_verify on; proxy_ssl_trusted_certificate ${work}/ca.crt; proxy_ssl_name web.demo; proxy_ssl_verify_depth 3;
    }
  }`);
  idleRss['nginx'] = { client: rssMb(client.pid!), server: rssMb(server.pid!) };
  rows.push(await measure('nginx 1 worker, mTLS', cPort, client, server));
  latencies.push({ name: 'nginx pair', l: latency(cPort, LAT_SECONDS) });
  stop(client, server);
}

// --- Weft pair -------------------------------------------------------------------------------------
{
  const harness = join(REPO_ROOT, 'dist', 'test', 'support', 'proxy-harness.js');
  const serverId = id('demo', 'web');
  const write = (n: string, spec: HarnessSpec) => {
    const f = join(work, n);
    writeFileSync(f, JSON.stringify(spec));
    return f;
  };
  const env = proxyProcessEnv();
  const server = await spawnReady(process.execPath, [...nodeFlags, harness, write('weft-server.json', {
    certificate: await pki.certificate(serverId), podIp: '127.0.0.1',
    outbound: { host: '127.0.0.1', port: 0 }, inbound: { host: '127.0.0.1', port: 0 },
    originalDst: { inbound: { address: '127.0.0.1', port: backendPort } },
  })], env);
  const client = await spawnReady(process.execPath, [...nodeFlags, harness, write('weft-client.json', {
    certificate: await pki.certificate(id('demo', 'client')), podIp: '127.0.0.1',
    outbound: { host: '127.0.0.1', port: 0 }, inbound: { host: '127.0.0.1', port: 0 },
    originalDst: { outbound: { address: '10.96.0.10', port: 80 } },
    services: [{ clusterIp: '10.96.0.10', namespace: 'demo', name: 'web', port: 80, endpoints: [{ ip: '127.0.0.1', port: server.info['inbound']!, meshed: true, identity: serverId }] }],
  })], env);
  const idle = { client: rssMb(client.child.pid!), server: rssMb(server.child.pid!) };
  weftIdle = idle;
  const row = await measure('Weft pair (transport, mTLS)', client.info['outbound']!, client.child, server.child);
  rows.push(row);
  process.stdout.write(`weft idle RSS before load: client ${idle.client.toFixed(1)} MB, server ${idle.server.toFixed(1)} MB\n`);
  stop(client.child, server.child);
}

// --- Weft pair with policy (route, authorization, metrics) --------------------------------------------
let policyCounted = -1;
let policySent = 0;
{
  const harness = join(REPO_ROOT, 'dist', 'bench', 'proxy-hop', 'policy-harness.js');
  const serverId = id('demo', 'web');
  const clientId = id('demo', 'client');
  const write = (n: string, spec: PolicyHarnessSpec) => {
    const f = join(work, n);
    writeFileSync(f, JSON.stringify(spec));
    return f;
  };
  const local = { host: '127.0.0.1', port: 0 };
  const env = proxyProcessEnv();
  const server = await spawnReady(process.execPath, [...nodeFlags, harness, write('weft-policy-server.json', {
    role: 'server', certificate: await pki.certificate(serverId), outbound: local, inbound: local, admin: local, appPort: backendPort, allowIdentity: clientId,
  })], env);
  const client = await spawnReady(process.execPath, [...nodeFlags, harness, write('weft-policy-client.json', {
    role: 'client', certificate: await pki.certificate(clientId), outbound: local, inbound: local, admin: local,
    service: { clusterIp: '10.96.0.10', namespace: 'demo', name: 'web', port: 80, endpoints: [{ ip: '127.0.0.1', port: server.info['inbound']!, meshed: true, identity: serverId }] },
  })], env);
  idleRss['weft-policy'] = { client: rssMb(client.child.pid!), server: rssMb(server.child.pid!) };
  // Metrics on: both admin ports are scraped every 2 s during the measurement, as a Prometheus would.
  const scrapeAll = () => Promise.all([client.info['admin']!, server.info['admin']!].map((p) => fetch(`http://127.0.0.1:${p}/metrics`).then((r) => r.text())));
  const scraper = setInterval(() => void scrapeAll().catch(() => undefined), 2_000);
  const row = await measure('Weft pair (1 route, 1 authorization, metrics, mTLS)', client.info['outbound']!, client.child, server.child);
  clearInterval(scraper);
  rows.push(row);
  const [clientText] = await scrapeAll();
  policyCounted = [...(clientText ?? '').matchAll(/^weft_outbound_requests_total\{[^}]*route_name="web-route"[^}]*status_code="200"[^}]*\} (\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0);
  policySent = row.sent;
  latencies.push({ name: 'Weft pair with policy', l: latency(client.info['outbound']!, LAT_SECONDS) });
  stop(client.child, server.child);
}

// --- http-proxy-3 pair -----------------------------------------------------------------------------
{
  const script = join(REPO_ROOT, 'dist', 'bench', 'proxy-hop', 'http-proxy-3-proxy.js');
  const serverCert = await pki.certificate(id('demo', 'web'));
  const clientCert = await pki.certificate(id('demo', 'client'));
  const sPort = await freePort();
  const specFile = (n: string, o: object) => {
    const f = join(work, n);
    writeFileSync(f, JSON.stringify(o));
    return f;
  };
  const server = await spawnReady(process.execPath, [script, specFile('hp3-server.json', { role: 'server', listenPort: sPort, targetPort: backendPort, keyPem: serverCert.keyPem, certPem: serverCert.certChainPem, caPem: pki.anchorsPem })]);
  const client = await spawnReady(process.execPath, [script, specFile('hp3-client.json', { role: 'client', listenPort: 0, targetPort: sPort, keyPem: clientCert.keyPem, certPem: clientCert.certChainPem, caPem: pki.anchorsPem })]);
  rows.push(await measure('http-proxy-3 pair, keep-alive, mTLS', client.info['port']!, client.child, server.child));
  stop(client.child, server.child);
}

const nginxRow = rows[0]!;
const weftRow = rows[1]!;
const policyRow = rows[2]!;
const ratio = (r: Row) => r.cpuPer1k / nginxRow.cpuPer1k;
const load1 = loadavg()[0]!;
const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
const lines = [
  `Measured ${date} UTC, wrk -t2 -c${CONNECTIONS} -d${DURATION}s, 2-byte nginx backend, all on this 2-core machine (load average ${load0.toFixed(2)} before, ${load1.toFixed(2)} after). Weft proxies ran with \`MALLOC_ARENA_MAX=${proxyProcessEnv()['MALLOC_ARENA_MAX'] ?? ''} node ${nodeFlags.join(' ')}\` (the injector's PROXY_RUNTIME_ENV).`,
  '',
  '| hop through | CPU ms / 1k req (both proxies) | client / server | ratio to nginx | req/s | RSS client / server (MB) | failed |',
  '|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.name} | ${r.cpuPer1k.toFixed(1)} | ${r.clientCpuPer1k.toFixed(1)} / ${r.serverCpuPer1k.toFixed(1)} | ${ratio(r).toFixed(2)} | ${r.rps.toFixed(0)} | ${r.rssClient.toFixed(0)} / ${r.rssServer.toFixed(0)} | ${r.failed} |`),
  '',
  `Weft proxies' RSS before the load: client ${weftIdle.client.toFixed(0)} MB, server ${weftIdle.server.toFixed(0)} MB (RSS columns above: at the end of the load).`,
  `Idle RSS, same run: nginx pair ${idleRss['nginx']?.client.toFixed(0)} / ${idleRss['nginx']?.server.toFixed(0)} MB, Weft pair with policy ${idleRss['weft-policy']?.client.toFixed(0)} / ${idleRss['weft-policy']?.server.toFixed(0)} MB (client / server).`,
  `Per-route counter of the policy run: ${policyCounted} requests counted on \`web-route\` for ${policySent} sent by wrk (warm-up included).`,
  '',
  `Latency at ${RATE} req/s open loop (autocannon -R ${RATE} -c ${CONNECTIONS}, ${LAT_SECONDS} s each; added = minus the backend's own):`,
  '',
  '| path | p50 ms | p90 ms | p99 ms | added p50 / p90 / p99 ms | req/s | errors |',
  '|---|---|---|---|---|---|---|',
  ...latencies.map(({ name, l }) => {
    const b = latencies[0]!.l;
    const added = name === latencies[0]!.name ? '-' : `${(l.p50 - b.p50).toFixed(2)} / ${(l.p90 - b.p90).toFixed(2)} / ${(l.p99 - b.p99).toFixed(2)}`;
    return `| ${name} | ${l.p50.toFixed(2)} | ${l.p90.toFixed(2)} | ${l.p99.toFixed(2)} | ${added} | ${l.rps.toFixed(0)} | ${l.errors} |`;
  }),
];
process.stdout.write(`${lines.join('\n')}\n`);
const transportGate = ratio(weftRow) <= 3;
const policyGate = ratio(policyRow) <= 3.5;
const gate = transportGate && policyGate;
process.stdout.write(`gate (Weft transport <= 3x nginx CPU per request): ${transportGate ? 'PASS' : 'FAIL'} (${ratio(weftRow).toFixed(2)}x)\n`);
process.stdout.write(`gate (Weft with route, authorization and metrics <= 3.5x nginx): ${policyGate ? 'PASS' : 'FAIL'} (${ratio(policyRow).toFixed(2)}x)\n`);

if (WRITE) {
  const readme = join(REPO_ROOT, 'bench', 'README.md');
  const begin = '<!-- proxy-hop:begin -->';
  const end = '<!-- proxy-hop:end -->';
  let text = '';
  try {
    text = readFileSync(readme, 'utf8');
  } catch {
    text = '# Benchmarks\n';
  }
  const block = `${begin}\n${lines.join('\n')}\n${end}`;
  text = text.includes(begin) ? text.replace(new RegExp(`${begin}[\\s\\S]*?${end}`), block) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(readme, text);
}
cleanup();
process.exit(gate ? 0 : 1);
