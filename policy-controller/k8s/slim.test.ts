/**
 * slimObject drops only what nothing reads: an index fed slimmed objects serves the same views
 * (inbound policy with probe exemptions and a native sidecar's port, endpoints, pod destinations,
 * lookups) as one fed the objects as the API server sent them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONFIG_ANNOTATIONS } from '../../core/contract.js';
import type { KubeObject } from '../../core/kube.js';
import { PolicyIndex } from '../index/index.js';
import type { ResourceKind } from '../index/kinds.js';
import { fingerprint, type ViewKey } from '../index/views.js';
import { LAST_APPLIED_ANNOTATION, slimObject } from './slim.js';

const NS = 'shop';

const container = (name: string, port: number, extra: Record<string, unknown> = {}) => ({
  name,
  image: `registry.example/${name}:1.2.3`,
  imagePullPolicy: 'IfNotPresent',
  command: ['/bin/app'],
  args: ['--port', String(port)],
  env: [{ name: 'MODE', value: 'prod' }, { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
  volumeMounts: [{ name: 'data', mountPath: '/data' }],
  resources: { requests: { cpu: '100m', memory: '64Mi' } },
  securityContext: { runAsNonRoot: true },
  terminationMessagePath: '/dev/termination-log',
  terminationMessagePolicy: 'File',
  ports: [{ name: 'http', containerPort: port, protocol: 'TCP' }],
  livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10 },
  readinessProbe: { httpGet: { path: '/ready', port }, periodSeconds: 5 },
  ...extra,
});

/** A Pod as the API server sends it: everything the kubelet and the scheduler need, too. */
function pod(name: string, ip: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: NS,
      uid: `uid-${name}`,
      resourceVersion: '7',
      creationTimestamp: '2026-11-22T06:00:00Z',
      labels: { app: 'web', 'weft.dev/meshed': 'true' },
      annotations: { [CONFIG_ANNOTATIONS.defaultInboundPolicy]: 'all-authenticated', [LAST_APPLIED_ANNOTATION]: '{"big":"copy"}' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: 'rs', controller: true }],
      managedFields: [{ manager: 'kubelet', operation: 'Update', time: '2026-11-22T06:00:01Z', fieldsV1: { 'f:status': {} } }],
    },
    spec: {
      serviceAccountName: 'web',
      serviceAccount: 'web',
      nodeName: 'node-1',
      containers: [container('app', 8080)],
      initContainers: [container('sidecar', 9090, { restartPolicy: 'Always' }), container('migrate', 9999)],
      volumes: [{ name: 'data', emptyDir: {} }],
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      securityContext: {},
      priority: 0,
      terminationGracePeriodSeconds: 30,
      enableServiceLinks: true,
    },
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      hostIP: '192.168.0.10',
      hostIPs: [{ ip: '192.168.0.10' }],
      qosClass: 'Burstable',
      startTime: '2026-11-22T06:00:00Z',
      conditions: [
        { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: '2026-11-22T06:00:00Z' },
        { type: 'Ready', status: name === 'web-1' ? 'False' : 'True', lastProbeTime: null, lastTransitionTime: '2026-11-22T06:00:02Z' },
      ],
      containerStatuses: [{ name: 'app', ready: true, restartCount: 0, image: 'registry.example/app:1.2.3', state: { running: { startedAt: '2026-11-22T06:00:01Z' } } }],
    },
  };
}

