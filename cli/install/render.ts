/**
 * The install manifests as plain Kubernetes objects: a PURE function of the options and the PKI, so
 * install, upgrade and uninstall print the same objects and a golden file pins them.
 *
 *   [CRDs: only `weft install --crds` passes them] -> Namespace -> ServiceAccounts, RBAC
 *     -> trust anchors, issuer (unless external), webhook certificates
 *     -> controller and injector Deployments + Services -> webhook configurations
 *
 * Every PEM is written with LF line endings, so identical inputs give identical bytes.
 *
 * RBAC is least privilege per component: the controller reads what it watches (policy-controller/k8s/
 * resources.ts), writes route status, creates TokenReviews, reads its issuer Secret and holds a Lease
 * in its namespace; the injector only reads namespaces.
 */
import {
  CONTROL_PLANE_ENV, CONTROL_PLANE_NAMESPACE, CONTROLLER_ADMIN_PORT, CONTROLLER_STATUS_LEASE, CONTROLLER_GRPC_PORT, CONTROLLER_NAME, CONTROLLER_SERVICE,
  CONTROLLER_SERVICE_ACCOUNT, CONTROLLER_WEBHOOK_PATH, CONTROLLER_WEBHOOK_PORT, CONTROLLER_WEBHOOK_TLS_SECRET, GATEWAY_API_EXPERIMENTAL_GROUP, GATEWAY_API_GROUP,
  INJECT_ANNOTATION, INJECT_DISABLED, INJECTOR_ADMIN_PORT, INJECTOR_NAME, INJECTOR_SERVICE, INJECTOR_SERVICE_ACCOUNT,
  INJECTOR_SERVICE_PORT, INJECTOR_TLS_SECRET, INJECTOR_WEBHOOK_PATH, INJECTOR_WEBHOOK_PORT, ISSUER_SECRET_NAME,
  MUTATING_WEBHOOK_CONFIGURATION, POLICY_API_GROUP, POLICY_API_VERSION, TRUST_ANCHORS_CONFIGMAP, VALIDATING_WEBHOOK_CONFIGURATION,
  WEFT_VERSION,
} from '../../core/contract.js';

export type KubeObject = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown } };

export interface RenderOptions {
  readonly image: string;
  readonly ha: boolean;
  readonly trustDomain: string;
  readonly clusterNetworks: readonly string[];
  readonly controllerLogLevel: string;
  readonly proxyLogLevel: string;
  readonly defaultInboundPolicy: string;
  /**
   * The issuer Secret is managed outside Weft (cert-manager): install renders no issuer Secret and
   * never sees its key.
   */
  readonly externalIssuer: boolean;
  /** Weft's CRDs as parsed from manifests/crds (`weft install --crds`); empty for the rest. */
  readonly crds: readonly KubeObject[];
}

export interface WebhookTls {
  readonly certPem: string;
  readonly keyPem: string;
  /** The CA the API server trusts for this webhook (its caBundle). */
  readonly caPem: string;
}

export interface InstallPki {
  /** PEM bundle of the trust anchors every proxy trusts. */
  readonly anchorsPem: string;
  /** The issuer to render into its Secret; absent with an external issuer. */
  readonly issuer?: { readonly certPem: string; readonly keyPem: string } | undefined;
  readonly injectorTls: WebhookTls;
  readonly controllerWebhookTls: WebhookTls;
}

/** The ConfigMap holding the options install rendered with, so upgrade renders the same. */
export const INSTALL_CONFIGMAP = 'weft-install';
/** The control plane's processes run as this unprivileged UID. */
const CONTROL_PLANE_UID = 65532;
const TLS_MOUNT = '/var/run/weft/tls';
const ANCHORS_MOUNT = '/var/run/weft/identity';

const NS = CONTROL_PLANE_NAMESPACE;
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
/** PEM with LF line endings (node-forge writes CRLF; supplied files may have either). */
const lf = (pem: string) => pem.replace(/\r\n?/g, '\n');

function labels(component: string): Record<string, string> {
  return { 'app.kubernetes.io/name': component, 'app.kubernetes.io/part-of': 'weft', 'app.kubernetes.io/version': WEFT_VERSION };
}

function meta(name: string, component: string, namespaced = true): KubeObject['metadata'] {
  return namespaced ? { name, namespace: NS, labels: labels(component) } : { name, labels: labels(component) };
}

function serviceAccount(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(name, name) };
}

function rule(apiGroups: string[], resources: string[], verbs: string[], resourceNames?: string[]): Record<string, unknown> {
  return { apiGroups, resources, verbs, ...(resourceNames !== undefined ? { resourceNames } : {}) };
}

