import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Condition, Namespace, ReferenceGrant } from '../kube.js';
import { effectiveHostnames, hostnameMatches, hostnameSpecificity, intersectHostname } from './hostname.js';
import {
  attachParent, evaluateGateway, evaluateGatewayClass, evaluateListeners, type AttachableRoute, type GatewayContext,
} from './evaluate.js';
import type { Gateway, Listener, Secret } from './types.js';

const CONTROLLER = 'weft.dev/gateway-controller';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const tlsSecret = (ns: string, name: string, crt = 'CERT', key = 'KEY', type = 'kubernetes.io/tls'): Secret => ({
  metadata: { namespace: ns, name }, type, data: { 'tls.crt': b64(crt), 'tls.key': b64(key) },
});
const ctx = (over: Partial<GatewayContext> = {}): GatewayContext => ({
  secrets: [tlsSecret('infra', 'cert')],
  referenceGrants: [],
  checkKeyPair: (crt) => (crt === 'CERT' ? undefined : 'tls.crt is not a PEM certificate'),
  ...over,
});
const gateway = (listeners: Listener[], extra: Partial<NonNullable<Gateway['spec']>> = {}): Gateway => ({
  metadata: { namespace: 'infra', name: 'gw', generation: 3 },
  spec: { gatewayClassName: 'weft', listeners, ...extra },
});
const c = (conds: readonly Condition[], type: string) => {
  const found = conds.find((x) => x.type === type);
  assert.ok(found !== undefined, `condition ${type} in ${JSON.stringify(conds)}`);
  return `${found.status}/${found.reason ?? ''}`;
};

test('hostnames: exact, wildcard suffix of one or more labels, never the bare suffix; intersection is the more specific', () => {
  assert.ok(hostnameMatches('*.example.com', 'a.example.com'));
  assert.ok(hostnameMatches('*.example.com', 'a.b.example.com'));
  assert.ok(!hostnameMatches('*.example.com', 'example.com'));
  assert.ok(hostnameMatches('Foo.Example.com', 'foo.example.com'));
  assert.equal(intersectHostname('*.example.com', 'foo.example.com'), 'foo.example.com');
  assert.equal(intersectHostname('foo.example.com', '*.example.com'), 'foo.example.com');
  assert.equal(intersectHostname('*.example.com', '*.foo.example.com'), '*.foo.example.com');
  assert.equal(intersectHostname('*.foo.example.com', '*.example.com'), '*.foo.example.com');
  assert.equal(intersectHostname('*.example.com', '*.example.org'), undefined);
  assert.equal(intersectHostname('a.example.com', 'b.example.com'), undefined);
  assert.deepEqual(effectiveHostnames(undefined, undefined), { any: true });
  assert.deepEqual(effectiveHostnames('*.example.com', []), { any: false, hostnames: ['*.example.com'] });
  assert.deepEqual(effectiveHostnames(undefined, ['A.example.com']), { any: false, hostnames: ['a.example.com'] });
  assert.deepEqual(effectiveHostnames('*.example.com', ['x.example.com', 'other.org', '*.example.com']), { any: false, hostnames: ['x.example.com', '*.example.com'] });
  assert.equal(effectiveHostnames('foo.example.com', ['bar.example.com']), undefined);
  assert.ok(hostnameSpecificity('a.example.com') > hostnameSpecificity('*.foo.example.com'));
  assert.ok(hostnameSpecificity('*.foo.example.com') > hostnameSpecificity('*.example.com'));
  assert.ok(hostnameSpecificity('*.example.com') > hostnameSpecificity(undefined));
});

