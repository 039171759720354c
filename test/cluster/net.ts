/**
 * Host networking for the cluster: the weft0 bridge (node IP), routes that keep service and simulated-pod
 * traffic on the bridge, and FORWARD rules that stop anything crossing between weft0 and any other
 * interface (machine policy: no traffic leaves this machine). All steps are idempotent; the node agent
 * ensures the same bridge and rules with the same specs.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';

import { BRIDGE, BRIDGE_CIDR, NODE_IP, PATH_ENV, REAL_NODE_CIDR, SERVICE_CIDR, SIM_POD_CIDR } from './config.js';

export interface CmdResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell; never rejects (the caller decides what a failure means). */
export function cmd(command: string, args: string[], opts: { timeoutMs?: number; input?: string; env?: Record<string, string> } = {}): Promise<CmdResult> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      args,
      { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, env: { PATH: PATH_ENV, ...opts.env } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
        resolve({ code, stdout: String(stdout), stderr: err && !stderr ? err.message : String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export async function must(command: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<string> {
  const r = await cmd(command, args, opts);
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** Comment on the control plane's own rules, so they can be told apart from the agent's and kube-proxy's. */
export const RULE_COMMENT = 'weft-test-cluster';

/** FORWARD rules that keep traffic from crossing between weft0 and any other interface. */
export const SAFETY_RULES: readonly string[][] = [
  ['-i', BRIDGE, '!', '-o', BRIDGE, '-m', 'comment', '--comment', RULE_COMMENT, '-j', 'DROP'],
  ['!', '-i', BRIDGE, '-o', BRIDGE, '-m', 'comment', '--comment', RULE_COMMENT, '-j', 'DROP'],
];

/**
 * The rules go into filter FORWARD (where the interface contract puts them) and into mangle FORWARD:
 * kube-proxy later prepends its own jumps (KUBE-FORWARD accepts marked and established packets) to
 * filter FORWARD, above ours; mangle FORWARD runs before filter and kube-proxy never touches it.
 */
const SAFETY_TABLES = ['mangle', 'filter'] as const;

async function ensureRuleFirst(table: string, chain: string, rule: string[]): Promise<void> {
  const check = await cmd('iptables', ['-w', '-t', table, '-C', chain, ...rule]);
  if (check.code === 0) return;
  await must('iptables', ['-w', '-t', table, '-I', chain, '1', ...rule]);
}

async function deleteAll(table: string, chain: string, rule: string[]): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const r = await cmd('iptables', ['-w', '-t', table, '-D', chain, ...rule]);
    if (r.code !== 0) return;
  }
}

export async function bridgeExists(): Promise<boolean> {
  return (await cmd('ip', ['link', 'show', 'dev', BRIDGE])).code === 0;
}

/** Bridge, node address, routes, forwarding, br_netfilter, safety rules. */
export async function ensureHostNetwork(): Promise<void> {
  await cmd('modprobe', ['br_netfilter']);
  if (!(await bridgeExists())) {
    const r = await cmd('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
    if (r.code !== 0 && !(await bridgeExists())) throw new Error(`ip link add ${BRIDGE} type bridge: ${r.stderr.trim()}`);
  }
  const addrs = await must('ip', ['-4', '-o', 'addr', 'show', 'dev', BRIDGE]);
  // The second address is the real node's node IP and its pods' gateway (the CNI bridge plugin finds
  // it there); its connected route keeps the real node's pod CIDR on the bridge.
  for (const cidr of [BRIDGE_CIDR, REAL_NODE_CIDR]) {
    if (addrs.includes(` ${cidr} `)) continue;
    const r = await cmd('ip', ['addr', 'add', cidr, 'dev', BRIDGE]);
    if (r.code !== 0 && !r.stderr.includes('File exists')) throw new Error(`ip addr add ${cidr}: ${r.stderr.trim()}`);
  }
  await must('ip', ['link', 'set', BRIDGE, 'up']);
  // Un-NATed service traffic and traffic to the simulated node's pods stays on the bridge.
  await must('ip', ['route', 'replace', SERVICE_CIDR, 'dev', BRIDGE, 'src', NODE_IP]);
  await must('ip', ['route', 'replace', SIM_POD_CIDR, 'dev', BRIDGE, 'src', NODE_IP]);
  await writeFile('/proc/sys/net/ipv4/ip_forward', '1');
  for (const table of SAFETY_TABLES) for (const rule of SAFETY_RULES) await ensureRuleFirst(table, 'FORWARD', rule);
}

/** Splits one `iptables -S` line into argv (handles double-quoted comments). */
function splitRule(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1] : (m[2] ?? '')));
}

/**
 * Removes every remaining KUBE-* and CNI-* chain and the rules that jump to them, in IPv4 and IPv6.
 * `kube-proxy --cleanup` leaves at least KUBE-FIREWALL (and its jumps from INPUT/OUTPUT) behind; the
 * real node's kubelet makes KUBE-FIREWALL and KUBE-KUBELET-CANARY in both families; the CNI portmap
 * plugin makes CNI-HOSTPORT-*. Nothing else on these machines uses these prefixes.
 */
export async function removeKubeChains(): Promise<string[]> {
  const removed: string[] = [];
  for (const tool of ['iptables', 'ip6tables']) {
    for (const table of ['filter', 'nat', 'mangle', 'raw']) {
      const r = await cmd(tool, ['-w', '-t', table, '-S']);
      if (r.code !== 0) continue;
      const lines = r.stdout.split('\n');
      const chains = lines.filter((l) => /^-N (KUBE|CNI)-/.test(l)).map((l) => l.slice(3).trim());
      if (chains.length === 0) continue;
      for (const l of lines) {
        const jump = /-j ((KUBE|CNI)-\S+)/.exec(l);
        if (!l.startsWith('-A ') || !jump) continue;
        await cmd(tool, ['-w', '-t', table, '-D', ...splitRule(l.slice(3))]);
      }
      for (const c of chains) await cmd(tool, ['-w', '-t', table, '-F', c]);
      for (const c of chains) {
        if ((await cmd(tool, ['-w', '-t', table, '-X', c])).code === 0) removed.push(`${tool === 'iptables' ? 'ipv4' : 'ipv6'}/${table}/${c}`);
      }
    }
  }
  return removed;
}

/** Removes the safety rules, routes and the bridge (routes on the bridge go with it). */
export async function removeHostNetwork(): Promise<void> {
  for (const table of SAFETY_TABLES) for (const rule of SAFETY_RULES) await deleteAll(table, 'FORWARD', rule);
  await cmd('ip', ['route', 'del', SERVICE_CIDR, 'dev', BRIDGE]);
  await cmd('ip', ['route', 'del', SIM_POD_CIDR, 'dev', BRIDGE]);
  if (await bridgeExists()) await must('ip', ['link', 'del', BRIDGE]);
}
