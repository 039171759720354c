/**
 * The SO_ORIGINAL_DST addon inside real network namespaces with iptables REDIRECT rules, the way
 * proxy-init sets them up: PREROUTING to the inbound listener, OUTPUT to the outbound listener, over
 * IPv4 and IPv6. Needs root, `ip` and `iptables`; elsewhere it skips and says why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';

function have(cmd: string): boolean {
  try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true; } catch { return false; }
}
const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces and iptables)'
  : !have('ip') || !have('iptables') || !have('ip6tables') ? 'needs iproute2 and iptables installed'
  : false;

const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const node = process.execPath;
const probe = join(REPO_ROOT, 'dist', 'test', 'support', 'original-dst-probe.js');

function connectFrom(ns: string, host: string, port: number): Promise<void> {
  const code = `const s=require('net').connect({host:${JSON.stringify(host)},port:${port}});s.on('connect',()=>s.end());s.on('error',e=>{console.error(e.message);process.exit(1)});s.on('close',()=>process.exit(0));s.resume()`;
  return new Promise((resolve, reject) => {
    const p = spawn('ip', ['netns', 'exec', ns, node, '-e', code], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const timer = setTimeout(() => { err += 'no answer within 10 s'; p.kill('SIGKILL'); }, 10_000);
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('exit', (c) => (clearTimeout(timer), c === 0 ? resolve() : reject(new Error(`connect ${host}:${port} from ${ns}: ${err}`))));
  });
}

test('the addon returns the original destination behind REDIRECT, inbound and outbound, IPv4 and IPv6', { skip }, async (t) => {
  const id = `${process.pid % 100000}`;
  const client = `weft-t-odst-c${id}`;
  const pod = `weft-t-odst-p${id}`;
  t.after(() => { sh(`ip netns del ${client} 2>/dev/null; ip netns del ${pod} 2>/dev/null; true`); });
  sh(`ip netns add ${client} && ip netns add ${pod}`);
  sh(`ip link add oc${id} netns ${client} type veth peer name op${id} netns ${pod}`);
  for (const [ns, dev, v4, v6] of [[client, `oc${id}`, '10.250.0.1', 'fdaa::1'], [pod, `op${id}`, '10.250.0.2', 'fdaa::2']] as const) {
    sh(`ip -n ${ns} link set lo up && ip -n ${ns} link set ${dev} up && ip -n ${ns} addr add ${v4}/24 dev ${dev} && ip -n ${ns} addr add ${v6}/64 dev ${dev} nodad`);
  }
  // What proxy-init does in the pod: inbound app port -> inbound listener; outbound -> outbound listener.
  for (const ipt of ['iptables', 'ip6tables']) {
    sh(`ip netns exec ${pod} ${ipt} -t nat -A PREROUTING -p tcp --dport 8080 -j REDIRECT --to-ports 17143`);
    sh(`ip netns exec ${pod} ${ipt} -t nat -A OUTPUT -p tcp --dport 9090 -j REDIRECT --to-ports 17140`);
  }

  const p = spawn('ip', ['netns', 'exec', pod, node, probe, '17143', '17140', '5'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  // Listen for the exit now: the probe exits after its last accept, which can come before the last
  // client's own exit is seen, and an exit listener attached after that would wait forever.
  const exited = new Promise<number | null>((resolve) => p.on('exit', resolve));
  t.after(() => { p.kill('SIGKILL'); });
  await Promise.race([
    new Promise<void>((resolve) => { p.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('READY')) resolve(); }); }),
    exited.then((c) => { throw new Error(`probe exited ${c} before it was ready: ${err}`); }),
  ]);
  await connectFrom(client, '10.250.0.2', 8080); // inbound, IPv4
  await connectFrom(client, 'fdaa::2', 8080); // inbound, IPv6
  await connectFrom(pod, '10.250.0.1', 9090); // outbound, IPv4
  await connectFrom(pod, 'fdaa::1', 9090); // outbound, IPv6
  await connectFrom(client, '10.250.0.2', 17143); // straight to the listener: conntrack reports the listener itself
  const code = await exited;
  assert.equal(code, 0, err);

  const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { listener: string; orig: unknown });
  assert.deepEqual(lines.map((l) => [l.listener, l.orig]), [
    ['inbound', { address: '10.250.0.2', port: 8080, family: 4 }],
    ['inbound', { address: 'fdaa::2', port: 8080, family: 6 }],
    ['outbound', { address: '10.250.0.1', port: 9090, family: 4 }],
    ['outbound', { address: 'fdaa::1', port: 9090, family: 6 }],
    ['inbound', { address: '10.250.0.2', port: 17143, family: 4 }],
  ]);
});
