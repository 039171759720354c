import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startEchoServer, type RunningEchoServer } from './echo-server.js';
import { runClient, parseClientOutput, type ParsedResponse } from './echo-client.js';
import { parseClientArgs } from './flags.js';

const HOSTNAME = 'echo-v2-5f6-xyz12';

async function start(t: TestContext): Promise<RunningEchoServer> {
  const server = await startEchoServer({
    httpPorts: [0], grpcPorts: [0], tcpPorts: [], tlsPorts: [], crt: '', key: '', clientCa: '', version: 'v2', cluster: '', controlPort: undefined, codes: '', hostname: HOSTNAME, log: () => {},
  });
  t.after(() => server.close());
  return server;
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string; parsed: ParsedResponse[] }> {
  const { flags, errors } = parseClientArgs(args);
  assert.deepEqual(errors, []);
  const out: string[] = [];
  const err: string[] = [];
  const code = await runClient(flags, { out: (l) => out.push(l), err: (l) => err.push(l) });
  const text = out.join('\n');
  return { code, out: text, err: err.join('\n'), parsed: parseClientOutput(text) };
}

const field = (r: ParsedResponse | undefined, key: string): string[] => (r?.fields ?? []).filter(([k]) => k === key).map(([, v]) => v);

test('the client prints one block per request that parses back into status, response headers and server fields', async (t) => {
  const s = await start(t);
  const res = await run([`http://127.0.0.1:${s.ports.http[0]}/x?headers=X-Header-Set:set`, '--count=3', '-H', 'x-req:1', '-H', 'x-req:2']);
  assert.equal(res.code, 0, res.err);
  assert.deepEqual(res.parsed.map((p) => p.index), [0, 1, 2]);
  for (const p of res.parsed) {
    assert.equal(p.statusCode, 200);
    assert.ok(p.responseHeaders.some(([n, v]) => n === 'X-Header-Set' && v === 'set'), JSON.stringify(p.responseHeaders));
    assert.deepEqual(field(p, 'Hostname'), [HOSTNAME]);
    assert.deepEqual(field(p, 'URL'), ['/x?headers=X-Header-Set:set']);
    assert.deepEqual(field(p, 'RequestHeader').filter((v) => v.startsWith('X-Req:')), ['X-Req:1', 'X-Req:2']);
  }
  assert.match(res.out.split('\n')[0] ?? '', /^\[0\] StatusCode=200$/);
  // Responses are separated by a blank line (how upstream's harness splits --count output).
  const blocks = res.out.split('\n\n').map((b) => b.trim()).filter((b) => b !== '');
  assert.equal(blocks.length, 3);
  blocks.forEach((b, i) => assert.ok(b.split('\n').every((l) => l.startsWith(`[${i}] `)), b));
});

test('-H Host sets the Host header the server sees, and --method is sent', async (t) => {
  const s = await start(t);
  const res = await run([`http://127.0.0.1:${s.ports.http[0]}/`, '-H', 'Host:echo.other:8080', '--method=POST']);
  assert.equal(res.code, 0, res.err);
  assert.deepEqual(field(res.parsed[0], 'Host'), ['echo.other:8080']);
  assert.deepEqual(field(res.parsed[0], 'Method'), ['POST']);
});

test('HEAD prints the status and headers but no server lines', async (t) => {
  const s = await start(t);
  const res = await run([`http://127.0.0.1:${s.ports.http[0]}/`, '--method=HEAD']);
  assert.equal(res.code, 0, res.err);
  assert.equal(res.parsed[0]?.statusCode, 200);
  assert.deepEqual(res.parsed[0]?.fields, []);
});

test('a redirect is printed, not followed', async (t) => {
  const s = await start(t);
  const res = await run([`http://127.0.0.1:${s.ports.http[0]}/from?codes=302&headers=Location:/elsewhere`]);
  assert.equal(res.code, 0, res.err);
  assert.equal(res.parsed.length, 1);
  assert.equal(res.parsed[0]?.statusCode, 302);
  assert.ok(res.parsed[0]?.responseHeaders.some(([n, v]) => n === 'Location' && v === '/elsewhere'));
  assert.deepEqual(field(res.parsed[0], 'URL'), ['/from?codes=302&headers=Location:/elsewhere']);
});

