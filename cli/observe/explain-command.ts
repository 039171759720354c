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
import { explainGatewayLive, renderGatewayExplanation } from './gateway-command.js';

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
    port?: string; host?: string; path?: string;
  }>('explain', argv);
  if (!parsed.ok) return reportParse(parsed, io);
  const v = parsed.opts;
  const usage = (msg: string) => reportParse(usageError('explain', msg), io);
  const pos = parsed.args;
  const gatewayArg = GATEWAY_ARG.exec(pos[0] ?? '');
  if (gatewayArg !== null) return runGatewayExplain(gatewayArg[1] ?? '', pos.slice(1), v, io, kube, usage);
  if (v.port !== undefined || v.host !== undefined || v.path !== undefined) return usage('--port, --host and --path go with gateway/NAME (weft explain gateway/NAME --port 80 --host HOST --path /x)');
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

/** `gateway/NAME` (kubectl's kinds for Gateways: gateway, gateways, gtw; also gw). */
const GATEWAY_ARG = /^(?:gateways?|gtw|gw|gateway\.gateway\.networking\.k8s\.io)\/(.*)$/i;

function parseHeaders(list: readonly string[] | undefined): [string, string][] | string {
  const headers: [string, string][] = [];
  for (const h of list ?? []) {
    const i = h.indexOf(':');
    if (i <= 0) return `--header ${JSON.stringify(h)} is not NAME: VALUE`;
    headers.push([h.slice(0, i).trim(), h.slice(i + 1).trim()]);
  }
  return headers;
}

/**
 * `weft explain gateway/NAME [-n NS] [--port P] [--host H] [--path /x] [-H ...] [METHOD] [URL]`: the
 * request as a client outside the mesh sends it to the gateway. A URL gives the Host (its host), the
 * listener port (its port, default 80) and the path; --port, --host and --path override it. Without a
 * URL: --host defaults to the Gateway's address, --port to its only listener port, --path to /.
 */
async function runGatewayExplain(
  name: string, rest: readonly string[],
  v: { from?: string; serviceAccount?: string; namespace?: string; header?: string[]; clientIp?: string; output?: 'text' | 'json'; kubeconfig?: string; context?: string; port?: string; host?: string; path?: string },
  io: Io, kube: (a: { kubeconfig?: string; context?: string }) => KubeConfig, usage: (msg: string) => number,
): Promise<number> {
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) return usage(`${JSON.stringify(name)} is not a valid Gateway name`);
  if (v.from !== undefined || v.serviceAccount !== undefined || v.clientIp !== undefined) {
    return usage("--from, --service-account and --client-ip do not go with gateway/NAME: the gateway's client is outside the mesh, and the gateway's own identity is what its backends see");
  }
  if (rest.length > 2) return usage('expected gateway/NAME [METHOD] [URL]');
  let method = 'GET';
  let url: URL | undefined;
  const looksLikeUrl = (s: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(s);
  if (rest.length === 2) method = rest[0] ?? 'GET';
  const last = rest.length === 2 ? rest[1] : rest[0];
  if (last !== undefined) {
    if (!looksLikeUrl(last)) {
      if (rest.length === 1 && /^[A-Z]+$/.test(last)) method = last;
      else return usage(`${JSON.stringify(last)} is not an absolute URL (http://HOST[:PORT]/path)`);
    } else {
      try {
        url = new URL(last);
      } catch {
        return usage(`${JSON.stringify(last)} is not an absolute URL (http://HOST[:PORT]/path)`);
      }
      if (url.protocol !== 'http:') return usage(`${url.protocol}// is not served: the gateway serves HTTP listeners only (docs/gateway.md)`);
    }
  }
  let port: number | undefined;
  const portText = v.port ?? (url !== undefined ? (url.port === '' ? '80' : url.port) : undefined);
  if (portText !== undefined) {
    port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535) return usage(`--port ${JSON.stringify(portText)} is not a port (1-65535)`);
  }
  const host = v.host ?? (url !== undefined ? url.host : undefined);
  const path = v.path ?? (url !== undefined ? `${url.pathname}${url.search}` : '/');
  if (!path.startsWith('/')) return usage(`--path ${JSON.stringify(path)} must start with /`);
  const headers = parseHeaders(v.header);
  if (typeof headers === 'string') return usage(headers);
  let kc: KubeConfig;
  try {
    kc = kube({ ...(v.kubeconfig !== undefined ? { kubeconfig: v.kubeconfig } : {}), ...(v.context !== undefined ? { context: v.context } : {}) });
  } catch (err) {
    io.err(`weft explain: ${(err as Error).message}\n`);
    return 1;
  }
  const ns = v.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  try {
    const e = await explainGatewayLive(kc, ns, name, { method, path, headers, ...(port !== undefined ? { port } : {}), ...(host !== undefined ? { host } : {}) });
    if (!e.ok) {
      io.err(`weft explain: ${e.error}\n`);
      return 1;
    }
    io.out(v.output === 'json' ? `${JSON.stringify(e, (k, val: unknown) => (k === 'selection' ? undefined : val instanceof Map ? Object.fromEntries(val) : val), 2)}\n` : renderGatewayExplanation(e));
    return 0;
  } catch (err) {
    io.err(`weft explain: ${describeKubeError(err, kc.getCurrentCluster()?.server ?? '(no cluster)')}\n`);
    return 1;
  }
}
