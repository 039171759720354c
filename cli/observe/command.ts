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
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import type { Pod, Service } from '../../core/kube.js';
import type { Io } from '../install/command.js';
import { stdio } from '../install/command.js';
import { apiJson, listPods } from './cluster.js';
import { LABEL, summarize, type Direction } from './figures.js';
import { podProxyFetcher, prometheusSource, scrapeSource, type MetricsSource, type PodTarget } from './sources.js';
import { authzKeyOf, renderAuthz, renderRoutes, renderStat, routeKeyOf, type OutputFormat, type StatResource } from './views.js';
import { groupPods, isMeshedPod, parseResource, servicesSelecting, type ResourceArg, type ResourceKind } from './workloads.js';

export type Verb = 'stat' | 'routes' | 'authz';

export const DEFAULT_WINDOW_SECONDS = 30;

const COMMON_FLAGS = `  -n, --namespace NS          namespace of the resource (default: the kubeconfig context's, else default)
  -o, --output FORMAT         table (default), wide or json
  --window DURATION           how long to measure, e.g. 10s, 1m (default 30s)
  --prometheus URL            read a Prometheus that scrapes the proxies (manifests/prometheus) instead of
                              scraping them through the API server
  --kubeconfig PATH, --context NAME
  -h, --help`;

export const USAGE: Readonly<Record<Verb, string>> = {
  stat: `Usage: weft stat <deploy|pod|ns>[/<name>] [flags]

Success rate, requests per second and latency percentiles (p50, p95, p99) of each workload's meshed
pods, as their inbound proxies saw them, over a window. MESHED counts pods with the proxy.

Flags:
  --from <deploy|pod>/<name>  only requests from this client (its outbound proxies' view of the
                              Services that select each workload), in namespace -n
${COMMON_FLAGS}
`,
  routes: `Usage: weft routes svc/<name> [flags]

Success rate, RPS, latency percentiles and timeouts per route and backend of a Service, as the
meshed clients' outbound proxies saw them. [no route] counts requests on a port with no route.
-o wide splits by Service port and route rule.

Flags:
  --from <deploy|pod|ns>/<name>  only these clients (default: every meshed pod in the cluster)
${COMMON_FLAGS}
`,
  authz: `Usage: weft authz <deploy|pod>/<name> [flags]

Allowed and denied requests per second, success rate and latency per Server, route and
authorization of a workload, as its inbound proxies decided them. AUTHORIZATION "-" is a denial no
policy allowed. -o wide splits by target port.

Flags:
${COMMON_FLAGS}
`,
};

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

export function parseWindow(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (m === null) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const seconds = unit === 'ms' ? n / 1000 : unit === 'm' ? n * 60 : unit === 'h' ? n * 3600 : n;
  return seconds > 0 ? seconds : undefined;
}

const KINDS: Readonly<Record<Verb, readonly ResourceKind[]>> = { stat: ['deploy', 'pod', 'ns'], routes: ['svc'], authz: ['deploy', 'pod'] };

export function parseObserveArgs(verb: Verb, argv: readonly string[]): { ok: true; args: ObserveArgs } | { ok: false; help: boolean; error: string } {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        namespace: { type: 'string', short: 'n' },
        output: { type: 'string', short: 'o' },
        window: { type: 'string' },
        prometheus: { type: 'string' },
        ...(verb !== 'authz' ? { from: { type: 'string' } } : {}),
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return { ok: false, help: false, error: (err as Error).message };
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v['help'] === true) return { ok: false, help: true, error: '' };
  const str = (k: string) => (typeof v[k] === 'string' ? v[k] : undefined);
  if (parsed.positionals.length !== 1) return { ok: false, help: false, error: `expected one resource (${KINDS[verb].join(', ')}), got ${parsed.positionals.length}` };
  const resource = parseResource(parsed.positionals[0] ?? '', KINDS[verb]);
  if (typeof resource === 'string') return { ok: false, help: false, error: resource };
  if (verb !== 'stat' && resource.name === undefined) return { ok: false, help: false, error: `name the ${resource.kind}: ${resource.kind}/<name>` };
  const output = str('output') ?? 'table';
  if (output !== 'table' && output !== 'wide' && output !== 'json') return { ok: false, help: false, error: `--output must be table, wide or json, not ${JSON.stringify(output)}` };
  const windowSeconds = str('window') === undefined ? DEFAULT_WINDOW_SECONDS : parseWindow(str('window') ?? '');
  if (windowSeconds === undefined) return { ok: false, help: false, error: `--window: ${JSON.stringify(str('window'))} is not a duration such as 30s or 1m` };
  let from: ObserveArgs['from'];
  const fromText = str('from');
  if (fromText !== undefined) {
    // ns/<ns>/<kind>/<name> is not kubectl's; accept <kind>/<name> (namespace -n) and ns/<name>.
    const r = parseResource(fromText, verb === 'stat' ? ['deploy', 'pod'] : ['deploy', 'pod', 'ns']);
    if (typeof r === 'string') return { ok: false, help: false, error: `--from: ${r}` };
    if (r.name === undefined) return { ok: false, help: false, error: '--from: name the client: <kind>/<name>' };
    from = r;
  }
  const prometheus = str('prometheus');
  if (prometheus !== undefined && !/^https?:\/\//.test(prometheus)) return { ok: false, help: false, error: `--prometheus must be an http(s) URL, not ${JSON.stringify(prometheus)}` };
  return {
    ok: true,
    args: {
      resource,
      namespace: str('namespace'),
      ...(from !== undefined ? { from } : {}),
      format: output,
      windowSeconds,
      ...(prometheus !== undefined ? { prometheus } : {}),
      ...optional('kubeconfig', str('kubeconfig')),
      ...optional('context', str('context')),
    },
  };
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

export function loadKubeConfig(args: { readonly kubeconfig?: string; readonly context?: string }): KubeConfig {
  const kc = new KubeConfig();
  if (args.kubeconfig !== undefined) kc.loadFromFile(args.kubeconfig);
  else kc.loadFromDefault();
  if (args.context !== undefined) kc.setCurrentContext(args.context);
  return kc;
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
  if (!parsed.ok) {
    if (parsed.help) {
      io.out(USAGE[verb]);
      return 0;
    }
    io.err(`weft ${verb}: ${parsed.error}\n\n${USAGE[verb]}`);
    return 2;
  }
  const args = parsed.args;
  let kc: KubeConfig;
  try {
    kc = deps.kubeConfig?.(args) ?? loadKubeConfig(args);
  } catch (err) {
    io.err(`weft ${verb}: cannot load the kubeconfig: ${(err as Error).message}\n`);
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
      const svc = await apiJson<Service>(kc, `/api/v1/namespaces/${ns}/services/${service.name}`).catch(() => undefined);
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
    io.err(`weft ${verb}: ${(err as Error).message}\n`);
    return 1;
  }
}
