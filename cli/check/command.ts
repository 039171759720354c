/**
 * `weft check`: runs named checks against the cluster and prints each as passed or failed, with the
 * problem and a fix for each failure; exits 1 when any failed.
 *
 *   --pre       before install: API reachable, Gateway API CRDs, permission to install, no Weft yet
 *   (default)   after install: API, Gateway API and Weft CRDs, control plane ready, webhooks answering
 *               the API server, certificates valid and not expiring soon
 *               and the gateways (./gateways.ts): Weft's GatewayClasses, Gateways, their proxies, listeners
 *               and attached routes, from the status the controller wrote
 *   -n NS       also the data plane of NS: proxies ready and on this version, pods missing the proxy
 *   --wait D    retry until every check passes or D (e.g. 2m) elapses
 */
import { X509Certificate } from 'node:crypto';
import { AuthorizationV1Api } from '@kubernetes/client-node';
import type { V1CustomResourceDefinition, V1Deployment } from '@kubernetes/client-node';
import {
  CONTROL_PLANE_NAMESPACE, CONTROLLER_NAME, CONTROLLER_SERVICE, CONTROLLER_WEBHOOK_TLS_SECRET, GATEWAY_API_GROUP, GATEWAY_CONTROLLER_NAME, INJECT_ANNOTATION, INJECT_ENABLED,
  INJECTOR_NAME, INJECTOR_SERVICE, INJECTOR_TLS_SECRET, ISSUER_SECRET_NAME, MUTATING_WEBHOOK_CONFIGURATION, PROXY_CONTAINER_NAME,
  TRUST_ANCHORS_CONFIGMAP, VALIDATING_WEBHOOK_CONFIGURATION, WEFT_VERSION,
} from '../../core/contract.js';
import { CertificateAuthority } from '../../identity/ca.js';
import { splitCertificates } from '../../identity/pem.js';
import { credentialFromSecretData } from '../../identity/secret.js';
import { parseVerb, reportParse, usageError } from '../args.js';
import { loadCrds } from '../install/crds.js';
import { stdio } from '../install/command.js';
import type { Io } from '../install/command.js';
import { judgeGatewayApi, REQUIRED_GATEWAY_CRDS } from '../install/gateway-api.js';
import { RENEW_BEFORE_MS, webhookDnsNames, webhookTlsUsable } from '../install/pki.js';
import { connectKube, orAbsent } from '../kube/client.js';
import type { KubeClients } from '../kube/client.js';
import { dataPlaneFindings, failureAccrualFindings } from './data-plane.js';
import { gatewayFindings, type DeploymentLike, type Finding, type GatewayFindings, type GatewayRouteLike } from './gateways.js';
import { ApiError, apiJson } from '../observe/cluster.js';
import type { Gateway, GatewayClass } from '../../core/gateway/types.js';
import { judgeKubernetesVersion, judgeOtherInjectors, judgePodSecurity, MIN_KUBERNETES_MINOR } from './pre.js';
import type { Verdict } from './pre.js';
import type { PodWithStatus } from './data-plane.js';

export type CheckResult =
  | { readonly ok: true; readonly detail?: string }
  /**
   * warning: a problem of the user's objects (a refused route, an invalid listener) that Weft reports
   * but that does not make the mesh unhealthy: printed with ‼, it does not fail `weft check`.
   */
  | { readonly ok: false; readonly problem: string; readonly hint: string; readonly warning?: true };

/** A failed result that counts against the exit code (not a warning). */
const failing = (r: CheckResult) => !r.ok && r.warning !== true;

export interface Check {
  readonly section: string;
  readonly name: string;
  run(kube: KubeClients): Promise<CheckResult>;
}

const pass = (detail?: string): CheckResult => (detail === undefined ? { ok: true } : { ok: true, detail });
const verdict = (v: Verdict): CheckResult => (v.ok ? pass(v.detail) : fail(v.problem, v.hint));
const fail = (problem: string, hint: string): CheckResult => ({ ok: false, problem, hint });
const NS = CONTROL_PLANE_NAMESPACE;
const DAY_MS = 86_400_000;
/** The anchor is replaced by hand and every proxy must learn the new one first: warn early. */
const ANCHOR_WARN_MS = 60 * DAY_MS;

const crdEstablished = (crd: V1CustomResourceDefinition | undefined) =>
  crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') === true;

