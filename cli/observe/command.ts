/**
 * `weft stat`, `weft routes` and `weft authz`: flags -> pods to read (API server) -> a data source
 * (scrapes through the pod proxy, or Prometheus) -> figures -> a table or JSON.
 *
 *   stat <deploy|pod|ns>[/<name>]   inbound figures of each workload's meshed pods; with --from
 *                                   <kind>/<name>, the outbound figures of that client's pods towards
 *                                   the Services selecting each workload
 *   routes svc/<name>               outbound figures of every meshed client (or --from's pods) for the
 *                                   Service, per route and backend
 *   authz <deploy|pod>/<name>       inbound figures of the workload's pods per server, route, authorization
 *   stat gateway[/<name>], routes gateway/<name>
 *                                   the gateway proxies' figures (./gateway-command.ts)
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Pod, Service } from '../../core/kube.js';
import { parseVerb, reportParse, usageError } from '../args.js';
import { cliEnv } from '../config.js';
import { formatDuration } from '../../core/duration.js';
import { describeKubeError } from '../kube/errors.js';
import { loadKubeConfig as loadKubeconfigFile } from '../kube/kubeconfig.js';
import type { Io } from '../install/command.js';
import { stdio } from '../install/command.js';
import { ApiError, apiJson, listPods } from './cluster.js';
import { runGatewayObserve } from './gateway-command.js';
import { LABEL, summarize, type Direction } from './figures.js';
import { podProxyFetcher, prometheusSource, scrapeSource, type MetricsSource, type PodTarget } from './sources.js';
import { authzKeyOf, renderAuthz, renderRoutes, renderStat, routeKeyOf, type LimitsByTarget, type OutputFormat, type StatResource } from './views.js';
import { POLICY_API } from '../../core/contract.js';
import { describeLimits, selectInboundLimits } from '../../core/inbound/limits.js';
import type { InboundLimitPolicy } from '../../core/kube-policy.js';
import {
  groupKey, groupPods, isMeshedPod, jobOwners, parseResource, servicesSelecting, WORKLOAD_KINDS, type JobOwners, type ResourceArg, type ResourceKind,
} from './workloads.js';

export type Verb = 'stat' | 'routes' | 'authz';

export const DEFAULT_WINDOW_SECONDS = 30;

export interface ObserveArgs {
  readonly resource: ResourceArg;
  readonly namespace: string | undefined;
  readonly from?: ResourceArg & { readonly namespace?: string };
  readonly format: OutputFormat;
  readonly windowSeconds: number;
  readonly prometheus?: string;
  /** -A: every namespace (stat only). */
  readonly allNamespaces?: boolean;
  /** -l: a label selector the pods must match (the API server's syntax). */
  readonly selector?: string;
  readonly kubeconfig?: string;
  readonly context?: string;
}

const KINDS: Readonly<Record<Verb, readonly ResourceKind[]>> = { stat: [...WORKLOAD_KINDS, 'pod', 'ns', 'gateway'], routes: ['svc', 'gateway'], authz: [...WORKLOAD_KINDS, 'pod'] };

interface ObserveOpts {
  namespace?: string; output?: OutputFormat; window?: number; prometheus?: string; from?: string; kubeconfig?: string; context?: string;
  allNamespaces?: boolean; selector?: string;
}

