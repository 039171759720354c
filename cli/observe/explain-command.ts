/**
 * `weft explain [--from pod/<name> | --service-account SA] -n NS [-H 'name: value']... METHOD URL`:
 * lists the live cluster state (cluster.ts), reads the install's trust domain, cluster networks and
 * default inbound policy, and prints explain() (explain.ts): the same decisions the proxies make.
 */
import { parseArgs } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Pod } from '../../core/kube.js';
import type { Io } from '../install/command.js';
import { stdio } from '../install/command.js';
import { apiGet, installSettings, listSnapshot } from './cluster.js';
import { loadKubeConfig } from './command.js';
import { explain, renderExplanation, type ExplainClient } from './explain.js';

export const USAGE = `Usage: weft explain (--from pod/<name> | --service-account <sa>) [-n NS] [flags] [METHOD] URL

Shows what the mesh does with one request, on the live cluster state and with the proxies' own code:
on the client side the route, rule, filters, timeouts and weighted backends; on the server side (a
pod behind each backend) the Server, route and authorization that decide, and for a denial each
AuthorizationPolicy that would allow it and what this client lacks, or that none applies.

  weft explain --from pod/books-5d8f7c9b4-x2x7q -n booksapp DELETE http://authors.booksapp.svc.cluster.local:7001/authors/1.json

METHOD defaults to GET. URL names a Service by DNS name (name, name.ns, name.ns.svc[.domain]) or
ClusterIP, and its port.

Flags:
  --from pod/<name>           the client pod (its ServiceAccount, IP and whether it is meshed)
  --service-account SA        or: a meshed client running as this ServiceAccount in -n NS
  -n, --namespace NS          the client's namespace (default: the kubeconfig context's, else default)
  -H, --header 'NAME: VALUE'  a request header (repeatable)
  --client-ip IP              the client's address (default: the pod's IP)
  -o, --output FORMAT         text (default) or json
  --kubeconfig PATH, --context NAME
  -h, --help
`;

export async function runExplain(argv: readonly string[], io: Io = stdio, kube: (a: { kubeconfig?: string; context?: string }) => KubeConfig = loadKubeConfig): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv], strict: true, allowPositionals: true,
      options: {
        from: { type: 'string' }, 'service-account': { type: 'string' }, namespace: { type: 'string', short: 'n' },
        header: { type: 'string', short: 'H', multiple: true }, 'client-ip': { type: 'string' }, output: { type: 'string', short: 'o' },
        kubeconfig: { type: 'string' }, context: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.err(`weft explain: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const v = parsed.values;
  if (v.help === true) {
    io.out(USAGE);
    return 0;
  }
  const usage = (msg: string) => {
    io.err(`weft explain: ${msg}\n\n${USAGE}`);
    return 2;
  };
  const pos = parsed.positionals;
  if (pos.length < 1 || pos.length > 2) return usage('expected [METHOD] URL');
  const [method, url] = pos.length === 2 ? [pos[0] ?? '', pos[1] ?? ''] : ['GET', pos[0] ?? ''];
  if ((v.from === undefined) === (v['service-account'] === undefined)) return usage('give exactly one of --from pod/<name> and --service-account');
  if (v.from !== undefined && !/^(po|pod|pods)\/[a-z0-9][-a-z0-9.]*$/.test(v.from)) return usage(`--from must be pod/<name>, not ${JSON.stringify(v.from)}`);
  const output = v.output ?? 'text';
  if (output !== 'text' && output !== 'json') return usage(`--output must be text or json, not ${JSON.stringify(output)}`);
  const headers: [string, string][] = [];
  for (const h of v.header ?? []) {
    const i = h.indexOf(':');
    if (i <= 0) return usage(`--header ${JSON.stringify(h)} is not NAME: VALUE`);
    headers.push([h.slice(0, i).trim(), h.slice(i + 1).trim()]);
  }
  let kc: KubeConfig;
  try {
    kc = kube({ ...(v.kubeconfig !== undefined ? { kubeconfig: v.kubeconfig } : {}), ...(v.context !== undefined ? { context: v.context } : {}) });
  } catch (err) {
    io.err(`weft explain: cannot load the kubeconfig: ${(err as Error).message}\n`);
    return 1;
  }
  const ns = v.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  try {
    let client: ExplainClient;
    if (v.from !== undefined) {
      const name = v.from.slice(v.from.indexOf('/') + 1);
      const r = await apiGet(kc, `/api/v1/namespaces/${ns}/pods/${name}`);
      if (r.status !== 200) {
        io.err(`weft explain: pod ${ns}/${name}: HTTP ${r.status}\n`);
        return 1;
      }
      const pod = JSON.parse(r.text) as Pod;
      client = { namespace: ns, serviceAccount: pod.spec?.serviceAccountName ?? 'default', pod, ...(v['client-ip'] !== undefined ? { ip: v['client-ip'] } : {}) };
    } else {
      client = { namespace: ns, serviceAccount: v['service-account'] ?? 'default', ...(v['client-ip'] !== undefined ? { ip: v['client-ip'] } : {}) };
    }
    const [snapshot, settings] = await Promise.all([listSnapshot(kc), installSettings(kc)]);
    const e = explain(snapshot, client, { method, url, headers }, {
      trustDomain: settings.trustDomain,
      clusterNetworks: settings.clusterNetworks,
      ...(settings.defaultInboundPolicy !== undefined ? { defaultPolicy: settings.defaultInboundPolicy } : {}),
    });
    if (output === 'json') io.out(`${JSON.stringify(e, (k, val: unknown) => (k === 'selection' ? undefined : val instanceof Map ? Object.fromEntries(val) : val), 2)}\n`);
    else io.out(renderExplanation(e));
    if (!e.ok) {
      io.err(`weft explain: ${e.error}\n`);
      return 1;
    }
    return 0;
  } catch (err) {
    io.err(`weft explain: ${(err as Error).message}\n`);
    return 1;
  }
}
