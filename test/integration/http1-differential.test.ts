/**
 * Differential test of HTTP/1.1 framing through a real Weft proxy (security cases 1-9 and 13-14, on
 * generated input): fast-check builds connections of pipelined requests, valid ones and ones broken
 * by one mutation (CL+TE, CL lists, obfuscated or folded TE, bare CR/LF, whitespace before colons,
 * obs-fold, chunk-extension abuse, bad chunk sizes, duplicate Host, ...), sends the raw bytes to the
 * outbound listener (a Service destination, allow-all policy, static discovery) and checks that the
 * upstream, a raw TCP server with a strict parser (test/support/diff-upstream.ts), receives exactly
 * the requests the proxy accepted (status < 400 to the client), equivalent in method, target, headers
 * and body modulo the changes the proxy documents (listed in test/support/diff-http1.ts), and nothing
 * of a request it rejected beyond an aborted partial body.
 *
 * WEFT_DIFF_CASES (default 300 connections) and WEFT_DIFF_SEED (default fixed) size and seed the run;
 * WEFT_DIFF_WRITE=1 records the run's figures in bench/README.md (section http1-differential).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import type { RunningProxy } from '../../proxy/proxy.js';
import { differences, parseMessage, type Case } from '../support/diff-http1.js';
import { connectionArb } from '../support/diff-http1.js';
import { RecordingUpstream, type Received } from '../support/diff-upstream.js';
import { writeReadmeSection } from '../support/fuzz-report.js';
import { REPO_ROOT } from '../support/paths.js';
import { CLUSTER_IP, SERVICE, fixedDestination, id, meshPair, startTestProxy, StaticCertificates, StaticDiscovery, TestPki } from '../support/proxy-fixtures.js';

const CASES = Number(process.env['WEFT_DIFF_CASES'] ?? 300);
const SEED = Number(process.env['WEFT_DIFF_SEED'] ?? 0x0d1ff);
const WRITE = process.env['WEFT_DIFF_WRITE'] === '1';

let upstream: RecordingUpstream;
let proxy: RunningProxy;

before(async () => {
  upstream = await new RecordingUpstream().listen();
  const pki = await TestPki.create();
  proxy = await startTestProxy({
    certificates: new StaticCertificates(await pki.certificate(id('demo', 'diff'))),
    discovery: new StaticDiscovery().service(CLUSTER_IP, SERVICE, [{ ip: '127.0.0.1', port: upstream.port, meshed: false }]),
    outboundDst: fixedDestination(CLUSTER_IP, SERVICE.port),
    limits: { headersTimeoutMs: 2_000 },
  });
});

after(async () => {
  await proxy.shutdown(0);
  await upstream.close();
});

interface Exchange {
  readonly statuses: number[];
  /** Index of the first response that said `connection: close`, or -1. */
  readonly closeAt: number;
  readonly closed: boolean;
  readonly clientError?: string;
}

/** Sends the bytes (split at the given points) and reads responses until all came, the proxy closed, or 2 s. */
function exchange(bytes: Buffer, splits: readonly number[], methods: readonly string[], port = proxy.outboundPort): Promise<Exchange> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const statuses: number[] = [];
    let closeAt = -1;
    let done = false;
    let clientError: string | undefined;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ statuses, closeAt, closed, ...(clientError !== undefined ? { clientError } : {}) });
    };
    const timer = setTimeout(() => finish(false), 2_000);
    s.on('error', () => finish(true));
    s.on('close', () => finish(true));
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const head = methods[statuses.length] === 'HEAD';
        const r = parseMessage(buf, 'response', head);
        if (r.kind === 'more') return;
        if (r.kind === 'error') {
          clientError = r.reason;
          finish(false);
          return;
        }
        statuses.push(Number(r.msg.startLine.split(' ')[1]));
        if (closeAt < 0 && r.msg.headers.some(([k, v]) => k.toLowerCase() === 'connection' && v.toLowerCase() === 'close')) closeAt = statuses.length - 1;
        buf = buf.subarray(r.msg.length);
        if (statuses.length === methods.length) finish(false);
      }
    });
    const cuts = [...new Set(splits.map((x) => x % (bytes.length + 1)))].sort((a, b) => a - b);
    let at = 0;
    const pieces: Buffer[] = [];
    for (const c of cuts) {
      pieces.push(bytes.subarray(at, c));
      at = c;
    }
    pieces.push(bytes.subarray(at));
    const write = (i: number) => {
      if (i >= pieces.length || s.destroyed) return;
      s.write(pieces[i]!, () => setImmediate(() => write(i + 1)));
    };
    write(0);
  });
}