function certProblem(pem: string, what: string, minRemainingMs: number, now: Date): string | undefined {
  const first = splitCertificates(pem)[0];
  if (first === undefined) return `${what} holds no PEM certificate`;
  const cert = new X509Certificate(first);
  const left = new Date(cert.validTo).getTime() - now.getTime();
  if (left <= 0) return `${what} expired at ${new Date(cert.validTo).toISOString()}`;
  if (left < minRemainingMs) return `${what} expires in ${Math.floor(left / DAY_MS)} days (${new Date(cert.validTo).toISOString()})`;
  return undefined;
}

function deploymentReady(name: string): Check {
  return {
    section: 'control-plane',
    name: `${name} is available`,
    async run(kube) {
      const d: V1Deployment | undefined = await orAbsent(kube.apps.readNamespacedDeployment({ name, namespace: NS }));
      if (d === undefined) return fail(`Deployment ${NS}/${name} does not exist`, 'weft install | kubectl apply --server-side -f -');
      const want = d.spec?.replicas ?? 1;
      const ready = d.status?.readyReplicas ?? 0;
      if (want === 0) return fail(`Deployment ${NS}/${name} is scaled to 0`, `kubectl -n ${NS} scale deploy/${name} --replicas=1`);
      if (ready < 1) {
        return fail(`Deployment ${NS}/${name} has no ready pod (0/${want})`, `kubectl -n ${NS} describe pods -l app.kubernetes.io/name=${name}; kubectl -n ${NS} logs deploy/${name}`);
      }
      return pass(`${ready}/${want} ready`);
    },
  };
}

function apiCheck(): Check {
  return {
    section: 'kubernetes-api',
    name: 'can reach the Kubernetes API',
    async run(kube) {
      try {
        const v = await kube.version.getCode();
        return pass(`${kube.server}, ${v.gitVersion}`);
      } catch (err) {
        return fail(kube.describe(err), 'check your kubeconfig (--kubeconfig, --context, KUBECONFIG)');
      }
    },
  };
}

function gatewayCheck(): Check {
  return {
    section: 'gateway-api',
    name: 'Gateway API CRDs are installed and supported',
    async run(kube) {
      const crds: Record<string, V1CustomResourceDefinition | undefined> = {};
      for (const name of REQUIRED_GATEWAY_CRDS) crds[name] = await orAbsent(kube.ext.readCustomResourceDefinition({ name }));
      const v = judgeGatewayApi(crds);
      if (!v.ok) return fail(v.problem, v.hint);
      const notEstablished = REQUIRED_GATEWAY_CRDS.filter((n) => !crdEstablished(crds[n]));
      if (notEstablished.length > 0) return fail(`CRDs not Established: ${notEstablished.join(', ')}`, `kubectl describe crd ${notEstablished.join(' ')}`);
      return pass(v.detail);
    },
  };
}

function preChecks(): Check[] {
  const can = (verb: string, group: string, resource: string, label: string): Check => ({
    section: 'pre-install',
    name: `can ${verb} ${label}`,
    async run(kube) {
      const authz = kube.kc.makeApiClient(AuthorizationV1Api);
      const r = await authz.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { verb, group, resource } } } });
      return r.status?.allowed === true ? pass() : fail(`you may not ${verb} ${label}`, 'install Weft as a cluster administrator');
    },
  });
  return [
    can('create', 'apiextensions.k8s.io', 'customresourcedefinitions', 'CustomResourceDefinitions'),
    can('create', 'rbac.authorization.k8s.io', 'clusterroles', 'ClusterRoles'),
    can('create', 'admissionregistration.k8s.io', 'mutatingwebhookconfigurations', 'MutatingWebhookConfigurations'),
    {
      section: 'pre-install',
      name: `Kubernetes is 1.${MIN_KUBERNETES_MINOR} or newer (native sidecars)`,
      async run(kube) {
        return verdict(judgeKubernetesVersion(await kube.version.getCode()));
      },
    },
    {
      section: 'pre-install',
      name: 'Pod Security lets proxy-init run in namespaces annotated for injection',
      async run(kube) {
        return verdict(judgePodSecurity((await kube.core.listNamespace()).items));
      },
    },
    {
      section: 'pre-install',
      name: 'no other sidecar injector',
      async run(kube) {
        return verdict(judgeOtherInjectors((await kube.admission.listMutatingWebhookConfiguration()).items));
      },
    },
    {
      section: 'pre-install',
      name: 'Weft is not installed yet',
      async run(kube) {
        const s = await orAbsent(kube.core.readNamespacedSecret({ name: ISSUER_SECRET_NAME, namespace: NS }));
        return s === undefined ? pass() : fail(`Weft is already installed (Secret ${NS}/${ISSUER_SECRET_NAME} exists)`, 'use weft upgrade, and weft check without --pre');
      },
    },
  ];
}