const objects: [ResourceKind, KubeObject][] = [
  ['Namespace', { metadata: { name: NS, annotations: { [CONFIG_ANNOTATIONS.defaultInboundPolicy]: 'cluster-authenticated' } } }],
  ['Service', { metadata: { name: 'web', namespace: NS, resourceVersion: '3' }, spec: { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ports: [{ name: 'http', port: 80, targetPort: 8080 }], selector: { app: 'web' } } }],
  ['Pod', pod('web-0', '10.1.0.5')],
  ['Pod', pod('web-1', '10.1.0.6')],
  ['EndpointSlice', {
    metadata: { name: 'web-abc', namespace: NS, resourceVersion: '9', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: ['web-0', 'web-1'].map((n, i) => ({ addresses: [`10.1.0.${5 + i}`], conditions: { ready: i === 0 }, nodeName: 'node-1', targetRef: { kind: 'Pod', namespace: NS, name: n } })),
  }],
];

const keys: ViewKey[] = [
  ...['web-0', 'web-1'].flatMap((p) => [8080, 9090, 9999].map((port): ViewKey => ({ kind: 'inbound', namespace: NS, pod: p, port }))),
  { kind: 'endpoints', namespace: NS, name: 'web', port: 80 },
  { kind: 'destination', clientNamespace: 'other', ip: '10.1.0.5', port: 8080 },
  { kind: 'destination', clientNamespace: 'other', ip: '10.96.0.10', port: 80 },
];

function served(slim: boolean): string[] {
  const index = new PolicyIndex({ trustDomain: 'cluster.local', clusterNetworks: ['10.0.0.0/8'], referenceGrantCheck: true });
  for (const [kind, obj] of objects) {
    const copy = structuredClone(obj) as KubeObject & Record<string, unknown>;
    if (slim) slimObject(kind, copy);
    index.apply(kind, copy as never);
  }
  return [...keys.map((k) => fingerprint(index.view(k))), fingerprint(index.lookup('10.1.0.6', 8080)), String(index.podServiceAccount(NS, 'web-0'))];
}

test('an index of slimmed objects serves the same views as one of the objects as sent', () => {
  const full = served(false);
  assert.deepEqual(served(true), full);
  // The views are not trivially equal: policy, probe exemptions and endpoints are in them.
  assert.match(full.join('\n'), /healthz/);
  assert.match(full.join('\n'), /10\.1\.0\.6/);
});

test('slimObject drops what nothing reads and keeps what the index reads', () => {
  const p = structuredClone(pod('web-0', '10.1.0.5')) as KubeObject & Record<string, unknown>;
  slimObject('Pod', p);
  const text = JSON.stringify(p);
  for (const gone of ['managedFields', LAST_APPLIED_ANNOTATION, 'registry.example', 'volumes', 'tolerations', 'containerStatuses', 'MODE', 'qosClass', 'dnsPolicy']) {
    assert.ok(!text.includes(gone), `${gone} is still there`);
  }
  for (const kept of [CONFIG_ANNOTATIONS.defaultInboundPolicy, 'weft.dev/meshed', '"serviceAccountName":"web"', '"nodeName":"node-1"', '"restartPolicy":"Always"', '/healthz', '"podIP":"10.1.0.5"', '192.168.0.10', '"type":"Ready"', 'ReplicaSet']) {
    assert.ok(text.includes(kept), `${kept} is gone`);
  }
});

test('other kinds lose only managedFields and the last-applied annotation', () => {
  const route = {
    metadata: { name: 'r', namespace: NS, annotations: { [LAST_APPLIED_ANNOTATION]: '{}', keep: 'me' }, managedFields: [{ manager: 'kubectl' }] },
    spec: { parentRefs: [{ name: 'web' }], rules: [{ backendRefs: [{ name: 'web', port: 80 }], futureField: { x: 1 } }] },
    status: { parents: [] },
  };
  const copy = structuredClone(route) as unknown as Record<string, unknown>;
  slimObject('HTTPRoute', copy);
  assert.deepEqual(JSON.parse(JSON.stringify(copy)), { ...route, metadata: { name: 'r', namespace: NS, annotations: { keep: 'me' } } });
});

test('a TLS Secret keeps only tls.crt and tls.key', () => {
  const secret: Record<string, unknown> = {
    metadata: { namespace: NS, name: 'cert', managedFields: [{ manager: 'cert-manager' }] },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': 'Q0VSVA==', 'tls.key': 'S0VZ', 'ca.crt': 'Q0E=' },
  };
  slimObject('Secret', secret);
  assert.deepEqual(JSON.parse(JSON.stringify(secret)), { metadata: { namespace: NS, name: 'cert' }, type: 'kubernetes.io/tls', data: { 'tls.crt': 'Q0VSVA==', 'tls.key': 'S0VZ' } });
});
