/**
 * The contract constants of Weft (design.md section 2): every name, port, header, label and audience
 * that two components must agree on is spelled here once. Everything else imports it.
 *
 * Invariant: this module is pure data. Changing a value here is a breaking change for every proxy
 * already running in a cluster, so values only change together with a version bump.
 */

/** The package version; the proxy-version annotation and the default image tags carry it. */
export const WEFT_VERSION = '0.1.0';

// --- Kubernetes API ---------------------------------------------------------------------------------

/** API group and version of Weft's policy CRDs (Server, AuthorizationPolicy, ...). */
export const POLICY_API_GROUP = 'policy.weft.dev';
export const POLICY_API_VERSION = 'v1alpha1';
export const POLICY_API = `${POLICY_API_GROUP}/${POLICY_API_VERSION}`;

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
/** The Gateway API experimental channel's own group (XBackendTrafficPolicy, XMesh, ...). */
export const GATEWAY_API_EXPERIMENTAL_GROUP = 'gateway.networking.x-k8s.io';

/** The controllerName Weft writes into HTTPRoute/GRPCRoute status.parents[]. */
export const ROUTE_CONTROLLER_NAME = 'weft.dev/policy-controller';
/**
 * The GatewayClass controllerName Weft accepts (`spec.controllerName` of a GatewayClass such as `weft`),
 * also the controllerName of route status.parents[] entries for Gateway parents.
 */
export const GATEWAY_CONTROLLER_NAME = 'weft.dev/gateway-controller';

// --- Annotations and labels -------------------------------------------------------------------------

/** Namespace or pod annotation: `enabled` or `disabled`. */
export const INJECT_ANNOTATION = 'weft.dev/inject';
export const INJECT_ENABLED = 'enabled';
export const INJECT_DISABLED = 'disabled';

/**
 * What the inbound proxy does with request headers whose names contain `_` (config annotation
 * headers-with-underscores, proxy env WEFT_HEADERS_WITH_UNDERSCORES); the first is the default.
 */
export const HEADERS_WITH_UNDERSCORES_ACTIONS = ['drop', 'reject', 'allow'] as const;
export type HeadersWithUnderscoresAction = (typeof HEADERS_WITH_UNDERSCORES_ACTIONS)[number];

/** Prefix of the config annotations: namespace defaults, pod overrides. */
export const CONFIG_ANNOTATION_PREFIX = 'config.weft.dev/';
export const CONFIG_ANNOTATIONS = {
  skipInboundPorts: `${CONFIG_ANNOTATION_PREFIX}skip-inbound-ports`,
  skipOutboundPorts: `${CONFIG_ANNOTATION_PREFIX}skip-outbound-ports`,
  opaquePorts: `${CONFIG_ANNOTATION_PREFIX}opaque-ports`,
  proxyLogLevel: `${CONFIG_ANNOTATION_PREFIX}proxy-log-level`,
  defaultInboundPolicy: `${CONFIG_ANNOTATION_PREFIX}default-inbound-policy`,
  headersWithUnderscores: `${CONFIG_ANNOTATION_PREFIX}headers-with-underscores`,
  proxyCpuRequest: `${CONFIG_ANNOTATION_PREFIX}proxy-cpu-request`,
  proxyCpuLimit: `${CONFIG_ANNOTATION_PREFIX}proxy-cpu-limit`,
  proxyMemoryRequest: `${CONFIG_ANNOTATION_PREFIX}proxy-memory-request`,
  proxyMemoryLimit: `${CONFIG_ANNOTATION_PREFIX}proxy-memory-limit`,
  /** On a Service: `consecutive` turns circuit breaking on for its endpoints (core/failure-accrual.ts). */
  failureAccrual: `${CONFIG_ANNOTATION_PREFIX}failure-accrual`,
  failureAccrualMaxFailures: `${CONFIG_ANNOTATION_PREFIX}failure-accrual-max-failures`,
  failureAccrualMinPenalty: `${CONFIG_ANNOTATION_PREFIX}failure-accrual-min-penalty`,
  failureAccrualMaxPenalty: `${CONFIG_ANNOTATION_PREFIX}failure-accrual-max-penalty`,
} as const;