function controlPlaneChecks(): Check[] {
  const weftCrds = loadCrds().map((c) => c.metadata.name);
  return [
    {
      section: 'weft-crds',
      name: `Weft's CRDs are installed and Established (${weftCrds.length})`,
      async run(kube) {
        const bad: string[] = [];
        for (const name of weftCrds) if (!crdEstablished(await orAbsent(kube.ext.readCustomResourceDefinition({ name })))) bad.push(name);
        return bad.length === 0 ? pass() : fail(`missing or not Established: ${bad.join(', ')}`, 'weft install --crds | kubectl apply --server-side -f - (or weft upgrade --crds for an existing install)');
      },
    },
    {
      section: 'control-plane',
      name: `namespace ${NS} exists`,
      async run(kube) {
        return (await orAbsent(kube.core.readNamespace({ name: NS }))) !== undefined ? pass() : fail(`namespace ${NS} does not exist`, 'weft install | kubectl apply --server-side -f -');
      },
    },
    deploymentReady(CONTROLLER_NAME),
    deploymentReady(INJECTOR_NAME),
    {
      section: 'certificates',
      name: 'trust anchors and issuer are valid and not expiring soon',
      async run(kube) {
        const now = new Date();
        const cm = await orAbsent(kube.core.readNamespacedConfigMap({ name: TRUST_ANCHORS_CONFIGMAP, namespace: NS }));
        const anchors = cm?.data?.['ca.crt'];
        if (anchors === undefined) return fail(`ConfigMap ${NS}/${TRUST_ANCHORS_CONFIGMAP} is missing or has no ca.crt`, 'weft upgrade | kubectl apply --server-side -f -');
        const anchorProblem = certProblem(anchors, 'the trust anchor', ANCHOR_WARN_MS, now);
        if (anchorProblem !== undefined) return fail(anchorProblem, 'rotate the trust anchor: add the new anchor to the bundle, restart proxies, then replace the issuer');
        const secret = await orAbsent(kube.core.readNamespacedSecret({ name: ISSUER_SECRET_NAME, namespace: NS }));
        if (secret === undefined) return fail(`Secret ${NS}/${ISSUER_SECRET_NAME} is missing`, 'weft upgrade | kubectl apply --server-side -f -');
        try {
          const cred = credentialFromSecretData({ data: secret.data }, `Secret ${NS}/${ISSUER_SECRET_NAME}`);
          CertificateAuthority.load({ ...cred, anchorsPem: anchors }, now);
          const p = certProblem(cred.certPem, 'the issuer', RENEW_BEFORE_MS, now);
          if (p !== undefined) return fail(p, 'issue a new issuer from the trust anchor and run weft upgrade --identity-issuer FILE --identity-issuer-key FILE');
        } catch (err) {
          return fail(`the issuer does not chain to the trust anchors proxies trust: ${(err as Error).message}`, 'weft upgrade --identity-issuer FILE --identity-issuer-key FILE with an issuer signed by the anchor');
        }
        return pass();
      },
    },
    webhookCertCheck(INJECTOR_TLS_SECRET, INJECTOR_SERVICE, MUTATING_WEBHOOK_CONFIGURATION, 'mutating'),
    webhookCertCheck(CONTROLLER_WEBHOOK_TLS_SECRET, CONTROLLER_SERVICE, VALIDATING_WEBHOOK_CONFIGURATION, 'validating'),
  ];
}

