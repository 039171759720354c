/**
 * Inbound limits (InboundLimitPolicy, issue 19 item 5) through a real server proxy: compiled by core,
 * sent through the wire, enforced for HTTP/1.1, HTTP/2 and gRPC, counted in the proxy's metrics.
 * Clients are plaintext sockets admitted by a NetworkAuthentication for every address.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as h2connect } from 'node:http2';
import type { ServerResponse } from 'node:http';
import { GATEWAY_API_GROUP, HEADER_PROXY_ERROR, POLICY_API_GROUP } from '../../core/contract.js';
import type { ClusterSnapshot } from '../../core/kube.js';
import type { InboundLimitPolicy } from '../../core/kube-policy.js';
import { authz, NS, netauthn, netRef, policyFor, server, serverRoute, snapshot, toServer } from '../../core/inbound/testdata/fixtures.js';
import { RouteMetrics } from '../../proxy/metrics.js';
import { createPolicyHook, PolicyStore } from '../../proxy/policy/hook.js';
import type { RunningProxy } from '../../proxy/proxy.js';
import { get, keepAliveAgent } from '../support/proxy-client.js';
import type { Reply } from '../support/proxy-client.js';
import { fixedDestination, StaticDiscovery } from '../support/proxy-fixtures.js';
import { echoApp, pushInbound, scrape, startTestProxyWith, sum, TestPki } from './proxy-policy-harness.js';
import type { EchoApp } from './proxy-policy-harness.js';
import { sid } from '../../core/inbound/testdata/fixtures.js';

let app: EchoApp;
let proxy: RunningProxy;
let store: PolicyStore;
let pki: TestPki;

before(async () => {
  pki = await TestPki.create();
  app = await echoApp('api-0');
  store = new PolicyStore();
  const metrics = new RouteMetrics();
  proxy = await startTestProxyWith({ pki, identity: sid(NS, 'api'), policy: createPolicyHook({ store, metrics }), metrics, inboundDst: fixedDestination('127.0.0.1', app.port) });
});

after(async () => {
  await proxy.shutdown(0);
  app.close();
});

function limit(name: string, spec: Record<string, unknown>): InboundLimitPolicy {
  return { apiVersion: `${POLICY_API_GROUP}/v1alpha1`, kind: 'InboundLimitPolicy', metadata: { name, namespace: NS, creationTimestamp: '2026-01-01T00:00:00Z' }, spec };
}

/** A Server everyone may call, with its routes and limits. */
function apply(parts: Partial<ClusterSnapshot>): void {
  const snap = snapshot({
    servers: [server('api-http')],
    networkAuthentications: [netauthn('everyone', [{ cidr: '0.0.0.0/0' }, { cidr: '::/0' }])],
    authorizationPolicies: [authz('everyone-in', toServer('api-http'), [netRef('everyone')])],
    ...parts,
  });
  pushInbound(store, app.port, policyFor(snap, 8080, { probeNetworks: ['127.0.0.1/32'] }));
}

const limited = async (reason: string): Promise<number> => sum(await scrape(proxy.adminPort ?? 0), 'weft_proxy_requests_limited_total', { reason });

/** Holds requests to /hold until `release` is called. */
function holdApp(): { release: () => void; held: () => number } {
  const waiting: ServerResponse[] = [];
  app.handler = (req, res) => {
    if (!(req.url ?? '').startsWith('/hold')) return false;
    waiting.push(res);
    return true;
  };
  return {
    held: () => waiting.length,
    release: () => {
      for (const res of waiting.splice(0)) res.end('released');
    },
  };
}

