/**
 * `npm start` / `npm stop`: the five-minute demo on the local cluster.
 *
 *   up:   local cluster -> `weft install --crds | kubectl apply`, `weft install | kubectl apply` -> `weft check --wait` -> the booksapp (meshed)
 *         -> the fault-injection route (10% of books traffic to an error injector) -> wait for traffic
 *         -> print `weft stat deploy -n booksapp` and `weft routes svc/books -n booksapp`
 *   down: take the local cluster down (everything it started, Weft included).
 *
 * Every step runs the same commands a user would type (the weft CLI and kubectl), so the demo shows
 * what a user sees. It is re-runnable: a cluster already up is reused and an existing install kept.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';
import { down, kubectl, up, waitUntil } from './cluster.js';
import type { ClusterInfo } from './cluster.js';
import { buildImages } from './images.js';

const BOOKSAPP = join(REPO_ROOT, 'examples', 'booksapp', 'manifests');
const FAULT = join(BOOKSAPP, 'fault-injection');
const say = (line: string) => process.stdout.write(`demo: ${line}\n`);

interface Run { code: number; stdout: string; stderr: string }

/** Runs `weft <args>` on this repo's build, with the cluster's kubeconfig; output captured or shown. */
function weft(info: ClusterInfo, args: string[], show: boolean): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(info.nodeBinary, [join(REPO_ROOT, 'dist', 'cli', 'main.js'), ...args], {
      env: { ...process.env, KUBECONFIG: info.kubeconfig },
      stdio: ['ignore', show ? 'inherit' : 'pipe', show ? 'inherit' : 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

async function must(what: string, r: Promise<Run>): Promise<Run> {
  const res = await r;
  if (res.code !== 0) throw new Error(`${what} failed (exit ${res.code}):\n${res.stderr || res.stdout}`);
  return res;
}

async function installWeft(info: ClusterInfo): Promise<void> {
  const existing = await kubectl(['get', 'deployment', '-n', 'weft-system', 'weft-controller']);
  if (existing.code === 0) {
    say('Weft is already installed; keeping it');
  } else {
    say('weft install --crds | kubectl apply --server-side -f -');
    const crds = await must('weft install --crds', weft(info, ['install', '--crds'], false));
    await must('kubectl apply', kubectl(['apply', '--server-side', '-f', '-'], { input: crds.stdout, timeoutMs: 120_000 }));
    say('weft install | kubectl apply --server-side -f -');
    const manifests = await must('weft install', weft(info, ['install'], false));
    await must('kubectl apply', kubectl(['apply', '--server-side', '-f', '-'], { input: manifests.stdout, timeoutMs: 120_000 }));
  }
  say('weft check --wait 3m');
  await must('weft check', weft(info, ['check', '--wait', '3m'], true));
}

async function deployBooksapp(): Promise<void> {
  say('kubectl apply -f examples/booksapp/manifests/booksapp.yaml (namespace booksapp, annotated for injection)');
  await must('kubectl apply booksapp', kubectl(['apply', '-f', join(BOOKSAPP, 'booksapp.yaml')], { timeoutMs: 120_000 }));
  say('kubectl apply -f examples/booksapp/manifests/fault-injection/ (error injector + 90/10 HTTPRoute on books)');
  await must('kubectl apply error injector', kubectl(['apply', '-f', join(FAULT, 'error-injector.yaml')], { timeoutMs: 120_000 }));
  await must('kubectl apply route', kubectl(['apply', '-f', join(FAULT, 'route.yaml')], { timeoutMs: 120_000 }));
  for (const deploy of ['webapp', 'books', 'authors', 'traffic', 'error-injector']) {
    await waitUntil(`deployment ${deploy} available`, 240_000, async () => {
      const r = await kubectl(['-n', 'booksapp', 'get', 'deployment', deploy, '-o', 'jsonpath={.status.availableReplicas}']);
      return Number(r.stdout) >= 1 ? true : `available replicas: ${r.stdout || 0}`;
    }, 2000);
    say(`deployment ${deploy} is available`);
  }
}

async function demoUp(): Promise<number> {
  const started = Date.now();
  say('bringing up the local cluster (the first run builds Kubernetes from the Go module proxy: ~5 min)');
  say('building the Weft and examples images (rebuilt only when their inputs change)');
  for (const i of await buildImages((l) => say(l))) say(`image ${i.name} ${(i.bytes / 1e6).toFixed(1)} MB`);
  const result = await up({ log: (l) => say(l) });
  if (result.realNode.state !== 'ready') throw new Error(`the real node is ${result.realNode.state}: ${result.realNode.detail}`);
  await installWeft(result.info);
  await deployBooksapp();
  say('letting the traffic generator run for 30 s so the proxies have something to count');
  await new Promise((r) => setTimeout(r, 30_000));
  say('weft stat deploy -n booksapp --window 20s');
  await must('weft stat', weft(result.info, ['stat', 'deploy', '-n', 'booksapp', '--window', '20s'], true));
  say('weft routes svc/books -n booksapp --window 20s');
  await must('weft routes', weft(result.info, ['routes', 'svc/books', '-n', 'booksapp', '--window', '20s'], true));
  say(`done in ${Math.round((Date.now() - started) / 1000)} s. Try: node bin/weft.js authz deploy/authors -n booksapp; npm stop tears it all down.`);
  return 0;
}

async function main(argv: readonly string[]): Promise<number> {
  const [verb] = argv;
  try {
    if (verb === 'up') return await demoUp();
    if (verb === 'down') {
      await down({ log: (l) => say(l) });
      return 0;
    }
    process.stderr.write('Usage: node dist/test/cluster/demo.js up|down   (npm start / npm stop)\n');
    return 2;
  } catch (err) {
    process.stderr.write(`demo: ${(err as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
