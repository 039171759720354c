/**
 * `weft install` and `weft upgrade`: flags -> (cluster checks) -> PKI -> render -> YAML on stdout.
 *
 * install: refuses when the Gateway API CRDs are missing or unsupported, and when Weft is already
 *          installed (a second install would replace the trust anchor every proxy trusts);
 *          --ignore-cluster renders without contacting a cluster.
 * upgrade: reads the install values, the issuer (with its anchors) and the webhook certificates from
 *          the cluster and renders the same objects with the new version, so applying it keeps every
 *          running proxy's trust. Flags given on the command line override the stored values.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { V1Secret } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import {
  CONTROL_PLANE_NAMESPACE, CONTROLLER_SERVICE, CONTROLLER_WEBHOOK_TLS_SECRET, DEFAULT_CLUSTER_NETWORKS, DEFAULT_IMAGE, DEFAULT_TRUST_DOMAIN,
  INJECTOR_SERVICE, INJECTOR_TLS_SECRET, ISSUER_SECRET_NAME, TRUST_ANCHORS_CONFIGMAP, WEFT_VERSION,
} from '../../core/contract.js';
import { credentialFromSecretData } from '../../identity/secret.js';
import { INBOUND_POLICIES, PROXY_LOG_LEVELS } from '../../injector/settings.js';
import { connectKube, describeApiError, orAbsent } from '../kube/client.js';
import type { KubeClients } from '../kube/client.js';
import { loadCrds } from './crds.js';
import { judgeGatewayApi, REQUIRED_GATEWAY_CRDS } from './gateway-api.js';
import type { CrdLike } from './gateway-api.js';
import { buildPki, PkiError, webhookDnsNames, webhookTlsProblem } from './pki.js';
import type { PkiInputs } from './pki.js';
import { INSTALL_CONFIGMAP, renderInstall } from './render.js';
import type { InstallValues, KubeObject, RenderOptions, WebhookTls } from './render.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const stdio: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

type Mode = 'install' | 'upgrade';

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

export function usage(mode: Mode): string {
  const head = mode === 'install'
    ? `Usage: weft install --crds | kubectl apply --server-side -f -
       weft install [flags] | kubectl apply --server-side -f -

With --crds, prints only Weft's CRDs (apply them first). Without it, prints the rest: the weft-system
namespace, RBAC, the trust anchor, issuer and webhook certificates, the controller and injector, and
the webhook configurations. Checks the cluster first (Gateway API CRDs present and supported, Weft's
CRDs applied, Weft not installed yet) unless --ignore-cluster is given. The same inputs (anchor,
issuer or external issuer, and webhook certificates from the cluster or the flags) give the same bytes.`
    : `Usage: weft upgrade --crds | kubectl apply --server-side -f -
       weft upgrade [flags] | kubectl apply --server-side -f -

With --crds, prints only this version's CRDs (apply them first). Without it, prints the manifests of this version of Weft with the trust anchor, issuer and install settings read
from the cluster, so applying them never replaces the anchor running proxies trust. Flags override
the stored settings.`;
  return `${head}

Flags:
  --image IMAGE                      the Weft image (default ${DEFAULT_IMAGE})
  --ha, --no-ha                      2 replicas per component, PodDisruptionBudgets, webhook failurePolicy Fail (default off: Ignore)
  --trust-domain TD                  SPIFFE trust domain (default ${DEFAULT_TRUST_DOMAIN})
  --cluster-networks CIDRS           comma-separated cluster networks (default ${DEFAULT_CLUSTER_NETWORKS.join(',')})
  --identity-trust-anchor FILE       PEM of an existing trust anchor (certificate) to use instead of generating one
  --identity-trust-anchor-key FILE   its private key, to sign a new issuer
  --identity-issuer FILE             PEM of an existing issuer certificate (signed by the trust anchor)
  --identity-issuer-key FILE         its private key
  --identity-external-issuer         the issuer Secret ${CONTROL_PLANE_NAMESPACE}/${ISSUER_SECRET_NAME} (ca.crt, tls.crt, tls.key) is
                                     managed outside Weft (cert-manager): read from the cluster, never rendered
  --injector-tls DIR                 the injector's webhook certificate: DIR/ca.crt, DIR/tls.crt, DIR/tls.key
  --controller-webhook-tls DIR       the controller's webhook certificate, the same layout
                                     (default: kept from the cluster when present and valid, else generated)
  --controller-log-level LEVEL       ${LOG_LEVELS.join(', ')} (default info)
  --proxy-log-level LEVEL            ${PROXY_LOG_LEVELS.join(', ')} (default info)
  --default-inbound-policy POLICY    ${INBOUND_POLICIES.join(', ')} (default all-unauthenticated)
  --crds                             print only Weft's CRDs
${mode === 'install' ? '  --ignore-cluster                   render without contacting a cluster (GitOps)\n' : ''}  --kubeconfig PATH, --context NAME  which cluster (default: KUBECONFIG, ~/.kube/config)
  -o, --output yaml|json             output format (default yaml)
  -h, --help                         this help
`;
}

interface Parsed {
  readonly values: Partial<InstallValues>;
  readonly anchorCert?: string | undefined;
  readonly anchorKey?: string | undefined;
  readonly issuerCert?: string | undefined;
  readonly issuerKey?: string | undefined;
  readonly injectorTls?: WebhookTls | undefined;
  readonly controllerWebhookTls?: WebhookTls | undefined;
  readonly crds: boolean;
  readonly ignoreCluster: boolean;
  readonly kubeconfig?: string | undefined;
  readonly context?: string | undefined;
  readonly output: 'yaml' | 'json';
}

export type ParseOutcome = { readonly ok: true; readonly parsed: Parsed } | { readonly ok: false; readonly help: boolean; readonly errors: readonly string[] };

export function parseInstallArgs(mode: Mode, argv: readonly string[]): ParseOutcome {
  let v: Record<string, string | boolean | undefined>;
  try {
    ({ values: v } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      allowNegative: true,
      options: {
        image: { type: 'string' },
        ha: { type: 'boolean' },
        'trust-domain': { type: 'string' },
        'cluster-networks': { type: 'string' },
        'identity-trust-anchor': { type: 'string' },
        'identity-trust-anchor-key': { type: 'string' },
        'identity-issuer': { type: 'string' },
        'identity-issuer-key': { type: 'string' },
        'identity-external-issuer': { type: 'boolean' },
        'injector-tls': { type: 'string' },
        'controller-webhook-tls': { type: 'string' },
        crds: { type: 'boolean' },
        'controller-log-level': { type: 'string' },
        'proxy-log-level': { type: 'string' },
        'default-inbound-policy': { type: 'string' },
        ...(mode === 'install' ? { 'ignore-cluster': { type: 'boolean' as const } } : {}),
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        output: { type: 'string', short: 'o' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return { ok: false, help: false, errors: [(err as Error).message] };
  }
  if (v['help'] === true) return { ok: false, help: true, errors: [] };
  const errors: string[] = [];
  const str = (k: string) => (typeof v[k] === 'string' ? v[k] : undefined);
  const oneOf = (k: string, allowed: readonly string[]) => {
    const s = str(k);
    if (s !== undefined && !allowed.includes(s)) errors.push(`--${k}: ${JSON.stringify(s)} is not one of ${allowed.join(', ')}`);
    return s;
  };
  const file = (k: string) => {
    const path = str(k);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      errors.push(`--${k}: cannot read ${path}: ${(err as Error).message}`);
      return undefined;
    }
  };
  /** A directory in the layout of a kubernetes.io/tls Secret with its CA: ca.crt, tls.crt, tls.key. */
  const tlsDir = (k: string): WebhookTls | undefined => {
    const dir = str(k);
    if (dir === undefined) return undefined;
    const read = (name: string) => {
      try {
        return readFileSync(join(dir, name), 'utf8');
      } catch (err) {
        errors.push(`--${k}: cannot read ${join(dir, name)}: ${(err as Error).message}`);
        return undefined;
      }
    };
    const caPem = read('ca.crt');
    const certPem = read('tls.crt');
    const keyPem = read('tls.key');
    return caPem !== undefined && certPem !== undefined && keyPem !== undefined ? { caPem, certPem, keyPem } : undefined;
  };
  const trustDomain = str('trust-domain');
  if (trustDomain !== undefined && !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(trustDomain)) errors.push(`--trust-domain: ${JSON.stringify(trustDomain)} is not a lower-case DNS name`);
  const networks = str('cluster-networks')?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const n of networks ?? []) if (!/^[0-9a-fA-F.:]+\/\d{1,3}$/.test(n)) errors.push(`--cluster-networks: ${JSON.stringify(n)} is not a CIDR`);
  const output = str('output') ?? 'yaml';
  if (output !== 'yaml' && output !== 'json') errors.push(`--output: ${JSON.stringify(output)} is not yaml or json`);
  const values: Partial<InstallValues> = {
    ...(str('image') !== undefined ? { image: str('image') } : {}),
    ...(typeof v['ha'] === 'boolean' ? { ha: v['ha'] } : {}),
    ...(trustDomain !== undefined ? { trustDomain } : {}),
    ...(networks !== undefined ? { clusterNetworks: networks } : {}),
    ...(oneOf('controller-log-level', LOG_LEVELS) !== undefined ? { controllerLogLevel: str('controller-log-level') } : {}),
    ...(oneOf('proxy-log-level', PROXY_LOG_LEVELS) !== undefined ? { proxyLogLevel: str('proxy-log-level') } : {}),
    ...(oneOf('default-inbound-policy', INBOUND_POLICIES) !== undefined ? { defaultInboundPolicy: str('default-inbound-policy') } : {}),
    ...(typeof v['identity-external-issuer'] === 'boolean' ? { externalIssuer: v['identity-external-issuer'] } : {}),
  } as Partial<InstallValues>;
  const parsed: Parsed = {
    values,
    anchorCert: file('identity-trust-anchor'),
    anchorKey: file('identity-trust-anchor-key'),
    issuerCert: file('identity-issuer'),
    issuerKey: file('identity-issuer-key'),
    injectorTls: tlsDir('injector-tls'),
    controllerWebhookTls: tlsDir('controller-webhook-tls'),
    crds: v['crds'] === true,
    ignoreCluster: v['ignore-cluster'] === true,
    kubeconfig: str('kubeconfig'),
    context: str('context'),
    output: output === 'json' ? 'json' : 'yaml',
  };
  if ((str('identity-issuer') === undefined) !== (str('identity-issuer-key') === undefined)) {
    errors.push('--identity-issuer and --identity-issuer-key go together');
  }
  if (str('identity-trust-anchor-key') !== undefined && str('identity-trust-anchor') === undefined) {
    errors.push('--identity-trust-anchor-key needs --identity-trust-anchor');
  }
  if (v['identity-external-issuer'] === true && (str('identity-issuer') !== undefined || str('identity-trust-anchor-key') !== undefined)) {
    errors.push('--identity-external-issuer: the issuer and its key live in the external Secret; --identity-issuer(-key) and --identity-trust-anchor-key do not apply');
  }
  if (errors.length > 0) return { ok: false, help: false, errors };
  return { ok: true, parsed };
}