test('GatewayClass: only Weft\'s controllerName is ours; parametersRef is refused with InvalidParameters', () => {
  assert.equal(evaluateGatewayClass({ metadata: { name: 'x' }, spec: { controllerName: 'example.com/other' } }, CONTROLLER).ours, false);
  const ok = evaluateGatewayClass({ metadata: { name: 'weft', generation: 2 }, spec: { controllerName: CONTROLLER } }, CONTROLLER);
  assert.equal(ok.accepted, true);
  assert.equal(c(ok.conditions, 'Accepted'), 'True/Accepted');
  assert.equal(ok.conditions[0]?.observedGeneration, 2);
  const params = evaluateGatewayClass({ metadata: { name: 'weft' }, spec: { controllerName: CONTROLLER, parametersRef: { group: 'x.io', kind: 'Cfg', name: 'c' } } }, CONTROLLER);
  assert.equal(params.accepted, false);
  assert.equal(c(params.conditions, 'Accepted'), 'False/InvalidParameters');
});

test('listeners: protocols, TLS certificate references, route kinds, each with the upstream reason', () => {
  const ev = evaluateListeners(gateway([
    { name: 'http', port: 80, protocol: 'HTTP' },
    { name: 'https', port: 443, protocol: 'HTTPS', hostname: 'a.example.com', tls: { certificateRefs: [{ name: 'cert' }] } },
    { name: 'tcp', port: 9000, protocol: 'TCP' },
    { name: 'missing', port: 443, protocol: 'HTTPS', hostname: 'b.example.com', tls: { certificateRefs: [{ name: 'nope' }] } },
    { name: 'malformed', port: 443, protocol: 'HTTPS', hostname: 'c.example.com', tls: { certificateRefs: [{ name: 'bad' }] } },
    { name: 'kind', port: 443, protocol: 'HTTPS', hostname: 'd.example.com', tls: { certificateRefs: [{ name: 'cert', kind: 'ConfigMap' }] } },
    { name: 'foreign', port: 443, protocol: 'HTTPS', hostname: 'e.example.com', tls: { certificateRefs: [{ name: 'cert', namespace: 'other' }] } },
    { name: 'kinds', port: 8080, protocol: 'HTTP', allowedRoutes: { kinds: [{ kind: 'HTTPRoute' }, { kind: 'TLSRoute' }] } },
    { name: 'passthrough', port: 8443, protocol: 'TLS', tls: { mode: 'Passthrough' } },
  ]), ctx({ secrets: [tlsSecret('infra', 'cert'), tlsSecret('infra', 'bad', 'garbage'), tlsSecret('other', 'cert')] }));
  const by = (name: string) => {
    const e = ev.find((x) => x.listener.name === name);
    assert.ok(e !== undefined, name);
    return e;
  };
  assert.equal(by('http').valid, true);
  assert.deepEqual(by('http').supportedKinds.map((k) => k.kind), ['HTTPRoute', 'GRPCRoute']);
  assert.equal(c(by('http').conditions, 'Programmed'), 'True/Programmed');
  assert.equal(by('https').valid, true);
  assert.equal(by('https').certificates[0]?.certPem, 'CERT');
  assert.equal(c(by('tcp').conditions, 'Accepted'), 'False/UnsupportedProtocol');
  assert.equal(c(by('tcp').conditions, 'Programmed'), 'False/Invalid');
  assert.equal(c(by('missing').conditions, 'ResolvedRefs'), 'False/InvalidCertificateRef');
  assert.match(by('missing').conditions.find((x) => x.type === 'ResolvedRefs')?.message ?? '', /infra\/nope: Secret not found/);
  assert.equal(c(by('malformed').conditions, 'ResolvedRefs'), 'False/InvalidCertificateRef');
  assert.match(by('malformed').conditions.find((x) => x.type === 'ResolvedRefs')?.message ?? '', /not a PEM certificate/);
  assert.equal(c(by('kind').conditions, 'ResolvedRefs'), 'False/InvalidCertificateRef');
  assert.equal(c(by('foreign').conditions, 'ResolvedRefs'), 'False/RefNotPermitted');
  assert.equal(by('foreign').valid, false);
  assert.equal(c(by('kinds').conditions, 'ResolvedRefs'), 'False/InvalidRouteKinds');
  assert.deepEqual(by('kinds').supportedKinds.map((k) => k.kind), ['HTTPRoute'], 'only the valid kinds are listed');
  assert.deepEqual(by('passthrough').supportedKinds.map((k) => k.kind), ['TLSRoute']);
  assert.equal(by('passthrough').valid, true);
  for (const e of ev) for (const cd of e.conditions) assert.equal(cd.observedGeneration, 3);
});

