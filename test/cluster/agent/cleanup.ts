/**
 * `cleanupNode`: removes everything the agent created on this machine, also after the agent crashed.
 * From the state files: every container process and holder (process groups, checked against their
 * recorded start times), pod netns, veth and /etc/netns folder. Then, without state: every process left
 * in a `weft-*` netns, those netns, `wv*` veths and the agent's iptables rules (found by comment).
 */
import { readdirSync, rmSync } from 'node:fs';
import { deletePodNetwork, listNetns, netnsPids, NETNS_PREFIX, RULE_COMMENT, VETH_PREFIX } from './network.js';
import { listPodStates, removePodState } from './state.js';
import type { ProcRef } from './state.js';
import { sleep } from './kube.js';
import { isAlive, run, signalGroup } from './sys.js';

async function killAll(refs: readonly ProcRef[]): Promise<void> {
  for (const r of refs) signalGroup(r.pid, 'SIGKILL', r.startTime);
  for (let i = 0; i < 50 && refs.some((r) => isAlive(r.pid, r.startTime)); i++) await sleep(20);
}

/** Kills a pod's processes and removes its network; shared by the agent's teardown and cleanupNode. */
export async function removePodArtifacts(rec: { netns: string | undefined; veth: string | undefined; containers: Record<string, { holder: ProcRef | undefined; process: ProcRef | undefined }> }): Promise<void> {
  const refs: ProcRef[] = [];
  for (const c of Object.values(rec.containers)) {
    if (c.process !== undefined) refs.push(c.process);
    if (c.holder !== undefined) refs.push(c.holder);
  }
  await killAll(refs);
  if (rec.netns !== undefined) {
    await killAll((await netnsPids(rec.netns)).map((pid) => ({ pid, startTime: undefined })));
    await deletePodNetwork({ netns: rec.netns, veth: rec.veth ?? '' });
  }
}

export async function cleanupNode(stateDir: string): Promise<void> {
  for (const { key, rec } of listPodStates(stateDir)) {
    await removePodArtifacts(rec);
    rmSync(rec.dir, { recursive: true, force: true });
    removePodState(stateDir, key);
  }
  for (const ns of await listNetns()) {
    await killAll((await netnsPids(ns)).map((pid) => ({ pid, startTime: undefined })));
    await run('ip', ['netns', 'del', ns]);
  }
  const links = await run('ip', ['-o', 'link', 'show']);
  for (const m of links.stdout.matchAll(/^\d+: ([^:@]+)[@:]/gm)) {
    const name = m[1];
    if (name?.startsWith(VETH_PREFIX) === true) await run('ip', ['link', 'del', name]);
  }
  try {
    for (const d of readdirSync('/etc/netns')) if (d.startsWith(NETNS_PREFIX)) rmSync(`/etc/netns/${d}`, { recursive: true, force: true });
  } catch { /* no /etc/netns */ }
  await removeAgentRules();
}

/** Deletes every iptables rule carrying the agent's comment, in every table. */
export async function removeAgentRules(): Promise<void> {
  for (const table of ['filter', 'nat', 'mangle']) {
    const r = await run('iptables', ['-t', table, '-S']);
    if (r.code !== 0) continue;
    for (const line of r.stdout.split('\n')) {
      if (!line.startsWith('-A ') || !line.includes(RULE_COMMENT)) continue;
      const args = splitRule(line.slice(3));
      await run('iptables', ['-t', table, '-D', ...args]);
    }
  }
}

/** Splits an `iptables -S` rule into argv, honouring double quotes. */
export function splitRule(rule: string): string[] {
  const out: string[] = [];
  for (const m of rule.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2] ?? '');
  return out;
}
