/**
 * The cluster's PKI, made once per state dir with node-forge (RSA keys from node:crypto): a CA, the API
 * server's serving certificate, one client certificate per component identity, the service-account
 * signing key pair, and a kubeconfig per client. Existing files are kept, so a restart reuses them.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import forge from 'node-forge';

import {
  ADMIN_KUBECONFIG,
  CLUSTER_DOMAIN,
  KUBERNETES_SERVICE_IP,
  NODE_IP,
  PKI_DIR,
  REAL_NODE_IP,
  REAL_NODE_NAME,
  STATE_DIR,
} from './config.js';

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  saKey: string;
  saPub: string;
  /** the real node's kubelet serving certificate (SANs: its node IP and name) */
  kubeletServingCert: string;
  kubeletServingKey: string;
  /** the API server's client certificate towards kubelets (logs, exec, port-forward) */
  apiserverKubeletClientCert: string;
  apiserverKubeletClientKey: string;
}

export interface ClientIdentity {
  /** file stem under pki/ and kubeconfig name under the state dir */
  name: string;
  commonName: string;
  organizations: string[];
}

/** Client identities; the controller-manager, scheduler and kube-proxy users are the ones the default RBAC binds. */
export const CLIENTS: readonly ClientIdentity[] = [
  { name: 'admin', commonName: 'weft-admin', organizations: ['system:masters'] },
  { name: 'controller-manager', commonName: 'system:kube-controller-manager', organizations: [] },
  { name: 'scheduler', commonName: 'system:kube-scheduler', organizations: [] },
  { name: 'kube-proxy', commonName: 'system:kube-proxy', organizations: [] },
  // The real node's kubelet: the Node authorizer and NodeRestriction admission key on this identity.
  { name: 'kubelet', commonName: `system:node:${REAL_NODE_NAME}`, organizations: ['system:nodes'] },
  // What the API server presents to kubelets; the kubelet's webhook authorization asks the API server,
  // which allows system:masters everything.
  { name: 'apiserver-kubelet-client', commonName: 'weft-apiserver-kubelet-client', organizations: ['system:masters'] },
];

export function pkiPaths(dir: string = PKI_DIR): Pki {
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    apiserverCert: join(dir, 'apiserver.crt'),
    apiserverKey: join(dir, 'apiserver.key'),
    saKey: join(dir, 'sa.key'),
    saPub: join(dir, 'sa.pub'),
    kubeletServingCert: join(dir, 'kubelet-serving.crt'),
    kubeletServingKey: join(dir, 'kubelet-serving.key'),
    apiserverKubeletClientCert: join(dir, 'apiserver-kubelet-client.crt'),
    apiserverKubeletClientKey: join(dir, 'apiserver-kubelet-client.key'),
  };
}

export function kubeconfigPath(client: string): string {
  return client === 'admin' ? ADMIN_KUBECONFIG : join(STATE_DIR, `${client}.kubeconfig`);
}

function newKey(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privatePem: privateKey, publicPem: publicKey };
}

interface CertRequest {
  commonName: string;
  organizations?: string[];
  publicPem: string;
  isCa?: boolean;
  serverNames?: { dns: string[]; ips: string[] };
  client?: boolean;
  years: number;
}

function makeCert(req: CertRequest, issuer: { cert: forge.pki.Certificate; keyPem: string } | undefined, selfKeyPem?: string): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(req.publicPem);
  // A positive DER integer: leading byte 0x01..0x7f.
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  const now = new Date();
  cert.validity.notBefore = new Date(now.getTime() - 5 * 60_000);
  cert.validity.notAfter = new Date(now.getTime() + req.years * 365 * 24 * 3600_000);
  const subject: forge.pki.CertificateField[] = [
    ...(req.organizations ?? []).map((o) => ({ name: 'organizationName', value: o })),
    { name: 'commonName', value: req.commonName },
  ];
  cert.setSubject(subject);
  cert.setIssuer(issuer ? issuer.cert.subject.attributes : subject);
  const exts: object[] = [
    { name: 'basicConstraints', cA: req.isCa === true, critical: true },
    req.isCa
      ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true }
      : { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ];
  if (!req.isCa) exts.push({ name: 'extKeyUsage', serverAuth: req.serverNames !== undefined, clientAuth: req.client === true });
  if (issuer) exts.push({ name: 'authorityKeyIdentifier', keyIdentifier: issuer.cert.generateSubjectKeyIdentifier().getBytes() });
  if (req.serverNames) {
    exts.push({
      name: 'subjectAltName',
      altNames: [...req.serverNames.dns.map((value) => ({ type: 2, value })), ...req.serverNames.ips.map((ip) => ({ type: 7, ip }))],
    });
  }
  cert.setExtensions(exts);
  const signingPem = issuer ? issuer.keyPem : selfKeyPem;
  if (!signingPem) throw new Error('no signing key');
  cert.sign(forge.pki.privateKeyFromPem(signingPem), forge.md.sha256.create());
  return cert;
}