test('an error status is still a response: exit code 0', async (t) => {
  const s = await start(t);
  const res = await run([`http://127.0.0.1:${s.ports.http[0]}/?codes=503`]);
  assert.equal(res.code, 0);
  assert.equal(res.parsed[0]?.statusCode, 503);
});

test('gRPC URLs call Echo: StatusCode=200 then the server fields, Host as :authority', async (t) => {
  const s = await start(t);
  const res = await run([`grpc://127.0.0.1:${s.ports.grpc[0]}`, '--count=2', '-H', 'Host:echo:7070', '-H', 'x-a:b']);
  assert.equal(res.code, 0, res.err);
  assert.equal(res.parsed.length, 2);
  for (const p of res.parsed) {
    assert.equal(p.statusCode, 200);
    assert.deepEqual(field(p, 'Hostname'), [HOSTNAME]);
    assert.deepEqual(field(p, 'Host'), ['echo:7070']);
    assert.deepEqual(field(p, 'Proto'), ['GRPC']);
    assert.ok(field(p, 'RequestHeader').includes('X-A:b'));
  }
  assert.equal(res.out.split('\n\n').filter((b) => b.trim() !== '').length, 2);
});

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(p));
    });
  });
}

test('a refused connection exits non-zero with an error naming the URL', async () => {
  const port = await closedPort();
  const res = await run([`http://127.0.0.1:${port}/`]);
  assert.equal(res.code, 1);
  assert.match(res.err, /ECONNREFUSED/);
  assert.deepEqual(res.parsed, []);
});

test('a request slower than --timeout exits non-zero with a timeout error', async (t) => {
  const s = await start(t);
  const res = await run([`http://127.0.0.1:${s.ports.http[0]}/?delay=2s`, '--timeout=200ms']);
  assert.equal(res.code, 1);
  assert.match(res.err, /timeout after 200ms/);
});

test('a gRPC target that refuses connections exits non-zero', async () => {
  const port = await closedPort();
  const res = await run([`grpc://127.0.0.1:${port}`, '--timeout=1s']);
  assert.equal(res.code, 1);
  assert.match(res.err, /UNAVAILABLE|DEADLINE_EXCEEDED/);
});

function runNode(script: string, args: string[]): { exited: Promise<{ code: number | null; out: string; err: string }>; kill: () => void; onOut: (fn: (s: string) => void) => void } {
  const child = spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const listeners: Array<(s: string) => void> = [];
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    out += c;
    listeners.forEach((l) => l(out));
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<{ code: number | null; out: string; err: string }>((resolve) => child.on('close', (code) => resolve({ code, out, err })));
  return { exited, kill: () => child.kill('SIGTERM'), onOut: (fn) => listeners.push(fn) };
}

test('the server.js and client.js entry points work with the upstream image flags', async (t) => {
  const server = runNode('./server.js', ['--port=0', '--port=1', '--tls=1', '--crt=/nonexistent.crt', '--key=/nonexistent.key', '--grpc=0', '--istio-version=x']);
  t.after(() => server.kill());
  const httpPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server.js did not report its HTTP port within 10s')), 10_000);
    void server.exited.then((r) => reject(new Error(`server.js exited early (${r.code}): ${r.err}`)));
    server.onOut((out) => {
      const m = /HTTP \(HTTP\/1\.1, h2c\) on port (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  const client = runNode('./client.js', [`http://127.0.0.1:${httpPort}/entry`, '--count=2']);
  const c = await client.exited;
  assert.equal(c.code, 0, c.err);
  assert.equal(parseClientOutput(c.out).length, 2);
  server.kill();
  const s = await server.exited;
  assert.equal(s.code, 0);
  assert.match(s.out, /skipping TLS port 1:/);
  assert.match(s.err, /ignoring unknown flag --istio-version=x/);
});

test('client.js exits 2 with usage errors when the URL is missing', async () => {
  const c = await runNode('./client.js', ['--count=1']).exited;
  assert.equal(c.code, 2);
  assert.match(c.err, /missing URL/);
});
