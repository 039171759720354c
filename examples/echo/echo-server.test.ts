import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { credentials, Metadata } from '@grpc/grpc-js';
import { startEchoServer, type EchoServerOptions, type RunningEchoServer } from './echo-server.js';
import { EchoClient, type EchoResponse } from './gen/weft/echo/v1/echo.js';
import { CertificateAuthority, createTrustAnchor } from '../../identity/ca.js';

const HOSTNAME = 'echo-v1-7d9f-abcde';

async function start(t: TestContext, over: Partial<EchoServerOptions>): Promise<RunningEchoServer & { logs: string[] }> {
  const logs: string[] = [];
  const server = await startEchoServer({
    httpPorts: [], grpcPorts: [], tcpPorts: [], tlsPorts: [], crt: '', key: '', clientCa: '', version: 'v1', cluster: 'test-cluster', controlPort: undefined, codes: '',
    hostname: HOSTNAME, log: (l) => logs.push(l), ...over,
  });
  t.after(() => server.close());
  return { ...server, logs };
}

interface Reply {
  status: number;
  rawHeaders: string[];
  body: string;
}

function get(port: number, path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, rawHeaders: res.rawHeaders, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const lines = (body: string): string[] => body.split('\n').filter((l) => l !== '');

test('HTTP answer lists what the server saw as Key=value lines, Host kept out of the header lines', async (t) => {
  const s = await start(t, { httpPorts: [0] });
  const port = s.ports.http[0] as number;
  const r = await get(port, '/path/x?y=1', { headers: { Host: 'echo.ns:80', 'x-header-set': 'set', 'X-Multi': 'a' } });
  assert.equal(r.status, 200);
  assert.deepEqual(lines(r.body), [
    'ServiceVersion=v1',
    `ServicePort=${port}`,
    'Host=echo.ns:80',
    'URL=/path/x?y=1',
    'Cluster=test-cluster',
    'Method=GET',
    'Proto=HTTP/1.1',
    'IP=127.0.0.1',
    'RequestHeader=Connection:close',
    'RequestHeader=X-Header-Set:set',
    'RequestHeader=X-Multi:a',
    `Hostname=${HOSTNAME}`,
  ]);
});

test('every --port gets its own listener and reports its own ServicePort', async (t) => {
  const s = await start(t, { httpPorts: [0, 0] });
  assert.equal(s.ports.http.length, 2);
  const [a, b] = s.ports.http as [number, number];
  assert.notEqual(a, b);
  assert.ok(lines((await get(a, '/')).body).includes(`ServicePort=${a}`));
  assert.ok(lines((await get(b, '/')).body).includes(`ServicePort=${b}`));
});

test('?delay waits before answering', async (t) => {
  const s = await start(t, { httpPorts: [0] });
  const began = performance.now();
  const r = await get(s.ports.http[0] as number, '/?delay=300ms');
  assert.equal(r.status, 200);
  assert.ok(performance.now() - began >= 290, 'answered before the delay');
});

test('?codes answers with that status and still sends the lines; a malformed value is a 400', async (t) => {
  const s = await start(t, { httpPorts: [0] });
  const port = s.ports.http[0] as number;
  const r = await get(port, '/?codes=503');
  assert.equal(r.status, 503);
  assert.ok(lines(r.body).includes(`Hostname=${HOSTNAME}`));
  assert.equal((await get(port, '/?codes=nope')).status, 400);
  assert.equal((await get(port, '/?delay=soon')).status, 400);
});

test('?headers adds response headers, repeatable for one name', async (t) => {
  const s = await start(t, { httpPorts: [0] });
  const r = await get(s.ports.http[0] as number, '/?headers=X-A:1&headers=X-A:2&headers=X-B:z');
  const pairs: string[] = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2) pairs.push(`${r.rawHeaders[i]}:${r.rawHeaders[i + 1]}`);
  assert.ok(pairs.includes('X-A:1') && pairs.includes('X-A:2') && pairs.includes('X-B:z'), pairs.join(' '));
});

test('HEAD gets the status and headers but no body', async (t) => {
  const s = await start(t, { httpPorts: [0] });
  const r = await get(s.ports.http[0] as number, '/?codes=201', { method: 'HEAD' });
  assert.equal(r.status, 201);
  assert.equal(r.body, '');
});