async function writeSecret(path: string, data: string): Promise<void> {
  await writeFile(path, data, { mode: 0o600 });
  await chmod(path, 0o600);
}

function kubeconfigYaml(server: string, caPem: string, certPem: string, keyPem: string, user: string): string {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: weft',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(caPem)}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    client-certificate-data: ${b64(certPem)}`,
    `    client-key-data: ${b64(keyPem)}`,
    'contexts:',
    '- name: weft',
    '  context:',
    '    cluster: weft',
    `    user: ${user}`,
    'current-context: weft',
    '',
  ].join('\n');
}

/** Creates whatever part of the PKI and kubeconfigs is missing; returns the paths. */
export async function ensurePki(server: string): Promise<Pki> {
  const p = pkiPaths();
  await mkdir(p.dir, { recursive: true, mode: 0o700 });
  if (!existsSync(p.caCert) || !existsSync(p.caKey)) {
    const k = newKey();
    const ca = makeCert({ commonName: 'weft-cluster-ca', publicPem: k.publicPem, isCa: true, years: 10 }, undefined, k.privatePem);
    await writeSecret(p.caKey, k.privatePem);
    await writeFile(p.caCert, forge.pki.certificateToPem(ca));
  }
  const caPem = await readFile(p.caCert, 'utf8');
  const issuer = { cert: forge.pki.certificateFromPem(caPem), keyPem: await readFile(p.caKey, 'utf8') };

  if (!existsSync(p.apiserverCert) || !existsSync(p.apiserverKey)) {
    const k = newKey();
    const dns = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${CLUSTER_DOMAIN}`, 'localhost'];
    const cert = makeCert(
      { commonName: 'kube-apiserver', publicPem: k.publicPem, serverNames: { dns, ips: [KUBERNETES_SERVICE_IP, NODE_IP, '127.0.0.1'] }, years: 5 },
      issuer,
    );
    await writeSecret(p.apiserverKey, k.privatePem);
    await writeFile(p.apiserverCert, forge.pki.certificateToPem(cert));
  }
  if (!existsSync(p.kubeletServingCert) || !existsSync(p.kubeletServingKey)) {
    const k = newKey();
    const cert = makeCert(
      { commonName: `system:node:${REAL_NODE_NAME}`, organizations: ['system:nodes'], publicPem: k.publicPem, serverNames: { dns: [REAL_NODE_NAME], ips: [REAL_NODE_IP] }, years: 5 },
      issuer,
    );
    await writeSecret(p.kubeletServingKey, k.privatePem);
    await writeFile(p.kubeletServingCert, forge.pki.certificateToPem(cert));
  }
  if (!existsSync(p.saKey) || !existsSync(p.saPub)) {
    const k = newKey();
    await writeSecret(p.saKey, k.privatePem);
    await writeFile(p.saPub, k.publicPem);
  }
  for (const c of CLIENTS) {
    const certPath = join(p.dir, `${c.name}.crt`);
    const keyPath = join(p.dir, `${c.name}.key`);
    if (!existsSync(certPath) || !existsSync(keyPath)) {
      const k = newKey();
      const cert = makeCert({ commonName: c.commonName, organizations: c.organizations, publicPem: k.publicPem, client: true, years: 5 }, issuer);
      await writeSecret(keyPath, k.privatePem);
      await writeFile(certPath, forge.pki.certificateToPem(cert));
    }
    const kc = kubeconfigYaml(server, caPem, await readFile(certPath, 'utf8'), await readFile(keyPath, 'utf8'), c.commonName);
    const path = kubeconfigPath(c.name);
    const old = existsSync(path) ? await readFile(path, 'utf8') : '';
    if (old !== kc) await writeSecret(path, kc);
  }
  return p;
}
