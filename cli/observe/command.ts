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
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Pod, Service } from '../../core/kube.js';
import { parseVerb, reportParse, usageError } from '../args.js';
import { cliEnv } from '../config.js';
import { describeKubeError } from '../kube/errors.js';
import { loadKubeConfig as loadKubeconfigFile } from '../kube/kubeconfig.js';
import type { Io } from '../install/command.js';
import { stdio } from '../install/command.js';
import { ApiError, apiJson, listPods } from './cluster.js';
import { LABEL, summarize, type Direction } from './figures.js';
import { podProxyFetcher, prometheusSource, scrapeSource, type MetricsSource, type PodTarget } from './sources.js';
import { authzKeyOf, renderAuthz, renderRoutes, renderStat, routeKeyOf, type OutputFormat, type StatResource } from './views.js';
import { groupPods, isMeshedPod, parseResource, servicesSelecting, type ResourceArg, type ResourceKind } from './workloads.js';

export type Verb = 'stat' | 'routes' | 'authz';

export const DEFAULT_WINDOW_SECONDS = 30;

export interface ObserveArgs {
  readonly resource: ResourceArg;
  readonly namespace: string | undefined;
  readonly from?: ResourceArg & { readonly namespace?: string };
  readonly format: OutputFormat;
  readonly windowSeconds: number;
  readonly prometheus?: string;
  readonly kubeconfig?: string;
  readonly context?: string;
}

const KINDS: Readonly<Record<Verb, readonly ResourceKind[]>> = { stat: ['deploy', 'pod', 'ns'], routes: ['svc'], authz: ['deploy', 'pod'] };

interface ObserveOpts {
  namespace?: string; output?: OutputFormat; window?: number; prometheus?: string; from?: string; kubeconfig?: string; context?: string;
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
      const got = await source.collect('outbound', clients, args.windowSeconds);
      problems = got.problems;
      const groups = summarize(got.samples, 'outbound', routeKeyOf(service, args.format === 'wide'));
      text = renderRoutes(service, groups, got.windowSeconds, args.format).text;
    } else if (verb === 'authz') {
      const groups0 = groupPods(await listPods(kc, ns), args.resource);
      const pods = groups0.flatMap((g) => g.pods);
      if (pods.length === 0) {
        io.err(`weft authz: ${args.resource.kind}/${args.resource.name ?? ''} has no pods in namespace ${ns}\n`);
        return 1;
      }
      const got = await source.collect('inbound', targets(pods), args.windowSeconds);
      problems = got.problems;
      text = renderAuthz(summarize(got.samples, 'inbound', authzKeyOf(args.format === 'wide')), got.windowSeconds, args.format).text;
    } else {
      const all = args.resource.kind === 'ns' ? await listPods(kc, args.resource.name) : await listPods(kc, ns);
      const groups0 = groupPods(all, args.resource);
      if (args.resource.name !== undefined && groups0.length === 0) {
        io.err(`weft stat: ${args.resource.kind}/${args.resource.name} has no pods${args.resource.kind === 'ns' ? '' : ` in namespace ${ns}`}\n`);
        return 1;
      }
      const resources: StatResource[] = groups0.map((g) => ({ name: g.name, namespace: g.namespace, meshed: g.pods.filter(isMeshedPod).length, pods: g.pods.length }));
      let direction: Direction = 'inbound';
      let keyOf: (l: Readonly<Record<string, string>>) => string | undefined;
      let scraped: PodTarget[];
      if (fromPods === undefined) {
        const owner = new Map<string, string>();
        for (const g of groups0) for (const p of g.pods) owner.set(`${p.metadata.namespace ?? ''}/${p.metadata.name}`, g.name);
        keyOf = (l) => owner.get(`${l[LABEL.namespace] ?? ''}/${l[LABEL.pod] ?? ''}`);
        scraped = targets(groups0.flatMap((g) => g.pods));
      } else {
        direction = 'outbound';
        const services = (await apiJson<{ items?: Service[] }>(kc, args.resource.kind === 'ns' ? '/api/v1/services' : `/api/v1/namespaces/${ns}/services`)).items ?? [];
        const bySvc = new Map<string, string>();
        for (const g of groups0) {
          if (args.resource.kind === 'ns') continue;
          for (const s of servicesSelecting(services, g.pods)) if (!bySvc.has(s)) bySvc.set(s, g.name);
        }
        keyOf = args.resource.kind === 'ns'
          ? (l) => { const n = `ns/${l[LABEL.backendNamespace] ?? ''}`; return groups0.some((g) => g.name === n) ? n : undefined; }
          : (l) => bySvc.get(`${l[LABEL.backendNamespace] ?? ''}/${l[LABEL.backendName] ?? ''}`);
        scraped = targets(fromPods);
      }
      const got = await source.collect(direction, scraped, args.windowSeconds);
      problems = got.problems;
      text = renderStat(resources, summarize(got.samples, direction, keyOf), got.windowSeconds, args.format).text;
    }
    io.out(text);
    for (const p of problems) io.err(`weft ${verb}: could not read ${p}\n`);
    return 0;
  } catch (err) {
    io.err(`weft ${verb}: ${describeKubeError(err, kc.getCurrentCluster()?.server ?? '(no cluster)')}\n`);
    return 1;
  }
}