/** Marks the injector puts on a pod it injected. */
export const MESHED_LABEL = 'weft.dev/meshed';
export const MESHED_LABEL_VALUE = 'true';
export const PROXY_VERSION_ANNOTATION = 'weft.dev/proxy-version';
/** Set on a pod the injector skipped, saying why. */
export const INJECT_SKIPPED_ANNOTATION = 'weft.dev/inject-skipped';

// --- Identity ---------------------------------------------------------------------------------------

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';
/** Audience of the projected ServiceAccount token a proxy presents to the identity service. */
export const IDENTITY_TOKEN_AUDIENCE = 'identity.weft.dev';

/** SPIFFE ID of a workload: spiffe://<trust-domain>/ns/<ns>/sa/<sa>. */
export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

// --- Proxy ------------------------------------------------------------------------------------------

export const PROXY_OUTBOUND_PORT = 7140;
/** The outbound listener binds loopback only: iptables redirects to it inside the pod. */
export const PROXY_OUTBOUND_ADDRESS = '127.0.0.1';
export const PROXY_INBOUND_PORT = 7143;
export const PROXY_ADMIN_PORT = 7191;
/** The name of the proxy container's admin port, which the Prometheus scrape job and PodMonitor select. */
export const PROXY_ADMIN_PORT_NAME = 'weft-admin';
export const PROXY_UID = 7102;
/**
 * The source address of the inbound proxy's connections to its app over IPv4. proxy-init sends the
 * proxy's own connections to its pod IP (a pod calling a Service that answers from the same pod) back
 * through the inbound listener; connections from this address are the inbound side's own and pass.
 */
export const PROXY_INBOUND_SOURCE_V4 = '127.0.0.6';
export const PROXY_CONTAINER_NAME = 'weft-proxy';
export const PROXY_INIT_CONTAINER_NAME = 'weft-init';

/**
 * The proxies' per-route metrics (admin port /metrics). The proxy writes them, `weft stat|routes|authz`
 * and Weft's Prometheus scrape config read them: names and label names are a contract. No label ever
 * carries a raw path, authority or header value; an empty value means "not applicable".
 */
export const PROXY_METRICS = {
  outboundRequests: 'weft_outbound_requests_total',
  outboundDuration: 'weft_outbound_request_duration_seconds',
  inboundRequests: 'weft_inbound_requests_total',
  inboundDuration: 'weft_inbound_request_duration_seconds',
  /** Inbound requests an InboundLimitPolicy refused, by reason (rate, concurrency), port, Server, route and policy. */
  requestsLimited: 'weft_proxy_requests_limited_total',
  /** Outbound per route rule and backend (the labels of outboundRequests): retries sent, retries not made, ejections, peers' limits. */
  outboundRetries: 'weft_outbound_retries_total',
  outboundRetriesSkipped: 'weft_outbound_retries_skipped_total',
  outboundEjections: 'weft_outbound_ejections_total',
  outboundLimited: 'weft_outbound_limited_total',
} as const;
/** Buckets (seconds) of both duration histograms: 1 ms to 30 s, the longest default route timeout. */
export const PROXY_DURATION_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Headers. The `weft-` prefix is reserved for the proxies. */
export const RESERVED_HEADER_PREFIX = 'weft-';
export const HEADER_CLIENT_ID = 'weft-client-id';
export const HEADER_PROXY_ERROR = 'weft-proxy-error';

/**
 * ALPN protocol ids of Weft's proxy-to-proxy transport over mTLS. The client proxy offers exactly one;
 * the inbound proxy terminates a TLS connection whose ClientHello offers one of these and passes any
 * other TLS (the app's own, end to end) through untouched.
 */
