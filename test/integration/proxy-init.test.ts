/**
 * `weft proxy-init` for real, inside network namespaces this test creates: a "pod" namespace where
 * proxy-init runs (the same `dist/cli/main.js proxy-init` the init container runs) and a "peer"
 * namespace on the other end of a veth. Listeners in the pod stand in for the proxy (inbound, outbound,
 * admin) and for an app port that is skipped; each answers with its own name, so every connection says
 * where iptables sent it. Needs root, iproute2 and iptables; elsewhere it skips and says why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
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
const weft = join(REPO_ROOT, 'dist', 'cli', 'main.js');

/** Listeners that answer with their name; prints READY once all listen. */
const NAMED_LISTENERS = (ports: Record<string, number>, host: string) => `
const net = require('net'); let n = 0; const all = ${JSON.stringify(ports)};
for (const [name, port] of Object.entries(all)) {
  net.createServer((s) => { s.end(name); s.on('error', () => {}); }).listen({ port, host: ${JSON.stringify(host)}, ipv6Only: false }, () => { if (++n === Object.keys(all).length) console.log('READY'); });
}`;

function startListeners(ns: string, ports: Record<string, number>, t: { after(fn: () => void): void }): Promise<ChildProcess> {
  const p = spawn('ip', ['netns', 'exec', ns, node, '-e', NAMED_LISTENERS(ports, '::')], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { p.kill(); });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    p.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
    p.stdout?.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('READY')) resolve(p); });
    p.on('exit', (c) => reject(new Error(`listeners in ${ns} exited ${c}: ${err}`)));
  });
}