test('a ReferenceGrant in the Secret\'s namespace lets a Gateway use a certificate from there', () => {
  const grant: ReferenceGrant = {
    metadata: { namespace: 'other', name: 'g' },
    spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra' }], to: [{ group: '', kind: 'Secret' }] },
  };
  const gw = gateway([{ name: 'https', port: 443, protocol: 'HTTPS', tls: { certificateRefs: [{ name: 'cert', namespace: 'other' }] } }]);
  const secrets = [tlsSecret('other', 'cert')];
  assert.equal(evaluateListeners(gw, ctx({ secrets }))[0]?.valid, false);
  assert.equal(evaluateListeners(gw, ctx({ secrets, referenceGrants: [grant] }))[0]?.valid, true);
  const elsewhere = { ...grant, metadata: { namespace: 'infra', name: 'g' } };
  assert.equal(evaluateListeners(gw, ctx({ secrets, referenceGrants: [elsewhere] }))[0]?.valid, false, 'a grant outside the target namespace grants nothing');
});

test('conflicts: HTTP and HTTPS on one port conflict by protocol; HTTPS and TLS share a port unless their hostnames are equal', () => {
  const ev = evaluateListeners(gateway([
    { name: 'plain', port: 443, protocol: 'HTTP', hostname: 'x.example.com' },
    { name: 'secure', port: 443, protocol: 'HTTPS', hostname: 'y.example.com', tls: { certificateRefs: [{ name: 'cert' }] } },
    { name: 'a', port: 8443, protocol: 'HTTPS', hostname: 'same.example.com', tls: { certificateRefs: [{ name: 'cert' }] } },
    { name: 'b', port: 8443, protocol: 'TLS', hostname: 'same.example.com', tls: { mode: 'Passthrough' } },
    { name: 'c', port: 8443, protocol: 'TLS', hostname: 'other.example.com', tls: { mode: 'Passthrough' } },
  ]), ctx());
  const conflicted = Object.fromEntries(ev.map((e) => [e.listener.name, c(e.conditions, 'Conflicted')]));
  assert.deepEqual(conflicted, {
    plain: 'True/ProtocolConflict', secure: 'True/ProtocolConflict', a: 'True/HostnameConflict', b: 'True/HostnameConflict', c: 'False/NoConflicts',
  });
  assert.deepEqual(ev.filter((e) => e.valid).map((e) => e.listener.name), ['c'], 'no conflicting listener wins');
});

const ns = (name: string, labels: Record<string, string> = {}): Namespace => ({ metadata: { name, labels } });
const route = (over: Partial<AttachableRoute> = {}): AttachableRoute => ({
  kind: 'HTTPRoute', namespace: 'infra', name: 'r', parentRefs: [{ name: 'gw' }], ...over,
});