function rbac(component: string, sa: string, clusterRules: Record<string, unknown>[], nsRules: Record<string, unknown>[]): KubeObject[] {
  const out: KubeObject[] = [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: meta(component, component, false), rules: clusterRules },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: meta(component, component, false),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: component },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace: NS }],
    },
  ];
  if (nsRules.length > 0) {
    out.push(
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta(component, component), rules: nsRules },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: meta(component, component),
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: component },
        subjects: [{ kind: 'ServiceAccount', name: sa, namespace: NS }],
      },
    );
  }
  return out;
}

const READ = ['get', 'list', 'watch'];

function controllerRbac(): KubeObject[] {
  return rbac(CONTROLLER_NAME, CONTROLLER_SERVICE_ACCOUNT, [
    rule([''], ['namespaces', 'services', 'pods'], READ),
    // The identity service checks that a token's pod and ServiceAccount still exist.
    rule([''], ['serviceaccounts'], ['get']),
    rule(['discovery.k8s.io'], ['endpointslices'], READ),
    rule([GATEWAY_API_GROUP], ['httproutes', 'grpcroutes', 'referencegrants', 'gatewayclasses', 'gateways', 'tlsroutes', 'listenersets'], READ),
    // Route status (Service, Server and Gateway parents) and the gateway controller's GatewayClass, Gateway and ListenerSet status.
    rule([GATEWAY_API_GROUP], ['httproutes/status', 'grpcroutes/status', 'gatewayclasses/status', 'gateways/status', 'tlsroutes/status', 'listenersets/status'], ['get', 'update', 'patch']),
    // XBackendTrafficPolicy (experimental channel): retry budgets per Service, and their status.
    rule([GATEWAY_API_EXPERIMENTAL_GROUP], ['xbackendtrafficpolicies'], READ),
    rule([GATEWAY_API_EXPERIMENTAL_GROUP], ['xbackendtrafficpolicies/status'], ['get', 'update', 'patch']),
    rule([POLICY_API_GROUP], ['servers', 'authorizationpolicies', 'meshtlsauthentications', 'networkauthentications', 'faultinjections'], READ),
    // InboundLimitPolicy: rate and concurrency limits per Server or route, and their status.
    rule([POLICY_API_GROUP], ['inboundlimitpolicies'], READ),
    rule([POLICY_API_GROUP], ['inboundlimitpolicies/status'], ['get', 'update', 'patch']),
    rule(['authentication.k8s.io'], ['tokenreviews'], ['create']),
    // The gateway controller server-side applies each Gateway's ServiceAccount, Deployment and Service
    // (create and patch) and reads the Deployment's availability (docs/gateway.md).
    rule([''], ['serviceaccounts', 'services'], ['create', 'patch']),
    rule(['apps'], ['deployments'], ['get', 'create', 'patch']),
    // The certificates of Gateways' HTTPS listeners (certificateRefs), in any namespace; read only.
    // The controller lists and watches only type kubernetes.io/tls (a field selector) and sends a
    // certificate only to the gateway of the Gateway that refers to it (docs/gateway.md).
    rule([''], ['secrets'], READ),
    // BackendTLSPolicy: TLS from gateways to backends outside the mesh, its status (ancestors), and the
    // CA bundles it names (ConfigMaps' ca.crt; the controller keeps only that key).
    rule([GATEWAY_API_GROUP], ['backendtlspolicies'], READ),
    rule([GATEWAY_API_GROUP], ['backendtlspolicies/status'], ['get', 'update', 'patch']),
    rule([''], ['configmaps'], READ),
  ], [
    rule([''], ['secrets'], ['get', 'watch', 'list'], [ISSUER_SECRET_NAME]),
    rule(['coordination.k8s.io'], ['leases'], ['create']),
    rule(['coordination.k8s.io'], ['leases'], ['get', 'update', 'patch'], [CONTROLLER_STATUS_LEASE]),
  ]);
}

function injectorRbac(): KubeObject[] {
  return rbac(INJECTOR_NAME, INJECTOR_SERVICE_ACCOUNT, [rule([''], ['namespaces'], READ)], []);
}

function tlsSecret(name: string, component: string, tls: WebhookTls): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Secret', metadata: meta(name, component), type: 'kubernetes.io/tls',
    data: { 'tls.crt': b64(lf(tls.certPem)), 'tls.key': b64(lf(tls.keyPem)), 'ca.crt': b64(lf(tls.caPem)) },
  };
}

