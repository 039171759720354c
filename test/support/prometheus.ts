/**
 * A real Prometheus on the host for e2e tests of `weft stat|routes|authz --prometheus`: the upstream
 * binary (built once per version by test/cluster/prometheus-build.ts), run as a child of the test with
 * its own data folder and a free loopback port, scraping with Weft's shipped job
 * (manifests/prometheus/scrape-config.yaml) and only these changes, which a Prometheus outside the
 * cluster needs or a test wants:
 *
 *   kubernetes_sd_configs[*].kubeconfig_file   the local cluster's admin kubeconfig (the API server)
 *   kubernetes_sd_configs[*].namespaces        the test's namespaces only, when given
 *   scrape_interval                            short (default 2s), so a window of seconds holds samples
 *
 * Pods' IPs (10.246.x.x, the real node's pod CIDR) are routed to the host over the bridge weft0, so the targets the shipped
 * relabelling makes (pod IP:7191) are reachable as they are.
 *
 *   const prom = await startPrometheus({ kubeconfig, namespaces: [ns] });
 *   ... prom.url ...
 *   await prom.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetch } from 'undici';
import { parse, stringify } from 'yaml';
import { ensurePrometheus } from '../cluster/prometheus-build.js';
import { REPO_ROOT } from './paths.js';

export const SCRAPE_CONFIG = join(REPO_ROOT, 'manifests', 'prometheus', 'scrape-config.yaml');

export interface PrometheusOptions {
  /** Credentials for Kubernetes service discovery (the local cluster's admin kubeconfig). */
  readonly kubeconfig: string;
  /** Discover pods in these namespaces only (default: every namespace). */
  readonly namespaces?: readonly string[];
  readonly scrapeIntervalSeconds?: number;
  readonly log?: (line: string) => void;
}

export interface Target {
  readonly labels: Readonly<Record<string, string>>;
  readonly health: string;
  readonly lastError: string;
  readonly scrapeUrl: string;
}

export interface RunningPrometheus {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly dataDir: string;
  readonly logFile: string;
  /** The active targets (GET /api/v1/targets). */
  targets(): Promise<Target[]>;
  /** An instant query's vector (GET /api/v1/query). */
  query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** The last lines of its log, for failure messages. */
  logTail(lines?: number): Promise<string>;
  stop(): Promise<void>;
}

interface ScrapeJob {
  scrape_interval?: string;
  kubernetes_sd_configs?: Record<string, unknown>[];
  [k: string]: unknown;
}

/** Weft's shipped scrape config, pointed at a cluster from outside it (see the head comment). */
export async function prometheusConfig(opts: PrometheusOptions): Promise<string> {
  const shipped = parse(await readFile(SCRAPE_CONFIG, 'utf8')) as { scrape_configs?: ScrapeJob[] };
  const jobs = shipped.scrape_configs ?? [];
  if (jobs.length === 0) throw new Error(`${SCRAPE_CONFIG} has no scrape_configs`);
  const interval = `${opts.scrapeIntervalSeconds ?? 2}s`;
  const scrapeConfigs = jobs.map((job) => ({
    ...job,
    scrape_interval: interval,
    kubernetes_sd_configs: (job.kubernetes_sd_configs ?? []).map((sd) => ({
      ...sd,
      kubeconfig_file: opts.kubeconfig,
      ...(opts.namespaces !== undefined ? { namespaces: { names: [...opts.namespaces] } } : {}),
    })),
  }));
  return stringify({ global: { scrape_interval: interval, evaluation_interval: interval }, scrape_configs: scrapeConfigs });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { status?: string; error?: string; data?: T };
  if (body.status !== 'success' || body.data === undefined) throw new Error(`${url}: HTTP ${res.status} ${body.error ?? ''}`);
  return body.data;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/** Builds Prometheus if the cache lacks it, starts it, and waits until it is ready. */
export async function startPrometheus(opts: PrometheusOptions): Promise<RunningPrometheus> {
  const log = opts.log ?? ((l: string) => process.stdout.write(`# ${l}\n`));
  const binary = await ensurePrometheus(log);
  const dataDir = await mkdtemp(join(tmpdir(), 'weft-prometheus-'));
  const configFile = join(dataDir, 'prometheus.yml');
  const logFile = join(dataDir, 'prometheus.log');
  await writeFile(configFile, await prometheusConfig(opts));
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const out = createWriteStream(logFile, { flags: 'a' });
    const child = spawn(binary, [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dataDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=2h',
      '--log.level=info',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited(child);
        clearTimeout(killer);
      }
      out.end();
      await rm(dataDir, { recursive: true, force: true });
    };
    const logTail = async (lines = 30) => (await readFile(logFile, 'utf8').catch(() => '')).trimEnd().split('\n').slice(-lines).join('\n');
    const deadline = Date.now() + 60_000;
    let ready = false;
    while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
      try {
        const r = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) });
        await r.body?.cancel();
        if (r.status === 200) {
          ready = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await sleep(250);
    }
    if (ready) {
      log(`prometheus ${binary} ready at ${url} (data and log in ${dataDir})`);
      return {
        url,
        dataDir,
        logFile,
        targets: async () => (await getJson<{ activeTargets: Target[] }>(`${url}/api/v1/targets?state=active`)).activeTargets,
        query: async (q) => (await getJson<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`${url}/api/v1/query?query=${encodeURIComponent(q)}`)).result,
        logTail,
        stop,
      };
    }
    const tail = await logTail();
    const portTaken = /address already in use/.test(tail);
    child.kill('SIGKILL');
    await exited(child);
    out.end();
    if (!portTaken || attempt >= 3) {
      await rm(dataDir, { recursive: true, force: true });
      throw new Error(`prometheus did not become ready at ${url}:\n${tail}`);
    }
  }
}
