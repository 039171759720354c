/**
 * Walkthrough (a) of issue 20, after the Application Gateway for Containers walkthrough, on the local
 * cluster with counted requests from a pod to the address the Gateway's status gives:
 *
 * - an HTTPS listener terminating TLS with a certificate Secret in the Gateway's namespace, admitting
 *   routes only from namespaces with a label (allowedRoutes Selector); an HTTPRoute of a labelled
 *   namespace is attached, one of an unlabelled namespace is Accepted=False NotAllowedByListeners;
 * - hostname, path and header routing with a weighted 80/20 split on that listener;
 * - a backend that requires a client certificate over TLS (the echo server with --client-ca), reached
 *   through a BackendTLSPolicy (ConfigMap CA, hostname) with the Gateway's
 *   spec.tls.backend.clientCertificateRef: 200, the backend reports the gateway's client certificate,
 *   and the policy's status is Accepted for the Gateway; policies with a wrong hostname or a wrong CA
 *   answer 502 `backend-tls` (the gateway's log says what did not verify).
 *
 * Certificates are made at test time: the listener's self-signed (test/support/tls-certs.ts), the
 * backend's and the gateway's client certificate from one test CA (identity/ca.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { DEFAULT_IMAGE, GATEWAY_CONTROLLER_NAME } from '../../core/contract.js';
import { CertificateAuthority, createTrustAnchor } from '../../identity/ca.js';
import { ECHO_IMAGE, podName } from '../support/booksapp.js';
import { useMesh, type Mesh } from '../support/mesh.js';
import { selfSignedServer } from '../support/tls-certs.js';

let mesh: Mesh;
const suffix = randomBytes(3).toString('hex');
const CLASS = `weft-agc-${suffix}`;
const GW_NS = `e2e-agc-gw-${suffix}`;
const APPS = `e2e-agc-apps-${suffix}`;
const OTHER = `e2e-agc-other-${suffix}`;
const HOST = 'contoso.example';
const BACKEND_NAME = `secure.${APPS}.internal`;

interface Cond { type: string; status: string; reason?: string; message?: string }
interface Obj { status?: { addresses?: { value: string }[]; conditions?: Cond[]; parents?: { controllerName?: string; conditions?: Cond[] }[]; ancestors?: { controllerName?: string; ancestorRef: { name: string }; conditions?: Cond[] }[] } }

const show = (conds: readonly Cond[] | undefined) => (conds ?? []).map((c) => `${c.type}=${c.status}:${c.reason ?? ''}`).join(', ');
const has = (conds: readonly Cond[] | undefined, want: Readonly<Record<string, string>>) =>
  Object.entries(want).every(([type, expect]) => {
    const c = (conds ?? []).find((x) => x.type === type);
    const [status, reason] = expect.split(':');
    return c !== undefined && c.status === status && (reason === undefined || c.reason === reason);
  });

async function until(what: string, args: readonly string[], check: (o: Obj) => string | true): Promise<Obj> {
  let last: Obj | undefined;
  await mesh.cluster.waitFor(what, async () => {
    const r = await mesh.cluster.kubectl([...args, '-o', 'json']);
    if (r.code !== 0) return r.stderr;
    last = JSON.parse(r.stdout) as Obj;
    return check(last);
  }, { timeoutMs: 120_000, intervalMs: 1000 });
  return last!;
}

const tlsSecret = (name: string, certPem: string, keyPem: string) => `
apiVersion: v1
kind: Secret
metadata: {name: ${name}}
type: kubernetes.io/tls
data: {tls.crt: ${Buffer.from(certPem).toString('base64')}, tls.key: ${Buffer.from(keyPem).toString('base64')}}
`;

const echo = (name: string, version: string) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: 1
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - {name: echo, image: ${ECHO_IMAGE}, args: [--port=8080, --version=${version}], ports: [{containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  selector: {app: ${name}}
  ports: [{name: http, port: 8080}]
`;

/**
 * Run in a pod of the Weft image (it has node): `count` HTTPS requests to address:443 with SNI and Host
 * `host`, the listener's certificate as the only trust anchor, extra headers as JSON; prints one JSON
 * line: per answer (status, the echo's ServiceVersion or the weft-proxy-error) a count, and the
 * ClientCert lines the backends reported.
 */