/** Connects from `ns` (optionally as `uid`) and returns the name the listener answered with. */
function whoAnswers(ns: string, host: string, port: number, uid?: number, from?: string): Promise<string> {
  const drop = uid === undefined ? '' : `process.setgid(${uid}); process.setuid(${uid});`;
  const local = from === undefined ? '' : `, localAddress: ${JSON.stringify(from)}`;
  const code = `${drop} const s = require('net').connect({ host: ${JSON.stringify(host)}, port: ${port}${local} }); let b = '';
s.on('data', (d) => { b += d; }); s.on('end', () => { process.stdout.write(b); }); s.on('error', (e) => { console.error(e.message); process.exit(1); });`;
  return new Promise((resolve, reject) => {
    const p = spawn('ip', ['netns', 'exec', ns, node, '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('exit', (c) => (c === 0 ? resolve(out) : reject(new Error(`connect ${host}:${port} from ${ns}: ${err}`))));
  });
}

function proxyInit(ns: string, args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, node, weft, 'proxy-init', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

const natRules = (ns: string, save: string) => sh(`ip netns exec ${ns} ${save} -t nat`)
  .split('\n').filter((l) => l.startsWith('-A')).join('\n');

test('proxy-init redirects inbound to 7143 and outbound to 7140, leaves the proxy UID, loopback, admin and skipped ports alone, IPv4 and IPv6, and is idempotent', { skip }, async (t) => {
  const id = `${process.pid % 100000}`;
  const peer = `weft-pi-c${id}`;
  const pod = `weft-pi-p${id}`;
  t.after(() => { sh(`ip netns del ${peer} 2>/dev/null; ip netns del ${pod} 2>/dev/null; true`); });
  sh(`ip netns add ${peer} && ip netns add ${pod}`);
  sh(`ip link add ic${id} netns ${peer} type veth peer name ip${id} netns ${pod}`);
  for (const [ns, dev, v4, v6] of [[peer, `ic${id}`, '10.251.0.1', 'fdab::1'], [pod, `ip${id}`, '10.251.0.2', 'fdab::2']] as const) {
    sh(`ip -n ${ns} link set lo up && ip -n ${ns} link set ${dev} up && ip -n ${ns} addr add ${v4}/24 dev ${dev} && ip -n ${ns} addr add ${v6}/64 dev ${dev} nodad`);
  }
  const hostRulesBefore = sh('iptables-save -t nat | grep -c WEFT_ || true').trim();

  const out = proxyInit(pod, ['--skip-inbound-ports', '9102', '--skip-outbound-ports', '5432']);
  assert.match(out, /IPv4 redirection in place/);
  assert.match(out, /IPv6 redirection in place/);
  const v4 = natRules(pod, 'iptables-save');
  const v6 = natRules(pod, 'ip6tables-save');
  for (const rules of [v4, v6]) {
    assert.match(rules, /-A PREROUTING -p tcp -j WEFT_INBOUND/);
    assert.match(rules, /-A OUTPUT -p tcp -j WEFT_OUTBOUND/);
    assert.match(rules, /-A WEFT_INBOUND -p tcp -j REDIRECT --to-ports 7143/);
    assert.match(rules, /-A WEFT_OUTBOUND -m owner --uid-owner 7102 -j RETURN/);
    assert.match(rules, /-A WEFT_OUTBOUND -p tcp -j REDIRECT --to-ports 7140/);
    assert.match(rules, /--dport 9102 -j RETURN/);
    assert.match(rules, /--dport 5432 -j RETURN/);
  }

  // Running it again (a restarted init container) gives exactly the same rules.
  proxyInit(pod, ['--skip-inbound-ports', '9102', '--skip-outbound-ports', '5432']);
  assert.equal(natRules(pod, 'iptables-save'), v4);
  assert.equal(natRules(pod, 'ip6tables-save'), v6);
  // And with other settings, the chains are rebuilt, not appended to.
  proxyInit(pod, []);
  assert.doesNotMatch(natRules(pod, 'iptables-save'), /9102|5432/);
  assert.equal(natRules(pod, 'iptables-save').split('\n').filter((l) => l.startsWith('-A PREROUTING') && l.includes('-j WEFT_INBOUND')).length, 1);
  proxyInit(pod, ['--skip-inbound-ports', '9102', '--skip-outbound-ports', '5432']);
  assert.equal(natRules(pod, 'iptables-save'), v4);

  // Nothing outside the pod's namespace changed.
  assert.equal(sh('iptables-save -t nat | grep -c WEFT_ || true').trim(), hostRulesBefore);

  await startListeners(pod, { inbound: 7143, outbound: 7140, admin: 7191, skipped: 9102, app: 8080 }, t);
  await startListeners(peer, { 'peer-9090': 9090, 'peer-5432': 5432 }, t);
  for (const [podIp, peerIp] of [['10.251.0.2', '10.251.0.1'], ['fdab::2', 'fdab::1']] as const) {
    assert.equal(await whoAnswers(peer, podIp, 8080), 'inbound', `inbound app port -> 7143 (${podIp})`);
    assert.equal(await whoAnswers(peer, podIp, 7191), 'admin', `admin port is not redirected (${podIp})`);
    assert.equal(await whoAnswers(peer, podIp, 9102), 'skipped', `skipped inbound port (${podIp})`);
    assert.equal(await whoAnswers(pod, peerIp, 9090), 'outbound', `outbound -> 7140 (${peerIp})`);
    assert.equal(await whoAnswers(pod, peerIp, 9090, 7102), 'peer-9090', `the proxy's UID is not redirected (${peerIp})`);
    assert.equal(await whoAnswers(pod, peerIp, 9090, 1000), 'outbound', `another UID is redirected (${peerIp})`);
    assert.equal(await whoAnswers(pod, peerIp, 5432), 'peer-5432', `skipped outbound port (${peerIp})`);
    assert.equal(await whoAnswers(pod, podIp, 8080), 'app', `loopback to the pod's own IP is not redirected (${podIp})`);
  }
  assert.equal(await whoAnswers(pod, '127.0.0.1', 8080), 'app', 'loopback is not redirected');
  // A pod calling a Service that its own pod answers: the client proxy's connection to its own pod IP
  // goes through the inbound listener (IPv4); the inbound proxy reaches the app from 127.0.0.6.
  assert.equal(await whoAnswers(pod, '10.251.0.2', 8080, 7102), 'inbound', 'the proxy UID calling its own pod IP -> 7143');
  assert.equal(await whoAnswers(pod, '10.251.0.2', 7191, 7102), 'admin', 'the admin port stays exempt on a self-call');
  assert.equal(await whoAnswers(pod, '10.251.0.2', 8080, 7102, '127.0.0.6'), 'app', 'the inbound proxy reaches its app from 127.0.0.6');
  assert.equal(await whoAnswers(pod, '127.0.0.1', 8080, 7102), 'app', 'the proxy UID to 127.0.0.1 is not redirected');
});