export const MESH_ALPN = { http1: 'weft/http1.1', h2: 'weft/h2', opaque: 'weft/opaque' } as const;

/** Ports whose protocols speak first from the server or are never HTTP: detection is skipped. */
export const DEFAULT_OPAQUE_PORTS: readonly number[] = [25, 587, 3306, 5432, 6379, 11211];

/** Cluster networks unless install sets others: the private ranges. */
export const DEFAULT_CLUSTER_NETWORKS: readonly string[] = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
  'fd00::/8',
];

/** Environment the injector sets and the proxy's config module parses. */
export const PROXY_ENV = {
  podName: 'WEFT_POD_NAME',
  podNamespace: 'WEFT_POD_NAMESPACE',
  podIp: 'WEFT_POD_IP',
  serviceAccount: 'WEFT_SERVICE_ACCOUNT',
  nodeIp: 'WEFT_NODE_IP',
  trustDomain: 'WEFT_TRUST_DOMAIN',
  trustAnchorsPem: 'WEFT_TRUST_ANCHORS_PEM',
  controllerAddr: 'WEFT_CONTROLLER_ADDR',
  identityTokenFile: 'WEFT_IDENTITY_TOKEN_FILE',
  logLevel: 'WEFT_LOG_LEVEL',
  inboundPorts: 'WEFT_INBOUND_PORTS',
  opaquePorts: 'WEFT_OPAQUE_PORTS',
  defaultInboundPolicy: 'WEFT_DEFAULT_INBOUND_POLICY',
  clusterNetworks: 'WEFT_CLUSTER_NETWORKS',
  probeNetworks: 'WEFT_PROBE_NETWORKS',
  certLifetimeHint: 'WEFT_CERT_LIFETIME',
  shutdownGraceSeconds: 'WEFT_SHUTDOWN_GRACE_SECONDS',
  outboundPort: 'WEFT_OUTBOUND_PORT',
  inboundPort: 'WEFT_INBOUND_PORT',
  adminPort: 'WEFT_ADMIN_PORT',
  detectTimeout: 'WEFT_DETECT_TIMEOUT',
  maxConnectionsPerPeer: 'WEFT_MAX_CONNECTIONS_PER_PEER',
  headersWithUnderscores: 'WEFT_HEADERS_WITH_UNDERSCORES',
  destinationIdleTimeout: 'WEFT_DESTINATION_IDLE_TIMEOUT',
  maxDestinations: 'WEFT_MAX_DESTINATIONS',
} as const;

/** Environment of the control-plane processes (controller, injector). */
export const CONTROL_PLANE_ENV = {
  kubeconfig: 'KUBECONFIG',
  namespace: 'WEFT_NAMESPACE',
  trustDomain: 'WEFT_TRUST_DOMAIN',
  clusterNetworks: 'WEFT_CLUSTER_NETWORKS',
  referenceGrantCheck: 'WEFT_REFERENCE_GRANT_CHECK',
  logLevel: 'WEFT_LOG_LEVEL',
  certLifetime: 'WEFT_CERT_LIFETIME',
  issuerSecret: 'WEFT_ISSUER_SECRET',
  grpcPort: 'WEFT_GRPC_PORT',
  webhookPort: 'WEFT_WEBHOOK_PORT',
  adminPort: 'WEFT_ADMIN_PORT',
  tlsDir: 'WEFT_TLS_DIR',
  /** A directory holding the issuer as files (ca.crt, tls.crt, tls.key) instead of the Secret. */
  issuerDir: 'WEFT_ISSUER_DIR',
  /** Upper bound on concurrent TokenReview calls of the identity service. */
  tokenReviewConcurrency: 'WEFT_TOKEN_REVIEW_CONCURRENCY',
  /** Cluster-wide default inbound policy of ports no Server selects. */
  defaultInboundPolicy: 'WEFT_DEFAULT_INBOUND_POLICY',
  /** The image the controller's gateway Deployments run (`weft gateway`). */
  gatewayImage: 'WEFT_GATEWAY_IMAGE',
} as const;