let lastStatuses: number[] = [];
const tally = { connections: 0, requests: 0, accepted: 0, rejected: 0, partial: 0, byMutation: new Map<string, { accepted: number; rejected: number }>() };

/** Checks one connection; returns a description of every disagreement (empty when none). */
async function check(cases: readonly Case[], splits: readonly number[]): Promise<string[]> {
  upstream.reset();
  // The method actually on the wire (a mutation may have changed it): HEAD answers carry no body.
  const methods = cases.map((c) => c.bytes.subarray(0, 16).toString('latin1').split(' ')[0] ?? '');
  const ex = await exchange(Buffer.concat(cases.map((c) => c.bytes)), splits, methods);
  lastStatuses = ex.statuses;
  // Responses only come after the upstream answered, so its records are complete; give an aborted
  // upstream attempt a moment to show as partial.
  await new Promise((r) => setTimeout(r, 20));
  const problems: string[] = [];
  if (ex.clientError !== undefined) problems.push(`the proxy's response did not parse: ${ex.clientError}`);
  const accepted: Case[] = [];
  let stoppedAt = -1;
  ex.statuses.forEach((st, i) => {
    const c = cases[i]!;
    const label = `request ${i} (${c.mutation ?? 'valid'})`;
    if (st < 400) accepted.push(c);
    if (c.verdict === 'valid' && st !== 200) problems.push(`${label}: status ${st} for a valid request`);
    if (c.verdict === 'reject' && st !== 400) problems.push(`${label}: status ${st}, expected 400 (security-cases.md)`);
    if (c.verdict === 'either' && st >= 500) problems.push(`${label}: status ${st}: a request refused for its syntax must get a 4xx`);
    if (st >= 400 && stoppedAt < 0) stoppedAt = i;
    const m = c.mutation ?? 'valid';
    const t = tally.byMutation.get(m) ?? { accepted: 0, rejected: 0 };
    if (st < 400) t.accepted++;
    else t.rejected++;
    tally.byMutation.set(m, t);
  });
  if (stoppedAt >= 0 && ex.statuses.length > stoppedAt + 1) problems.push(`requests after the rejected request ${stoppedAt} were answered`);
  // Every case before a rejection, or all when none was rejected, must have been answered.
  // An answer that closes the connection (HTTP/1.0, a request line the proxy treats as such) ends it too.
  const ends = [stoppedAt, ex.closeAt].filter((i) => i >= 0);
  const expectedAnswers = ends.length > 0 ? Math.min(...ends) + 1 : cases.length;
  if (ex.statuses.length < expectedAnswers) {
    const c = cases[ex.statuses.length]!;
    // A rejected request need not be answered if the proxy closed; a valid one must be.
    if (c.verdict === 'valid' || !ex.closed) problems.push(`request ${ex.statuses.length} (${c.mutation ?? 'valid'}) got no answer (${ex.closed ? 'connection closed' : 'timed out'})`);
  }
  const got = upstream.received.filter((r): r is Extract<Received, { kind: 'request' }> => r.kind === 'request');
  for (const e of upstream.received) {
    if (e.kind === 'error') problems.push(`the upstream's strict parser refused what the proxy sent: ${e.reason}: ${JSON.stringify(e.bytes)}`);
    if (e.kind === 'partial') {
      tally.partial++;
      if (stoppedAt < 0) problems.push(`an upstream request was cut off (${e.bytes} bytes) though nothing was rejected`);
    }
  }
  const host = `127.0.0.1:${upstream.port}`;
  const left = [...got];
  for (const [i, c] of accepted.entries()) {
    const k = left.findIndex((g) => differences(c.req, g.msg, host).length === 0);
    if (k >= 0) {
      left.splice(k, 1);
      continue;
    }
    const closest = left[0] ?? got[i];
    problems.push(`accepted request ${i} (${c.mutation ?? 'valid'}) did not reach the upstream as sent: ${closest === undefined ? 'nothing received' : differences(c.req, closest.msg, host).join('; ')}`);
  }
  for (const g of left) problems.push(`the upstream received a request the proxy did not accept: ${g.msg.startLine}`);
  tally.connections++;
  tally.requests += cases.length;
  tally.accepted += accepted.length;
  tally.rejected += ex.statuses.filter((s) => s >= 400).length;
  return problems;
}

