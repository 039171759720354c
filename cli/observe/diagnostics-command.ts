/**
 * `weft diagnostics policy (pod/<name>|svc/<name>) <port>`: what the policy controller pushes for a
 * pod port (inbound) or a Service port (outbound, for clients in a namespace), read from the
 * controller's read-only admin dump `/debug/policy` (policy-controller: admin port):
 *
 *   through the API server's service proxy   /api/v1/namespaces/weft-system/services/weft-controller:<admin>/proxy/debug/policy?...
 *   or straight from --controller-admin URL  (a controller run outside the cluster, e.g. in tests)
 */
import { parseArgs } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import { fetch } from 'undici';
import { stringify } from 'yaml';
import { CONTROL_PLANE_NAMESPACE, CONTROLLER_ADMIN_PORT, CONTROLLER_SERVICE } from '../../core/contract.js';
import type { Io } from '../install/command.js';
import { stdio } from '../install/command.js';
import { apiGet, serviceProxyPath } from './cluster.js';
import { loadKubeConfig } from './command.js';

export const USAGE = `Usage: weft diagnostics policy (pod/<name>|svc/<name>) <port> [flags]

Prints the policy the controller pushes, from its read-only admin dump (/debug/policy):
  pod/<name> <port>   the inbound policy of that pod port (Server, routes, authorizations), with
                      the diagnostics of objects Weft cannot enforce as written
  svc/<name> <port>   the outbound policy of that Service port for clients in --client-namespace
                      (routes, rules, filters, backends), as the controller streams it to proxies

It is read through the API server's service proxy (${CONTROL_PLANE_NAMESPACE}/${CONTROLLER_SERVICE}:${CONTROLLER_ADMIN_PORT}),
or from --controller-admin when the controller runs outside the cluster.

Flags:
  -n, --namespace NS           namespace of the pod or Service (default: the context's, else default)
  --client-namespace NS        svc only: the clients' namespace (default: the Service's)
  --controller-admin URL       the controller's admin server, e.g. http://127.0.0.1:9990
  -o, --output FORMAT          yaml (default) or json
  --kubeconfig PATH, --context NAME
  -h, --help
`;

export function debugPolicyQuery(kind: 'pod' | 'svc', namespace: string, name: string, port: number, clientNamespace?: string): string {
  const q = new URLSearchParams(kind === 'pod' ? { pod: `${namespace}/${name}`, port: String(port) } : { service: `${namespace}/${name}`, port: String(port), clientNamespace: clientNamespace ?? namespace });
  return `/debug/policy?${q.toString()}`;
}

export async function runDiagnostics(argv: readonly string[], io: Io = stdio, kube: (a: { kubeconfig?: string; context?: string }) => KubeConfig = loadKubeConfig): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv], strict: true, allowPositionals: true,
      options: {
        namespace: { type: 'string', short: 'n' }, 'client-namespace': { type: 'string' }, 'controller-admin': { type: 'string' },
        output: { type: 'string', short: 'o' }, kubeconfig: { type: 'string' }, context: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.err(`weft diagnostics: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const v = parsed.values;
  if (v.help === true) {
    io.out(USAGE);
    return 0;
  }
  const usage = (msg: string) => {
    io.err(`weft diagnostics: ${msg}\n\n${USAGE}`);
    return 2;
  };
  const [sub, target, portText, ...extra] = parsed.positionals;
  if (sub !== 'policy') return usage(sub === undefined ? 'name a diagnostic: policy' : `unknown diagnostic ${JSON.stringify(sub)} (known: policy)`);
  if (target === undefined || portText === undefined || extra.length > 0) return usage('expected policy (pod/<name>|svc/<name>) <port>');
  const m = /^(po|pod|pods|svc|service|services)\/([a-z0-9][-a-z0-9.]*)$/.exec(target);
  if (m === null) return usage(`${JSON.stringify(target)} is not pod/<name> or svc/<name>`);
  const kind = m[1]!.startsWith('p') ? 'pod' : 'svc';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return usage(`${JSON.stringify(portText)} is not a port number`);
  if (kind === 'pod' && v['client-namespace'] !== undefined) return usage('--client-namespace applies to svc/<name> only');
  const output = v.output ?? 'yaml';
  if (output !== 'yaml' && output !== 'json') return usage(`--output must be yaml or json, not ${JSON.stringify(output)}`);
  const admin = v['controller-admin'];
  if (admin !== undefined && !/^https?:\/\//.test(admin)) return usage(`--controller-admin must be an http(s) URL, not ${JSON.stringify(admin)}`);

  let kc: KubeConfig | undefined;
  let ns = v.namespace;
  if (admin === undefined || ns === undefined) {
    try {
      kc = kube({ ...(v.kubeconfig !== undefined ? { kubeconfig: v.kubeconfig } : {}), ...(v.context !== undefined ? { context: v.context } : {}) });
    } catch (err) {
      io.err(`weft diagnostics: cannot load the kubeconfig: ${(err as Error).message}\n`);
      return 1;
    }
    ns ??= kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  }
  const query = debugPolicyQuery(kind, ns, m[2]!, port, v['client-namespace']);
  let status: number;
  let text: string;
  let from: string;
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
    io.err(`weft diagnostics: cannot reach the controller's admin server: ${(err as Error).message}\n`);
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
