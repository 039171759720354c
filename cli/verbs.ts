/**
 * The one definition of every `weft` verb: its summary, arguments, description and flags. Help, usage
 * errors, "did you mean" suggestions (cli/args.ts, through commander) and shell completion
 * (cli/completion.ts) are all generated from it, so they cannot disagree. Data only: no I/O, and
 * nothing heavy is imported, so `weft proxy` loads only this and its own module.
 */
import {
  CONTROL_PLANE_NAMESPACE, CONTROLLER_ADMIN_PORT, CONTROLLER_SERVICE, DEFAULT_CLUSTER_NETWORKS, PROXY_ADMIN_PORT, DEFAULT_IMAGE, DEFAULT_TRUST_DOMAIN,
  TRUST_ANCHORS_CONFIGMAP, WEFT_VERSION,
} from '../core/contract.js';
import { INBOUND_POLICIES, PROXY_LOG_LEVELS } from '../injector/settings.js';

/** What a flag's value is, for parsing (duration) and completion (file, choices). */
export type ValueKind = 'string' | 'file' | 'dir' | 'duration' | 'url';

export interface FlagDef {
  /** commander syntax: '-n, --namespace <ns>', '--ha', '--no-ha'. */
  readonly flags: string;
  readonly help: string;
  readonly choices?: readonly string[];
  readonly value?: ValueKind;
  /** May be given several times; the values are collected in order. */
  readonly repeatable?: boolean;
}

