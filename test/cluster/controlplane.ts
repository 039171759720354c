/**
 * The control-plane components: their command lines and config files, the order they start in, and
 * how each one's health is checked. cluster.ts drives them; procs.ts runs them detached.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import {
  ADMIN_KUBECONFIG,
  APISERVER_PORT,
  CLUSTER_CIDR,
  CLUSTER_DNS,
  CLUSTER_DOMAIN,
  COREDNS_HEALTH_PORT,
  COREDNS_READY_PORT,
  CONTROLLER_MANAGER_PORT,
  ETCD_CLIENT_PORT,
  ETCD_PEER_PORT,
  KUBE_PROXY_HEALTHZ_PORT,
  KUBE_PROXY_METRICS_PORT,
  NODE_IP,
  REAL_NODE_NAME,
  SCHEDULER_PORT,
  SERVICE_ACCOUNT_ISSUER,
  SERVICE_CIDR,
  STATE_DIR,
} from './config.js';
import type { Pki } from './pki.js';
import { kubeconfigPath } from './pki.js';

export type ComponentName = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kube-proxy' | 'coredns';

/** Start order; `down` stops in reverse. */
export const COMPONENTS: readonly ComponentName[] = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kube-proxy',
  'coredns',
];

export interface ComponentSpec {
  name: ComponentName;
  command: string;
  args: string[];
  /** resolves true when the component reports healthy */
  healthy: () => Promise<boolean>;
}

export interface HttpResult {
  status: number;
  body: string;
}

export interface TlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecure?: boolean;
}

/** One GET with a short timeout; never rejects (status 0 on connection errors). */
export function httpGet(url: string, tls: TlsOptions = {}, timeoutMs = 3000): Promise<HttpResult> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const done = (r: HttpResult): void => resolve(r);
    const opts = {
      method: 'GET',
      timeout: timeoutMs,
      ...(u.protocol === 'https:'
        ? { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.insecure !== true }
        : {}),
    };
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
      res.on('error', (e) => done({ status: 0, body: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => done({ status: 0, body: e.message }));
    req.end();
  });
}

export async function adminTls(pki: Pki): Promise<TlsOptions> {
  return {
    ca: await readFile(pki.caCert),
    cert: await readFile(join(pki.dir, 'admin.crt')),
    key: await readFile(join(pki.dir, 'admin.key')),
  };
}

/**
 * Writes a config file only when its content changes: kube-proxy exits when its config file is
 * written to (it expects to be restarted with the new content), even with identical bytes.
 */
async function writeIfChanged(path: string, content: string): Promise<void> {
  const old = await readFile(path, 'utf8').catch(() => undefined);
  if (old !== content) await writeFile(path, content);
}

const ok = async (p: Promise<HttpResult>): Promise<boolean> => (await p).status === 200;