export const DEFAULT_VALUES: InstallValues = {
  image: DEFAULT_IMAGE,
  ha: false,
  trustDomain: DEFAULT_TRUST_DOMAIN,
  clusterNetworks: DEFAULT_CLUSTER_NETWORKS,
  controllerLogLevel: 'info',
  proxyLogLevel: 'info',
  defaultInboundPolicy: 'all-unauthenticated',
  externalIssuer: false,
};

export function formatObjects(objects: readonly KubeObject[], output: 'yaml' | 'json', header: string): string {
  if (output === 'json') return `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`;
  // No anchors/aliases: objects share sub-objects (security contexts, selectors), which yaml would
  // otherwise print once with &a1 and refer to as *a1, something many GitOps tools reject.
  return `# ${header}\n${objects.map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n')}`;
}

class UserError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
  }
}

async function readGatewayCrds(kube: KubeClients): Promise<Record<string, CrdLike | undefined>> {
  const out: Record<string, CrdLike | undefined> = {};
  for (const name of REQUIRED_GATEWAY_CRDS) out[name] = await orAbsent(kube.ext.readCustomResourceDefinition({ name }));
  return out;
}

function secretText(secret: V1Secret | undefined, key: string): string | undefined {
  const v = secret?.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

function webhookTlsOf(secret: V1Secret | undefined): WebhookTls | undefined {
  const certPem = secretText(secret, 'tls.crt');
  const keyPem = secretText(secret, 'tls.key');
  const caPem = secretText(secret, 'ca.crt');
  return certPem !== undefined && keyPem !== undefined && caPem !== undefined ? { certPem, keyPem, caPem } : undefined;
}

/** The webhook certificates in the cluster, when present (kept by buildPki while valid). */
async function readWebhookTls(kube: KubeClients): Promise<Pick<PkiInputs, 'injectorTls' | 'controllerWebhookTls'>> {
  const ns = CONTROL_PLANE_NAMESPACE;
  return {
    injectorTls: webhookTlsOf(await orAbsent(kube.core.readNamespacedSecret({ name: INJECTOR_TLS_SECRET, namespace: ns }))),
    controllerWebhookTls: webhookTlsOf(await orAbsent(kube.core.readNamespacedSecret({ name: CONTROLLER_WEBHOOK_TLS_SECRET, namespace: ns }))),
  };
}

/** What upgrade reads back: the stored values and the PKI inputs that must survive. */
async function readInstalled(kube: KubeClients): Promise<{ values: Partial<InstallValues>; pki: Omit<PkiInputs, 'trustDomain'> }> {
  const ns = CONTROL_PLANE_NAMESPACE;
  const issuerSecret = await orAbsent(kube.core.readNamespacedSecret({ name: ISSUER_SECRET_NAME, namespace: ns }));
  if (issuerSecret === undefined) {
    throw new UserError(`Weft is not installed in this cluster (no Secret ${ns}/${ISSUER_SECRET_NAME})`, 'run `weft install | kubectl apply --server-side -f -` first');
  }
  const issuer = credentialFromSecretData({ data: issuerSecret.data }, `Secret ${ns}/${ISSUER_SECRET_NAME}`);
  const anchorsCm = await orAbsent(kube.core.readNamespacedConfigMap({ name: TRUST_ANCHORS_CONFIGMAP, namespace: ns }));
  const valuesCm = await orAbsent(kube.core.readNamespacedConfigMap({ name: INSTALL_CONFIGMAP, namespace: ns }));
  let values: Partial<InstallValues> = {};
  const json = valuesCm?.data?.['values.json'];
  if (json !== undefined) {
    try {
      values = JSON.parse(json) as Partial<InstallValues>;
      delete (values as { image?: string }).image; // a new version brings its own image unless --image says otherwise
    } catch {
      throw new UserError(`ConfigMap ${ns}/${INSTALL_CONFIGMAP} holds invalid values.json`);
    }
  }
  return {
    values,
    pki: {
      anchorCertPem: anchorsCm?.data?.['ca.crt'] ?? issuer.anchorsPem,
      issuer: { certPem: issuer.certPem, keyPem: issuer.keyPem },
      ...await readWebhookTls(kube),
    },
  };
}

export async function runInstallCommand(mode: Mode, argv: readonly string[], io: Io = stdio): Promise<number> {
  const outcome = parseInstallArgs(mode, argv);
  if (!outcome.ok) {
    if (outcome.help) {
      io.out(usage(mode));
      return 0;
    }
    io.err(`weft ${mode}: ${outcome.errors.join('\n  ')}\n\nRun \`weft ${mode} --help\` for the flags.\n`);
    return 2;
  }
  const p = outcome.parsed;
  try {
    if (p.crds) {
      io.out(formatObjects(loadCrds(), p.output, `Weft ${WEFT_VERSION}: Weft's CRDs, generated by \`weft ${mode} --crds\`; apply with kubectl apply --server-side -f - before \`weft ${mode}\``));
      return 0;
    }
    let stored: Partial<InstallValues> = {};
    let pkiInputs: Omit<PkiInputs, 'trustDomain'> = {
      anchorCertPem: p.anchorCert, anchorKeyPem: p.anchorKey,
      issuer: p.issuerCert !== undefined && p.issuerKey !== undefined ? { certPem: p.issuerCert, keyPem: p.issuerKey } : undefined,
    };
    const externalFlag = p.values.externalIssuer === true;
    if (!p.ignoreCluster) {
      let kube: KubeClients;
      try {
        kube = connectKube({ kubeconfig: p.kubeconfig, context: p.context });
      } catch (err) {
        throw new UserError(`cannot load the kubeconfig: ${(err as Error).message}`,
          mode === 'install' ? 'pass --kubeconfig, set KUBECONFIG, or render offline with --ignore-cluster' : 'pass --kubeconfig or set KUBECONFIG');
      }
      try {
        await kube.version.getCode();
      } catch (err) {
        throw new UserError(`cannot reach the Kubernetes API at ${kube.server}: ${describeApiError(err)}`,
          mode === 'install' ? 'check your kubeconfig, or render offline with --ignore-cluster' : 'check your kubeconfig and context');
      }
      const verdict = judgeGatewayApi(await readGatewayCrds(kube));
      if (!verdict.ok) throw new UserError(verdict.problem, verdict.hint);
      const missingCrds: string[] = [];
      for (const crd of loadCrds()) {
        if (await orAbsent(kube.ext.readCustomResourceDefinition({ name: crd.metadata.name })) === undefined) missingCrds.push(crd.metadata.name);
      }
      if (missingCrds.length > 0) {
        throw new UserError(`Weft's CRDs are not all applied (missing: ${missingCrds.join(', ')})`,
          `run \`weft ${mode} --crds | kubectl apply --server-side -f -\` first`);
      }
      if (mode === 'install') {
        const ns = CONTROL_PLANE_NAMESPACE;
        const issuerSecret = await orAbsent(kube.core.readNamespacedSecret({ name: ISSUER_SECRET_NAME, namespace: ns }));
        if (externalFlag) {
          if (issuerSecret === undefined) {
            throw new UserError(`--identity-external-issuer: there is no Secret ${ns}/${ISSUER_SECRET_NAME} to read the issuer from`,
              `create it first (cert-manager: a Certificate with isCA: true and secretName ${ISSUER_SECRET_NAME} in ${ns}, issued by your trust anchor), or render offline with --ignore-cluster --identity-trust-anchor FILE`);
          }
          if (await orAbsent(kube.core.readNamespacedConfigMap({ name: TRUST_ANCHORS_CONFIGMAP, namespace: ns })) !== undefined) {
            throw new UserError('Weft is already installed in this cluster', 'run `weft upgrade | kubectl apply --server-side -f -` instead');
          }
          let cred;
          try {
            cred = credentialFromSecretData({ data: issuerSecret.data }, `Secret ${ns}/${ISSUER_SECRET_NAME}`);
          } catch (err) {
            throw new UserError(`--identity-external-issuer: ${(err as Error).message}`);
          }
          pkiInputs = { ...pkiInputs, anchorCertPem: p.anchorCert ?? cred.anchorsPem, issuer: { certPem: cred.certPem, keyPem: cred.keyPem } };
        } else if (issuerSecret !== undefined) {
          throw new UserError('Weft is already installed in this cluster: installing again would replace the trust anchor every proxy trusts',
            'run `weft upgrade | kubectl apply --server-side -f -` instead');
        }
        pkiInputs = { ...pkiInputs, ...await readWebhookTls(kube) };
      } else {
        const installed = await readInstalled(kube);
        stored = installed.values;
        pkiInputs = {
          ...installed.pki,
          // A new issuer may be given on upgrade (rotation); it must chain to the stored anchors.
          ...(pkiInputs.issuer !== undefined ? { issuer: pkiInputs.issuer } : {}),
          ...(p.anchorCert !== undefined ? { anchorCertPem: p.anchorCert } : {}),
        };
      }
    }
    const values: InstallValues = { ...DEFAULT_VALUES, ...stored, ...p.values };
    const now = new Date();
    // Certificates given by flag are used as they are, or refused: never silently replaced.
    for (const [flag, tls, service] of [['injector-tls', p.injectorTls, INJECTOR_SERVICE], ['controller-webhook-tls', p.controllerWebhookTls, CONTROLLER_SERVICE]] as const) {
      if (tls === undefined) continue;
      const dnsName = webhookDnsNames(service)[0] ?? '';
      const problem = webhookTlsProblem(tls, dnsName, now);
      if (problem !== undefined) throw new UserError(`--${flag}: ${problem}`, `give a certificate for ${webhookDnsNames(service).join(' and ')} signed by ca.crt, valid for more than 30 days`);
    }
    pkiInputs = {
      ...pkiInputs,
      ...(p.injectorTls !== undefined ? { injectorTls: p.injectorTls } : {}),
      ...(p.controllerWebhookTls !== undefined ? { controllerWebhookTls: p.controllerWebhookTls } : {}),
    };
    const pki = await buildPki({ ...pkiInputs, externalIssuer: values.externalIssuer, trustDomain: values.trustDomain, now });
    const options: RenderOptions = { ...values, crds: [] };
    io.out(formatObjects(renderInstall(options, pki), p.output, `Weft ${WEFT_VERSION}: generated by \`weft ${mode}\` (CRDs: \`weft ${mode} --crds\`); apply with kubectl apply --server-side -f -`));
    return 0;
  } catch (err) {
    if (err instanceof UserError) {
      io.err(`weft ${mode}: ${err.message}\n${err.hint !== undefined ? `  fix: ${err.hint}\n` : ''}`);
      return 1;
    }
    if (err instanceof PkiError) {
      io.err(`weft ${mode}: ${err.message}\n`);
      return 1;
    }
    io.err(`weft ${mode}: ${describeApiError(err)}\n`);
    return 1;
  }
}
