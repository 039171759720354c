/**
 * Host and pod networking with iproute2 and iptables. The host side: bridge `weft0` with the node
 * address, a route keeping the service CIDR on the bridge, ip_forward on, br_netfilter loaded, and the
 * machine-policy FORWARD rules that drop anything crossing between the bridge and other interfaces
 * (traffic must never leave the machine). Each pod: a netns `weft-<uid8>`, a veth pair whose host end
 * `wv<uid8>` joins the bridge and whose pod end is eth0 with the pod IP, loopback up, default route via
 * the bridge address. Everything is idempotent so a restarted agent or `down` can repeat it.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { must, run } from './sys.js';

export const NETNS_PREFIX = 'weft-';
export const VETH_PREFIX = 'wv';
/** iptables comment marking the agent's host rules, so cleanup finds them. */
export const RULE_COMMENT = 'weft-node-agent';

export function podNetnsName(uid: string): string {
  return `${NETNS_PREFIX}${uid.replace(/-/g, '').slice(0, 8)}`;
}

export function podVethName(uid: string): string {
  return `${VETH_PREFIX}${uid.replace(/-/g, '').slice(0, 8)}`;
}

export interface HostNetwork {
  readonly bridge: string;
  readonly nodeIP: string;
  readonly prefix: number;
  readonly serviceCIDR: string;
  readonly unreachableCIDRs: readonly string[];
}

/** The FORWARD rules of the machine policy (argv after `-A|-C|-D FORWARD`). */
export function forwardRules(bridge: string): string[][] {
  return [
    ['-i', bridge, '!', '-o', bridge, '-m', 'comment', '--comment', RULE_COMMENT, '-j', 'DROP'],
    ['!', '-i', bridge, '-o', bridge, '-m', 'comment', '--comment', RULE_COMMENT, '-j', 'DROP'],
  ];
}

export async function ensureHostNetwork(h: HostNetwork): Promise<void> {
  await run('modprobe', ['br_netfilter']);
  await run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
  await run('sysctl', ['-q', '-w', 'net.bridge.bridge-nf-call-iptables=1']);
  if ((await run('ip', ['link', 'show', h.bridge])).code !== 0) {
    const add = await run('ip', ['link', 'add', h.bridge, 'type', 'bridge']);
    if (add.code !== 0 && !add.stderr.includes('File exists')) throw new Error(`ip link add ${h.bridge}: ${add.stderr}`);
  }
  const addrs = await run('ip', ['-o', '-4', 'addr', 'show', 'dev', h.bridge]);
  if (!addrs.stdout.includes(` ${h.nodeIP}/`)) {
    const addr = await run('ip', ['addr', 'add', `${h.nodeIP}/${h.prefix}`, 'dev', h.bridge]);
    if (addr.code !== 0 && !/File exists|already assigned/.test(addr.stderr)) throw new Error(`ip addr add on ${h.bridge}: ${addr.stderr}`);
  }
  await must('ip', ['link', 'set', h.bridge, 'up']);
  await run('ip', ['route', 'replace', h.serviceCIDR, 'dev', h.bridge]);
  // Simulated pods have no interface: their addresses must fail here rather than follow the default route out.
  for (const cidr of h.unreachableCIDRs) await run('ip', ['route', 'replace', 'unreachable', cidr]);
  for (const rule of forwardRules(h.bridge)) {
    if ((await run('iptables', ['-C', 'FORWARD', ...rule])).code !== 0) await must('iptables', ['-I', 'FORWARD', '1', ...rule]);
  }
}

export interface PodNetwork {
  readonly netns: string;
  readonly veth: string;
  readonly ip: string;
}

export async function createPodNetwork(h: HostNetwork, pod: PodNetwork): Promise<void> {
  await deletePodNetwork(pod);
  await must('ip', ['netns', 'add', pod.netns]);
  await must('ip', ['link', 'add', pod.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.netns]);
  await must('ip', ['link', 'set', pod.veth, 'master', h.bridge, 'up']);
  // Hairpin: a pod reaching itself through a Service IP comes back through its own bridge port.
  await run('ip', ['link', 'set', pod.veth, 'type', 'bridge_slave', 'hairpin', 'on']);
  await must('ip', ['-n', pod.netns, 'addr', 'add', `${pod.ip}/${h.prefix}`, 'dev', 'eth0']);
  await must('ip', ['-n', pod.netns, 'link', 'set', 'lo', 'up']);
  await must('ip', ['-n', pod.netns, 'link', 'set', 'eth0', 'up']);
  await must('ip', ['-n', pod.netns, 'route', 'add', 'default', 'via', h.nodeIP]);
}

/** Removes a pod's netns (its end of the veth goes with it), the host veth and its /etc/netns folder. */
export async function deletePodNetwork(pod: { netns: string; veth: string }): Promise<void> {
  await run('ip', ['link', 'del', pod.veth]);
  await run('ip', ['netns', 'del', pod.netns]);
  rmSync(`/etc/netns/${pod.netns}`, { recursive: true, force: true });
}

export interface PodDns {
  readonly namespace: string;
  readonly clusterDNS: string;
  readonly clusterDomain: string;
}

/** resolv.conf of a pod with dnsPolicy ClusterFirst. */
export function resolvConf(d: PodDns): string {
  return [
    `nameserver ${d.clusterDNS}`,
    `search ${d.namespace}.svc.${d.clusterDomain} svc.${d.clusterDomain} ${d.clusterDomain}`,
    'options ndots:5',
    '',
  ].join('\n');
}

export function hostsFile(podName: string, podIP: string, hostAliases: readonly { ip?: string; hostnames?: string[] }[] = []): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', `${podIP}\t${podName}`];
  for (const a of hostAliases) if (a.ip !== undefined) lines.push(`${a.ip}\t${(a.hostnames ?? []).join(' ')}`);
  return `${lines.join('\n')}\n`;
}

/** Writes /etc/netns/<netns>/{resolv.conf,hosts}; containers get them bind-mounted over /etc. */
export function writeNetnsEtc(netnsOrKey: string, resolv: string, hosts: string): { resolv: string; hosts: string } {
  const dir = `/etc/netns/${netnsOrKey}`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/resolv.conf`, resolv, { mode: 0o644 });
  writeFileSync(`${dir}/hosts`, hosts, { mode: 0o644 });
  return { resolv: `${dir}/resolv.conf`, hosts: `${dir}/hosts` };
}

export async function listNetns(): Promise<string[]> {
  const r = await run('ip', ['netns', 'list']);
  return r.stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(NETNS_PREFIX));
}

export async function netnsPids(netns: string): Promise<number[]> {
  const r = await run('ip', ['netns', 'pids', netns]);
  return r.stdout.split('\n').map((l) => Number(l.trim())).filter((n) => Number.isInteger(n) && n > 0);
}