function webhookCertCheck(secretName: string, service: string, config: string, kind: 'mutating' | 'validating'): Check {
  return {
    section: 'webhooks',
    name: `${config}: its CA bundle trusts ${service}'s certificate, valid for 30+ days`,
    async run(kube) {
      const hooks = kind === 'mutating'
        ? (await orAbsent(kube.admission.readMutatingWebhookConfiguration({ name: config })))?.webhooks
        : (await orAbsent(kube.admission.readValidatingWebhookConfiguration({ name: config })))?.webhooks;
      if (hooks === undefined || hooks.length === 0) return fail(`${kind} webhook configuration ${config} is missing`, 'weft upgrade | kubectl apply --server-side -f -');
      const secret = await orAbsent(kube.core.readNamespacedSecret({ name: secretName, namespace: NS }));
      const text = (k: string) => (secret?.data?.[k] === undefined ? undefined : Buffer.from(secret.data[k], 'base64').toString('utf8'));
      const certPem = text('tls.crt');
      const keyPem = text('tls.key');
      if (certPem === undefined || keyPem === undefined) return fail(`Secret ${NS}/${secretName} is missing or incomplete`, 'weft upgrade | kubectl apply --server-side -f -');
      for (const h of hooks) {
        const caPem = Buffer.from(h.clientConfig.caBundle ?? '', 'base64').toString('utf8');
        if (!webhookTlsUsable({ certPem, keyPem, caPem }, webhookDnsNames(service)[0] ?? '', new Date())) {
          return fail(`webhook ${h.name}: the certificate in ${secretName} is not trusted by the CA bundle, not for ${service}, or expires within 30 days`,
            'weft upgrade | kubectl apply --server-side -f - (renews webhook certificates), then kubectl -n weft-system rollout restart deploy');
        }
      }
      return pass();
    },
  };
}

/** The API server calls the injector for a dry-run pod: proves Service, endpoints, TLS and caBundle. */
function injectorAnswersCheck(namespace: string): Check {
  return {
    section: 'webhooks',
    name: `the API server's call to the injector injects a dry-run pod (namespace ${namespace})`,
    async run(kube) {
      const pod = await kube.core.createNamespacedPod({
        namespace,
        dryRun: 'All',
        body: {
          apiVersion: 'v1', kind: 'Pod',
          metadata: { generateName: 'weft-check-', annotations: { [INJECT_ANNOTATION]: INJECT_ENABLED } },
          spec: { containers: [{ name: 'check', image: 'registry.k8s.io/pause:3.10' }] },
        },
      });
      const names = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => c.name);
      if (names.includes(PROXY_CONTAINER_NAME)) return pass();
      return fail('a dry-run pod annotated weft.dev/inject=enabled came back without the proxy: the API server could not call the injector (failurePolicy Ignore let the pod through)',
        `kubectl -n ${NS} get endpointslices -l kubernetes.io/service-name=${INJECTOR_SERVICE}; kubectl -n ${NS} logs deploy/${INJECTOR_NAME}`);
    },
  };
}

function dataPlaneChecks(namespace: string): Check[] {
  const load = async (kube: KubeClients) => {
    const ns = await orAbsent(kube.core.readNamespace({ name: namespace }));
    if (ns === undefined) return undefined;
    const pods = await kube.core.listNamespacedPod({ namespace });
    return dataPlaneFindings(pods.items as unknown as PodWithStatus[], { name: namespace, annotations: ns.metadata?.annotations ?? {} }, WEFT_VERSION);
  };
  const missingNs = fail(`namespace ${namespace} does not exist`, 'check the name given to -n');
  return [
    {
      section: `data-plane (${namespace})`,
      name: 'every pod that should have the proxy has it',
      async run(kube) {
        const f = await load(kube);
        if (f === undefined) return missingNs;
        if (f.missingProxy.length > 0) {
          return fail(`pods without the proxy although weft.dev/inject is enabled (created while the injector was not answering?): ${f.missingProxy.join(', ')}`,
            `recreate them once weft check passes: kubectl -n ${namespace} rollout restart deploy (or delete the pods)`);
        }
        const skipped = f.skipped.map((s) => `${s.pod} (${s.reason})`).join('; ');
        return pass(`${f.meshed.length} meshed${skipped !== '' ? `; skipped by the injector: ${skipped}` : ''}`);
      },
    },
    {
      section: `data-plane (${namespace})`,
      name: 'meshed pods have a ready proxy',
      async run(kube) {
        const f = await load(kube);
        if (f === undefined) return missingNs;
        return f.proxyNotReady.length === 0 ? pass()
          : fail(`proxy not ready in: ${f.proxyNotReady.join(', ')}`, `kubectl -n ${namespace} logs POD -c ${PROXY_CONTAINER_NAME}; weft check (control plane)`);
      },
    },
    {
      section: `data-plane (${namespace})`,
      name: 'Service failure-accrual annotations are valid',
      async run(kube) {
        if ((await orAbsent(kube.core.readNamespace({ name: namespace }))) === undefined) return missingNs;
        const bad = failureAccrualFindings((await kube.core.listNamespacedService({ namespace })).items);
        return bad.length === 0 ? pass()
          : fail(`circuit breaking is off for ${bad.map((b) => `svc/${b.service} (${b.problems.join('; ')})`).join(', ')}: a bad value makes the controller apply none of the annotations`,
            `fix the annotation on the Service (docs/proxy.md, "Circuit breaking"), e.g. kubectl -n ${namespace} annotate svc NAME --overwrite config.weft.dev/failure-accrual-max-failures=7`);
      },
    },
    {
      section: `data-plane (${namespace})`,
      name: `meshed pods run proxy version ${WEFT_VERSION}`,
      async run(kube) {
        const f = await load(kube);
        if (f === undefined) return missingNs;
        return f.wrongVersion.length === 0 ? pass()
          : fail(`other proxy versions: ${f.wrongVersion.map((w) => `${w.pod}=${w.version}`).join(', ')}`, `kubectl -n ${namespace} rollout restart deploy (pods get the installed proxy when recreated)`);
      },
    },
  ];
}

