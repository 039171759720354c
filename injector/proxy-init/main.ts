/**
 * `weft proxy-init`: programs the pod's nat table (rules.ts) with iptables-restore, for IPv4 and, when
 * ip6tables works in this namespace (or --ipv6 on), IPv6. Prints the resulting chains, so the init
 * container's log shows exactly what was installed. Exits non-zero, saying which command failed, on
 * any error: the pod then never starts unredirected.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { ProxyInitConfig } from './config.js';
import { INBOUND_CHAIN, jumps, OUTBOUND_CHAIN, restoreInput } from './rules.js';
import type { Family } from './rules.js';

const exec = promisify(execFile);

interface Tools { readonly iptables: string; readonly restore: string; readonly save: string }
const TOOLS: Readonly<Record<Family, Tools>> = {
  4: { iptables: 'iptables', restore: 'iptables-restore', save: 'iptables-save' },
  6: { iptables: 'ip6tables', restore: 'ip6tables-restore', save: 'ip6tables-save' },
};

export class ProxyInitError extends Error {
  readonly code = 'PROXY_INIT_FAILED';
}

/**
 * What an iptables failure means for the user: without NET_ADMIN (and NET_RAW) the kernel refuses to
 * change the nat table, and iptables says only "Permission denied (you must be root)".
 */
export function explainFailure(message: string): string {
  return /permission denied|operation not permitted|you must be root/i.test(message)
    ? `${message} (proxy-init needs the NET_ADMIN and NET_RAW capabilities to program the pod's nat table; the securityContext \`weft inject\` and the injector render adds them: check that nothing, such as a policy engine or a Pod Security admission level, removed them)`
    : message;
}

function restore(tool: string, input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(tool, ['--noflush', '--wait'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('error', (e) => reject(new ProxyInitError(`${tool}: ${e.message}`)));
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new ProxyInitError(`${tool} --noflush exited ${code}: ${err.trim()}`))));
    p.stdin.end(input);
  });
}

async function succeeds(cmd: string, args: readonly string[]): Promise<boolean> {
  try {
    await exec(cmd, [...args]);
    return true;
  } catch {
    return false;
  }
}

/** Programs one family; returns Weft's chains as iptables-save prints them. */
export async function applyRedirect(config: ProxyInitConfig, family: Family): Promise<string> {
  const t = TOOLS[family];
  await restore(t.restore, restoreInput(config.redirect, family));
  for (const jump of jumps()) {
    if (await succeeds(t.iptables, ['-w', '-t', 'nat', '-C', ...jump])) continue;
    try {
      await exec(t.iptables, ['-w', '-t', 'nat', '-A', ...jump]);
    } catch (err) {
      throw new ProxyInitError(`${t.iptables} -t nat -A ${jump.join(' ')}: ${(err as { stderr?: string }).stderr?.trim() ?? (err as Error).message}`);
    }
  }
  return listWeftRules(family);
}

/** Weft's rules and jumps in the nat table of this namespace (for logs and tests). */
export async function listWeftRules(family: Family): Promise<string> {
  const { stdout } = await exec(TOOLS[family].save, ['-t', 'nat']);
  return stdout.split('\n').filter((l) => l.includes(INBOUND_CHAIN) || l.includes(OUTBOUND_CHAIN)).map((l) => l.replace(/\s+\[\d+:\d+\]$/, '')).join('\n');
}

async function ipv6Usable(): Promise<boolean> {
  return succeeds(TOOLS[6].iptables, ['-w', '-t', 'nat', '-S', 'OUTPUT']);
}

/** Programs the redirection with the config parsed by `weft proxy-init` (cli/components.ts). */
export async function run(config: ProxyInitConfig): Promise<number> {
  const families: Family[] = [4];
  if (config.ipv6 === 'on' || (config.ipv6 === 'auto' && !config.dryRun && (await ipv6Usable()))) families.push(6);
  if (config.ipv6 === 'auto' && config.dryRun) families.push(6);
  if (config.dryRun) {
    for (const f of families) process.stdout.write(`# ${TOOLS[f].restore} --noflush\n${restoreInput(config.redirect, f)}`);
    return 0;
  }
  try {
    for (const f of families) {
      const rules = await applyRedirect(config, f);
      process.stdout.write(`weft proxy-init: IPv${f} redirection in place:\n${rules}\n`);
    }
    if (!families.includes(6)) process.stdout.write('weft proxy-init: ip6tables is not usable here; IPv6 left alone\n');
    return 0;
  } catch (err) {
    process.stderr.write(`weft proxy-init: ${explainFailure((err as Error).message)}\n`);
    return 1;
  }
}
