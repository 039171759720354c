/**
 * `useMesh()`: Weft installed on the local cluster for an e2e file that needs the mesh.
 *
 * e2e files run one after another in one cluster and install.test.ts needs Weft absent when it starts,
 * so a file that needs the mesh installs it in `before` when it is absent and uninstalls it in `after`
 * only if it installed it (keeping Weft's CRDs when they existed before). While other engineers share
 * the cluster, weft-system may be installed or removed by someone else: this waits for a stable state
 * (no namespace being deleted, an existing install available) instead of failing.
 *
 *   const mesh = await useMesh();               // in before(); or useMesh(cluster)
 *   ...
 *   await mesh.release();                       // in after()
 */
import { useCluster } from '../cluster/fixture.js';
import type { Cluster } from '../cluster/fixture.js';
import { runWeft as runCli, type WeftRun } from './weft-cli.js';

export type { WeftRun } from './weft-cli.js';

export interface Mesh {
  readonly cluster: Cluster;
  /** Whether this handle installed Weft (and so uninstalls it in release()). */
  readonly installedHere: boolean;
  /** Runs `weft <args>` from this repo's build against the local cluster. */
  weft(args: readonly string[], input?: string): Promise<WeftRun>;
  /** Uninstalls Weft if this handle installed it; otherwise does nothing. */
  release(): Promise<void>;
}

const NS = 'weft-system';

export function runWeft(cluster: Cluster, args: readonly string[], input?: string): Promise<WeftRun> {
  return runCli(args, { kubeconfig: cluster.info.kubeconfig, ...(input !== undefined ? { input } : {}) });
}

async function namespacePhase(cluster: Cluster): Promise<string | undefined> {
  const r = await cluster.kubectl(['get', 'namespace', NS, '-o', 'jsonpath={.status.phase}']);
  return r.code === 0 ? r.stdout : undefined;
}

export async function useMesh(given?: Cluster, opts: { timeoutMs?: number } = {}): Promise<Mesh> {
  const cluster = given ?? (await useCluster());
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const weft = (args: readonly string[], input?: string) => runWeft(cluster, args, input);
  // Stable means: weft-system absent, or active with an available controller and injector.
  let present = false;
  await cluster.waitFor('weft-system absent or installed and available (someone else may be installing or uninstalling it)', async () => {
    const phase = await namespacePhase(cluster);
    if (phase === undefined) {
      present = false;
      return true;
    }
    if (phase !== 'Active') return `weft-system is ${phase}`;
    const check = await weft(['check']);
    if (check.code === 0) {
      present = true;
      return true;
    }
    return `weft-system exists but weft check fails:\n${check.stdout.split('\n').filter((l) => l.includes('×')).join('\n')}`;
  }, { timeoutMs, intervalMs: 3000 });

  if (present) {
    return { cluster, installedHere: false, weft, release: async () => undefined };
  }
  const crdsBefore = (await cluster.kubectl(['get', 'crd', 'servers.policy.weft.dev'])).code === 0;
  const crds = await weft(['install', '--crds']);
  if (crds.code !== 0) throw new Error(`weft install --crds failed (exit ${crds.code}): ${crds.stderr}`);
  const appliedCrds = await cluster.kubectl(['apply', '--server-side', '-f', '-'], { input: crds.stdout, timeoutMs: 120_000 });
  if (appliedCrds.code !== 0) throw new Error(`kubectl apply of weft install --crds's output failed: ${appliedCrds.stderr}`);
  const manifests = await weft(['install']);
  if (manifests.code !== 0) throw new Error(`weft install failed (exit ${manifests.code}): ${manifests.stderr}`);
  const applied = await cluster.kubectl(['apply', '--server-side', '-f', '-'], { input: manifests.stdout, timeoutMs: 120_000 });
  if (applied.code !== 0) throw new Error(`kubectl apply of weft install's output failed: ${applied.stderr}`);
  const release = async (): Promise<void> => {
    const r = await weft(['uninstall', ...(crdsBefore ? ['--keep-crds'] : [])]);
    await cluster.kubectl(['delete', '--ignore-not-found', '--wait=true', '--timeout=120s', '-f', '-'], { input: r.stdout, timeoutMs: 150_000 });
  };
  const check = await weft(['check', '--wait', '180s']);
  if (check.code !== 0) {
    await release();
    throw new Error(`weft check failed after installing Weft:\n${check.stdout}${check.stderr}`);
  }
  return { cluster, installedHere: true, weft, release };
}
