/**
 * Fixed facts of the local test cluster (versions, addresses, ports, paths) and the only place in
 * test/cluster/ (outside agent/) that reads the environment.
 *
 * Network plan (IPv4 only; the host's own 192.0.2.0/24 and fd00::/8 are never used):
 *   bridge weft0 holds 10.244.0.1/16: node IP, API server advertise address, CoreDNS endpoint;
 *   pod CIDR of weft-node 10.244.0.0/16, of the simulated weft-sim 10.245.0.0/16, of the real node
 *   weft-real (kubelet + containerd) 10.246.0.0/16 whose node IP and pod gateway 10.246.0.1 is a second
 *   address on weft0 (cluster CIDR 10.244.0.0/14);
 *   services 10.96.0.0/16, routed onto weft0; `kubernetes` at 10.96.0.1, cluster DNS at 10.96.0.10.
 */
import { join } from 'node:path';

/** The pinned Kubernetes release; the newest whose go.mod asks for Go <= 1.26 (the machine's). */
export const K8S_VERSION = 'v1.36.3';
/** The etcd server module version k8s.io/kubernetes v1.36.3 requires (go.etcd.io/etcd/server/v3). */
export const ETCD_VERSION = 'v3.6.8';
/**
 * CoreDNS module version: the newest release whose own requirements do not raise any module the
 * pinned Kubernetes is tested with past a minor bump (its etcd/api, grpc, otel and prometheus versions
 * are at or below Kubernetes' own), so it can share one `go build` with the Kubernetes binaries.
 */
export const COREDNS_VERSION = 'v1.14.2';

/**
 * Upstream Prometheus for `weft stat|routes|authz --prometheus` tests (Debian's 2.42 lacks Kubernetes
 * service discovery): module github.com/prometheus/prometheus v0.315.0 is release 3.15.0; its go.mod
 * asks for go 1.26.0. v0.316.0 (3.16.0) is newer, but three of its dependencies' versions are not
 * available from the module proxy (403).
 */
export const PROMETHEUS_MODULE_VERSION = 'v0.315.0';
export const PROMETHEUS_VERSION = '3.15.0';

/** The real node's container runtime, its OCI runtime and CNI plugins (each its own Go module). */
export const CONTAINERD_VERSION = 'v2.3.7';
export const RUNC_VERSION = 'v1.5.3';
export const CNI_PLUGINS_VERSION = 'v1.10.0';
/**
 * Upstream Helm for the chart test (charts/weft rendered by `helm template` against `weft install`):
 * helm.sh/helm/v3 v3.22.1, whose go.mod asks for go 1.26.0 and has no replace directives, so
 * `go install` builds it as it is.
 */
export const HELM_MODULE_VERSION = 'v3.22.1';

/**
 * The Prometheus Operator module whose CRDs (example/prometheus-operator-crd/) the PodMonitor test
 * applies to the local cluster: github.com/prometheus-operator/prometheus-operator v0.85.0, read from the
 * Go module cache (`go mod download`), nothing built.
 */
export const PROMETHEUS_OPERATOR_MODULE_VERSION = 'v0.85.0';

export const BINARIES = [
  'kube-apiserver',
  'kubelet',
  'kube-controller-manager',
  'kube-scheduler',
  'kube-proxy',
  'kubectl',
  'etcd',
  'coredns',
] as const;
export type BinaryName = (typeof BINARIES)[number];

const env = process.env;

/** Root of the binary cache; binaries land in `<cacheRoot>/k8s-<version>/bin`. */
export const CACHE_ROOT = env['WEFT_K8S_CACHE'] ?? '/var/cache/weft';
export const BIN_DIR = join(CACHE_ROOT, `k8s-${K8S_VERSION}`, 'bin');
/** `<cacheRoot>/prometheus-<module version>/`: the `prometheus` binary, its stamp and build lock. */
export const PROMETHEUS_DIR = join(CACHE_ROOT, `prometheus-${PROMETHEUS_MODULE_VERSION}`);
/** `<cacheRoot>/helm-<module version>/`: the `helm` binary, its stamp and build lock. */
export const HELM_DIR = join(CACHE_ROOT, `helm-${HELM_MODULE_VERSION}`);

/** Cluster state (PKI, etcd data, pid files, kubeconfigs, cluster.json). Never inside the clone. */
export const STATE_DIR = env['WEFT_CLUSTER_DIR'] ?? '/var/lib/weft-cluster';
export const LOG_DIR = join(STATE_DIR, 'logs');
export const PID_DIR = join(STATE_DIR, 'pids');
export const PKI_DIR = join(STATE_DIR, 'pki');
export const CLUSTER_JSON = join(STATE_DIR, 'cluster.json');
export const ADMIN_KUBECONFIG = join(STATE_DIR, 'admin.kubeconfig');

/** run-e2e.ts leaves a cluster it started running when this is `1`. */
export const KEEP_CLUSTER = env['WEFT_KEEP_CLUSTER'] === '1';
/** Passed to `go build -p`; keep small so the shared 2-core machine stays usable. */
export const GO_BUILD_PARALLELISM = env['WEFT_GO_BUILD_P'] ?? '2';
/** Where `go` is looked up when it is not on PATH. */
export const GO_BINARY = env['WEFT_GO'] ?? 'go';
/** The PATH children inherit (the Go toolchain and iptables live in the usual places). */
export const PATH_ENV = env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const HOME_ENV = env['HOME'] ?? '/root';
/**
 * Trust and proxy settings the builds' children keep (npm, go, mmdebstrap fetch from registries): a
 * machine whose registries sit behind an intercepting proxy names its CA here, and Node.js (unlike Go
 * and curl) does not read the system's CA bundle without NODE_EXTRA_CA_CERTS.
 */