async function listOr404<T>(kube: KubeClients, path: string): Promise<T[]> {
  try {
    return (await apiJson<{ items?: T[] }>(kube.kc, path)).items ?? [];
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return [];
    throw err;
  }
}

/** The gateway checks (./gateways.ts), on one listing per run: the first check lists, the others reuse it. */
function gatewayChecks(): Check[] {
  let loading: Promise<GatewayFindings> | undefined;
  const load = async (kube: KubeClients): Promise<GatewayFindings> => {
    const g = `/apis/${GATEWAY_API_GROUP}/v1`;
    const [classes, gateways, deployments, http, grpc] = await Promise.all([
      listOr404<GatewayClass>(kube, `${g}/gatewayclasses`),
      listOr404<Gateway>(kube, `${g}/gateways`),
      listOr404<DeploymentLike>(kube, `/apis/apps/v1/deployments?labelSelector=${encodeURIComponent('app.kubernetes.io/managed-by=weft')}`),
      listOr404<Omit<GatewayRouteLike, 'kind'>>(kube, `${g}/httproutes`),
      listOr404<Omit<GatewayRouteLike, 'kind'>>(kube, `${g}/grpcroutes`),
    ]);
    return gatewayFindings(classes, gateways, deployments, [
      ...http.map((r) => ({ ...r, kind: 'HTTPRoute' as const })), ...grpc.map((r) => ({ ...r, kind: 'GRPCRoute' as const })),
    ]);
  };
  const judge = (list: readonly Finding[], passed: string, warning = false): CheckResult => {
    if (list.length === 0) return pass(passed === '' ? undefined : passed);
    const r = fail(list.map((f) => f.problem).join('\n    '), [...new Set(list.map((f) => f.hint))].join('\n         '));
    return warning && !r.ok ? { ...r, warning: true } : r;
  };
  const section = 'gateways';
  return [
    {
      section, name: `GatewayClasses of ${GATEWAY_CONTROLLER_NAME} are Accepted`,
      async run(kube) {
        loading = load(kube);
        const f = await loading;
        return judge(f.classes, f.classNames.length === 0 ? 'none: no Gateway is Weft\'s' : f.classNames.join(', '));
      },
    },
    {
      section, name: "Weft's accepted Gateways are Programmed (served by a ready proxy)",
      async run(kube) {
        const f = await (loading ?? load(kube));
        return judge(f.gateways, `${f.gatewayNames.length} Gateway${f.gatewayNames.length === 1 ? '' : 's'}`);
      },
    },
    {
      section, name: "Weft's Gateways' specs are valid (Accepted)",
      async run(kube) {
        const f = await (loading ?? load(kube));
        return judge(f.specs, '', true);
      },
    },
    {
      section, name: "each Gateway's proxy Deployment has an available pod",
      async run(kube) {
        const f = await (loading ?? load(kube));
        return judge(f.workloads, `${f.gatewayNames.length} checked`);
      },
    },
    {
      section, name: 'Gateway listeners are accepted, resolved and programmed',
      async run(kube) {
        const f = await (loading ?? load(kube));
        return judge(f.listeners, '', true);
      },
    },
    {
      section, name: "routes attached to Weft's Gateways are Accepted with resolved references",
      async run(kube) {
        const f = await (loading ?? load(kube));
        return judge(f.routes, `${f.routesChecked} route${f.routesChecked === 1 ? '' : 's'}`, true);
      },
    },
  ];
}