export function parseObserveArgs(verb: Verb, argv: readonly string[]): { ok: true; args: ObserveArgs } | { ok: false; help: boolean; text: string } {
  const parsed = parseVerb<ObserveOpts>(verb, argv);
  if (!parsed.ok) return parsed;
  const v = parsed.opts;
  const bad = (msg: string) => usageError(verb, msg);
  const resource = parseResource(parsed.args[0] ?? '', KINDS[verb]);
  if (typeof resource === 'string') return bad(resource);
  if (verb !== 'stat' && resource.name === undefined) return bad(`name the ${resource.kind}: ${resource.kind}/<name>`);
  if (v.window !== undefined && v.window <= 0) return bad('--window must be longer than 0s');
  const windowSeconds = v.window === undefined ? DEFAULT_WINDOW_SECONDS : v.window / 1000;
  let from: ObserveArgs['from'];
  const fromText = v.from;
  if (fromText !== undefined) {
    // ns/<ns>/<kind>/<name> is not kubectl's; accept <kind>/<name> (namespace -n) and ns/<name>.
    const r = parseResource(fromText, verb === 'stat' ? ['deploy', 'pod'] : ['deploy', 'pod', 'ns']);
    if (typeof r === 'string') return bad(`--from: ${r}`);
    if (r.name === undefined) return bad('--from: name the client: <kind>/<name>');
    from = r;
  }
  if (v.allNamespaces === true) {
    if (resource.name !== undefined) return bad(`-A lists every namespace: give a kind without a name (${resource.kind}), or -n NS with ${resource.kind}/${resource.name}`);
    if (v.namespace !== undefined) return bad('-A and -n do not go together');
    if (from !== undefined) return bad('-A and --from do not go together (--from names a client in one namespace)');
  }
  if (v.selector !== undefined && v.selector.trim() === '') return bad('-l: the selector is empty; give one such as app=web or tier in (web,api)');
  if (resource.kind === 'gateway' && from !== undefined) return bad("--from does not apply to gateways: a gateway's clients are outside the mesh; its figures are its own proxy's");
  if (resource.kind === 'gateway' && v.selector !== undefined) return bad('-l does not apply to gateways: name one (gateway/NAME) or list them all (gateway)');
  const prometheus = v.prometheus;
  if (prometheus !== undefined && !/^https?:\/\//.test(prometheus)) return bad(`--prometheus must be an http(s) URL, not ${JSON.stringify(prometheus)}`);
  return {
    ok: true,
    args: {
      resource,
      namespace: v.namespace,
      ...(from !== undefined ? { from } : {}),
      format: v.output ?? 'table',
      windowSeconds,
      ...(prometheus !== undefined ? { prometheus } : {}),
      ...(v.allNamespaces === true ? { allNamespaces: true } : {}),
      ...(v.selector !== undefined ? { selector: v.selector } : {}),
      ...optional('kubeconfig', v.kubeconfig),
      ...optional('context', v.context),
    },
  };
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

/** The kubeconfig with kubectl's rules (cli/kube/kubeconfig.ts); throws KubeconfigError. */
export function loadKubeConfig(args: { readonly kubeconfig?: string; readonly context?: string }): KubeConfig {
  return loadKubeconfigFile(args, cliEnv()).kc;
}

function contextNamespace(kc: KubeConfig): string {
  return kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
}

export interface ObserveDeps {
  readonly kubeConfig?: (args: ObserveArgs) => KubeConfig;
  readonly source?: (args: ObserveArgs, kc: KubeConfig) => MetricsSource;
}

/**
 * The pods to scrape: meshed, running and not being deleted. A terminating pod's proxy may already be
 * gone, and a pod that is not running has no proxy to ask; neither is a failure worth reporting.
 */
/** The CronJob of each Job, read only when CronJobs are asked for (their pods' owners are Jobs). */
async function ownersFor(kc: KubeConfig, kind: ResourceKind, namespace: string | undefined): Promise<JobOwners> {
  if (kind !== 'cronjob') return new Map();
  const path = namespace === undefined ? '/apis/batch/v1/jobs' : `/apis/batch/v1/namespaces/${encodeURIComponent(namespace)}/jobs`;
  return jobOwners((await apiJson<{ items?: Parameters<typeof jobOwners>[0] }>(kc, path)).items ?? []);
}

/** How often the progress line is repeated while the scrape window runs. */
const PROGRESS_EVERY_MS = 5000;

/**
 * Runs a collection, saying on stderr what it waits for: scraping takes the whole window (30 s by
 * default), so the user hears at once how many proxies are read and how long it takes, then how long
 * is left every few seconds. Prometheus answers at once: one line.
 */
export async function withProgress<T>(io: Io, verb: Verb, args: Pick<ObserveArgs, 'windowSeconds' | 'prometheus'>, pods: number, run: () => Promise<T>, everyMs = PROGRESS_EVERY_MS, kind = 'meshed'): Promise<T> {
  if (args.prometheus !== undefined) {
    io.err(`weft ${verb}: querying Prometheus at ${args.prometheus} for ${pods} ${kind} pod${pods === 1 ? '' : 's'} over the last ${formatDuration(args.windowSeconds * 1000)}\n`);
    return run();
  }
  if (pods === 0) return run();
  const started = Date.now();
  const total = args.windowSeconds * 1000;
  io.err(`weft ${verb}: scraping ${pods} ${kind} pod${pods === 1 ? '' : 's'}' proxies now and after ${formatDuration(total)} (--window); results then\n`);
  const timer = setInterval(() => {
    const left = Math.max(0, total - (Date.now() - started));
    io.err(`weft ${verb}: ${left > 0 ? `${formatDuration(Math.ceil(left / 1000) * 1000)} left` : 'reading the second scrape'}\n`);
  }, everyMs);
  try {
    return await run();
  } finally {
    clearInterval(timer);
  }
}

/**
 * The InboundLimitPolicies in force in a namespace (the controller's selection: valid, oldest per
 * target), keyed `Kind/name`; empty where the CRD is not installed.
 */
async function limitsIn(kc: KubeConfig, ns: string): Promise<LimitsByTarget> {
  const list = await apiJson<{ items?: InboundLimitPolicy[] }>(kc, `/apis/${POLICY_API}/namespaces/${ns}/inboundlimitpolicies`).catch((err: unknown) => {
    if (err instanceof ApiError && err.status === 404) return { items: [] };
    throw err;
  });
  const out = new Map<string, { policy: string; limits: string }>();
  for (const l of selectInboundLimits(list.items ?? []).applied.values()) {
    out.set(`${l.target.kind}/${l.target.name}`, { policy: l.name, limits: describeLimits(l) });
  }
  return out;
}

const scrapable = (p: Pod) => isMeshedPod(p) && p.status?.phase === 'Running' && p.metadata.deletionTimestamp === undefined;
const targets = (pods: readonly Pod[]): PodTarget[] => pods.filter(scrapable).map((p) => ({ namespace: p.metadata.namespace ?? '', name: p.metadata.name }));

export async function runObserve(verb: Verb, argv: readonly string[], io: Io = stdio, deps: ObserveDeps = {}): Promise<number> {
  const parsed = parseObserveArgs(verb, argv);
  if (!parsed.ok) return reportParse(parsed, io);
  const args = parsed.args;
  let kc: KubeConfig;
  try {
    kc = deps.kubeConfig?.(args) ?? loadKubeConfig(args);
  } catch (err) {
    io.err(`weft ${verb}: ${(err as Error).message}\n`);
    return 1;
  }
  const ns = args.namespace ?? contextNamespace(kc);
  const source = deps.source?.(args, kc) ?? (args.prometheus !== undefined ? prometheusSource(args.prometheus) : scrapeSource(podProxyFetcher(kc)));
  try {
    if (args.resource.kind === 'gateway' && verb !== 'authz') {
      return await runGatewayObserve(verb, kc, {
        ...(args.resource.name !== undefined ? { name: args.resource.name } : {}),
        namespace: ns, allNamespaces: args.allNamespaces === true, format: args.format, windowSeconds: args.windowSeconds,
      }, source, io, (pods, run) => withProgress(io, verb, args, pods, run, PROGRESS_EVERY_MS, 'gateway'));
    }
    const fromPods = args.from === undefined ? undefined
      : args.from.kind === 'ns' ? await listPods(kc, args.from.name)
      : groupPods(await listPods(kc, ns), args.from).flatMap((g) => g.pods);
    if (fromPods !== undefined && fromPods.length === 0) {
      io.err(`weft ${verb}: --from ${args.from?.kind ?? ''}/${args.from?.name ?? ''}: no such pods in namespace ${ns}\n`);
      return 1;
    }
    let text: string;
    let problems: readonly string[] = [];
    if (verb === 'routes') {
      const service = { namespace: ns, name: args.resource.name ?? '' };
      // Only a 404 is "not found"; any other failure (no connection, 403) is reported as it is.
      const svc = await apiJson<Service>(kc, `/api/v1/namespaces/${ns}/services/${service.name}`).catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 404) return undefined;
        throw err;
      });
      if (svc === undefined) {
        io.err(`weft routes: Service ${ns}/${service.name} not found\n`);
        return 1;
      }
      const clients = targets(fromPods ?? (await listPods(kc)));
      const got = await withProgress(io, verb, args, clients.length, () => source.collect('outbound', clients, args.windowSeconds));
      problems = got.problems;
      const groups = summarize(got.samples, 'outbound', routeKeyOf(service, args.format === 'wide'));
      text = renderRoutes(service, groups, got.windowSeconds, args.format).text;
    } else if (verb === 'authz') {
      const groups0 = groupPods(await listPods(kc, ns, args.selector), args.resource, await ownersFor(kc, args.resource.kind, ns));
      const pods = groups0.flatMap((g) => g.pods);
      if (pods.length === 0) {
        io.err(`weft authz: ${args.resource.kind}/${args.resource.name ?? ''} has no pods in namespace ${ns}\n`);
        return 1;
      }
      const limits = await limitsIn(kc, ns);
      const got = await withProgress(io, verb, args, targets(pods).length, () => source.collect('inbound', targets(pods), args.windowSeconds));
      problems = got.problems;
      text = renderAuthz(summarize(got.samples, 'inbound', authzKeyOf(args.format === 'wide')), got.windowSeconds, args.format, limits).text;
    } else {
      const scope = args.allNamespaces === true ? undefined : args.resource.kind === 'ns' ? args.resource.name : ns;
      const all = await listPods(kc, scope, args.selector);
      const groups0 = groupPods(all, args.resource, await ownersFor(kc, args.resource.kind, scope));
      if (args.resource.name !== undefined && groups0.length === 0) {
        io.err(`weft stat: ${args.resource.kind}/${args.resource.name} has no pods${args.resource.kind === 'ns' ? '' : ` in namespace ${ns}`}\n`);
        return 1;
      }
      const resources: StatResource[] = groups0.map((g) => ({ name: g.name, namespace: g.namespace, key: groupKey(g), meshed: g.pods.filter(isMeshedPod).length, pods: g.pods.length }));
      let direction: Direction = 'inbound';
      let keyOf: (l: Readonly<Record<string, string>>) => string | undefined;
      let scraped: PodTarget[];
      if (fromPods === undefined) {
        const owner = new Map<string, string>();
        for (const g of groups0) for (const p of g.pods) owner.set(`${p.metadata.namespace ?? ''}/${p.metadata.name}`, groupKey(g));
        keyOf = (l) => owner.get(`${l[LABEL.namespace] ?? ''}/${l[LABEL.pod] ?? ''}`);
        scraped = targets(groups0.flatMap((g) => g.pods));
      } else {
        direction = 'outbound';
        const services = (await apiJson<{ items?: Service[] }>(kc, args.resource.kind === 'ns' ? '/api/v1/services' : `/api/v1/namespaces/${ns}/services`)).items ?? [];
        const bySvc = new Map<string, string>();
        for (const g of groups0) {
          if (args.resource.kind === 'ns') continue;
          for (const s of servicesSelecting(services, g.pods)) if (!bySvc.has(s)) bySvc.set(s, groupKey(g));
        }
        keyOf = args.resource.kind === 'ns'
          ? (l) => { const bns = l[LABEL.backendNamespace] ?? ''; const g = groups0.find((x) => x.name === `ns/${bns}`); return g === undefined ? undefined : groupKey(g); }
          : (l) => bySvc.get(`${l[LABEL.backendNamespace] ?? ''}/${l[LABEL.backendName] ?? ''}`);
        scraped = targets(fromPods);
      }
      const got = await withProgress(io, verb, args, scraped.length, () => source.collect(direction, scraped, args.windowSeconds));
      problems = got.problems;
      text = renderStat(resources, summarize(got.samples, direction, keyOf), got.windowSeconds, args.format, { namespaceColumn: args.allNamespaces === true }).text;
    }
    io.out(text);
    for (const p of problems) io.err(`weft ${verb}: could not read ${p}\n`);
    return 0;
  } catch (err) {
    io.err(`weft ${verb}: ${describeKubeError(err, kc.getCurrentCluster()?.server ?? '(no cluster)')}\n`);
    return 1;
  }
}