async function until(cond: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function grpcCall(path: string): Promise<Record<string, unknown>> {
  const session = h2connect(`http://127.0.0.1:${proxy.inboundPort}`);
  return new Promise<Record<string, unknown>>((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc' });
    req.on('response', (h) => {
      resolve(h);
      session.close();
    });
    req.on('error', reject);
    req.resume();
    req.end();
  });
}

describe('rate limit', () => {
  test('a limit of 50/s lets through 50/s +-10% of 200/s offered; the rest get 429 with Retry-After', async () => {
    apply({ inboundLimitPolicies: [limit('api-rate', { targetRef: toServer('api-http'), rateLimit: { requestsPerSecond: 50, burst: 5 } })] });
    const agent = keepAliveAgent(32);
    const offeredPerSecond = 200;
    const seconds = 5;
    const total = offeredPerSecond * seconds;
    const before429 = await limited('rate');
    const replies: Promise<Reply>[] = [];
    const t0 = performance.now();
    // Open loop: request i leaves at i/200 s, whatever the earlier answers.
    await new Promise<void>((resolve) => {
      let sent = 0;
      const tick = setInterval(() => {
        const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * offeredPerSecond) + 1);
        while (sent < due) {
          replies.push(get(proxy.inboundPort, `/rate/${sent}`, { agent }));
          sent++;
        }
        if (sent >= total) {
          clearInterval(tick);
          resolve();
        }
      }, 5);
    });
    const elapsedS = (performance.now() - t0) / 1000;
    const all = await Promise.all(replies);
    agent.destroy();
    const ok = all.filter((r) => r.status === 200).length;
    const refused = all.filter((r) => r.status === 429);
    const rate = ok / elapsedS;
    console.log(`rate limit 50/s burst 5: offered ${total} in ${elapsedS.toFixed(2)} s (${(total / elapsedS).toFixed(0)}/s); admitted ${ok} = ${rate.toFixed(1)}/s; 429: ${refused.length}; other: ${total - ok - refused.length}`);
    assert.equal(ok + refused.length, total, 'every request is admitted or answered 429');
    assert.ok(rate >= 45 && rate <= 55, `admitted ${rate.toFixed(1)}/s, not 50/s +-10%`);
    for (const r of refused) {
      assert.equal(r.headers[HEADER_PROXY_ERROR], 'rate-limited');
      assert.match(String(r.headers['retry-after']), /^[1-9]\d*$/);
    }
    assert.equal((await limited('rate')) - before429, refused.length, 'weft_proxy_requests_limited_total{reason="rate"} counts every 429');
  });

  test('a route limit counts only the requests its route selects; gRPC is answered RESOURCE_EXHAUSTED', async () => {
    apply({
      httpRoutes: [
        serverRoute('slow', 'api-http', [{ matches: [{ path: { type: 'PathPrefix', value: '/slow' } }] }]),
        serverRoute('rest', 'api-http', [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }]),
      ],
      inboundLimitPolicies: [limit('slow-rate', { targetRef: { group: GATEWAY_API_GROUP, kind: 'HTTPRoute', name: 'slow' }, rateLimit: { requestsPerSecond: 1, burst: 2 } })],
    });
    const slow = [];
    for (let i = 0; i < 4; i++) slow.push((await get(proxy.inboundPort, '/slow/x')).status);
    assert.deepEqual(slow, [200, 200, 429, 429]);
    for (let i = 0; i < 10; i++) assert.equal((await get(proxy.inboundPort, '/other')).status, 200);
    // A kubelet probe is exempt, as it is from authorization: a busy pod is not failed for being busy.
    // (the fixture pod has a liveness probe on /healthz of this port)
    apply({
      inboundLimitPolicies: [limit('all-rate', { targetRef: toServer('api-http'), rateLimit: { requestsPerSecond: 1, burst: 1 } })],
    });
    assert.equal((await get(proxy.inboundPort, '/x')).status, 200);
    assert.equal((await get(proxy.inboundPort, '/x')).status, 429);
    for (let i = 0; i < 5; i++) assert.equal((await get(proxy.inboundPort, '/healthz')).status, 200, 'probe path from the probe network');
    const h = await grpcCall('/slow/Get');
    assert.equal(h[':status'], 200);
    assert.equal(h['grpc-status'], '8', 'RESOURCE_EXHAUSTED');
    assert.equal(h[HEADER_PROXY_ERROR], 'rate-limited');
  });
});

describe('through a meshed client', () => {
  test('a limited answer crosses mTLS with its Retry-After and the client proxy counts it for the route (weft_outbound_limited_total)', async () => {
    apply({ inboundLimitPolicies: [limit('api-rate', { targetRef: toServer('api-http'), rateLimit: { requestsPerSecond: 1, burst: 1 } })] });
    const discovery = new StaticDiscovery().service('10.96.5.5', { namespace: NS, name: 'api', port: 80 }, [
      { ip: '127.0.0.1', port: proxy.inboundPort, meshed: true, identity: sid(NS, 'api') },
    ]);
    const metrics = new RouteMetrics();
    const client = await startTestProxyWith({
      pki, identity: sid(NS, 'frontend'), discovery, policy: createPolicyHook({ store: new PolicyStore(), metrics }), metrics, outboundDst: fixedDestination('10.96.5.5', 80),
    });
    try {
      const statuses: number[] = [];
      let retryAfter: unknown;
      for (let i = 0; i < 3; i++) {
        const r = await get(client.outboundPort, `/m/${i}`);
        statuses.push(r.status);
        if (r.status === 429) retryAfter = r.headers['retry-after'];
      }
      assert.deepEqual(statuses, [200, 429, 429]);
      assert.equal(retryAfter, '1');
      assert.equal(sum(await scrape(client.adminPort ?? 0), 'weft_outbound_limited_total', { reason: 'rate', service_name: 'api' }), 2);
    } finally {
      await client.shutdown(0);
    }
  });
});

describe('concurrency limit', () => {
  test('one request above maxInFlight gets 503 concurrency-limited; a finished request frees its slot (HTTP/1.1 and HTTP/2)', async () => {
    apply({ inboundLimitPolicies: [limit('api-conc', { targetRef: toServer('api-http'), concurrency: { maxInFlight: 3 } })] });
    const hold = holdApp();
    const before503 = await limited('concurrency');
    try {
      const agent = keepAliveAgent(8);
      const held = [0, 1, 2].map((i) => get(proxy.inboundPort, `/hold/${i}`, { agent }));
      await until(() => hold.held() === 3);
      const over = await get(proxy.inboundPort, '/now');
      assert.equal(over.status, 503);
      assert.equal(over.headers[HEADER_PROXY_ERROR], 'concurrency-limited');
      assert.equal(over.headers['retry-after'], undefined);
      const grpc = await grpcCall('/shop.Api/Get');
      assert.equal(grpc['grpc-status'], '14', 'UNAVAILABLE');
      assert.equal(grpc[HEADER_PROXY_ERROR], 'concurrency-limited');
      hold.release();
      assert.deepEqual((await Promise.all(held)).map((r) => r.status), [200, 200, 200]);
      // Slots are given back when each exchange closes, also when the client goes away mid-request.
      const again = await get(proxy.inboundPort, '/now');
      assert.equal(again.status, 200);
      const gone = [0, 1, 2].map((i) => get(proxy.inboundPort, `/hold/gone-${i}`, { agent }).catch(() => undefined));
      await until(() => hold.held() === 3);
      agent.destroy();
      await Promise.all(gone);
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        status = (await get(proxy.inboundPort, '/after-abort')).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(status, 200, 'slots of aborted requests came back');
      assert.equal((await limited('concurrency')) - before503, 2, 'the 503 and the UNAVAILABLE call are counted');
      hold.release();
    } finally {
      app.handler = undefined;
    }
  });
});