test('an HTTP port also serves cleartext HTTP/2 with prior knowledge, Host from :authority', async (t) => {
  const s = await start(t, { httpPorts: [0] });
  const port = s.ports.http[0] as number;
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.after(() => session.close());
  const body = await new Promise<string>((resolve, reject) => {
    const req = session.request({ ':path': '/h2?a=b', ':authority': 'echo:8080', 'x-h': 'v' });
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (data += c));
    req.on('end', () => resolve(data));
    req.on('error', reject);
    req.end();
  });
  const l = lines(body);
  assert.ok(l.includes('Proto=HTTP/2.0'), body);
  assert.ok(l.includes('Host=echo:8080'), body);
  assert.ok(l.includes('URL=/h2?a=b'), body);
  assert.ok(l.includes('RequestHeader=X-H:v'), body);
  assert.ok(!l.some((x) => x.startsWith('RequestHeader=:')), 'pseudo-headers must not be listed');
});

function selfSigned(dir: string): { crt: string; key: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3_600_000);
  cert.setSubject([{ name: 'commonName', value: 'echo' }]);
  cert.setIssuer([{ name: 'commonName', value: 'echo' }]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()), forge.md.sha256.create());
  const crt = join(dir, 'cert.crt');
  const key = join(dir, 'cert.key');
  writeFileSync(crt, forge.pki.certificateToPem(cert));
  writeFileSync(key, privateKey.export({ type: 'pkcs1', format: 'pem' }));
  return { crt, key };
}

test('a --tls port serves HTTPS when the certificate files exist, reporting the ALPN protocol', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'echo-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const s = await start(t, { tlsPorts: [0], ...selfSigned(dir) });
  const port = s.ports.tls[0] as number;
  const body = await new Promise<string>((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/tls', agent: new https.Agent({ rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }) }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () => resolve(data));
    });
    req.on('error', reject);
    req.end();
  });
  assert.ok(lines(body).includes(`ServicePort=${port}`), body);
  assert.ok(lines(body).includes('Alpn=http/1.1'), body);
});

test('--client-ca: a TLS port refuses a client without a certificate from the CA and reports the one it verified', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'echo-mtls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const anchor = await createTrustAnchor({ trustDomain: 'echo.test' });
  const ca = CertificateAuthority.load(anchor);
  const server = await ca.issueServing({ spiffeId: 'spiffe://echo.test/ns/apps/sa/echo', dnsNames: ['echo.apps'] });
  const client = await ca.issueServing({ spiffeId: 'spiffe://echo.test/ns/infra/sa/gw', dnsNames: [] });
  const files = { crt: join(dir, 's.crt'), key: join(dir, 's.key'), clientCa: join(dir, 'ca.crt') };
  writeFileSync(files.crt, server.certPem);
  writeFileSync(files.key, server.keyPem);
  writeFileSync(files.clientCa, anchor.certPem);
  const s = await start(t, { tlsPorts: [0], ...files });
  const port = s.ports.tls[0] as number;
  const get = (cert?: { cert: string; key: string }) => new Promise<string>((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/m', agent: new https.Agent({ ca: anchor.certPem, servername: 'echo.apps', ALPNProtocols: ['http/1.1'], ...cert }) }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () => resolve(data));
    });
    req.on('error', reject);
    req.end();
  });
  const body = await get({ cert: client.certPem, key: client.keyPem });
  assert.ok(lines(body).some((l) => l.startsWith('ClientCert=') && l.includes('URI:spiffe://echo.test/ns/infra/sa/gw')), body);
  await assert.rejects(get(), /certificate|socket hang up|ECONNRESET|alert/i);
});

test('a --tls port whose certificate files are missing is skipped with a log line, also as an HTTP port', async (t) => {
  const free = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, () => {
      const p = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(p));
    });
  });
  const s = await start(t, { httpPorts: [free, 0], tlsPorts: [free], crt: '/nonexistent/cert.crt', key: '/nonexistent/cert.key' });
  assert.deepEqual(s.ports.tls, []);
  assert.equal(s.ports.http.length, 1);
  assert.ok(s.logs.some((l) => l.includes(`skipping TLS port ${free}`)), s.logs.join('\n'));
  await assert.rejects(get(free, '/'), /ECONNREFUSED/);
});