function identityObjects(o: RenderOptions, pki: InstallPki): KubeObject[] {
  const issuer: KubeObject[] = [];
  if (!o.externalIssuer) {
    if (pki.issuer === undefined) throw new Error('internal: no issuer to render (and no external issuer)');
    issuer.push({
      apiVersion: 'v1', kind: 'Secret', metadata: meta(ISSUER_SECRET_NAME, 'identity'), type: 'kubernetes.io/tls',
      data: { 'ca.crt': b64(lf(pki.anchorsPem)), 'tls.crt': b64(lf(pki.issuer.certPem)), 'tls.key': b64(lf(pki.issuer.keyPem)) },
    });
  }
  return [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(TRUST_ANCHORS_CONFIGMAP, 'identity'), data: { 'ca.crt': lf(pki.anchorsPem) } },
    ...issuer,
    tlsSecret(INJECTOR_TLS_SECRET, INJECTOR_NAME, pki.injectorTls),
    tlsSecret(CONTROLLER_WEBHOOK_TLS_SECRET, CONTROLLER_NAME, pki.controllerWebhookTls),
  ];
}

function probe(path: string, port: number, periodSeconds: number): Record<string, unknown> {
  return { httpGet: { path, port }, periodSeconds, timeoutSeconds: 2, failureThreshold: 3 };
}

const CONTAINER_SECURITY = {
  runAsNonRoot: true,
  runAsUser: CONTROL_PLANE_UID,
  runAsGroup: CONTROL_PLANE_UID,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

function deployment(o: RenderOptions, name: string, sa: string, container: Record<string, unknown>, volumes: Record<string, unknown>[]): KubeObject[] {
  const selector = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'weft' };
  const replicas = o.ha ? 2 : 1;
  const spec: Record<string, unknown> = {
    serviceAccountName: sa,
    containers: [{ image: o.image, securityContext: CONTAINER_SECURITY, terminationMessagePolicy: 'FallbackToLogsOnError', ...container }],
    volumes,
  };
  if (o.ha) {
    spec['affinity'] = {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { labelSelector: { matchLabels: selector }, topologyKey: 'kubernetes.io/hostname' } }],
      },
    };
  }
  const out: KubeObject[] = [{
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta(name, name),
    spec: {
      replicas,
      selector: { matchLabels: selector },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: o.ha ? 1 : 0, maxSurge: 1 } },
      template: {
        metadata: { labels: { ...labels(name) }, annotations: { [INJECT_ANNOTATION]: INJECT_DISABLED } },
        spec,
      },
    },
  }];
  if (o.ha) {
    out.push({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: meta(name, name), spec: { maxUnavailable: 1, selector: { matchLabels: selector } } });
  }
  return out;
}

function service(name: string, ports: Record<string, unknown>[]): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Service', metadata: meta(name, name),
    spec: { type: 'ClusterIP', selector: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'weft' }, ports },
  };
}

const nsEnv = { name: CONTROL_PLANE_ENV.namespace, valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } };

/**
 * The controller's runtime memory settings (design.md 8: <= 300 MB RSS with 1,000 Services, 5,000
 * pods and 2,000 routes; bench/controller-scale measures the controller started with exactly these):
 * - `--max-semi-space-size=4`: with the defaults V8 sized the young generation to 128 MB on a large
 *   machine, most of it resident after the initial list; 4 MB semi-spaces hold the controller's
 *   short-lived garbage (watch events, snapshots) at the cost of more, shorter scavenges;
 * - `--max-old-space-size=384`: under the container's 512Mi limit with room for what is not V8 heap
 *   (about 100 MB: the node binary, TLS, gRPC); a limit this size also makes V8 grow the heap by a
 *   smaller factor after each collection than the default (derived from the machine's memory) does;
 * - `MALLOC_ARENA_MAX=2`: glibc otherwise keeps up to 8 arenas per core for Node's worker threads.
 */
export const CONTROLLER_RUNTIME_ENV: readonly { readonly name: string; readonly value: string }[] = [
  { name: 'NODE_OPTIONS', value: '--max-semi-space-size=4 --max-old-space-size=384' },
  { name: 'MALLOC_ARENA_MAX', value: '2' },
];