export type CheckArgs = { ok: true; pre: boolean; namespace: string | undefined; waitMs: number; output: 'text' | 'json'; kubeconfig: string | undefined; context: string | undefined };

export function parseCheckArgs(argv: readonly string[]): CheckArgs | { ok: false; help: boolean; text: string } {
  const parsed = parseVerb<{ pre?: boolean; namespace?: string; wait?: number; output?: 'text' | 'json'; kubeconfig?: string; context?: string }>('check', argv);
  if (!parsed.ok) return parsed;
  const v = parsed.opts;
  if (v.pre === true && v.namespace !== undefined) return usageError('check', '--pre and --namespace do not go together (the data plane exists only after install)');
  return { ok: true, pre: v.pre === true, namespace: v.namespace, waitMs: v.wait ?? 0, output: v.output ?? 'text', kubeconfig: v.kubeconfig, context: v.context };
}

async function runChecks(kube: KubeClients, checks: readonly Check[]): Promise<{ check: Check; result: CheckResult }[]> {
  const out: { check: Check; result: CheckResult }[] = [];
  for (const check of checks) {
    let result: CheckResult;
    try {
      result = await check.run(kube);
    } catch (err) {
      result = fail(kube.describe(err), 'check that the API server is reachable and that you may read this');
    }
    out.push({ check, result });
    // Nothing else can pass without the API.
    if (!result.ok && check.section === 'kubernetes-api') break;
  }
  return out;
}

export function formatResults(results: readonly { check: Check; result: CheckResult }[]): string {
  const lines: string[] = [];
  let section = '';
  for (const { check, result } of results) {
    if (check.section !== section) {
      section = check.section;
      lines.push(lines.length > 0 ? `\n${section}` : section, '-'.repeat(section.length));
    }
    if (result.ok) lines.push(`√ ${check.name}${result.detail !== undefined ? ` (${result.detail})` : ''}`);
    else lines.push(`${result.warning === true ? '‼' : '×'} ${check.name}`, `    ${result.problem}`, `    fix: ${result.hint}`);
  }
  const failed = results.filter((r) => failing(r.result)).length;
  const warned = results.filter((r) => !r.result.ok && r.result.warning === true).length;
  const warnings = warned === 0 ? '' : `, ${warned} warning${warned === 1 ? '' : 's'}`;
  lines.push('', failed === 0 ? `Status check results are √ (${results.length} checks${warnings})` : `Status check results are × (${failed} of ${results.length} failed${warnings})`, '');
  return lines.join('\n');
}

/** `-o json`: every check with its section, name and outcome (a warning: ok false, warning true), and whether none failed. */
export function formatResultsJson(results: readonly { check: Check; result: CheckResult }[]): string {
  const checks = results.map(({ check, result }) => ({
    section: check.section, name: check.name, ok: result.ok,
    ...(result.ok ? (result.detail !== undefined ? { detail: result.detail } : {}) : { problem: result.problem, hint: result.hint, ...(result.warning === true ? { warning: true } : {}) }),
  }));
  const failed = results.filter((r) => failing(r.result)).length;
  const warnings = results.filter((r) => !r.result.ok && r.result.warning === true).length;
  return `${JSON.stringify({ ok: failed === 0, failed, warnings, checks }, null, 2)}\n`;
}

export async function runCheck(argv: readonly string[], io: Io = stdio): Promise<number> {
  const args = parseCheckArgs(argv);
  if (!args.ok) return reportParse(args, io);
  let kube: KubeClients;
  try {
    kube = connectKube({ kubeconfig: args.kubeconfig, context: args.context });
  } catch (err) {
    io.err(`weft check: ${(err as Error).message}\n`);
    return 1;
  }
  const checks = [apiCheck(), gatewayCheck()];
  if (args.pre) checks.push(...preChecks());
  else {
    checks.push(...controlPlaneChecks(), injectorAnswersCheck(args.namespace ?? 'default'), ...gatewayChecks());
    if (args.namespace !== undefined) checks.push(...dataPlaneChecks(args.namespace));
  }
  const deadline = Date.now() + args.waitMs;
  for (;;) {
    const results = await runChecks(kube, checks);
    const failed = results.some((r) => failing(r.result));
    if (!failed || Date.now() >= deadline) {
      io.out(args.output === 'json' ? formatResultsJson(results) : formatResults(results));
      return failed ? 1 : 0;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}