const HTTPS_CLIENT = `
const https = require('node:https');
const [address, host, path, ca, headersJson, count] = process.argv.slice(1);
const out = { answers: {}, clientCerts: {}, errors: {} };
const one = () => new Promise((resolve) => {
  const req = https.request({ host: address, port: 443, servername: host, ca, path, headers: { host, ...JSON.parse(headersJson) }, agent: false, timeout: 10000 }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => (body += d));
    res.on('end', () => {
      const v = /^ServiceVersion=(.*)$/m.exec(body);
      const k = res.statusCode + ' ' + (v ? v[1] : (res.headers['weft-proxy-error'] || '-'));
      out.answers[k] = (out.answers[k] || 0) + 1;
      const c = /^ClientCert=(.*)$/m.exec(body);
      if (c) out.clientCerts[c[1]] = (out.clientCerts[c[1]] || 0) + 1;
      resolve();
    });
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => { out.errors[e.code || e.message] = (out.errors[e.code || e.message] || 0) + 1; resolve(); });
  req.end();
});
(async () => { for (let i = 0; i < Number(count); i++) await one(); console.log(JSON.stringify(out)); })();
`;

interface Tally { answers: Record<string, number>; clientCerts: Record<string, number>; errors: Record<string, number> }

before(async () => {
  mesh = await useMesh();
  await mesh.cluster.core.createNamespace({ body: { metadata: { name: GW_NS, labels: { 'weft.dev/e2e': 'true' } } } });
  await mesh.cluster.core.createNamespace({ body: { metadata: { name: APPS, labels: { 'weft.dev/e2e': 'true', 'agc.example/gateway-access': 'allowed' } } } });
  await mesh.cluster.core.createNamespace({ body: { metadata: { name: OTHER, labels: { 'weft.dev/e2e': 'true' } } } });
  await mesh.cluster.apply(undefined, `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: ${CLASS}}
spec: {controllerName: ${GATEWAY_CONTROLLER_NAME}}
`);
}, { timeout: 600_000 });

after(async () => {
  await mesh?.cluster.kubectl(['delete', 'gatewayclass', CLASS, '--ignore-not-found']);
  for (const ns of [GW_NS, APPS, OTHER]) await mesh?.cluster.core.deleteNamespace({ name: ns, propagationPolicy: 'Background' }).catch(() => undefined);
  await mesh?.release();
}, { timeout: 300_000 });