function controllerObjects(o: RenderOptions): KubeObject[] {
  return [
    ...deployment(o, CONTROLLER_NAME, CONTROLLER_SERVICE_ACCOUNT, {
      name: 'controller',
      args: ['controller'],
      env: [
        nsEnv,
        { name: CONTROL_PLANE_ENV.trustDomain, value: o.trustDomain },
        { name: CONTROL_PLANE_ENV.clusterNetworks, value: o.clusterNetworks.join(',') },
        { name: CONTROL_PLANE_ENV.logLevel, value: o.controllerLogLevel },
        { name: CONTROL_PLANE_ENV.tlsDir, value: TLS_MOUNT },
        { name: CONTROL_PLANE_ENV.gatewayImage, value: o.image },
        ...CONTROLLER_RUNTIME_ENV,
      ],
      ports: [
        { name: 'grpc', containerPort: CONTROLLER_GRPC_PORT },
        { name: 'webhook', containerPort: CONTROLLER_WEBHOOK_PORT },
        { name: 'admin', containerPort: CONTROLLER_ADMIN_PORT },
      ],
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
      readinessProbe: probe('/ready', CONTROLLER_ADMIN_PORT, 5),
      livenessProbe: probe('/live', CONTROLLER_ADMIN_PORT, 10),
      volumeMounts: [{ name: 'webhook-tls', mountPath: TLS_MOUNT, readOnly: true }],
    }, [{ name: 'webhook-tls', secret: { secretName: CONTROLLER_WEBHOOK_TLS_SECRET } }]),
    service(CONTROLLER_SERVICE, [
      { name: 'grpc', port: CONTROLLER_GRPC_PORT, targetPort: 'grpc', appProtocol: 'kubernetes.io/h2c' },
      { name: 'webhook', port: CONTROLLER_WEBHOOK_PORT, targetPort: 'webhook' },
      { name: 'admin', port: CONTROLLER_ADMIN_PORT, targetPort: 'admin' },
    ]),
  ];
}

function injectorObjects(o: RenderOptions): KubeObject[] {
  return [
    ...deployment(o, INJECTOR_NAME, INJECTOR_SERVICE_ACCOUNT, {
      name: 'injector',
      args: [
        'injector',
        '--proxy-image', o.image,
        '--tls-dir', TLS_MOUNT,
        '--trust-anchors-file', `${ANCHORS_MOUNT}/ca.crt`,
        '--proxy-log-level', o.proxyLogLevel,
        '--default-inbound-policy', o.defaultInboundPolicy,
      ],
      env: [
        nsEnv,
        { name: CONTROL_PLANE_ENV.trustDomain, value: o.trustDomain },
        { name: CONTROL_PLANE_ENV.clusterNetworks, value: o.clusterNetworks.join(',') },
        { name: CONTROL_PLANE_ENV.logLevel, value: o.controllerLogLevel },
      ],
      ports: [
        { name: 'webhook', containerPort: INJECTOR_WEBHOOK_PORT },
        { name: 'admin', containerPort: INJECTOR_ADMIN_PORT },
      ],
      resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
      readinessProbe: probe('/ready', INJECTOR_ADMIN_PORT, 5),
      livenessProbe: probe('/live', INJECTOR_ADMIN_PORT, 10),
      volumeMounts: [
        { name: 'tls', mountPath: TLS_MOUNT, readOnly: true },
        { name: 'trust-anchors', mountPath: ANCHORS_MOUNT, readOnly: true },
      ],
    }, [
      { name: 'tls', secret: { secretName: INJECTOR_TLS_SECRET } },
      { name: 'trust-anchors', configMap: { name: TRUST_ANCHORS_CONFIGMAP } },
    ]),
    service(INJECTOR_SERVICE, [
      { name: 'webhook', port: INJECTOR_SERVICE_PORT, targetPort: 'webhook' },
      { name: 'admin', port: INJECTOR_ADMIN_PORT, targetPort: 'admin' },
    ]),
  ];
}

/** Namespaces whose pods never go through the injector: the control plane and the cluster's own. */
const NEVER_INJECTED_NAMESPACES = [NS, 'kube-system'];

/**
 * The validating webhook's matchConditions (CEL, evaluated by the API server before it calls the
 * webhook): Weft's own kinds always; an HTTPRoute or GRPCRoute only when one of its parentRefs is a
 * Service (group "" or "core") or a Weft Server, the same test as isServiceParentRef/isServerParent
 * in policy-controller/index/server-parents.ts. Routes of other Gateway implementations never reach
 * the controller, so with --ha (failurePolicy Fail) a controller outage blocks only Weft's routes.
 * Needs Kubernetes 1.28+ (matchConditions beta, on by default; GA in 1.30).
 */
