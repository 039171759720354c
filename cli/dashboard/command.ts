/**
 * `weft dashboard [--address A] [--port P] [--no-open] [--prometheus URL] [--interval D]`: reads the
 * cluster and the proxies every interval (collector.ts, with cli/observe's readers), serves the page
 * and its JSON API (server.ts) and opens the page in a browser unless --no-open. Runs until
 * interrupted (SIGINT/SIGTERM close the server and exit 0).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import { formatDuration } from '../../core/duration.js';
import { parseVerb, reportParse, usageError } from '../args.js';
import type { Io } from '../install/command.js';
import { stdio } from '../install/command.js';
import { describeKubeError } from '../kube/errors.js';
import { installSettings, listSnapshot } from '../observe/cluster.js';
import { loadKubeConfig } from '../observe/command.js';
import { explainLive } from '../observe/explain-command.js';
import { podProxyFetcher, prometheusSource } from '../observe/sources.js';
import { Collector } from './collector.js';
import { createDashboardServer, MAX_WINDOW_SECONDS } from './server.js';

export const DEFAULT_DASHBOARD_PORT = 7180;
export const DEFAULT_INTERVAL_MS = 5000;

/** dist/dashboard: the bundle scripts/build-dashboard.mjs writes (this file is dist/cli/dashboard/command.js). */
export const ASSETS_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url));

export interface DashboardArgs {
  readonly address: string;
  readonly port: number;
  readonly open: boolean;
  readonly intervalMs: number;
  readonly prometheus?: string;
  readonly kubeconfig?: string;
  readonly context?: string;
}

export function parseDashboardArgs(argv: readonly string[]): { ok: true; args: DashboardArgs } | { ok: false; help: boolean; text: string } {
  const parsed = parseVerb<{ address?: string; port?: string; open?: boolean; interval?: number; prometheus?: string; kubeconfig?: string; context?: string }>('dashboard', argv);
  if (!parsed.ok) return parsed;
  const v = parsed.opts;
  const bad = (msg: string) => usageError('dashboard', msg);
  const address = v.address ?? '127.0.0.1';
  if (!/^[0-9.]+$|^[0-9a-fA-F:]+$|^localhost$/.test(address)) return bad(`--address must be an IP address (or localhost), not ${JSON.stringify(address)}`);
  const portText = v.port ?? String(DEFAULT_DASHBOARD_PORT);
  if (!/^\d+$/.test(portText) || Number(portText) > 65535) return bad(`--port must be a port number 0-65535 (0: any free port), not ${JSON.stringify(portText)}`);
  if (v.interval !== undefined && v.interval < 1000) return bad('--interval must be 1s or longer');
  if (v.prometheus !== undefined && !/^https?:\/\//.test(v.prometheus)) return bad(`--prometheus must be an http(s) URL, not ${JSON.stringify(v.prometheus)}`);
  return {
    ok: true,
    args: {
      address: address === 'localhost' ? '127.0.0.1' : address,
      port: Number(portText),
      open: v.open !== false,
      intervalMs: v.interval ?? DEFAULT_INTERVAL_MS,
      ...(v.prometheus !== undefined ? { prometheus: v.prometheus } : {}),
      ...(v.kubeconfig !== undefined ? { kubeconfig: v.kubeconfig } : {}),
      ...(v.context !== undefined ? { context: v.context } : {}),
    },
  };
}

/** Opens `url` with the desktop's opener; says so and goes on when there is none. */
function openBrowser(url: string, io: Io): void {
  const child = spawn('xdg-open', [url], { detached: true, stdio: 'ignore' });
  child.on('error', () => io.err(`weft dashboard: could not open a browser (xdg-open): open ${url} yourself\n`));
  child.unref();
}

export async function runDashboard(argv: readonly string[], io: Io = stdio, kube: (a: { kubeconfig?: string; context?: string }) => KubeConfig = loadKubeConfig): Promise<number> {
  const parsed = parseDashboardArgs(argv);
  if (!parsed.ok) return reportParse(parsed, io);
  const args = parsed.args;
  let kc: KubeConfig;
  try {
    kc = kube(args);
  } catch (err) {
    io.err(`weft dashboard: ${(err as Error).message}\n`);
    return 1;
  }
  const server0 = kc.getCurrentCluster()?.server ?? '(no cluster)';
  let settings;
  try {
    settings = await installSettings(kc);
  } catch (err) {
    io.err(`weft dashboard: ${describeKubeError(err, server0)}\n`);
    return 1;
  }
  const collector = new Collector({
    listSnapshot: () => listSnapshot(kc),
    fetcher: podProxyFetcher(kc),
    ...(args.prometheus !== undefined ? { prometheus: prometheusSource(args.prometheus) } : {}),
    intervalMs: args.intervalMs,
    keepMs: (MAX_WINDOW_SECONDS + 2 * args.intervalMs / 1000) * 1000,
  });
  let started;
  try {
    started = await createDashboardServer({
      collector,
      assetsDir: ASSETS_DIR,
      policyOptions: {
        trustDomain: settings.trustDomain, clusterNetworks: settings.clusterNetworks,
        ...(settings.defaultInboundPolicy !== undefined ? { defaultPolicy: settings.defaultInboundPolicy } : {}),
      },
      explain: async (q) => {
        try {
          return await explainLive(kc, q);
        } catch (err) {
          return { ok: false, error: describeKubeError(err, server0) };
        }
      },
    }, args.address, args.port);
  } catch (err) {
    io.err(`weft dashboard: cannot listen on ${args.address}:${args.port}: ${(err as Error).message}\n`);
    return 1;
  }
  collector.start();
  io.err(`weft dashboard: serving ${started.url} (reading ${args.prometheus !== undefined ? `Prometheus at ${args.prometheus}` : "the proxies' metrics through the API server"} every ${formatDuration(args.intervalMs)}; Ctrl-C stops)\n`);
  io.out(`${started.url}\n`);
  if (args.open) openBrowser(started.url, io);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await collector.stop();
  await new Promise<void>((resolve) => started.server.close(() => resolve()));
  return 0;
}