export interface VerbDef {
  readonly summary: string;
  /** Component entry points (run in pods) are listed apart from the user verbs in --help. */
  readonly kind: 'component' | 'user';
  /** commander argument specs, e.g. '<resource>', '[files...]'. */
  readonly args?: readonly string[];
  /** The usage line after `weft <verb> ` (default: generated from the flags and args). */
  readonly usage?: string;
  /** The paragraphs printed under the usage line. */
  readonly description?: string;
  readonly flags: readonly FlagDef[];
  /** Values completion offers for the first argument. */
  readonly argChoices?: readonly string[];
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

const KUBE: readonly FlagDef[] = [
  { flags: '--kubeconfig <path>', help: 'kubeconfig file (default: KUBECONFIG, else ~/.kube/config, else in-cluster)', value: 'file' },
  { flags: '--context <name>', help: 'kubeconfig context (default: its current-context)' },
];

const NAMESPACE: FlagDef = { flags: '-n, --namespace <ns>', help: "namespace (default: the kubeconfig context's, else default)" };

const WINDOW: FlagDef = { flags: '--window <duration>', help: 'how long to measure, e.g. 10s, 1m (default 30s)', value: 'duration' };
const PROMETHEUS: FlagDef = {
  flags: '--prometheus <url>', value: 'url',
  help: 'read a Prometheus that scrapes the proxies (manifests/prometheus) instead of scraping them through the API server',
};
const TABLE_OUTPUT: FlagDef = { flags: '-o, --output <format>', help: 'table (default), wide or json', choices: ['table', 'wide', 'json'] };

function installFlags(mode: 'install' | 'upgrade'): FlagDef[] {
  return [
    { flags: '--image <image>', help: `the Weft image (default ${DEFAULT_IMAGE})` },
    { flags: '--ha', help: '2 replicas per component, PodDisruptionBudgets, webhook failurePolicy Fail' },
    { flags: '--no-ha', help: 'one replica per component, webhook failurePolicy Ignore (the default)' },
    { flags: '--trust-domain <td>', help: `SPIFFE trust domain (default ${DEFAULT_TRUST_DOMAIN})` },
    { flags: '--cluster-networks <cidrs>', help: `comma-separated cluster networks (default ${DEFAULT_CLUSTER_NETWORKS.join(',')})` },
    { flags: '--identity-trust-anchor <file>', value: 'file', help: 'PEM of an existing trust anchor (certificate) to use instead of generating one' },
    { flags: '--identity-trust-anchor-key <file>', value: 'file', help: 'its private key, to sign a new issuer' },
    { flags: '--identity-issuer <file>', value: 'file', help: 'PEM of an existing issuer certificate (signed by the trust anchor)' },
    { flags: '--identity-issuer-key <file>', value: 'file', help: 'its private key' },
    { flags: '--identity-external-issuer', help: 'the issuer Secret weft-system/weft-identity-issuer (ca.crt, tls.crt, tls.key) is managed outside Weft (cert-manager): read from the cluster, never rendered' },
    { flags: '--no-identity-external-issuer', help: 'render Weft\'s own issuer Secret (the default)' },
    { flags: '--injector-tls <dir>', value: 'dir', help: "the injector's webhook certificate: DIR/ca.crt, DIR/tls.crt, DIR/tls.key (default: kept from the cluster when present and valid, else generated)" },
    { flags: '--controller-webhook-tls <dir>', value: 'dir', help: "the controller's webhook certificate, the same layout and default" },
    { flags: '--crds', help: mode === 'install' ? "print only Weft's CRDs (apply them first)" : "print only this version's CRDs (apply them first)" },
    { flags: '--controller-log-level <level>', choices: LOG_LEVELS, help: 'log level of the controller and injector (default info)' },
    { flags: '--proxy-log-level <level>', choices: PROXY_LOG_LEVELS, help: 'log level of the proxies (default info)' },
    { flags: '--default-inbound-policy <policy>', choices: INBOUND_POLICIES, help: 'what a port no Server selects allows (default all-unauthenticated)' },
    ...(mode === 'install' ? [{ flags: '--ignore-cluster', help: 'render without contacting a cluster (GitOps)' }] : []),
    ...KUBE,
    { flags: '-o, --output <format>', choices: ['yaml', 'json'], help: 'output format (default yaml)' },
  ];
}

export const VERBS: Readonly<Record<string, VerbDef>> = {
  install: {
    kind: 'user', summary: 'print the manifests that install Weft',
    usage: '--crds | kubectl apply --server-side -f -, then weft install [flags] | kubectl apply --server-side -f -',
    description: `With --crds, prints only Weft's CRDs (apply them first). Without it, prints the rest: the weft-system
namespace, RBAC, the trust anchor, issuer and webhook certificates, the controller and injector, and
the webhook configurations. Checks the cluster first (Gateway API CRDs present and supported, Weft's
CRDs applied, Weft not installed yet) unless --ignore-cluster is given. The same inputs (anchor,
issuer or external issuer, and webhook certificates from the cluster or the flags) give the same bytes.`,
    flags: installFlags('install'),
  },
  upgrade: {
    kind: 'user', summary: 'print upgrade manifests that keep the trust anchor',
    usage: '[flags] | kubectl apply --server-side -f -',
    description: `With --crds, prints only this version's CRDs (apply them first). Without it, prints the manifests of
this version of Weft with the trust anchor, issuer, webhook certificates and install settings read
from the cluster, so applying them never replaces the anchor running proxies trust. Flags override
the stored settings.`,
    flags: installFlags('upgrade'),
  },
  uninstall: {
    kind: 'user', summary: 'print what to delete to remove Weft',
    usage: '[flags] | kubectl delete --ignore-not-found -f -',
    description: `Prints what to delete to remove Weft: the webhook configurations, the weft-system namespace and
everything in it, the cluster-wide RBAC and Weft's CRDs (which deletes every Server,
AuthorizationPolicy, MeshTLSAuthentication and NetworkAuthentication in the cluster).
Meshed pods keep their proxy until they are recreated: remove the weft.dev/inject annotations and
restart the workloads (or pipe their YAML through weft uninject) first.`,
    flags: [
      { flags: '--keep-crds', help: "leave Weft's CRDs (and so the policy objects) in place" },
      { flags: '-o, --output <format>', choices: ['yaml', 'json'], help: 'output format (default yaml)' },
    ],
  },
  check: {
    kind: 'user', summary: 'check the cluster and the mesh, with a fix for each failure',
    description: `Checks the cluster and the mesh; each check passes or fails with the problem and a fix.
After install it also checks the gateways: Weft's GatewayClasses Accepted, each of their Gateways
Accepted and Programmed with an available proxy Deployment, listeners without problems, and routes
attached to them Accepted with resolved references (each problem named with its reason).
Exits 1 when any check fails.`,
    flags: [
      { flags: '--pre', help: 'checks before install: API, Gateway API CRDs, Kubernetes 1.29+, Pod Security of namespaces annotated for injection, no other sidecar injector, permissions, no Weft yet' },
      { flags: '-n, --namespace <ns>', help: `also check the data plane of NS: proxies ready and on version ${WEFT_VERSION}, and pods that should have the proxy but do not` },
      { flags: '--wait <duration>', value: 'duration', help: 'retry until every check passes or DURATION elapses, e.g. 90s, 2m' },
      { flags: '-o, --output <format>', choices: ['text', 'json'], help: 'text (default) or json: every check with its section, name, outcome, problem and fix' },
      ...KUBE,
    ],
  },
  inject: {
    kind: 'user', summary: 'add the proxy to workloads in YAML from a file or stdin',
    args: ['[files...]'], usage: '[flags] [FILE...]   (no FILE or - reads stdin)',
    description: `Adds weft-init and the weft-proxy sidecar to the pods of Pods, Deployments, StatefulSets, DaemonSets,
ReplicaSets, Jobs, CronJobs, Argo Rollouts and Lists, in multi-document YAML (comments kept), and
prints the result:
  kubectl get deploy web -o yaml | weft inject | kubectl apply -f -
Other objects pass through unchanged. A pod annotated weft.dev/inject: disabled, or that cannot be
injected (hostNetwork, ...), is left as it is with the reason on stderr.`,
    flags: [
      { flags: '--ignore-cluster', help: 'do not read settings from the cluster (needs --identity-trust-anchors)' },
      { flags: '--identity-trust-anchors <file>', value: 'file', help: `PEM the proxies trust (default: from the cluster's ${CONTROL_PLANE_NAMESPACE}/${TRUST_ANCHORS_CONFIGMAP})` },
      { flags: '--image <image>', help: `proxy image (default: as installed, else ${DEFAULT_IMAGE})` },
      { flags: '--trust-domain <td>', help: `trust domain (default: as installed, else ${DEFAULT_TRUST_DOMAIN})` },
      { flags: '--proxy-log-level <level>', choices: PROXY_LOG_LEVELS, help: 'log level of the proxies (default: as installed, else info)' },
      { flags: '--default-inbound-policy <policy>', choices: INBOUND_POLICIES, help: 'what a port no Server selects allows (default: as installed)' },
      { flags: '-n, --namespace <ns>', help: 'namespace of objects that name none (default: default)' },
      ...KUBE,
    ],
  },
  uninject: {
    kind: 'user', summary: 'remove the proxy from workloads in YAML',
    args: ['[files...]'], usage: '[FILE...]   (no FILE or - reads stdin)',
    description: `Removes weft-init, weft-proxy, their volumes, the weft.dev/meshed label and the injector's annotations
from the pods of the workloads in the YAML, and prints the result:
  kubectl get deploy web -o yaml | weft uninject | kubectl apply -f -
Pods of a namespace annotated weft.dev/inject: enabled get the proxy again when they are recreated:
annotate the pod template weft.dev/inject: disabled to keep them out.`,
    flags: [],
  },
  stat: {
    kind: 'user', summary: 'success rate, RPS and latency per workload',
    args: ['<resource>'], usage: '<deploy|sts|ds|job|cronjob|pod|ns|gateway>[/<name>] [flags]', argChoices: ['deploy', 'sts', 'ds', 'job', 'cronjob', 'pod', 'ns', 'gateway'],
    description: `Success rate, requests per second and latency percentiles (p50, p95, p99) of each workload's meshed
pods, as their inbound proxies saw them, over a window. MESHED counts pods with the proxy.
gateway lists the Gateways Weft serves (READY: ready gateway pods) with their proxies' figures;
gateway/<name> gives one row per listener and route (-o wide: per rule) from the gateway's pods.
Scraping the proxies takes the window (--window, 30s by default); progress goes to stderr.`,
    flags: [
      { flags: '--from <client>', help: "only requests from this client, <deploy|pod>/<name> in -n (its outbound proxies' view of the Services that select each workload)" },
      NAMESPACE,
      { flags: '-A, --all-namespaces', help: 'every namespace (a NAMESPACE column is added); give a kind without a name' },
      { flags: '-l, --selector <selector>', help: 'only pods matching this label selector, e.g. app=web or tier in (web,api)' },
      TABLE_OUTPUT, WINDOW, PROMETHEUS, ...KUBE,
    ],
  },
  routes: {
    kind: 'user', summary: 'success rate, RPS and latency per route and backend of a Service',
    args: ['<service>'], usage: '(svc|gateway)/<name> [flags]', argChoices: ['svc/', 'gateway/'],
    description: `Success rate, RPS, latency percentiles and timeouts per route and backend of a Service, as the
meshed clients' outbound proxies saw them. [no route] counts requests on a port with no route.
-o wide splits by Service port and route rule.
gateway/<name>: the Gateway's address and conditions, its listeners (port, protocol, hostname,
attached routes, status), then one row per listener, route, rule and backend it serves (the
controller's own decision) with the gateway pods' figures, and the routes naming the Gateway that
are refused or have unresolved backends, with the reason. -o wide adds hostnames, filters, timeouts.`,
    flags: [
      { flags: '--from <clients>', help: 'only these clients, <deploy|pod|ns>/<name> (default: every meshed pod in the cluster)' },
      NAMESPACE, TABLE_OUTPUT, WINDOW, PROMETHEUS, ...KUBE,
    ],
  },
  authz: {
    kind: 'user', summary: 'allowed and denied requests per server, route and authorization',
    args: ['<workload>'], usage: '<deploy|sts|ds|job|cronjob|pod>/<name> [flags]', argChoices: ['deploy/', 'sts/', 'ds/', 'job/', 'cronjob/', 'pod/'],
    description: `Allowed and denied requests per second, success rate and latency per Server, route and
authorization of a workload, as its inbound proxies decided them. AUTHORIZATION "-" is a denial no
policy allowed. -o wide splits by target port.`,
    flags: [NAMESPACE, { flags: '-l, --selector <selector>', help: 'only pods matching this label selector' }, TABLE_OUTPUT, WINDOW, PROMETHEUS, ...KUBE],
  },
  explain: {
    kind: 'user', summary: 'show which route, backend and authorization decide a request',
    args: ['<request...>'], usage: '(--from pod/<name> | --service-account <sa>) [-n NS] [flags] [METHOD] URL\n       weft explain gateway/<name> [-n NS] [--port P] [--host H] [--path /x] [flags] [METHOD] [URL]',
    description: `Shows what the mesh does with one request, on the live cluster state and with the proxies' own code:
on the client side the route, rule, filters, timeouts and weighted backends; on the server side (a
pod behind each backend) the Server, route and authorization that decide, and for a denial each
AuthorizationPolicy that would allow it and what this client lacks, or that none applies.

  weft explain --from pod/books-5d8f7c9b4-x2x7q -n booksapp DELETE http://authors.booksapp.svc.cluster.local:7001/authors/1.json

METHOD defaults to GET. URL names a Service by DNS name (name, name.ns, name.ns.svc[.domain]) or
ClusterIP, and its port.

gateway/<name>: what the Gateway's proxy does with a request from outside the mesh: the listener (by
port and Host), the route and rule (the gateway's own decision), each backend by weight (or 404 with
the routes and listeners that did not match, 500 not-permitted for a cross-namespace backend without
a ReferenceGrant), and each backend's server side for the gateway's identity.

  weft explain gateway/edge -n infra --port 80 --host shop.example.com --path /cart
  weft explain gateway/edge -n infra POST http://shop.example.com/cart`,
    flags: [
      { flags: '--from <pod>', help: 'the client pod, pod/<name> (its ServiceAccount, IP and whether it is meshed)' },
      { flags: '--service-account <sa>', help: 'or: a meshed client running as this ServiceAccount in -n NS' },
      { ...NAMESPACE, help: "the client's namespace (default: the kubeconfig context's, else default)" },
      { flags: '-H, --header <header>', help: "a request header, 'NAME: VALUE' (repeatable)", repeatable: true },
      { flags: '--client-ip <ip>', help: "the client's address (default: the pod's IP)" },
      { flags: '--port <port>', help: "gateway/<name> only: the listener port (default: the URL's, else the Gateway's only port)" },
      { flags: '--host <host>', help: "gateway/<name> only: the Host header (default: the URL's, else the Gateway's address)" },
      { flags: '--path <path>', help: "gateway/<name> only: the path and query (default: the URL's, else /)" },
      { flags: '-o, --output <format>', choices: ['text', 'json'], help: 'text (default) or json' },
      ...KUBE,
    ],
  },
  dashboard: {
    kind: 'user', summary: 'serve a web dashboard: topology, routes, authorization, explain',
    usage: '[--address A] [--port P] [--no-open] [--prometheus URL] [flags]',
    description: `Serves a web page on a local port and opens it: namespaces -> workloads -> routes with success rate,
RPS and p50/p95/p99 and sparklines, the topology of who calls whom, each route's rules, backends
(weights and observed share), timeouts, filters, status and authorization, the problems first, and
an explain form that runs weft explain. It reads what stat, routes and authz read: the proxies'
metrics through the API server every --interval (the sparklines are kept by this process), or
--prometheus. Runs until interrupted.`,
    flags: [
      { flags: '--address <ip>', help: 'address to listen on (default 127.0.0.1)' },
      { flags: '--port <port>', help: 'port to listen on (default 7180; 0 picks a free one)' },
      { flags: '--no-open', help: 'do not open a browser' },
      { flags: '--interval <duration>', value: 'duration', help: 'how often to read the proxies, e.g. 5s (default 5s)' },
      PROMETHEUS, ...KUBE,
    ],
  },
  diagnostics: {
    kind: 'user', summary: 'show the policy the controller pushes, or the endpoints a proxy balances',
    args: ['<diagnostic>', '<target>', '[port]'], usage: 'policy (pod/<name>|svc/<name>) <port> | endpoints pod/<name> [flags]', argChoices: ['policy', 'endpoints'],
    description: `policy: prints the policy the controller pushes, from its read-only admin dump (/debug/policy):
  pod/<name> <port>   the inbound policy of that pod port (Server, routes, authorizations), with
                      the diagnostics of objects Weft cannot enforce as written
  svc/<name> <port>   the outbound policy of that Service port for clients in --client-namespace
                      (routes, rules, filters, backends), as the controller streams it to proxies
It is read through the API server's service proxy (${CONTROL_PLANE_NAMESPACE}/${CONTROLLER_SERVICE}:${CONTROLLER_ADMIN_PORT}),
or from --controller-admin when the controller runs outside the cluster.

endpoints pod/<name>: prints every Service port that pod's proxy balances now and each endpoint's
circuit-breaking state (ready; ejected, with the time left; probing), from the proxy's admin
/endpoints (port ${PROXY_ADMIN_PORT}, through the API server's pod proxy, or --proxy-admin).`,
    flags: [
      { ...NAMESPACE, help: "namespace of the pod or Service (default: the context's, else default)" },
      { flags: '--client-namespace <ns>', help: "svc only: the clients' namespace (default: the Service's)" },
      { flags: '--controller-admin <url>', value: 'url', help: "the controller's admin server, e.g. http://127.0.0.1:9990" },
      { flags: '--proxy-admin <url>', value: 'url', help: `endpoints only: the proxy's admin server, e.g. http://127.0.0.1:${PROXY_ADMIN_PORT}` },
      { flags: '-o, --output <format>', choices: ['yaml', 'json'], help: 'yaml (default) or json' },
      ...KUBE,
    ],
  },
  version: {
    kind: 'user', summary: 'print the versions of the client, the control plane and the proxies',
    description: `Prints the version of this weft client, of the control plane (the controller and injector
Deployments in ${CONTROL_PLANE_NAMESPACE}: version, image, ready replicas) and of the proxies (the versions
meshed pods run, with how many pods run each). Without a cluster it prints the client's version, says
why the rest is missing and exits 1; --client asks for the client only.`,
    flags: [
      { flags: '--client', help: "only the client's version (no cluster needed)" },
      { flags: '-o, --output <format>', choices: ['text', 'json'], help: 'text (default) or json' },
      ...KUBE,
    ],
  },
  completion: {
    kind: 'user', summary: 'print a shell completion script (bash or zsh)',
    args: ['<shell>'], usage: 'bash|zsh', argChoices: ['bash', 'zsh'],
    description: `Prints a completion script for weft's verbs, flags and flag values:
  bash:  source <(weft completion bash)    or save it in /etc/bash_completion.d/weft
  zsh:   source <(weft completion zsh)     (uses zsh's bashcompinit)`,
    flags: [],
  },
  proxy: { kind: 'component', summary: 'run the sidecar proxy (inbound, outbound, admin)', flags: [] },
  gateway: { kind: 'component', summary: "run a Gateway's proxy (its HTTP listeners; deployed by the controller)", flags: [] },
  controller: { kind: 'component', summary: 'run the policy controller, identity CA and validating webhook', flags: [] },
  injector: { kind: 'component', summary: 'run the mutating admission webhook that injects the proxy', flags: [] },
  'proxy-init': { kind: 'component', summary: "set up the pod's iptables redirection (init container)", flags: [] },
};
