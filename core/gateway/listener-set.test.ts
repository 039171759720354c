/**
 * ListenerSets (Gateway API v1.7.0, GEP-1713) in the gateway's decisions: which sets a Gateway's
 * spec.allowedListeners admits, listener precedence on conflicts, routes attaching through a set, and
 * the set's own status.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Condition, Namespace } from '../kube.js';
import { evaluateGateway, listenerSetOrder, type AttachableRoute, type GatewayContext } from './evaluate.js';
import { buildGatewayView, selectListener } from './view.js';
import type { Gateway, Listener, ListenerSet, Secret } from './types.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const secret = (ns: string, name: string): Secret => ({ metadata: { namespace: ns, name }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64('CERT'), 'tls.key': b64('KEY') } });
const base: GatewayContext = { secrets: [secret('certs', 'cert')], referenceGrants: [], checkKeyPair: () => undefined };
const ns = (name: string, labels: Record<string, string> = {}): Namespace => ({ metadata: { name, labels } });
const namespaces = [ns('infra'), ns('apps', { allowed: 'yes' }), ns('other')];
const http = (name: string, hostname: string, extra: Partial<Listener> = {}): Listener => ({ name, port: 80, protocol: 'HTTP', hostname, allowedRoutes: { namespaces: { from: 'All' } }, ...extra });
const gateway = (allowed: NonNullable<Gateway['spec']>['allowedListeners'] | undefined, listeners: Listener[] = [http('gw', 'gw.example')]): Gateway => ({
  metadata: { namespace: 'infra', name: 'gw', generation: 2 },
  spec: { gatewayClassName: 'weft', listeners, ...(allowed !== undefined ? { allowedListeners: allowed } : {}) },
});
const set = (namespace: string, name: string, listeners: Listener[], created = '2026-12-07T10:00:00Z'): ListenerSet => ({
  metadata: { namespace, name, generation: 5, creationTimestamp: created },
  spec: { parentRef: { name: 'gw', namespace: 'infra', kind: 'Gateway', group: 'gateway.networking.k8s.io' }, listeners },
});
const route = (name: string, namespace: string, parentRefs: AttachableRoute['parentRefs']): AttachableRoute => ({ kind: 'HTTPRoute', namespace, name, parentRefs });
const c = (conds: readonly Condition[] | undefined, type: string) => {
  const found = (conds ?? []).find((x) => x.type === type);
  return found === undefined ? 'none' : `${found.status}/${found.reason ?? ''}`;
};
const evaluate = (gw: Gateway, sets: ListenerSet[], routes: AttachableRoute[] = []) =>
  evaluateGateway(gw, { ...base, namespaces, routes, runtime: { ready: true, address: '10.0.0.1' }, listenerSets: sets });
const setOf = (e: ReturnType<typeof evaluate>, name: string) => {
  const found = e.listenerSets.find((s) => s.listenerSet.metadata.name === name);
  assert.ok(found !== undefined, `ListenerSet ${name} evaluated`);
  return found;
};
const listenerOf = (s: ReturnType<typeof setOf>, name: string) => {
  const found = s.listeners.find((l) => l.listener.name === name);
  assert.ok(found !== undefined, `listener ${name}`);
  return found;
};

test('allowedListeners: none by default and with None; Same admits the Gateway\'s namespace; Selector the labelled namespaces; All any', () => {
  const sets = [set('infra', 'same', [http('a', 'a.example')]), set('apps', 'labelled', [http('b', 'b.example')]), set('other', 'plain', [http('c', 'c.example')])];
  const accepted = (allowed: Parameters<typeof gateway>[0]) => {
    const e = evaluate(gateway(allowed), sets);
    return { names: e.listenerSets.filter((s) => s.accepted).map((s) => s.listenerSet.metadata.name).sort(), attached: e.attachedListenerSets, e };
  };
  const byDefault = accepted(undefined);
  assert.deepEqual(byDefault.names, []);
  assert.equal(byDefault.attached, 0);
  assert.equal(c(setOf(byDefault.e, 'same').conditions, 'Accepted'), 'False/NotAllowed');
  assert.equal(c(setOf(byDefault.e, 'same').conditions, 'Programmed'), 'False/NotAllowed');
  assert.match(setOf(byDefault.e, 'same').conditions[0]?.message ?? '', /does not allow ListenerSets from namespace infra .*None, the default/);
  assert.deepEqual(accepted({ namespaces: { from: 'None' } }).names, []);
  assert.deepEqual(accepted({ namespaces: { from: 'Same' } }).names, ['same']);
  assert.deepEqual(accepted({ namespaces: { from: 'Selector', selector: { matchLabels: { allowed: 'yes' } } } }).names, ['labelled']);
  const all = accepted({ namespaces: { from: 'All' } });
  assert.deepEqual(all.names, ['labelled', 'plain', 'same']);
  assert.equal(all.attached, 3);
  const same = setOf(all.e, 'same');
  assert.equal(c(same.conditions, 'Accepted'), 'True/Accepted');
  assert.equal(c(same.conditions, 'Programmed'), 'True/Programmed');
  assert.equal(same.conditions[0]?.observedGeneration, 5, 'the set\'s generation');
  assert.deepEqual(['ResolvedRefs', 'Accepted', 'Programmed'].map((t) => c(listenerOf(same, 'a').conditions, t)), ['True/ResolvedRefs', 'True/Accepted', 'True/Programmed']);
  // A set naming another Gateway is not this Gateway's.
  const elsewhere = { ...set('infra', 'elsewhere', [http('x', 'x.example')]), spec: { parentRef: { name: 'other-gw' }, listeners: [http('x', 'x.example')] } };
  assert.equal(evaluate(gateway({ namespaces: { from: 'All' } }), [elsewhere]).listenerSets.length, 0);
});

test('precedence: a set\'s listener clashing with the Gateway\'s or an older set\'s is Conflicted, the first keeps serving; a set of only conflicted listeners is not accepted', () => {
  const gw = gateway({ namespaces: { from: 'Same' } }, [http('gw-1', 'one.example'), http('gw-2', 'two.example')]);
  const sets = [
    set('infra', 'ls-b', [http('b-own', 'b.example'), { name: 'b-tcp', port: 80, protocol: 'TCP' }, http('b-shared', 'shared.example')]),
    set('infra', 'ls-a', [http('a-dup', 'two.example')]),
    set('infra', 'ls-c', [http('c-shared', 'shared.example'), http('c-own', 'c.example')], '2026-12-07T11:00:00Z'),
  ];
  assert.deepEqual([...sets].sort(listenerSetOrder).map((s) => s.metadata.name), ['ls-a', 'ls-b', 'ls-c'], 'same creation time: by namespace/name; newer last');
  const e = evaluate(gw, sets);
  assert.deepEqual(e.listeners.map((l) => c(l.conditions, 'Accepted')), ['True/Accepted', 'True/Accepted'], 'the Gateway\'s own listeners win');
  const a = setOf(e, 'ls-a');
  assert.deepEqual(['Accepted', 'Programmed', 'Conflicted'].map((t) => c(listenerOf(a, 'a-dup').conditions, t)), ['False/HostnameConflict', 'False/HostnameConflict', 'True/HostnameConflict']);
  assert.equal(c(a.conditions, 'Accepted'), 'False/ListenersNotValid');
  assert.equal(c(a.conditions, 'Programmed'), 'False/ListenersNotValid');
  const b = setOf(e, 'ls-b');
  assert.deepEqual(['Accepted', 'Programmed', 'Conflicted'].map((t) => c(listenerOf(b, 'b-tcp').conditions, t)), ['False/ProtocolConflict', 'False/ProtocolConflict', 'True/ProtocolConflict']);
  assert.equal(c(listenerOf(b, 'b-shared').conditions, 'Accepted'), 'True/Accepted');
  assert.equal(c(b.conditions, 'Accepted'), 'True/ListenersNotValid');
  assert.equal(c(b.conditions, 'Programmed'), 'True/Programmed');
  const cs = setOf(e, 'ls-c');
  assert.equal(c(listenerOf(cs, 'c-shared').conditions, 'Conflicted'), 'True/HostnameConflict', 'the older set\'s listener has the hostname');
  assert.equal(c(listenerOf(cs, 'c-own').conditions, 'Accepted'), 'True/Accepted');
  assert.equal(e.attachedListenerSets, 2);
});

test('routes: a Gateway parentRef reaches only the Gateway\'s listeners, a ListenerSet parentRef only the set\'s; Same means the set\'s namespace', () => {
  const gw = gateway({ namespaces: { from: 'All' } }, [http('gw', 'gw.example', { allowedRoutes: { namespaces: { from: 'Same' } } })]);
  const ls = set('apps', 'ls', [http('ls-all', 'all.example'), http('ls-same', 'same.example', { allowedRoutes: { namespaces: { from: 'Same' } } })]);
  const lsRef = { kind: 'ListenerSet', group: 'gateway.networking.k8s.io', name: 'ls', namespace: 'apps' };
  const routes = [
    route('to-gw', 'infra', [{ name: 'gw' }]),
    route('gw-section-of-set', 'infra', [{ name: 'gw', sectionName: 'ls-all' }, { ...lsRef, sectionName: 'ls-all' }]),
    route('to-set', 'apps', [lsRef]),
    route('to-set-from-infra', 'infra', [{ ...lsRef, sectionName: 'ls-same' }]),
  ];
  const e = evaluate(gw, [ls], routes);
  assert.deepEqual(e.routes.get('HTTPRoute/infra/to-gw')?.map((p) => [p.accepted, p.listeners.map((l) => l.listener)]), [[true, ['gw']]]);
  const dual = e.routes.get('HTTPRoute/infra/gw-section-of-set') ?? [];
  assert.deepEqual(dual.map((p) => p.reason), ['NoMatchingParent', 'Accepted'], 'each parentRef on its own');
  assert.match(dual[0]?.message ?? "", /ListenerSet apps\/ls has it: a ListenerSet.s listener is reached through a parentRef to the ListenerSet/);
  assert.deepEqual(e.routes.get('HTTPRoute/apps/to-set')?.[0]?.listeners.map((l) => l.listener), ['apps/ls/ls-all', 'apps/ls/ls-same']);
  assert.equal(e.routes.get('HTTPRoute/infra/to-set-from-infra')?.[0]?.reason, 'NotAllowedByListeners', 'Same: the ListenerSet\'s namespace, not the Gateway\'s');
  assert.equal(e.attachedRoutes.get('apps/ls/ls-all'), 2);
  assert.equal(e.attachedRoutes.get('apps/ls/ls-same'), 1);
  assert.equal(e.attachedRoutes.get('gw'), 1);
  // The view serves the set's listeners beside the Gateway's, each with its own routes.
  const view = buildGatewayView({ namespace: 'infra', name: 'gw' }, e, new Map());
  const port = view.ports.find((p) => p.port === 80);
  assert.deepEqual(port?.listeners.map((l) => l.name).sort(), ['apps/ls/ls-all', 'apps/ls/ls-same', 'gw']);
  assert.equal(port === undefined ? undefined : selectListener(port, 'all.example')?.name, 'apps/ls/ls-all');
  // A route to a set the Gateway does not allow is refused, naming why.
  const refused = evaluate(gateway(undefined), [ls], [route('to-set', 'apps', [lsRef])]);
  assert.equal(refused.routes.get('HTTPRoute/apps/to-set')?.[0]?.reason, 'NoMatchingParent');
  assert.match(refused.routes.get('HTTPRoute/apps/to-set')?.[0]?.message ?? '', /not attached to its Gateway: .*does not allow/);
});

test('certificates of a set\'s HTTPS listener resolve from the set\'s namespace; another namespace needs a ReferenceGrant from ListenerSets', () => {
  const gw = gateway({ namespaces: { from: 'All' } });
  const https = (name: string): Listener => ({ name, port: 443, protocol: 'HTTPS', hostname: `${name}.example`, tls: { certificateRefs: [{ name: 'cert', namespace: 'certs' }] } });
  const sets = [set('infra', 'granted', [https('granted')]), set('other', 'refused', [https('refused')])];
  const grant = { metadata: { namespace: 'certs', name: 'g' }, spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'ListenerSet', namespace: 'infra' }], to: [{ group: '', kind: 'Secret' }] } };
  const e = evaluateGateway(gw, { ...base, referenceGrants: [grant], namespaces, routes: [], runtime: { ready: true, address: '10.0.0.1' }, listenerSets: sets });
  assert.equal(c(listenerOf(setOf(e, 'granted'), 'granted').conditions, 'ResolvedRefs'), 'True/ResolvedRefs');
  assert.equal(c(listenerOf(setOf(e, 'refused'), 'refused').conditions, 'ResolvedRefs'), 'False/RefNotPermitted');
  assert.equal(c(setOf(e, 'refused').conditions, 'Accepted'), 'False/ListenersNotValid');
  const gatewayGrant = { ...grant, spec: { ...grant.spec, from: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra' }] } };
  const notForSets = evaluateGateway(gw, { ...base, referenceGrants: [gatewayGrant], namespaces, routes: [], runtime: { ready: true, address: '10.0.0.1' }, listenerSets: sets });
  assert.equal(c(listenerOf(setOf(notForSets, 'granted'), 'granted').conditions, 'ResolvedRefs'), 'False/RefNotPermitted', 'a grant to Gateways is not one to ListenerSets');
});

test('a set of a Gateway that is not accepted is ParentNotAccepted; an unserved Gateway\'s sets are Programmed=False Pending', () => {
  const bad = { ...gateway({ namespaces: { from: 'All' } }), spec: { ...gateway({ namespaces: { from: 'All' } }).spec!, addresses: [{ type: 'IPAddress', value: '1.2.3.4' }] } };
  const e = evaluate(bad, [set('infra', 'ls', [http('a', 'a.example')])]);
  assert.equal(c(setOf(e, 'ls').conditions, 'Accepted'), 'False/ParentNotAccepted');
  const unserved = evaluateGateway(gateway({ namespaces: { from: 'All' } }), { ...base, namespaces, routes: [], runtime: { ready: false, unserved: 'nothing serves it' }, listenerSets: [set('infra', 'ls', [http('a', 'a.example')])] });
  assert.equal(c(setOf(unserved, 'ls').conditions, 'Programmed'), 'False/Pending');
  assert.equal(c(listenerOf(setOf(unserved, 'ls'), 'a').conditions, 'Programmed'), 'False/Pending');
});