/** Writes the component config files (kube-proxy config, Corefile) and returns every component's spec. */
export async function componentSpecs(binDir: string, pki: Pki): Promise<Map<ComponentName, ComponentSpec>> {
  const bin = (n: string): string => join(binDir, n);
  const confDir = join(STATE_DIR, 'config');
  await mkdir(confDir, { recursive: true });
  const tls = await adminTls(pki);
  const specs: ComponentSpec[] = [];

  const etcdUrl = `http://127.0.0.1:${ETCD_CLIENT_PORT}`;
  const peerUrl = `http://127.0.0.1:${ETCD_PEER_PORT}`;
  specs.push({
    name: 'etcd',
    command: bin('etcd'),
    args: [
      '--name=weft',
      `--data-dir=${join(STATE_DIR, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=weft=${peerUrl}`,
      '--initial-cluster-state=new',
      '--unsafe-no-fsync=true',
      '--quota-backend-bytes=4294967296',
      '--auto-compaction-mode=periodic',
      '--auto-compaction-retention=5m',
      '--log-level=warn',
    ],
    healthy: () => ok(httpGet(`${etcdUrl}/health`)),
  });

  specs.push({
    name: 'kube-apiserver',
    command: bin('kube-apiserver'),
    args: [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=0.0.0.0',
      `--advertise-address=${NODE_IP}`,
      `--secure-port=${APISERVER_PORT}`,
      `--tls-cert-file=${pki.apiserverCert}`,
      `--tls-private-key-file=${pki.apiserverKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--allow-privileged=true',
      '--authorization-mode=Node,RBAC',
      '--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,NodeRestriction,DefaultStorageClass,ResourceQuota,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy',
      `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
      `--service-account-key-file=${pki.saPub}`,
      `--service-account-signing-key-file=${pki.saKey}`,
      `--api-audiences=${SERVICE_ACCOUNT_ISSUER}`,
      '--enable-aggregator-routing=true',
      // logs/exec/port-forward through the real node's kubelet: a client certificate its x509
      // authentication accepts, its serving certificate checked against the cluster CA, and its
      // InternalIP (node names do not resolve here).
      `--kubelet-client-certificate=${pki.apiserverKubeletClientCert}`,
      `--kubelet-client-key=${pki.apiserverKubeletClientKey}`,
      `--kubelet-certificate-authority=${pki.caCert}`,
      '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname',
      '--profiling=false',
      '--event-ttl=30m',
      '--v=1',
    ],
    healthy: () => ok(httpGet(`https://127.0.0.1:${APISERVER_PORT}/readyz`, tls)),
  });

  const cmKubeconfig = kubeconfigPath('controller-manager');
  specs.push({
    name: 'kube-controller-manager',
    command: bin('kube-controller-manager'),
    args: [
      `--kubeconfig=${cmKubeconfig}`,
      `--authentication-kubeconfig=${cmKubeconfig}`,
      `--authorization-kubeconfig=${cmKubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${CONTROLLER_MANAGER_PORT}`,
      '--leader-elect=false',
      `--root-ca-file=${pki.caCert}`,
      `--service-account-private-key-file=${pki.saKey}`,
      '--use-service-account-credentials=true',
      `--cluster-signing-cert-file=${pki.caCert}`,
      `--cluster-signing-key-file=${pki.caKey}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      `--cluster-cidr=${CLUSTER_CIDR}`,
      '--allocate-node-cidrs=false',
      '--controllers=*',
      '--v=1',
    ],
    healthy: () => ok(httpGet(`https://127.0.0.1:${CONTROLLER_MANAGER_PORT}/healthz`, { insecure: true })),
  });

  const schedKubeconfig = kubeconfigPath('scheduler');
  specs.push({
    name: 'kube-scheduler',
    command: bin('kube-scheduler'),
    args: [
      `--kubeconfig=${schedKubeconfig}`,
      `--authentication-kubeconfig=${schedKubeconfig}`,
      `--authorization-kubeconfig=${schedKubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${SCHEDULER_PORT}`,
      '--leader-elect=false',
      '--v=1',
    ],
    healthy: () => ok(httpGet(`https://127.0.0.1:${SCHEDULER_PORT}/healthz`, { insecure: true })),
  });

  const proxyConfig = join(confDir, 'kube-proxy.yaml');
  await writeIfChanged(
    proxyConfig,
    [
      'apiVersion: kubeproxy.config.k8s.io/v1alpha1',
      'kind: KubeProxyConfiguration',
      'mode: iptables',
      `hostnameOverride: ${REAL_NODE_NAME}`,
      `bindAddress: ${NODE_IP}`,
      `clusterCIDR: ${CLUSTER_CIDR}`,
      `healthzBindAddress: 127.0.0.1:${KUBE_PROXY_HEALTHZ_PORT}`,
      `metricsBindAddress: 127.0.0.1:${KUBE_PROXY_METRICS_PORT}`,
      'nodePortAddresses: ["primary"]',
      'clientConnection:',
      `  kubeconfig: ${kubeconfigPath('kube-proxy')}`,
      'iptables:',
      '  localhostNodePorts: false',
      '  syncPeriod: 30s',
      '  minSyncPeriod: 0s',
      'conntrack:',
      // 0 leaves the host's conntrack table size alone
      '  maxPerCore: 0',
      '  min: 0',
      '  tcpEstablishedTimeout: 0s',
      '  tcpCloseWaitTimeout: 0s',
      '',
    ].join('\n'),
  );
  specs.push({
    name: 'kube-proxy',
    command: bin('kube-proxy'),
    args: [`--config=${proxyConfig}`, '--v=1'],
    healthy: async () => (await httpGet(`http://127.0.0.1:${KUBE_PROXY_HEALTHZ_PORT}/livez`)).status === 200,
  });

  const corefile = join(confDir, 'Corefile');
  await writeIfChanged(
    corefile,
    [
      // Only cluster zones are served: any other name gets REFUSED, and nothing is forwarded upstream.
      `${CLUSTER_DOMAIN}:53 in-addr.arpa:53 ip6.arpa:53 {`,
      `    bind ${NODE_IP}`,
      '    errors',
      `    health 127.0.0.1:${COREDNS_HEALTH_PORT}`,
      `    ready 127.0.0.1:${COREDNS_READY_PORT}`,
      `    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {`,
      `        kubeconfig ${ADMIN_KUBECONFIG} weft`,
      '        pods insecure',
      '        ttl 5',
      '    }',
      '    cache 5',
      '    loadbalance',
      '}',
      '',
    ].join('\n'),
  );
  specs.push({
    name: 'coredns',
    command: bin('coredns'),
    args: ['-conf', corefile],
    healthy: () => ok(httpGet(`http://127.0.0.1:${COREDNS_READY_PORT}/ready`)),
  });

  return new Map(specs.map((s) => [s.name, s]));
}

/**
 * Objects the control plane itself needs: the kube-dns Service at CLUSTER_DNS without a selector, and
 * an EndpointSlice (plus legacy Endpoints) pointing at CoreDNS on the node address, so kube-proxy
 * forwards 10.96.0.10:53 to the host process exactly as it would to a CoreDNS pod.
 */
export function kubeDnsManifest(): string {
  const ports = [
    { name: 'dns', protocol: 'UDP', port: 53 },
    { name: 'dns-tcp', protocol: 'TCP', port: 53 },
  ];
  const labels = { 'k8s-app': 'kube-dns', 'app.kubernetes.io/managed-by': 'weft-test-cluster' };
  const docs = [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: 'kube-system', labels },
      spec: { clusterIP: CLUSTER_DNS, ports: ports.map((p) => ({ ...p, targetPort: p.port })) },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: 'kube-dns-host',
        namespace: 'kube-system',
        labels: { ...labels, 'kubernetes.io/service-name': 'kube-dns', 'endpointslice.kubernetes.io/managed-by': 'weft-test-cluster' },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: [NODE_IP], conditions: { ready: true, serving: true, terminating: false }, nodeName: REAL_NODE_NAME }],
      ports,
    },
    {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { ...labels, 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
      subsets: [{ addresses: [{ ip: NODE_IP, nodeName: REAL_NODE_NAME }], ports }],
    },
  ];
  return docs.map((d) => JSON.stringify(d)).join('\n---\n');
}