test('(a) HTTPS with a namespace selector, host/path/header routing with an 80/20 split, and a client-certificate backend through a BackendTLSPolicy', async () => {
  const listenerCert = selfSignedServer([HOST]);
  const anchor = await createTrustAnchor({ trustDomain: 'agc.test' });
  const otherAnchor = await createTrustAnchor({ trustDomain: 'other.test' });
  const ca = CertificateAuthority.load(anchor);
  const backendCert = await ca.issueServing({ spiffeId: `spiffe://agc.test/ns/${APPS}/sa/secure`, dnsNames: [BACKEND_NAME] });
  const gatewayClient = await ca.issueServing({ spiffeId: `spiffe://agc.test/ns/${GW_NS}/sa/agc-gateway`, dnsNames: [] });

  await mesh.cluster.apply(GW_NS, [
    tlsSecret('listener-cert', listenerCert.certPem, listenerCert.keyPem),
    tlsSecret('backend-client', gatewayClient.certPem, gatewayClient.keyPem),
    `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: agc}
spec:
  gatewayClassName: ${CLASS}
  listeners:
  - name: https
    port: 443
    protocol: HTTPS
    hostname: ${HOST}
    tls: {certificateRefs: [{name: listener-cert}]}
    allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {agc.example/gateway-access: allowed}}}}
  tls:
    backend:
      clientCertificateRef: {name: backend-client}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: caller}
spec:
  replicas: 1
  selector: {matchLabels: {app: caller}}
  template:
    metadata: {labels: {app: caller}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - {name: client, image: ${DEFAULT_IMAGE}, imagePullPolicy: Never, command: [node, -e, 'setInterval(() => {}, 1 << 30)']}
`].join('---\n'));

  await mesh.cluster.apply(APPS, [echo('shop-v1', 'v1'), echo('shop-v2', 'v2'), `
apiVersion: v1
kind: Secret
metadata: {name: backend-tls}
data:
  tls.crt: ${Buffer.from(backendCert.certPem).toString('base64')}
  tls.key: ${Buffer.from(backendCert.keyPem).toString('base64')}
  ca.crt: ${Buffer.from(anchor.certPem).toString('base64')}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: secure}
spec:
  replicas: 1
  selector: {matchLabels: {app: secure}}
  template:
    metadata: {labels: {app: secure}}
    spec:
      terminationGracePeriodSeconds: 1
      volumes: [{name: certs, secret: {secretName: backend-tls}}]
      containers:
        - name: echo
          image: ${ECHO_IMAGE}
          args: [--tls=8443, --crt=/certs/tls.crt, --key=/certs/tls.key, --client-ca=/certs/ca.crt, --version=secure]
          ports: [{containerPort: 8443}]
          volumeMounts: [{name: certs, mountPath: /certs, readOnly: true}]
---
${['secure', 'secure-wrongname', 'secure-wrongca'].map((n) => `apiVersion: v1
kind: Service
metadata: {name: ${n}}
spec:
  selector: {app: secure}
  ports: [{name: https, port: 443, targetPort: 8443}]
`).join('---\n')}---
apiVersion: v1
kind: ConfigMap
metadata: {name: backend-ca}
data: {ca.crt: ${JSON.stringify(anchor.certPem)}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other-ca}
data: {ca.crt: ${JSON.stringify(otherAnchor.certPem)}}
---
${[['secure', 'secure', BACKEND_NAME, 'backend-ca'], ['wrongname', 'secure-wrongname', `other.${APPS}.internal`, 'backend-ca'], ['wrongca', 'secure-wrongca', BACKEND_NAME, 'other-ca']].map(([name, svc, host, cm]) => `apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: ${name}}
spec:
  targetRefs: [{group: '', kind: Service, name: ${svc}}]
  validation:
    caCertificateRefs: [{group: '', kind: ConfigMap, name: ${cm}}]
    hostname: ${host}
`).join('---\n')}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: contoso}
spec:
  parentRefs: [{name: agc, namespace: ${GW_NS}, sectionName: https}]
  hostnames: [${HOST}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /secure}}]
    backendRefs: [{name: secure, port: 443}]
  - matches: [{path: {type: PathPrefix, value: /wrongname}}]
    backendRefs: [{name: secure-wrongname, port: 443}]
  - matches: [{path: {type: PathPrefix, value: /wrongca}}]
    backendRefs: [{name: secure-wrongca, port: 443}]
  - matches: [{path: {type: PathPrefix, value: /shop}, headers: [{name: x-tier, value: beta}]}]
    backendRefs: [{name: shop-v2, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /shop}}]
    backendRefs: [{name: shop-v1, port: 8080, weight: 80}, {name: shop-v2, port: 8080, weight: 20}]
`].join('---\n'));
  await mesh.cluster.apply(OTHER, `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: outsider}
spec:
  parentRefs: [{name: agc, namespace: ${GW_NS}}]
  rules: [{backendRefs: [{name: anything, port: 80}]}]
`);

  const gw = await until('Gateway agc programmed with an address', ['-n', GW_NS, 'get', 'gateway', 'agc'], (o) =>
    has(o.status?.conditions, { Accepted: 'True', Programmed: 'True', ResolvedRefs: 'True:ResolvedRefs' }) && (o.status?.addresses?.length ?? 0) > 0 ? true : show(o.status?.conditions) || 'no status yet');
  const address = gw.status!.addresses![0]!.value;
  const ours = (o: Obj) => (o.status?.parents ?? []).filter((p) => p.controllerName === GATEWAY_CONTROLLER_NAME);
  await until('HTTPRoute contoso attached', ['-n', APPS, 'get', 'httproute', 'contoso'], (o) => {
    const e = ours(o);
    return e.length === 1 && has(e[0]?.conditions, { Accepted: 'True:Accepted', ResolvedRefs: 'True:ResolvedRefs' }) ? true : e.map((x) => show(x.conditions)).join(' | ') || 'no entry yet';
  });
  const outsider = await until('HTTPRoute outsider refused by the selector', ['-n', OTHER, 'get', 'httproute', 'outsider'], (o) => {
    const e = ours(o);
    return e.length === 1 && has(e[0]?.conditions, { Accepted: 'False:NotAllowedByListeners' }) ? true : e.map((x) => show(x.conditions)).join(' | ') || 'no entry yet';
  });
  assert.equal(ours(outsider).length, 1);
  const policy = await until('BackendTLSPolicy secure Accepted for Gateway agc', ['-n', APPS, 'get', 'backendtlspolicy', 'secure'], (o) => {
    const a = (o.status?.ancestors ?? []).filter((x) => x.controllerName === GATEWAY_CONTROLLER_NAME);
    return a.length === 1 && a[0]?.ancestorRef.name === 'agc' && has(a[0].conditions, { Accepted: 'True:Accepted', ResolvedRefs: 'True:ResolvedRefs' }) ? true : JSON.stringify(o.status ?? {});
  });
  assert.ok(policy.status?.ancestors?.length);

  for (const app of ['app=shop-v1', 'app=shop-v2', 'app=secure']) await podName(mesh.cluster, APPS, app);
  const caller = await podName(mesh.cluster, GW_NS, 'app=caller');
  const call = async (path: string, count: number, headers: Record<string, string> = {}, host = HOST): Promise<Tally> => {
    const x = await mesh.cluster.exec(GW_NS, caller, 'client', ['node', '-e', HTTPS_CLIENT, address, host, path, listenerCert.certPem, JSON.stringify(headers), String(count)], { timeoutMs: 300_000 });
    assert.equal(x.code, 0, x.stderr);
    return JSON.parse(x.stdout.trim().split('\n').at(-1) ?? '{}') as Tally;
  };
  await mesh.cluster.waitFor('the gateway serves contoso.example over HTTPS', async () => {
    const t = await call('/shop', 1);
    return (t.answers['200 v1'] ?? 0) + (t.answers['200 v2'] ?? 0) === 1 ? true : JSON.stringify(t);
  }, { timeoutMs: 120_000, intervalMs: 1000 });

  const N = 200;
  const split = await call('/shop/items', N);
  const beta = await call('/shop/items', 20, { 'x-tier': 'beta' });
  const secure = await call('/secure/orders', 20);
  const wrongName = await call('/wrongname', 20);
  const wrongCa = await call('/wrongca', 20);
  const otherHost = await call('/shop', 5, {}, `www.${HOST}`);
  process.stdout.write(`# walkthrough (a) via https://${HOST} at ${address}: /shop ${JSON.stringify(split.answers)}; x-tier beta ${JSON.stringify(beta.answers)}; `
    + `/secure ${JSON.stringify(secure.answers)} client certs ${JSON.stringify(secure.clientCerts)}; wrong name ${JSON.stringify(wrongName.answers)}; `
    + `wrong CA ${JSON.stringify(wrongCa.answers)}; SNI/Host www.${HOST} ${JSON.stringify(otherHost)}\n`);

  const v1 = split.answers['200 v1'] ?? 0;
  const v2 = split.answers['200 v2'] ?? 0;
  assert.equal(v1 + v2, N, JSON.stringify(split));
  // 80/20 over 200 requests: v2 has mean 40 and sd 5.7; outside 20..60 is beyond 3.5 sd.
  assert.ok(v2 >= 20 && v2 <= 60, `shares v1=${v1} v2=${v2}`);
  assert.deepEqual(beta.answers, { '200 v2': 20 }, 'the header match takes the beta rule');
  assert.deepEqual(secure.answers, { '200 secure': 20 });
  assert.deepEqual(Object.keys(secure.clientCerts).length, 1);
  assert.match(Object.keys(secure.clientCerts)[0] ?? '', new RegExp(`URI:spiffe://agc\\.test/ns/${GW_NS}/sa/agc-gateway`), 'the backend verified the gateway\'s client certificate');
  assert.deepEqual(wrongName.answers, { '502 backend-tls': 20 }, 'a BackendTLSPolicy naming another host: 5xx saying backend-tls');
  assert.deepEqual(wrongCa.answers, { '502 backend-tls': 20 }, 'a BackendTLSPolicy with another CA: 5xx saying backend-tls');
  // No listener serves www.contoso.example: the handshake finds no certificate for it.
  assert.equal(Object.keys(otherHost.answers).length, 0, JSON.stringify(otherHost));
  assert.equal(Object.values(otherHost.errors).reduce((a, b) => a + b, 0), 5);
});
