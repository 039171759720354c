/**
 * The proxy as a process: SIGTERM drains with zero failed in-flight requests; and one meshed hop in
 * real network namespaces where iptables REDIRECT and SO_ORIGINAL_DST decide everything (the client
 * dials a ClusterIP, the client proxy dials the pod IP and app port, the server pod redirects that to
 * its inbound proxy). The namespace test needs root, iproute2 and iptables; elsewhere it skips.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { HEADER_CLIENT_ID } from '../../core/contract.js';
import { get, keepAliveAgent } from '../support/proxy-client.js';
import { startHarness } from '../support/proxy-spawn.js';
import { CLUSTER_IP, SERVICE, fixedDestination, id, listenHttp, startTestProxy, StaticCertificates, StaticDiscovery, TestPki } from '../support/proxy-fixtures.js';

test('SIGTERM drains the proxy process: every in-flight request succeeds, then it exits 0', async (t) => {
  let arrived = 0;
  let allArrived: () => void = () => undefined;
  const arrivedAll = new Promise<void>((r) => {
    allArrived = r;
  });
  const app = await listenHttp((_req, res) => {
    if (++arrived === 30) allArrived();
    setTimeout(() => res.end('done'), 400);
  });
  const pki = await TestPki.create();
  const serverId = id('demo', 'srv');
  const server = await startHarness({
    certificate: await pki.certificate(serverId),
    podIp: '127.0.0.1',
    outbound: { host: '127.0.0.1', port: 0 },
    inbound: { host: '127.0.0.1', port: 0 },
    originalDst: { inbound: { address: '127.0.0.1', port: app.port } },
    graceMs: 5_000,
  });
  const discovery = new StaticDiscovery().service(CLUSTER_IP, SERVICE, [{ ip: '127.0.0.1', port: server.ports.inbound, meshed: true, identity: serverId }]);
  const client = await startTestProxy({ certificates: new StaticCertificates(await pki.certificate(id('demo', 'cli'))), discovery, outboundDst: fixedDestination(CLUSTER_IP, 80) });
  t.after(async () => {
    server.child.kill('SIGKILL');
    await client.shutdown(0);
    app.close();
  });
  const agent = keepAliveAgent(30);
  t.after(() => agent.destroy());
  const inflight = Array.from({ length: 30 }, (_, i) => get(client.outboundPort, `/${i}`, { agent }));
  await arrivedAll; // all 30 are now in flight through the server proxy
  const t0 = Date.now();
  const exited = new Promise<number | null>((r) => server.child.once('exit', r));
  server.child.kill('SIGTERM');
  const results = await Promise.all(inflight);
  assert.deepEqual(results.filter((r) => r.status !== 200).map((r) => r.status), []);
  assert.equal(await exited, 0, server.stderr());
  assert.ok(Date.now() - t0 < 5_000, 'exited within the grace period');
});

function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const nsSkip = process.getuid?.() !== 0 ? 'needs root (network namespaces and iptables)'
  : !have('ip') || !have('iptables') ? 'needs iproute2 and iptables installed' : false;
const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

test('a meshed hop between network namespaces, steered only by iptables REDIRECT and SO_ORIGINAL_DST', { skip: nsSkip }, async (t) => {
  const n = `${process.pid % 100000}`;
  const cns = `weft-px-c${n}`;
  const sns = `weft-px-s${n}`;
  const clientIp = '10.251.0.1';
  const podIp = '10.251.0.2';
  const clusterIp = '10.96.7.7';
  const children: ChildProcess[] = [];
  t.after(() => {
    for (const c of children) c.kill('SIGKILL');
    sh(`ip netns del ${cns} 2>/dev/null; ip netns del ${sns} 2>/dev/null; true`);
  });
  sh(`ip netns add ${cns} && ip netns add ${sns}`);
  sh(`ip link add pc${n} netns ${cns} type veth peer name ps${n} netns ${sns}`);
  sh(`ip -n ${cns} link set lo up && ip -n ${cns} link set pc${n} up && ip -n ${cns} addr add ${clientIp}/24 dev pc${n} && ip -n ${cns} route add default dev pc${n}`);
  sh(`ip -n ${sns} link set lo up && ip -n ${sns} link set ps${n} up && ip -n ${sns} addr add ${podIp}/24 dev ps${n}`);
  // What proxy-init sets up: in the client pod, the app's outbound TCP goes to the outbound listener
  // (here only towards the ClusterIP, since the test's proxy runs as root, not as the proxy UID);
  // in the server pod, inbound TCP to the app port goes to the inbound listener.
  sh(`ip netns exec ${cns} iptables -t nat -A OUTPUT -p tcp -d ${clusterIp} -j REDIRECT --to-ports 7140`);
  sh(`ip netns exec ${sns} iptables -t nat -A PREROUTING -p tcp --dport 8080 -j REDIRECT --to-ports 7143`);

  const app = spawn('ip', ['netns', 'exec', sns, process.execPath, '-e',
    `require('http').createServer((q,s)=>s.end('app saw '+q.url+' from '+q.headers['${HEADER_CLIENT_ID}'])).listen(8080,'${podIp}',()=>console.log('READY {}'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(app);
  await new Promise<void>((resolve) => app.stdout.on('data', (d: Buffer) => d.toString().includes('READY') && resolve()));

  const pki = await TestPki.create();
  const serverId = id('demo', 'web');
  const server = await startHarness({
    certificate: await pki.certificate(serverId), podIp,
    outbound: { host: '127.0.0.1', port: 7140 }, inbound: { host: '0.0.0.0', port: 7143 }, originalDst: 'kernel',
  }, ['ip', 'netns', 'exec', sns]);
  children.push(server.child);
  const client = await startHarness({
    certificate: await pki.certificate(id('demo', 'client')), podIp: clientIp,
    outbound: { host: '127.0.0.1', port: 7140 }, inbound: { host: '0.0.0.0', port: 7143 }, originalDst: 'kernel',
    services: [{ clusterIp, namespace: 'demo', name: 'web', port: 80, endpoints: [{ ip: podIp, port: 8080, meshed: true, identity: serverId }] }],
  }, ['ip', 'netns', 'exec', cns]);
  children.push(client.child);

  const body = execFileSync('ip', ['netns', 'exec', cns, process.execPath, '-e',
    `require('http').get('http://${clusterIp}/hello',r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>{console.log(r.statusCode+' '+b)})}).on('error',e=>{console.log('ERR '+e.message)})`]).toString().trim();
  assert.equal(body, `200 app saw /hello from ${id('demo', 'client')}`);
});