export const VALIDATING_WEBHOOK_MATCH_CONDITIONS: readonly { readonly name: string; readonly expression: string }[] = [{
  name: 'weft-kinds-and-mesh-routes',
  expression: [
    `request.resource.group != '${GATEWAY_API_GROUP}'`,
    `(has(object.spec) && has(object.spec.parentRefs) && object.spec.parentRefs.exists(p, has(p.kind) && has(p.group) && (`
      + `(p.kind == 'Service' && (p.group == '' || p.group == 'core'))`
      + ` || (p.kind == 'Server' && p.group == '${POLICY_API_GROUP}'))))`,
  ].join(' || '),
}];

function webhookConfigurations(o: RenderOptions, pki: InstallPki): KubeObject[] {
  const failurePolicy = o.ha ? 'Fail' : 'Ignore';
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: meta(MUTATING_WEBHOOK_CONFIGURATION, INJECTOR_NAME, false),
      webhooks: [{
        name: 'inject.weft.dev',
        clientConfig: { service: { name: INJECTOR_SERVICE, namespace: NS, path: INJECTOR_WEBHOOK_PATH, port: INJECTOR_SERVICE_PORT }, caBundle: b64(lf(pki.injectorTls.caPem)) },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: NEVER_INJECTED_NAMESPACES }] },
        failurePolicy,
        matchPolicy: 'Equivalent',
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        timeoutSeconds: 10,
        reinvocationPolicy: 'IfNeeded',
      }],
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: meta(VALIDATING_WEBHOOK_CONFIGURATION, CONTROLLER_NAME, false),
      webhooks: [{
        name: 'validate.policy.weft.dev',
        clientConfig: { service: { name: CONTROLLER_SERVICE, namespace: NS, path: CONTROLLER_WEBHOOK_PATH, port: CONTROLLER_WEBHOOK_PORT }, caBundle: b64(lf(pki.controllerWebhookTls.caPem)) },
        // Routes too, but only those Weft serves (matchConditions): a Service or Server parent.
        rules: [
          {
            operations: ['CREATE', 'UPDATE'], apiGroups: [POLICY_API_GROUP], apiVersions: [POLICY_API_VERSION],
            resources: ['servers', 'authorizationpolicies', 'meshtlsauthentications', 'networkauthentications'], scope: 'Namespaced',
          },
          {
            operations: ['CREATE', 'UPDATE'], apiGroups: [POLICY_API_GROUP], apiVersions: [POLICY_API_VERSION],
            resources: ['inboundlimitpolicies'], scope: 'Namespaced',
          },
          { operations: ['CREATE', 'UPDATE'], apiGroups: [GATEWAY_API_GROUP], apiVersions: ['v1'], resources: ['httproutes', 'grpcroutes'], scope: 'Namespaced' },
        ],
        matchConditions: VALIDATING_WEBHOOK_MATCH_CONDITIONS.map((c) => ({ ...c })),
        failurePolicy,
        matchPolicy: 'Equivalent',
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        timeoutSeconds: 10,
      }],
    },
  ];
}

export interface InstallValues {
  readonly image: string;
  readonly ha: boolean;
  readonly trustDomain: string;
  readonly clusterNetworks: readonly string[];
  readonly controllerLogLevel: string;
  readonly proxyLogLevel: string;
  readonly defaultInboundPolicy: string;
  readonly externalIssuer: boolean;
}

/** The stored values, keys in alphabetical order (the order Go's JSON encoder, so Helm's toPrettyJson, writes). */
export function installValues(o: RenderOptions): InstallValues {
  return {
    clusterNetworks: o.clusterNetworks, controllerLogLevel: o.controllerLogLevel, defaultInboundPolicy: o.defaultInboundPolicy,
    externalIssuer: o.externalIssuer, ha: o.ha, image: o.image, proxyLogLevel: o.proxyLogLevel, trustDomain: o.trustDomain,
  };
}

export function renderInstall(o: RenderOptions, pki: InstallPki): KubeObject[] {
  return [
    ...o.crds,
    {
      apiVersion: 'v1', kind: 'Namespace',
      metadata: { name: NS, labels: labels('control-plane'), annotations: { [INJECT_ANNOTATION]: INJECT_DISABLED } },
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(INSTALL_CONFIGMAP, 'control-plane'), data: { 'values.json': `${JSON.stringify(installValues(o), null, 2)}\n` } },
    serviceAccount(CONTROLLER_SERVICE_ACCOUNT),
    serviceAccount(INJECTOR_SERVICE_ACCOUNT),
    ...controllerRbac(),
    ...injectorRbac(),
    ...identityObjects(o, pki),
    ...controllerObjects(o),
    ...injectorObjects(o),
    ...webhookConfigurations(o, pki),
  ];
}
