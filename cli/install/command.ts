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
import type { V1Secret } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import {
  CONTROL_PLANE_NAMESPACE, CONTROLLER_SERVICE, CONTROLLER_WEBHOOK_TLS_SECRET, DEFAULT_CLUSTER_NETWORKS, DEFAULT_IMAGE, DEFAULT_TRUST_DOMAIN,
  INJECTOR_SERVICE, INJECTOR_TLS_SECRET, ISSUER_SECRET_NAME, TRUST_ANCHORS_CONFIGMAP, WEFT_VERSION,
} from '../../core/contract.js';
import { credentialFromSecretData } from '../../identity/secret.js';
import { parseVerb, reportParse, usageError } from '../args.js';
import { checkCertificatePem, checkImage, pushIf, checkPrivateKeyPem, checkTrustDomain, parseCidrList } from '../validate.js';
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

/** The flags as commander parses them from their definition in cli/verbs.ts (choices checked there). */
interface InstallOpts {
  image?: string; ha?: boolean; trustDomain?: string; clusterNetworks?: string;
  identityTrustAnchor?: string; identityTrustAnchorKey?: string; identityIssuer?: string; identityIssuerKey?: string;
  identityExternalIssuer?: boolean; injectorTls?: string; controllerWebhookTls?: string; crds?: boolean;
  controllerLogLevel?: string; proxyLogLevel?: string; defaultInboundPolicy?: string; ignoreCluster?: boolean;
  kubeconfig?: string; context?: string; output?: 'yaml' | 'json';
}

export type ParseOutcome = { readonly ok: true; readonly parsed: Parsed } | { readonly ok: false; readonly help: boolean; readonly text: string };

export function parseInstallArgs(mode: Mode, argv: readonly string[]): ParseOutcome {
  const outcome = parseVerb<InstallOpts>(mode, argv);
  if (!outcome.ok) return outcome;
  const v = outcome.opts;
  const errors: string[] = [];
  /** Reads a PEM file flag and checks it holds what the flag needs (a certificate or a private key). */
  const file = (flag: string, path: string | undefined, holds: 'certificate' | 'key') => {
    if (path === undefined) return undefined;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      errors.push(`--${flag}: cannot read ${path}: ${(err as Error).message}`);
      return undefined;
    }
    const problem = holds === 'certificate' ? checkCertificatePem(flag, path, text) : checkPrivateKeyPem(flag, path, text);
    if (problem !== undefined) errors.push(problem);
    return text;
  };
  /** A directory in the layout of a kubernetes.io/tls Secret with its CA: ca.crt, tls.crt, tls.key. */
  const tlsDir = (flag: string, dir: string | undefined): WebhookTls | undefined => {
    if (dir === undefined) return undefined;
    const read = (name: string) => {
      try {
        return readFileSync(join(dir, name), 'utf8');
      } catch (err) {
        errors.push(`--${flag}: cannot read ${join(dir, name)}: ${(err as Error).message}`);
        return undefined;
      }
    };
    const caPem = read('ca.crt');
    const certPem = read('tls.crt');
    const keyPem = read('tls.key');
    return caPem !== undefined && certPem !== undefined && keyPem !== undefined ? { caPem, certPem, keyPem } : undefined;
  };
  if (v.image !== undefined) pushIf(errors, checkImage('image', v.image));
  const trustDomain = v.trustDomain;
  if (trustDomain !== undefined) pushIf(errors, checkTrustDomain('trust-domain', trustDomain));
  let networks: string[] | undefined;
  if (v.clusterNetworks !== undefined) {
    const list = parseCidrList('cluster-networks', v.clusterNetworks);
    networks = list.cidrs;
    errors.push(...list.problems);
  }
  const values: Partial<InstallValues> = {
    ...(v.image !== undefined ? { image: v.image } : {}),
    ...(v.ha !== undefined ? { ha: v.ha } : {}),
    ...(trustDomain !== undefined ? { trustDomain } : {}),
    ...(networks !== undefined ? { clusterNetworks: networks } : {}),
    ...(v.controllerLogLevel !== undefined ? { controllerLogLevel: v.controllerLogLevel } : {}),
    ...(v.proxyLogLevel !== undefined ? { proxyLogLevel: v.proxyLogLevel } : {}),
    ...(v.defaultInboundPolicy !== undefined ? { defaultInboundPolicy: v.defaultInboundPolicy } : {}),
    ...(v.identityExternalIssuer !== undefined ? { externalIssuer: v.identityExternalIssuer } : {}),
  } as Partial<InstallValues>;
  const parsed: Parsed = {
    values,
    anchorCert: file('identity-trust-anchor', v.identityTrustAnchor, 'certificate'),
    anchorKey: file('identity-trust-anchor-key', v.identityTrustAnchorKey, 'key'),
    issuerCert: file('identity-issuer', v.identityIssuer, 'certificate'),
    issuerKey: file('identity-issuer-key', v.identityIssuerKey, 'key'),
    injectorTls: tlsDir('injector-tls', v.injectorTls),
    controllerWebhookTls: tlsDir('controller-webhook-tls', v.controllerWebhookTls),
    crds: v.crds === true,
    ignoreCluster: v.ignoreCluster === true,
    kubeconfig: v.kubeconfig,
    context: v.context,
    output: v.output ?? 'yaml',
  };
  if ((v.identityIssuer === undefined) !== (v.identityIssuerKey === undefined)) {
    errors.push('--identity-issuer and --identity-issuer-key go together');
  }
  if (v.identityTrustAnchorKey !== undefined && v.identityTrustAnchor === undefined) {
    errors.push('--identity-trust-anchor-key needs --identity-trust-anchor');
  }
  if (v.identityExternalIssuer === true && (v.identityIssuer !== undefined || v.identityTrustAnchorKey !== undefined)) {
    errors.push('--identity-external-issuer: the issuer and its key live in the external Secret; --identity-issuer(-key) and --identity-trust-anchor-key do not apply');
  }
  if (errors.length > 0) return usageError(mode, ...errors);
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
  if (!outcome.ok) return reportParse(outcome, io);
  const p = outcome.parsed;
  let server = '(not connected)';
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
        server = kube.server;
      } catch (err) {
        throw new UserError((err as Error).message,
          mode === 'install' ? 'pass --kubeconfig, set KUBECONFIG, or render offline with --ignore-cluster' : 'pass --kubeconfig or set KUBECONFIG');
      }
      try {
        await kube.version.getCode();
      } catch (err) {
        throw new UserError(kube.describe(err),
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
    io.err(`weft ${mode}: ${describeApiError(err, server)}\n`);
    return 1;
  }
}