// --- Control plane ----------------------------------------------------------------------------------

export const CONTROL_PLANE_NAMESPACE = 'weft-system';
export const CONTROLLER_NAME = 'weft-controller';
export const CONTROLLER_SERVICE = 'weft-controller';
export const CONTROLLER_SERVICE_ACCOUNT = 'weft-controller';
export const CONTROLLER_GRPC_PORT = 8090;
export const CONTROLLER_WEBHOOK_PORT = 8443;
export const CONTROLLER_ADMIN_PORT = 9990;
/**
 * How long Weft's admission webhooks (injector, controller) keep an API server's idle keep-alive
 * connection open: longer than the 90 s idle limit of Go's default HTTP transport, so the API server
 * closes idle connections first. With Node.js's default (5 s) the webhook closed them, and a review the
 * API server wrote onto one at that moment failed ("write: connection reset by peer"); under
 * failurePolicy Ignore that pod was created without the proxy.
 */
export const WEBHOOK_KEEP_ALIVE_TIMEOUT_MS = 120_000;
/** Secret (in the control-plane namespace) holding the mesh issuer: ca.crt, tls.crt, tls.key. */
export const ISSUER_SECRET_NAME = 'weft-identity-issuer';

/** The Secret type of a Gateway listener's certificateRef (tls.crt, tls.key); the controller watches only these. */
export const TLS_SECRET_TYPE = 'kubernetes.io/tls';
export const INJECTOR_NAME = 'weft-injector';
export const INJECTOR_SERVICE = 'weft-injector';
export const INJECTOR_SERVICE_PORT = 443;
export const INJECTOR_WEBHOOK_PORT = 8443;
export const INJECTOR_ADMIN_PORT = 9990;
/** Paths the API server calls on the webhook servers. */
export const INJECTOR_WEBHOOK_PATH = '/inject';
export const CONTROLLER_WEBHOOK_PATH = '/validate';
/** The admission webhook configurations install creates (cluster-scoped). */
export const MUTATING_WEBHOOK_CONFIGURATION = 'weft-proxy-injector';
export const VALIDATING_WEBHOOK_CONFIGURATION = 'weft-policy-validator';
/** Secrets (control-plane namespace) with the webhook servers' certificates: tls.crt, tls.key, ca.crt. */
export const INJECTOR_TLS_SECRET = 'weft-injector-tls';
export const CONTROLLER_WEBHOOK_TLS_SECRET = 'weft-controller-webhook-tls';
/** ConfigMap (control-plane namespace) holding the trust anchors proxies trust, key ca.crt. */
export const TRUST_ANCHORS_CONFIGMAP = 'weft-identity-trust-anchors';
export const INJECTOR_SERVICE_ACCOUNT = 'weft-injector';
/** Lease (control-plane namespace) electing the controller replica that writes route status. */
export const CONTROLLER_STATUS_LEASE = 'weft-policy-controller-status';

/** DNS SANs of the controller's gRPC certificate (proxies check the SPIFFE ID, not these names). */
export function controllerDnsNames(trustDomainSuffix = 'cluster.local'): string[] {
  return [
    `${CONTROLLER_SERVICE}.${CONTROL_PLANE_NAMESPACE}.svc`,
    `${CONTROLLER_SERVICE}.${CONTROL_PLANE_NAMESPACE}.svc.${trustDomainSuffix}`,
  ];
}

// --- Images -----------------------------------------------------------------------------------------

export const IMAGE_REPOSITORY = 'ghcr.io/weft-dev/weft';
export const EXAMPLES_IMAGE_REPOSITORY = 'ghcr.io/weft-dev/weft-examples';
export const DEFAULT_IMAGE = `${IMAGE_REPOSITORY}:${WEFT_VERSION}`;
export const DEFAULT_EXAMPLES_IMAGE = `${EXAMPLES_IMAGE_REPOSITORY}:${WEFT_VERSION}`;