test('attachment: sectionName and port select listeners; allowedRoutes namespaces and kinds admit; hostnames must intersect', () => {
  const gw = gateway([
    { name: 'same', port: 80, protocol: 'HTTP' },
    { name: 'all', port: 8080, protocol: 'HTTP', hostname: '*.example.com', allowedRoutes: { namespaces: { from: 'All' } } },
    { name: 'selected', port: 8081, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { shared: 'yes' } } } } },
    { name: 'tls', port: 8443, protocol: 'TLS', tls: { mode: 'Passthrough' }, allowedRoutes: { namespaces: { from: 'All' } } },
  ]);
  const ls = evaluateListeners(gw, ctx());
  const namespaces = [ns('infra'), ns('apps', { shared: 'yes' }), ns('else')];
  const attach = (r: AttachableRoute) => {
    const ref = r.parentRefs[0];
    assert.ok(ref !== undefined);
    return attachParent(r, ref, gw, ls, namespaces);
  };
  assert.deepEqual(attach(route()).listeners.map((l) => l.listener), ['same', 'all'], 'infra lacks the selected label');
  assert.deepEqual(attach(route({ namespace: 'apps', parentRefs: [{ name: 'gw', namespace: 'infra' }] })).listeners.map((l) => l.listener), ['all', 'selected']);
  assert.deepEqual(attach(route({ namespace: 'else', parentRefs: [{ name: 'gw', namespace: 'infra' }] })).listeners.map((l) => l.listener), ['all']);
  const notAllowed = attach(route({ namespace: 'else', parentRefs: [{ name: 'gw', namespace: 'infra', sectionName: 'same' }] }));
  assert.equal(`${String(notAllowed.accepted)}/${notAllowed.reason}`, 'false/NotAllowedByListeners');
  const noSection = attach(route({ parentRefs: [{ name: 'gw', sectionName: 'nope' }] }));
  assert.equal(noSection.reason, 'NoMatchingParent');
  assert.equal(attach(route({ parentRefs: [{ name: 'gw', port: 9999 }] })).reason, 'NoMatchingParent');
  assert.deepEqual(attach(route({ parentRefs: [{ name: 'gw', port: 8080 }] })).listeners.map((l) => l.listener), ['all']);
  const host = attach(route({ hostnames: ['foo.example.com'], parentRefs: [{ name: 'gw', sectionName: 'all' }] }));
  assert.deepEqual(host.listeners[0]?.hostnames, { any: false, hostnames: ['foo.example.com'] });
  const noHost = attach(route({ hostnames: ['foo.example.org'], parentRefs: [{ name: 'gw', sectionName: 'all' }] }));
  assert.equal(noHost.reason, 'NoMatchingListenerHostname');
  const tlsRoute = attach(route({ kind: 'TLSRoute', namespace: 'else', parentRefs: [{ name: 'gw', namespace: 'infra' }] }));
  assert.deepEqual(tlsRoute.listeners.map((l) => l.listener), ['tls'], 'a TLSRoute attaches only to the TLS listener');
});