test('the upstream receives exactly the HTTP/1.1 requests the proxy accepted, as sent, and none it rejected', async (t) => {
  const t0 = performance.now();
  await fc.assert(
    fc.asyncProperty(connectionArb(), async ({ cases, splits }) => {
      const problems = await check(cases, splits);
      assert.deepEqual(problems, [], `statuses ${JSON.stringify(lastStatuses)}; bytes sent: ${JSON.stringify(Buffer.concat(cases.map((c) => c.bytes)).toString('latin1').slice(0, 2000))}`);
    }),
    { numRuns: CASES, seed: SEED, endOnFailure: true },
  );
  const ms = performance.now() - t0;
  t.diagnostic(`${tally.connections} connections, ${tally.requests} requests: ${tally.accepted} accepted and forwarded as sent, ${tally.rejected} rejected, ${tally.partial} aborted partial upstream bodies; ${(ms / 1000).toFixed(1)} s (seed ${SEED})`);
  if (WRITE) {
    const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
    const rows = [...tally.byMutation.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([m, v]) => `| ${m.replaceAll('|', '\\|')} | ${v.accepted} | ${v.rejected} |`);
    const text = [
      `Measured ${when} UTC, seed ${SEED}: **${tally.connections} connections, ${tally.requests} requests in ${(ms / 1000).toFixed(0)} s; ${tally.accepted} accepted (each reached the upstream once, equivalent to what was sent), ${tally.rejected} rejected (none reached the upstream complete; ${tally.partial} streamed bodies were cut off mid-way), no disagreement.**`,
      '',
      '| request (mutation) | accepted | rejected |',
      '|---|---|---|',
      ...rows,
    ].join('\n');
    await writeReadmeSection(join(REPO_ROOT, 'bench', 'README.md'), 'http1-differential', text, '## http1-differential: HTTP/1.1 framing through the proxy');
  }
});

// --- bugs the property above found (inputs fixed here) ----------------------------------------------

async function warm(): Promise<void> {
  await exchange(Buffer.from('GET /warm HTTP/1.1\r\nHost: a\r\n\r\n'), [], ['GET']);
}

test('a pipelined request before a malformed one is answered before the 400, or not forwarded', async () => {
  await warm();
  upstream.reset();
  const ex = await exchange(Buffer.from('DELETE /item/1 HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost : a\r\n\r\n'), [], ['DELETE', 'GET']);
  await new Promise((r) => setTimeout(r, 50));
  const forwarded = upstream.received.filter((r) => r.kind === 'request').length;
  assert.deepEqual({ statuses: ex.statuses, forwarded }, forwarded === 1 ? { statuses: [200, 400], forwarded } : { statuses: [400], forwarded: 0 });
});

test('data after a request that closes the connection is ignored, not answered 400 in its place', async () => {
  await warm();
  upstream.reset();
  for (const head of ['DELETE /item/2 HTTP/1.1\r\nHost: a\r\nConnection: close', 'DELETE /item/2 HTTP/1.0\r\nHost: a', 'DELETE /item/2 HTTP/2.0\r\nHost: a']) {
    upstream.reset();
    const ex = await exchange(Buffer.from(`${head}\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n`), [], ['DELETE', 'GET']);
    await new Promise((r) => setTimeout(r, 20));
    const forwarded = upstream.received.filter((r) => r.kind === 'request').map((r) => (r.kind === 'request' ? r.msg.startLine.split(' ')[1] : ''));
    assert.deepEqual({ statuses: ex.statuses, closed: ex.closed, forwarded }, { statuses: [200], closed: true, forwarded: ['/item/2'] }, head.split('\r\n')[0]);
  }
});