test('a --tcp port echoes raw bytes back', async (t) => {
  const s = await start(t, { tcpPorts: [0] });
  const socket = net.connect(s.ports.tcp[0] as number, '127.0.0.1');
  t.after(() => socket.destroy());
  const payload = Buffer.from([0, 1, 2, 250, 255, 10, 13]);
  const got = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (Buffer.concat(chunks).length >= payload.length) resolve(Buffer.concat(chunks));
    });
    socket.on('error', reject);
    socket.write(payload);
  });
  assert.deepEqual(got, payload);
});

test('the gRPC Echo method answers with the same fields, the message echoed', async (t) => {
  const s = await start(t, { grpcPorts: [0] });
  const port = s.ports.grpc[0] as number;
  const client = new EchoClient(`127.0.0.1:${port}`, credentials.createInsecure(), { 'grpc.default_authority': 'echo:7070' });
  t.after(() => client.close());
  const md = new Metadata();
  md.add('x-header-set', 'set');
  const res = await new Promise<EchoResponse>((resolve, reject) => {
    client.echo({ message: 'hi' }, md, (err, r) => (err ? reject(err) : resolve(r)));
  });
  assert.equal(res.message, 'hi');
  assert.equal(res.hostname, HOSTNAME);
  assert.equal(res.servicePort, port);
  assert.equal(res.host, 'echo:7070');
  assert.equal(res.url, '/weft.echo.v1.Echo/Echo');
  assert.equal(res.proto, 'GRPC');
  assert.equal(res.ip, '127.0.0.1');
  assert.equal(res.serviceVersion, 'v1');
  assert.ok(res.requestHeaders.some((h) => h.name === 'X-Header-Set' && h.value === 'set'));
});

test('repeated gRPC metadata fields print one line each, in order (Node joins them with ", ")', async (t) => {
  const s = await start(t, { grpcPorts: [0] });
  const client = new EchoClient(`127.0.0.1:${s.ports.grpc[0] as number}`, credentials.createInsecure());
  t.after(() => client.close());
  const md = new Metadata();
  md.add('x-header-add', 'this-value-should-be-appended');
  md.add('x-header-add', 'add-appends-values');
  md.add('x-one', 'single');
  const res = await new Promise<EchoResponse>((resolve, reject) => {
    client.echo({ message: 'hi' }, md, (err, r) => (err ? reject(err) : resolve(r)));
  });
  const values = (n: string) => res.requestHeaders.filter((h) => h.name === n).map((h) => h.value);
  assert.deepEqual(values('X-Header-Add'), ['this-value-should-be-appended', 'add-appends-values']);
  assert.deepEqual(values('X-One'), ['single']);
});

function control(port: number, method: 'GET' | 'PUT', body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: method === 'GET' ? '/' : '/codes', method, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, rawHeaders: res.rawHeaders, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('--codes answers requests without a codes parameter; the control port switches it and counts requests', async (t) => {
  const s = await start(t, { httpPorts: [0], controlPort: 0, codes: '503' });
  const port = s.ports.http[0] as number;
  const ctl = s.control as number;
  assert.equal((await get(port, '/')).status, 503);
  assert.equal((await get(port, '/?codes=201')).status, 201, 'the query parameter wins over the server list');
  const failing = await get(port, '/');
  assert.equal(failing.status, 503);
  assert.ok(lines(failing.body).includes(`Hostname=${HOSTNAME}`), 'a failing answer still says which pod answered');
  assert.deepEqual(JSON.parse((await control(ctl, 'GET')).body), { codes: '503', requests: 3 });
  assert.equal((await control(ctl, 'PUT', 'nope')).status, 400);
  assert.equal((await get(port, '/')).status, 503, 'a refused list changes nothing');
  assert.equal((await control(ctl, 'PUT', '')).status, 200);
  assert.equal((await get(port, '/')).status, 200);
  assert.equal((await control(ctl, 'PUT', '500:1,200:0')).status, 200);
  assert.equal((await get(port, '/')).status, 500);
  assert.deepEqual(JSON.parse((await control(ctl, 'GET')).body), { codes: '500:1,200:0', requests: 6 });
  assert.equal((await control(ctl, 'PUT', '')).status, 200);
});

test('without --control no control port is opened', async (t) => {
  const s = await start(t, { httpPorts: [0] });
  assert.equal(s.control, undefined);
  assert.ok(!s.logs.some((l) => l.includes('control')));
});
