/**
 * Entry of the simulated-node agent: `node dist/test/cluster/agent/main.js <stateDir>/cluster.json
 * [--sim-concurrency=N]`. Started detached by the cluster's `up`; logs JSON lines on stdout; stops on
 * SIGTERM/SIGINT.
 */
import { DEFAULT_AGENT_OPTIONS, jsonLogger, startAgent } from './agent.js';
import type { AgentOptions } from './agent.js';
import { readClusterInfo } from './cluster-info.js';

export function parseArgs(argv: readonly string[]): { clusterJson: string; options: AgentOptions; errors: string[] } {
  const errors: string[] = [];
  let clusterJson = '';
  const options: { -readonly [K in keyof AgentOptions]: AgentOptions[K] } = { ...DEFAULT_AGENT_OPTIONS };
  for (const a of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (m === null) {
      if (clusterJson === '') clusterJson = a;
      else errors.push(`unexpected argument ${a}`);
      continue;
    }
    const num = Number(m[2]);
    switch (m[1]) {
      case 'sim-concurrency':
        if (!Number.isInteger(num) || num <= 0) errors.push('--sim-concurrency needs a positive integer');
        else options.simConcurrency = num;
        break;
      default:
        errors.push(`unknown flag --${m[1] ?? ''}`);
    }
  }
  if (clusterJson === '') errors.push('usage: main.js <cluster.json> [--sim-concurrency=N]');
  return { clusterJson, options, errors };
}

async function main(): Promise<number> {
  const { clusterJson, options, errors } = parseArgs(process.argv.slice(2));
  if (errors.length > 0) {
    process.stderr.write(`${errors.join('\n')}\n`);
    return 2;
  }
  const info = readClusterInfo(clusterJson);
  const agent = await startAgent(info, options);
  await new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      jsonLogger('stopping', { signal: sig });
      resolve();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  await agent.stop();
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().then((code) => process.exit(code), (err: unknown) => {
    jsonLogger('node agent failed', { err: err instanceof Error ? err.stack ?? err.message : String(err) });
    process.exit(1);
  });
}
