/**
 * `weft explain [--from pod/<name> | --service-account SA] -n NS [-H 'name: value']... METHOD URL`:
 * lists the live cluster state (cluster.ts), reads the install's trust domain, cluster networks and
 * default inbound policy, and prints explain() (explain.ts): the same decisions the proxies make.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Pod } from '../../core/kube.js';
import { parseVerb, reportParse, usageError } from '../args.js';
import type { Io } from '../install/command.js';
import { stdio } from '../install/command.js';
import { describeKubeError } from '../kube/errors.js';
import { apiGet, installSettings, listSnapshot } from './cluster.js';
import { loadKubeConfig } from './command.js';
import { explain, renderExplanation, type ExplainClient, type Explanation } from './explain.js';

/** One request to explain: the client (a pod or a ServiceAccount of `namespace`) and the request. */
export interface ExplainQuery {
  readonly namespace: string;
  readonly pod?: string;
  readonly serviceAccount?: string;
  readonly clientIp?: string;
  readonly method: string;
  readonly url: string;
  readonly headers: readonly (readonly [string, string])[];
}

/**
 * explain() on the live cluster: the client pod (when named), the listed snapshot and the install's
 * settings. `weft explain` and `weft dashboard` both call it. A missing pod is an answer, not a
 * throw; API failures throw (callers describe them with describeKubeError).
 */
export async function explainLive(kc: KubeConfig, q: ExplainQuery): Promise<{ ok: true; explanation: Explanation } | { ok: false; error: string }> {
  let client: ExplainClient;
  const ip = q.clientIp !== undefined ? { ip: q.clientIp } : {};
  if (q.pod !== undefined) {
    const r = await apiGet(kc, `/api/v1/namespaces/${encodeURIComponent(q.namespace)}/pods/${encodeURIComponent(q.pod)}`);
    if (r.status !== 200) return { ok: false, error: `pod ${q.namespace}/${q.pod}: ${r.status === 404 ? 'not found' : `the Kubernetes API server at ${kc.getCurrentCluster()?.server ?? ''} answered HTTP ${r.status}`}` };
    const pod = JSON.parse(r.text) as Pod;
    client = { namespace: q.namespace, serviceAccount: pod.spec?.serviceAccountName ?? 'default', pod, ...ip };
  } else {
    client = { namespace: q.namespace, serviceAccount: q.serviceAccount ?? 'default', ...ip };
  }
  const [snapshot, settings] = await Promise.all([listSnapshot(kc), installSettings(kc)]);
  return {
    ok: true,
    explanation: explain(snapshot, client, { method: q.method, url: q.url, headers: q.headers }, {
      trustDomain: settings.trustDomain,
      clusterNetworks: settings.clusterNetworks,
      ...(settings.defaultInboundPolicy !== undefined ? { defaultPolicy: settings.defaultInboundPolicy } : {}),
    }),
  };
}

/** An explanation as JSON (`weft explain -o json`, the dashboard's explain answer). */
export const explanationJson = (e: Explanation): unknown => JSON.parse(JSON.stringify(e, (k, val: unknown) => (k === 'selection' ? undefined : val instanceof Map ? Object.fromEntries(val) : val)));

export async function runExplain(argv: readonly string[], io: Io = stdio, kube: (a: { kubeconfig?: string; context?: string }) => KubeConfig = loadKubeConfig): Promise<number> {
  const parsed = parseVerb<{
    from?: string; serviceAccount?: string; namespace?: string; header?: string[]; clientIp?: string; output?: 'text' | 'json'; kubeconfig?: string; context?: string;
  }>('explain', argv);
  if (!parsed.ok) return reportParse(parsed, io);
  const v = parsed.opts;
  const usage = (msg: string) => reportParse(usageError('explain', msg), io);
  const pos = parsed.args;
  if (pos.length < 1 || pos.length > 2) return usage('expected [METHOD] URL');
  const [method, url] = pos.length === 2 ? [pos[0] ?? '', pos[1] ?? ''] : ['GET', pos[0] ?? ''];
  if ((v.from === undefined) === (v.serviceAccount === undefined)) return usage('give exactly one of --from pod/<name> and --service-account');
  if (v.from !== undefined && !/^(po|pod|pods)\/[a-z0-9][-a-z0-9.]*$/.test(v.from)) return usage(`--from must be pod/<name>, not ${JSON.stringify(v.from)}`);
  const output = v.output ?? 'text';
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
    io.err(`weft explain: ${(err as Error).message}\n`);
    return 1;
  }
  const ns = v.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  try {
    const live = await explainLive(kc, {
      namespace: ns, method, url, headers,
      ...(v.from !== undefined ? { pod: v.from.slice(v.from.indexOf('/') + 1) } : { serviceAccount: v.serviceAccount ?? 'default' }),
      ...(v.clientIp !== undefined ? { clientIp: v.clientIp } : {}),
    });
    if (!live.ok) {
      io.err(`weft explain: ${live.error}\n`);
      return 1;
    }
    const e = live.explanation;
    if (output === 'json') io.out(`${JSON.stringify(explanationJson(e), null, 2)}\n`);
    else io.out(renderExplanation(e));
    if (!e.ok) {
      io.err(`weft explain: ${e.error}\n`);
      return 1;
    }
    return 0;
  } catch (err) {
    io.err(`weft explain: ${describeKubeError(err, kc.getCurrentCluster()?.server ?? '(no cluster)')}\n`);
    return 1;
  }
}