test('a body that breaks after a pipelined request is answered 400 after that request\'s response', async () => {
  await warm();
  upstream.reset();
  const ex = await exchange(Buffer.from('GET /first HTTP/1.1\r\nHost: a\r\n\r\nPOST /second HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nhello\r\n0\r\n\r\n'), [], ['GET', 'POST']);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(ex.statuses, [200, 400]);
  assert.equal(upstream.received.filter((r) => r.kind === 'request').length, 1, 'only the first request reached the upstream complete');
});

test('a request with two Host headers is refused with 400 before routing, not answered as an upstream failure (case 17)', async () => {
  await warm();
  upstream.reset();
  const ex = await exchange(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'), [], ['GET']);
  assert.deepEqual(ex.statuses, [400]);
  assert.equal(upstream.received.filter((r) => r.kind === 'request').length, 0, 'nothing reached the upstream');
});

// Security case 14: undici, the upstream client, drops an empty Content-Length for methods it does not
// expect a body for; proxy/http1-exchange.ts puts it back. Every method, on the outbound listener, the
// inbound listener (plaintext) and a meshed hop (client outbound -> mTLS -> server inbound).
const CL0_METHODS = ['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'QUERY', 'POST', 'PUT', 'PATCH'];
/** Methods undici sends `content-length: 0` for even when the client sent none (documented in diff-http1.ts). */
const GAINS_CL0 = new Set(['POST', 'PUT', 'PATCH', 'QUERY']);

/**
 * Sends each method once with `Content-Length: 0` and once without, one after the other, and returns
 * the answers and what the upstream got: each request's content-length values and upstream connection.
 */
async function contentLengthsSeen(port: number): Promise<{ statuses: number[]; seen: { line: string; cl: string[]; conn: number }[] }> {
  upstream.reset();
  const statuses: number[] = [];
  for (const m of CL0_METHODS) {
    for (const head of [`${m} /cl0 HTTP/1.1\r\nHost: a\r\nContent-Length: 0`, `${m} /none HTTP/1.1\r\nHost: a`]) {
      statuses.push(...(await exchange(Buffer.from(`${head}\r\n\r\n`), [], [m], port)).statuses);
    }
  }
  const seen = upstream.received.map((r) => {
    assert.ok(r.kind === 'request', `the upstream refused what the proxy sent: ${JSON.stringify(r)}`);
    return { line: r.msg.startLine, cl: r.msg.headers.filter(([k]) => k.toLowerCase() === 'content-length').map(([, v]) => v), conn: r.conn };
  });
  return { statuses, seen };
}

function expectedContentLengths(): { line: string; cl: string[] }[] {
  return CL0_METHODS.flatMap((m) => [
    { line: `${m} /cl0 HTTP/1.1`, cl: ['0'] },
    { line: `${m} /none HTTP/1.1`, cl: GAINS_CL0.has(m) ? ['0'] : [] },
  ]);
}

test('a client\'s content-length: 0 reaches the upstream on every method, once, and only when sent (security case 14)', async (t) => {
  await warm();
  const direct = await startTestProxy({
    certificates: new StaticCertificates(await (await TestPki.create()).certificate(id('demo', 'diff-inbound'))),
    inboundDst: fixedDestination('127.0.0.1', upstream.port),
  });
  const mesh = await meshPair({ appPorts: [upstream.port] });
  t.after(async () => {
    await direct.shutdown(0);
    await mesh.close();
  });
  for (const [name, port] of [['outbound listener', proxy.outboundPort], ['inbound listener', direct.inboundPort], ['meshed hop', mesh.client.outboundPort]] as const) {
    const { statuses, seen } = await contentLengthsSeen(port);
    assert.deepEqual(statuses, CL0_METHODS.flatMap(() => [200, 200]), name);
    assert.deepEqual(seen.map(({ line, cl }) => ({ line, cl })), expectedContentLengths(), name);
    // Keep-alive and pooling are unchanged: the requests, HEAD included, share one upstream connection.
    assert.equal(new Set(seen.map((s) => s.conn)).size, 1, `${name}: upstream connections ${JSON.stringify(seen.map((s) => s.conn))}`);
  }
});