test('the Gateway: attachedRoutes per listener, Accepted with ListenersNotValid when some are invalid, Programmed once addressed and ready', () => {
  const gw = gateway([
    { name: 'http', port: 80, protocol: 'HTTP' },
    { name: 'tcp', port: 90, protocol: 'TCP' },
  ]);
  const routes = [route({ name: 'a' }), route({ name: 'b', parentRefs: [{ name: 'gw', sectionName: 'http' }, { name: 'gw', sectionName: 'http', port: 80 }] }),
    route({ name: 'other-gw', parentRefs: [{ name: 'elsewhere' }] }), route({ name: 'refused', namespace: 'apps', parentRefs: [{ name: 'gw', namespace: 'infra' }] })];
  const base = { ...ctx(), namespaces: [ns('infra'), ns('apps')], routes };
  const pending = evaluateGateway(gw, { ...base, runtime: { ready: false } });
  assert.equal(pending.attachedRoutes.get('http'), 2, 'a route counts once per listener, however many of its refs select it');
  assert.equal(pending.attachedRoutes.get('tcp'), 0);
  assert.equal(pending.routes.has('HTTPRoute/infra/other-gw'), false);
  assert.equal(pending.routes.get('HTTPRoute/apps/refused')?.[0]?.reason, 'NotAllowedByListeners');
  assert.equal(c(pending.conditions, 'Accepted'), 'True/ListenersNotValid');
  assert.equal(c(pending.conditions, 'Programmed'), 'False/AddressNotAssigned');
  assert.equal(c(evaluateGateway(gw, { ...base, runtime: { ready: false, address: '10.0.0.9' } }).conditions, 'Programmed'), 'False/Pending');
  assert.equal(c(evaluateGateway(gw, { ...base, runtime: { ready: true, address: '10.0.0.9' } }).conditions, 'Programmed'), 'True/Programmed');
  const none = evaluateGateway(gateway([{ name: 'tcp', port: 90, protocol: 'TCP' }]), { ...base, runtime: { ready: true, address: '10.0.0.9' } });
  assert.equal(c(none.conditions, 'Accepted'), 'False/ListenersNotValid');
  assert.equal(c(none.conditions, 'Programmed'), 'False/Invalid');
  const addressed = evaluateGateway(gateway([{ name: 'http', port: 80, protocol: 'HTTP' }], { addresses: [{ type: 'IPAddress', value: '1.2.3.4' }] }), { ...base, runtime: { ready: true, address: '10.0.0.9' } });
  assert.equal(c(addressed.conditions, 'Accepted'), 'False/UnsupportedAddress');
  const anyAddress = evaluateGateway(gateway([{ name: 'http', port: 80, protocol: 'HTTP' }], { addresses: [{ type: 'IPAddress' }] }), { ...base, runtime: { ready: true, address: '10.0.0.9' } });
  assert.equal(c(anyAddress.conditions, 'Accepted'), 'True/Accepted', 'an IPAddress without a value: the Service assigns it');
  assert.equal(c(anyAddress.conditions, 'Programmed'), 'True/Programmed');
  const hostname = evaluateGateway(gateway([{ name: 'http', port: 80, protocol: 'HTTP' }], { addresses: [{ type: 'Hostname' }] }), { ...base, runtime: { ready: true, address: '10.0.0.9' } });
  assert.equal(c(hostname.conditions, 'Accepted'), 'False/UnsupportedAddress');
  const params = evaluateGateway(gateway([{ name: 'http', port: 80, protocol: 'HTTP' }], { infrastructure: { parametersRef: { group: 'invalid.io', kind: 'InvalidParameters', name: 'invalid' } } }), { ...base, runtime: { ready: true, address: '10.0.0.9' } });
  assert.equal(c(params.conditions, 'Accepted'), 'False/InvalidParameters');
  assert.equal(c(params.conditions, 'Programmed'), 'False/Invalid');
  const withClient = (name: string, ns?: string) => evaluateGateway(gateway([{ name: 'http', port: 80, protocol: 'HTTP' }], { tls: { backend: { clientCertificateRef: { name, ...(ns !== undefined ? { namespace: ns } : {}) } } } }), { ...base, runtime: { ready: true, address: '10.0.0.9' } });
  const good = withClient('cert');
  assert.equal(c(good.conditions, 'ResolvedRefs'), 'True/ResolvedRefs');
  assert.deepEqual(good.backendClientCertificate, { certPem: 'CERT', keyPem: 'KEY' });
  assert.equal(c(withClient('missing').conditions, 'ResolvedRefs'), 'False/InvalidClientCertificateRef');
  assert.equal(withClient('missing').backendClientCertificate, undefined);
  assert.equal(c(withClient('cert', 'elsewhere').conditions, 'ResolvedRefs'), 'False/RefNotPermitted');
  assert.equal(good.conditions.filter((x) => x.type === 'ResolvedRefs').length, 1);
  assert.equal(evaluateGateway(gateway([{ name: 'http', port: 80, protocol: 'HTTP' }]), { ...base, runtime: { ready: true, address: '10.0.0.9' } }).conditions.some((x) => x.type === 'ResolvedRefs'), false, 'no clientCertificateRef: no ResolvedRefs');
  const labelled = evaluateGateway(gateway([{ name: 'http', port: 80, protocol: 'HTTP' }], { infrastructure: { labels: { a: 'b' } } }), { ...base, runtime: { ready: true, address: '10.0.0.9' } });
  assert.equal(c(labelled.conditions, 'Accepted'), 'True/Accepted');
});

