/**
 * `weft diagnostics endpoints pod/<name>`: the Service ports that pod's proxy balances and each
 * endpoint's circuit-breaking state, from the proxy's admin `/endpoints` (through the API server's pod
 * proxy, or --proxy-admin).
 *
 * `weft diagnostics policy (pod/<name>|svc/<name>) <port>`: what the policy controller pushes for a
 * pod port (inbound) or a Service port (outbound, for clients in a namespace), read from the
 * controller's read-only admin dump `/debug/policy` (policy-controller: admin port):
 *
 *   through the API server's service proxy   /api/v1/namespaces/weft-system/services/weft-controller:<admin>/proxy/debug/policy?...
 *   or straight from --controller-admin URL  (a controller run outside the cluster, e.g. in tests)
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { fetch } from 'undici';
import { stringify } from 'yaml';
import { CONTROL_PLANE_NAMESPACE, CONTROLLER_ADMIN_PORT, CONTROLLER_SERVICE, PROXY_ADMIN_PORT } from '../../core/contract.js';
import { parseVerb, reportParse, usageError } from '../args.js';
import type { Io } from '../install/command.js';
import { stdio } from '../install/command.js';
import { connectionCause, KubeUnreachableError } from '../kube/errors.js';
import { apiGet, podProxyPath, serviceProxyPath } from './cluster.js';
import { loadKubeConfig } from './command.js';

export function debugPolicyQuery(kind: 'pod' | 'svc', namespace: string, name: string, port: number, clientNamespace?: string): string {
  const q = new URLSearchParams(kind === 'pod' ? { pod: `${namespace}/${name}`, port: String(port) } : { service: `${namespace}/${name}`, port: String(port), clientNamespace: clientNamespace ?? namespace });
  return `/debug/policy?${q.toString()}`;
}

export async function runDiagnostics(argv: readonly string[], io: Io = stdio, kube: (a: { kubeconfig?: string; context?: string }) => KubeConfig = loadKubeConfig): Promise<number> {
  const parsed = parseVerb<{
    namespace?: string; clientNamespace?: string; controllerAdmin?: string; proxyAdmin?: string; output?: 'yaml' | 'json'; kubeconfig?: string; context?: string;
  }>('diagnostics', argv);
  if (!parsed.ok) return reportParse(parsed, io);
  const v = parsed.opts;
  const usage = (msg: string) => reportParse(usageError('diagnostics', msg), io);
  const [sub, target, portText, ...extra] = parsed.args;
  if (sub === 'endpoints') {
    const pm = /^(po|pod|pods)\/([a-z0-9][-a-z0-9.]*)$/.exec(target ?? '');
    if (target === undefined || portText !== undefined || pm === null) return usage('expected endpoints pod/<name>');
    if (v.controllerAdmin !== undefined || v.clientNamespace !== undefined) return usage('--controller-admin and --client-namespace apply to policy only');
    return endpointsDiagnostic(pm[2]!, v, io, kube);
  }
  if (v.proxyAdmin !== undefined) return usage('--proxy-admin applies to endpoints only');
  if (sub !== 'policy') return usage(sub === undefined ? 'name a diagnostic: policy or endpoints' : `unknown diagnostic ${JSON.stringify(sub)} (known: policy, endpoints)`);
  if (target === undefined || portText === undefined || extra.length > 0) return usage('expected policy (pod/<name>|svc/<name>) <port>');
  const m = /^(po|pod|pods|svc|service|services)\/([a-z0-9][-a-z0-9.]*)$/.exec(target);
  if (m === null) return usage(`${JSON.stringify(target)} is not pod/<name> or svc/<name>`);
  const kind = m[1]!.startsWith('p') ? 'pod' : 'svc';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return usage(`${JSON.stringify(portText)} is not a port number`);
  if (kind === 'pod' && v.clientNamespace !== undefined) return usage('--client-namespace applies to svc/<name> only');
  const output = v.output ?? 'yaml';
  const admin = v.controllerAdmin;
  if (admin !== undefined && !/^https?:\/\//.test(admin)) return usage(`--controller-admin must be an http(s) URL, not ${JSON.stringify(admin)}`);

  let kc: KubeConfig | undefined;
  let ns = v.namespace;
  if (admin === undefined || ns === undefined) {
    try {
      kc = kube({ ...(v.kubeconfig !== undefined ? { kubeconfig: v.kubeconfig } : {}), ...(v.context !== undefined ? { context: v.context } : {}) });
    } catch (err) {
      io.err(`weft diagnostics: ${(err as Error).message}\n`);
      return 1;
    }
    ns ??= kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  }
  const query = debugPolicyQuery(kind, ns, m[2]!, port, v.clientNamespace);
  let status: number;
  let text: string;
  let from = admin ?? `the API server's service proxy`;
  try {
    if (admin !== undefined) {
      from = `${admin.replace(/\/$/, '')}${query}`;
      const res = await fetch(from, { signal: AbortSignal.timeout(30_000) });
      status = res.status;
      text = await res.text();
    } else {
      const path = serviceProxyPath(CONTROL_PLANE_NAMESPACE, CONTROLLER_SERVICE, CONTROLLER_ADMIN_PORT, query);
      from = `the API server's service proxy (${path})`;
      ({ status, text } = await apiGet(kc!, path));
    }
  } catch (err) {
    // Through the API server, a failure to reach it is the API server's, not the controller's.
    const why = err instanceof KubeUnreachableError ? err.message
      : `cannot reach the controller's admin server at ${from}: ${connectionCause(err) ?? (err as Error).message}`;
    io.err(`weft diagnostics: ${why}\n`);
    return 1;
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    io.err(`weft diagnostics: ${from} answered ${status}: ${text.trim().slice(0, 300)}\n`);
    return 1;
  }
  if (status !== 200) {
    const e = (body as { error?: string; message?: string }).error ?? (body as { message?: string }).message ?? text.trim();
    io.err(`weft diagnostics: ${from} answered ${status}: ${e}\n`);
    return 1;
  }
  io.out(output === 'json' ? `${JSON.stringify(body, null, 2)}\n` : stringify(body));
  return 0;
}

/** `weft diagnostics endpoints pod/<name>`: the proxy's admin /endpoints, printed as YAML or JSON. */
async function endpointsDiagnostic(
  pod: string,
  v: { namespace?: string; proxyAdmin?: string; output?: 'yaml' | 'json'; kubeconfig?: string; context?: string },
  io: Io,
  kube: (a: { kubeconfig?: string; context?: string }) => KubeConfig,
): Promise<number> {
  const admin = v.proxyAdmin;
  if (admin !== undefined && !/^https?:\/\//.test(admin)) return reportParse(usageError('diagnostics', `--proxy-admin must be an http(s) URL, not ${JSON.stringify(admin)}`), io);
  let from: string;
  let status: number;
  let text: string;
  try {
    if (admin !== undefined) {
      from = `${admin.replace(/\/$/, '')}/endpoints`;
      const res = await fetch(from, { signal: AbortSignal.timeout(30_000) });
      status = res.status;
      text = await res.text();
    } else {
      const kc = kube({ ...(v.kubeconfig !== undefined ? { kubeconfig: v.kubeconfig } : {}), ...(v.context !== undefined ? { context: v.context } : {}) });
      const ns = v.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
      const path = podProxyPath(ns, pod, PROXY_ADMIN_PORT, '/endpoints');
      from = `the API server's pod proxy (${path})`;
      ({ status, text } = await apiGet(kc, path));
    }
  } catch (err) {
    const why = err instanceof KubeUnreachableError ? err.message : `cannot reach the proxy's admin server of pod ${pod}: ${connectionCause(err) ?? (err as Error).message}`;
    io.err(`weft diagnostics: ${why}\n`);
    return 1;
  }
  if (status !== 200) {
    io.err(`weft diagnostics: ${from} answered ${status}: ${text.trim().slice(0, 300)} (is pod ${pod} meshed, and its proxy one with /endpoints?)\n`);
    return 1;
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    io.err(`weft diagnostics: ${from} answered with something that is not JSON: ${text.trim().slice(0, 300)}\n`);
    return 1;
  }
  io.out(v.output === 'json' ? `${JSON.stringify(body, null, 2)}\n` : stringify(body));
  return 0;
}
