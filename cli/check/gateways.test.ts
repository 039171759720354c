/**
 * `weft check`'s gateway findings, pure: from written statuses to each problem named with its
 * condition and reason, and a fix chosen by the reason.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GATEWAY_CONTROLLER_NAME, ROUTE_CONTROLLER_NAME } from '../../core/contract.js';
import type { Gateway, GatewayClass, ListenerStatusJson } from '../../core/gateway/types.js';
import type { Condition } from '../../core/kube.js';
import { gatewayFindings, type DeploymentLike, type GatewayRouteLike } from './gateways.js';

const T = (type: string, reason = type): Condition => ({ type, status: 'True', reason });
const F = (type: string, reason: string, message = ''): Condition => ({ type, status: 'False', reason, message });

const classes: GatewayClass[] = [
  { metadata: { name: 'weft' }, spec: { controllerName: GATEWAY_CONTROLLER_NAME }, status: { conditions: [T('Accepted')] } },
  { metadata: { name: 'weft-params' }, spec: { controllerName: GATEWAY_CONTROLLER_NAME }, status: { conditions: [F('Accepted', 'InvalidParameters', 'takes no parameters')] } },
  { metadata: { name: 'other' }, spec: { controllerName: 'example.com/x' }, status: { conditions: [F('Accepted', 'Whatever')] } },
];
const gw = (name: string, cls: string, conditions: readonly Condition[], listeners: readonly ListenerStatusJson[] = []): Gateway => ({
  metadata: { namespace: 'infra', name }, spec: { gatewayClassName: cls, listeners: [] }, status: { conditions, listeners },
});
const gateways: Gateway[] = [
  gw('ok', 'weft', [T('Accepted'), T('Programmed')], [{ name: 'web', supportedKinds: [], attachedRoutes: 1, conditions: [T('Accepted'), F('Conflicted', 'NoConflicts'), T('ResolvedRefs'), T('Programmed')] }]),
  gw('pending', 'weft', [T('Accepted', 'ListenersNotValid'), F('Programmed', 'Pending', 'waiting for a ready gateway proxy')], [
    { name: 'web', supportedKinds: [], attachedRoutes: 0, conditions: [T('Accepted'), T('ResolvedRefs')] },
    { name: 'secure', supportedKinds: [], attachedRoutes: 0, conditions: [F('Accepted', 'UnsupportedProtocol', 'protocol HTTPS is not supported')] },
  ]),
  gw('theirs', 'other', [F('Accepted', 'Nope')]),
];
const deployments: DeploymentLike[] = [
  { metadata: { namespace: 'infra', name: 'ok-weft-gateway' }, spec: { replicas: 1 }, status: { availableReplicas: 1 } },
  { metadata: { namespace: 'infra', name: 'pending-weft-gateway' }, spec: { replicas: 1 }, status: {} },
];
const routes: GatewayRouteLike[] = [
  { kind: 'HTTPRoute', metadata: { namespace: 'apps', name: 'cross' }, status: { parents: [
    { parentRef: { name: 'ok', namespace: 'infra', sectionName: 'web' }, controllerName: GATEWAY_CONTROLLER_NAME, conditions: [T('Accepted'), F('ResolvedRefs', 'RefNotPermitted', 'no ReferenceGrant in backend')] },
    { parentRef: { name: 'svc', kind: 'Service', group: '' }, controllerName: ROUTE_CONTROLLER_NAME, conditions: [F('Accepted', 'Mesh')] },
  ] } },
  { kind: 'HTTPRoute', metadata: { namespace: 'infra', name: 'good' }, status: { parents: [{ parentRef: { name: 'ok' }, controllerName: GATEWAY_CONTROLLER_NAME, conditions: [T('Accepted'), T('ResolvedRefs')] }] } },
  { kind: 'GRPCRoute', metadata: { namespace: 'infra', name: 'grpc' }, status: { parents: [{ parentRef: { name: 'ok' }, controllerName: GATEWAY_CONTROLLER_NAME, conditions: [F('Accepted', 'NotAllowedByListeners', 'no listener admits GRPCRoutes'), T('ResolvedRefs')] }] } },
];

test('gateway findings: each problem names the object, the condition and its reason, with a fix by reason; other controllers are left alone', () => {
  const f = gatewayFindings(classes, gateways, deployments, routes);
  assert.deepEqual(f.classNames, ['weft', 'weft-params']);
  assert.deepEqual(f.gatewayNames, ['infra/ok', 'infra/pending']);
  assert.deepEqual(f.classes.map((x) => x.problem), ['GatewayClass weft-params: Accepted=False InvalidParameters (takes no parameters)']);
  assert.match(f.classes[0]?.hint ?? '', /remove spec.parametersRef/);
  assert.deepEqual(f.gateways.map((x) => x.problem), ['Gateway infra/pending: Programmed=False Pending (waiting for a ready gateway proxy)']);
  assert.deepEqual(f.specs, []);
  assert.match(f.gateways[0]?.hint ?? '', /describe deploy\/pending-weft-gateway/);
  assert.deepEqual(f.workloads.map((x) => x.problem), ['Gateway infra/pending: Deployment infra/pending-weft-gateway has no available pod (0/1)']);
  assert.deepEqual(f.listeners.map((x) => x.problem), ['Gateway infra/pending listener secure: Accepted=False UnsupportedProtocol (protocol HTTPS is not supported)']);
  assert.match(f.listeners[0]?.hint ?? '', /serves HTTP listeners/);
  assert.deepEqual(f.routes.map((x) => x.problem), [
    'HTTPRoute apps/cross (parent Gateway infra/ok sectionName web): ResolvedRefs=False RefNotPermitted (no ReferenceGrant in backend)',
    'GRPCRoute infra/grpc (parent Gateway infra/ok): Accepted=False NotAllowedByListeners (no listener admits GRPCRoutes)',
  ]);
  assert.match(f.routes[0]?.hint ?? '', /create a ReferenceGrant in the backend's namespace allowing HTTPRoutes from namespace apps/);
  assert.match(f.routes[1]?.hint ?? '', /allowedRoutes/);
  assert.equal(f.routesChecked, 3);
});

test('gateway findings: no status yet points at the controller; a missing Deployment is named; nothing of Weft is a pass', () => {
  const f = gatewayFindings([{ metadata: { name: 'weft' }, spec: { controllerName: GATEWAY_CONTROLLER_NAME } }], [gw('new', 'weft', [T('Accepted'), T('Programmed')])], [], []);
  assert.deepEqual(f.classes.map((x) => x.problem), ['GatewayClass weft: Accepted: no condition yet']);
  assert.match(f.classes[0]?.hint ?? '', /weft-controller/);
  assert.deepEqual(f.workloads.map((x) => x.problem), ['Gateway infra/new: its Deployment infra/new-weft-gateway does not exist']);
  const invalid = gatewayFindings(classes, [gw('bad', 'weft', [F('Accepted', 'ListenersNotValid', 'no listener is valid: secure'), F('Programmed', 'Invalid')])], [], []);
  assert.deepEqual(invalid.specs.map((x) => x.problem), ['Gateway infra/bad: Accepted=False ListenersNotValid (no listener is valid: secure)']);
  assert.deepEqual([invalid.gateways.length, invalid.workloads.length], [0, 0], 'a Gateway that is not accepted is not expected to be served');
  const none = gatewayFindings([], [], [], []);
  assert.deepEqual([none.classes, none.gateways, none.specs, none.workloads, none.listeners, none.routes].map((l) => l.length), [0, 0, 0, 0, 0, 0]);
});