test('a narrower protocol set refuses the other listeners by name; an unserved Gateway and its valid listeners are Programmed=False Pending', () => {
  const gw = gateway([
    { name: 'http', port: 80, protocol: 'HTTP' },
    { name: 'https', port: 443, protocol: 'HTTPS', tls: { certificateRefs: [{ name: 'cert' }] } },
  ]);
  const only = evaluateListeners(gw, ctx({ protocols: new Set(['HTTP']) }));
  assert.equal(c(only[0]!.conditions, 'Accepted'), 'True/Accepted');
  assert.equal(c(only[1]!.conditions, 'Accepted'), 'False/UnsupportedProtocol');
  assert.match(only[1]!.conditions[0]?.message ?? '', /serves HTTP$/);
  assert.equal(c(evaluateListeners(gw, ctx())[1]!.conditions, 'Accepted'), 'True/Accepted', 'the default set serves HTTPS');

  const why = 'no gateway proxy is deployed yet';
  const e = evaluateGateway(gw, { ...ctx({ protocols: new Set(['HTTP']) }), namespaces: [], routes: [], runtime: { ready: true, address: '10.0.0.9', unserved: why } });
  assert.equal(c(e.conditions, 'Accepted'), 'True/ListenersNotValid');
  assert.equal(c(e.conditions, 'Programmed'), 'False/Pending');
  assert.equal(e.conditions.find((x) => x.type === 'Programmed')?.message, why);
  assert.equal(c(e.listeners[0]!.conditions, 'Programmed'), 'False/Pending');
  assert.equal(c(e.listeners[1]!.conditions, 'Programmed'), 'False/Invalid', 'an invalid listener keeps its own reason');
});

test('client certificate validation (spec.tls.frontend) is not implemented: the HTTPS listeners it covers are not served (fail closed)', () => {
  const listeners: Listener[] = [
    { name: 'a', port: 443, protocol: 'HTTPS', hostname: 'a.example.com', tls: { certificateRefs: [{ name: 'cert' }] } },
    { name: 'b', port: 8443, protocol: 'HTTPS', hostname: 'b.example.com', tls: { certificateRefs: [{ name: 'cert' }] } },
    { name: 'web', port: 80, protocol: 'HTTP' },
  ];
  const validation = { caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'client-ca' }] };
  const byDefault = evaluateListeners(gateway(listeners, { tls: { frontend: { default: { validation } } } }), ctx());
  assert.deepEqual(byDefault.map((e) => [e.listener.name, e.valid]), [['a', false], ['b', false], ['web', true]], 'the default covers every HTTPS listener, not HTTP');
  assert.equal(c(byDefault[0]!.conditions, 'Accepted'), 'False/NoValidCACertificate');
  assert.equal(c(byDefault[0]!.conditions, 'ResolvedRefs'), 'False/InvalidCACertificateRef');
  assert.equal(c(byDefault[0]!.conditions, 'Programmed'), 'False/Invalid');
  assert.match(byDefault[0]!.conditions.find((x) => x.type === 'Accepted')?.message ?? '', /ConfigMap infra\/client-ca.*not supported.*rather than served without validating clients/);

  // perPort: only its port; an entry without validation exempts its port from the default.
  const perPort = evaluateListeners(gateway(listeners, { tls: { frontend: { perPort: [{ port: 8443, tls: { validation } }] } } }), ctx());
  assert.deepEqual(perPort.map((e) => [e.listener.name, e.valid]), [['a', true], ['b', false], ['web', true]]);
  const exempt = evaluateListeners(gateway(listeners, { tls: { frontend: { default: { validation }, perPort: [{ port: 443, tls: {} }] } } }), ctx());
  assert.deepEqual(exempt.map((e) => [e.listener.name, e.valid]), [['a', true], ['b', false], ['web', true]]);
});