export const NETWORK_ENV: Readonly<Record<string, string>> = Object.fromEntries(
  ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'https_proxy', 'http_proxy', 'no_proxy', 'GOPROXY', 'GONOSUMDB', 'GOSUMDB']
    .flatMap((k) => (env[k] === undefined ? [] : [[k, env[k]]])),
);

export const NODE_NAME = 'weft-node';
export const SIM_NODE_NAME = 'weft-sim';
export const BRIDGE = 'weft0';
export const NODE_IP = '10.244.0.1';
export const BRIDGE_CIDR = `${NODE_IP}/16`;
export const POD_CIDR = '10.244.0.0/16';
export const SIM_POD_CIDR = '10.245.0.0/16';
export const CLUSTER_CIDR = '10.244.0.0/14';

/** The real node: kubelet + containerd + runc + CNI bridge on weft0; every pod that runs, runs here. */
export const REAL_NODE_NAME = 'weft-real';
export const REAL_NODE_IP = '10.246.0.1';
export const REAL_NODE_CIDR = `${REAL_NODE_IP}/16`;
export const REAL_POD_CIDR = '10.246.0.0/16';
/** Label on the real node, for a nodeSelector. */
export const REAL_NODE_LABEL = { key: 'weft.dev/node', value: 'real' } as const;
export const KUBELET_PORT = 10250;
export const KUBELET_HEALTHZ_PORT = 10248;
/** Caches of the real node's binaries, one folder per pinned version (bin/ and stamp.json in each). */
export const CONTAINERD_DIR = join(CACHE_ROOT, `containerd-${CONTAINERD_VERSION}`);
export const RUNC_DIR = join(CACHE_ROOT, `runc-${RUNC_VERSION}`);
export const CNI_DIR = join(CACHE_ROOT, `cni-plugins-${CNI_PLUGINS_VERSION}`);
/** containerd's state: its root (images, snapshots; kept across `down`) lives in the state dir. */
export const CONTAINERD_ROOT = join(STATE_DIR, 'containerd');
/** Shim sockets and runc state land in /run/containerd whatever the config says, so state goes there too. */
export const CONTAINERD_STATE = '/run/containerd';
export const CONTAINERD_SOCKET = join(CONTAINERD_STATE, 'containerd.sock');
/** containerd's CRI namespace, where images for pods must be. */
export const CONTAINERD_K8S_NAMESPACE = 'k8s.io';
export const KUBELET_ROOT = join(STATE_DIR, 'kubelet');
export const CNI_CONF_DIR = join(STATE_DIR, 'cni', 'net.d');
/** Where the kubelet writes pod logs (its `podLogsDir`); /var/log/containers still gets its symlinks. */
export const POD_LOG_DIR = join(STATE_DIR, 'pod-logs');
/** The sandbox image, built from test/cluster/node/pause.c; never pulled (no registry). */
export const PAUSE_IMAGE = 'weft.dev/test/pause:1';
export const SERVICE_CIDR = '10.96.0.0/16';
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
export const CLUSTER_DNS = '10.96.0.10';
export const CLUSTER_DOMAIN = 'cluster.local';

export const APISERVER_PORT = 6443;
/** Clients on the host use loopback; pods reach the same server through 10.96.0.1:443 -> NODE_IP. */
export const APISERVER_URL = `https://127.0.0.1:${APISERVER_PORT}`;
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
export const CONTROLLER_MANAGER_PORT = 10257;
export const SCHEDULER_PORT = 10259;
export const KUBE_PROXY_HEALTHZ_PORT = 10256;
export const KUBE_PROXY_METRICS_PORT = 10249;
export const COREDNS_HEALTH_PORT = 10054;
export const COREDNS_READY_PORT = 10055;
export const SERVICE_ACCOUNT_ISSUER = `https://kubernetes.default.svc.${CLUSTER_DOMAIN}`;

/** The Gateway API release the cluster installs (its CRDs are read in place from ../shared, never copied). */
export const GATEWAY_API_VERSION = 'v1.7.0';
/** Relative to the repo root: that release's folder, holding SHA256SUMS and crds/{standard,experimental}. */
export const GATEWAY_API_RELEASE_DIR = join('..', 'shared', 'gateway-api', GATEWAY_API_VERSION);
/** The channel `up` installs; tests that need an experimental field apply the experimental one themselves. */
export const GATEWAY_API_DEFAULT_CHANNEL = 'standard';

/**
 * Upstream's Gateway API conformance suite (Go module sigs.k8s.io/gateway-api/conformance at
 * GATEWAY_API_VERSION), built as a test binary from test/conformance/upstream/go.mod. Its go.mod asks for
 * Go 1.27, newer than the machine's, so that one build names the toolchain the Go module proxy serves
 * (downloaded once into the module cache); every other build stays on GOTOOLCHAIN=local.
 */
export const CONFORMANCE_GO_TOOLCHAIN = 'go1.27.0';
/** `<cacheRoot>/gateway-api-conformance-<version>/`: bin/conformance.test, its stamp and build lock. */
export const CONFORMANCE_SUITE_DIR = join(CACHE_ROOT, `gateway-api-conformance-${GATEWAY_API_VERSION}`);
