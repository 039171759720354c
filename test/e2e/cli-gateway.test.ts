/**
 * `weft stat`, `weft routes`, `weft explain` and `weft check` on a Gateway the controller deploys
 * (issue 20), on the local cluster: a GatewayClass of Weft's controller, a Gateway with one HTTP
 * listener, an HTTPRoute sending /hello to an echo Service and an HTTPRoute whose backend Service does
 * not exist. Counted requests go from an in-cluster pod to the Gateway's address while the CLI scrapes
 * the gateway's proxy, and the CLI's figures must be those counts exactly (the scrape's counter
 * differences are exact); explain's verdicts must agree with what the gateway answered; check must
 * name the broken route with its reason; and the errors name their cause (no such Gateway, another
 * controller's class).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { GATEWAY_CONTROLLER_NAME } from '../../core/contract.js';
import { clientDeployment, describeTally, ECHO_IMAGE, podName, send, tally } from '../support/booksapp.js';
import { useMesh, type Mesh } from '../support/mesh.js';
import { REPO_ROOT } from '../support/paths.js';
import type { WeftRun } from '../support/weft-cli.js';

let mesh: Mesh;
const suffix = randomBytes(3).toString('hex');
const CLASS = `weft-cli-${suffix}`;
const OTHER_CLASS = `other-cli-${suffix}`;
const NS = `e2e-cli-gw-${suffix}`;
let address = '';
let caller = '';

interface Cond { type: string; status: string; reason?: string }
interface Obj { status?: { addresses?: { value: string }[]; conditions?: Cond[]; parents?: { controllerName?: string; conditions?: Cond[] }[] } }

const isTrue = (conds: readonly Cond[] | undefined, type: string, reason?: string) =>
  (conds ?? []).some((c) => c.type === type && c.status === 'True' && (reason === undefined || c.reason === reason));

async function getJson(args: readonly string[]): Promise<Obj | undefined> {
  const r = await mesh.cluster.kubectl([...args, '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as Obj) : undefined;
}

/** `weft <args>` against the local cluster, calling `onStderr` with the stderr seen so far as it arrives. */
function weftStreaming(args: readonly string[], onStderr: (text: string) => void): Promise<WeftRun> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(REPO_ROOT, 'dist', 'cli', 'main.js'), ...args], { env: { ...process.env, KUBECONFIG: mesh.cluster.info.kubeconfig }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); onStderr(stderr); });
    p.once('error', reject);
    p.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const weft = (args: readonly string[]) => mesh.weft(args);

before(async () => {
  mesh = await useMesh();
  await mesh.cluster.core.createNamespace({ body: { metadata: { name: NS, labels: { 'weft.dev/e2e': 'true' } } } });
  await mesh.cluster.apply(undefined, `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: ${CLASS}}
spec: {controllerName: ${GATEWAY_CONTROLLER_NAME}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: ${OTHER_CLASS}}
spec: {controllerName: example.com/not-weft}
`);
  await mesh.cluster.apply(NS, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo}
spec:
  replicas: 1
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - {name: echo, image: ${ECHO_IMAGE}, args: [--port=8080], ports: [{name: http, containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{name: http, port: 8080}]
---
${clientDeployment('caller', 'default')}---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  gatewayClassName: ${CLASS}
  listeners:
  - {name: web, port: 80, protocol: HTTP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: foreign}
spec:
  gatewayClassName: ${OTHER_CLASS}
  listeners:
  - {name: web, port: 80, protocol: HTTP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: hello}
spec:
  parentRefs: [{name: edge, sectionName: web}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /hello}}]
    backendRefs: [{name: echo, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: broken}
spec:
  parentRefs: [{name: edge, sectionName: web}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /broken}}]
    backendRefs: [{name: nope, port: 8080}]
`);
  let last = '';
  await mesh.cluster.waitFor('Gateway edge Programmed with an address', async () => {
    const gw = await getJson(['-n', NS, 'get', 'gateway', 'edge']);
    last = JSON.stringify(gw?.status ?? {});
    if (!isTrue(gw?.status?.conditions, 'Programmed') || (gw?.status?.addresses?.length ?? 0) === 0) return last;
    address = gw!.status!.addresses![0]!.value;
    return true;
  }, { timeoutMs: 180_000, intervalMs: 1000 });
  await mesh.cluster.waitFor('HTTPRoute hello Accepted and HTTPRoute broken written', async () => {
    const entry = async (name: string) => (await getJson(['-n', NS, 'get', 'httproute', name]))?.status?.parents?.find((p) => p.controllerName === GATEWAY_CONTROLLER_NAME);
    const hello = await entry('hello');
    const broken = await entry('broken');
    return isTrue(hello?.conditions, 'Accepted') && isTrue(hello?.conditions, 'ResolvedRefs') && broken !== undefined ? true : JSON.stringify({ hello, broken });
  }, { timeoutMs: 90_000, intervalMs: 1000 });
  caller = await podName(mesh.cluster, NS, 'app=caller');
  await podName(mesh.cluster, NS, 'app=echo');
  // The gateway may still be on an older view: wait for its first answer of the route.
  await mesh.cluster.waitFor('the gateway serves /hello', async () => {
    const [o] = await send(mesh.cluster, NS, caller, 'echo', `http://${address}/hello`, [], 1);
    return o?.status === 200 ? true : `status ${o?.status}`;
  }, { timeoutMs: 90_000, intervalMs: 1000 });
}, { timeout: 600_000 });

after(async () => {
  await mesh?.cluster.kubectl(['delete', 'gatewayclass', CLASS, OTHER_CLASS, '--ignore-not-found']);
  await mesh?.cluster.core.deleteNamespace({ name: NS, propagationPolicy: 'Background' }).catch(() => undefined);
  await mesh?.release();
}, { timeout: 300_000 });

const HELLO = 40;
const MISSES = 6;
const BROKEN = 4;

test('weft stat and weft routes gateway/edge count exactly the requests sent through the gateway in the window', async () => {
  const common = ['-n', NS, '--window', '25s', '-o', 'json'];
  const started: Promise<void>[] = [];
  const runs = (['stat', 'routes'] as const).map((verb) => {
    let seen!: () => void;
    started.push(new Promise<void>((r) => { seen = r; }));
    return weftStreaming([verb, 'gateway/edge', ...common], (err) => { if (err.includes('scraping')) seen(); });
  });
  await Promise.all(started);
  // The first scrape follows the progress line at once; leave it time before counting.
  await new Promise((r) => setTimeout(r, 3000));
  const hello = await send(mesh.cluster, NS, caller, 'echo', `http://${address}/hello/x`, [], HELLO);
  const misses = await send(mesh.cluster, NS, caller, 'echo', `http://${address}/nothing`, [], MISSES);
  const broken = await send(mesh.cluster, NS, caller, 'echo', `http://${address}/broken`, [], BROKEN);
  process.stdout.write(`# sent via ${address}: /hello ${describeTally(tally(hello))}; /nothing ${describeTally(tally(misses))}; /broken ${describeTally(tally(broken))}\n`);
  assert.deepEqual([...tally(hello)], [[200, HELLO]]);
  assert.deepEqual([...tally(misses)], [[404, MISSES]]);
  assert.deepEqual([...tally(broken)], [[500, BROKEN]]);
  const [stat, routes] = await Promise.all(runs);

  assert.equal(stat!.code, 0, stat!.stderr);
  assert.doesNotMatch(stat!.stderr, /could not read/);
  const statRows = JSON.parse(stat!.stdout) as { listener: string; port: number; route: string | null; requests: number; successRate: number | null; p50Seconds: number | null }[];
  process.stdout.write(`# weft stat gateway/edge: ${JSON.stringify(statRows.map((r) => [r.route, r.requests, r.successRate]))}\n`);
  const byRoute = new Map(statRows.map((r) => [r.route, r]));
  assert.equal(byRoute.get('httproute/hello')?.requests, HELLO);
  assert.equal(byRoute.get('httproute/hello')?.successRate, 1);
  assert.ok((byRoute.get('httproute/hello')?.p50Seconds ?? 0) > 0, 'latency from the gateway histogram');
  assert.equal(byRoute.get(null)?.requests, MISSES, '[no route] counts the 404s');
  assert.equal(byRoute.get(null)?.successRate, 0);
  assert.equal(byRoute.get('httproute/broken')?.requests, BROKEN);
  assert.equal(byRoute.get('httproute/broken')?.successRate, 0);
  assert.ok(statRows.every((r) => r.listener === 'web' && r.port === 80));

  assert.equal(routes!.code, 0, routes!.stderr);
  const r = JSON.parse(routes!.stdout) as {
    gateway: { addresses: string[] }; listeners: { name: string; attachedRoutes: number }[];
    routes: { listener: string; route: { name: string } | null; backend: string | null; requests: number; retries: number }[];
    routeProblems: { route: string; problems: string[] }[];
  };
  assert.deepEqual(r.gateway.addresses, [address]);
  assert.deepEqual(r.listeners.map((l) => [l.name, l.attachedRoutes]), [['web', 2]]);
  const row = (route: string | null, backend: string | null) => r.routes.find((x) => (x.route?.name ?? null) === route && x.backend === backend);
  assert.equal(row('hello', `${NS}/echo:8080`)?.requests, HELLO, JSON.stringify(r.routes));
  assert.equal(row('hello', `${NS}/echo:8080`)?.retries, 0);
  assert.equal(row('broken', 'unresolved (BackendNotFound)')?.requests, BROKEN);
  assert.equal(row(null, null)?.requests, MISSES);
  assert.deepEqual(r.routeProblems.map((p) => p.route), ['httproute/broken']);
  assert.match(r.routeProblems[0]?.problems[0] ?? '', /ResolvedRefs=False BackendNotFound: .*backend Service \S+\/nope does not exist/);

  const table = await weft(['routes', 'gateway/edge', '-n', NS, '--window', '1s']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /\nweb +80 +HTTP +\* +2 +Accepted, ResolvedRefs, Programmed\n/);
  assert.match(table.stdout, /\nweb:80 +httproute\/hello +0 +PathPrefix \/hello +\S+\/echo:8080 +1 /);
});

test('weft stat gateway lists the Gateway with its ready proxy pod; a missing Gateway and another controller\'s are errors naming why', async () => {
  const list = await weft(['stat', 'gateway', '-n', NS, '--window', '1s', '-o', 'json']);
  assert.equal(list.code, 0, list.stderr);
  const rows = JSON.parse(list.stdout) as { name: string; readyPods: number; pods: number }[];
  assert.deepEqual(rows.map((x) => [x.name, x.readyPods, x.pods]), [['gateway/edge', 1, 1]], 'only Weft\'s Gateway, not foreign');

  const missing = await weft(['routes', 'gateway/nope', '-n', NS, '--window', '1s']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, new RegExp(`weft routes: Gateway ${NS}/nope not found`));
  const foreign = await weft(['stat', 'gateway/foreign', '-n', NS, '--window', '1s']);
  assert.equal(foreign.code, 1);
  assert.match(foreign.stderr, new RegExp(`Gateway ${NS}/foreign is not Weft's: its GatewayClass ${OTHER_CLASS} is controlled by example.com/not-weft`));
});

test('weft explain gateway/edge: the matching request names listener, route, rule and backend; the others are 404 and 500 as the gateway answered them', async () => {
  const ok = await weft(['explain', 'gateway/edge', '-n', NS, '--port', '80', '--host', 'shop.example', '--path', '/hello/x']);
  assert.equal(ok.code, 0, ok.stderr);
  process.stdout.write(`# ${ok.stdout.split('\n').join('\n# ')}\n`);
  assert.match(ok.stdout, /listener: web \(port 80, hostname \*\)/);
  assert.match(ok.stdout, new RegExp(`route: {4}HTTPRoute ${NS}/hello, rule 0`));
  assert.match(ok.stdout, /matched: {2}PathPrefix \/hello/);
  assert.match(ok.stdout, new RegExp(`backend ${NS}/echo:8080: weight 1 \\(100\\.0%\\): forwarded to ${NS}/echo:8080 as /hello/x`));
  assert.match(ok.stdout, new RegExp(`Server side \\(inbound\\): pod ${NS}/echo-`));

  const [miss] = await send(mesh.cluster, NS, caller, 'echo', `http://${address}/nothing`, [], 1);
  const missHeader = miss?.headers.find(([k]) => k === 'weft-proxy-error')?.[1]?.trim();
  const nothing = await weft(['explain', 'gateway/edge', '-n', NS, `http://${address}/nothing`]);
  assert.equal(nothing.code, 0, nothing.stderr);
  assert.match(nothing.stdout, new RegExp(`result: {3}answered ${miss?.status ?? 0} \\(weft-proxy-error: ${missHeader ?? '?'}\\) by the gateway: no route rule of listener web`));
  assert.equal(miss?.status, 404);
  assert.match(nothing.stdout, new RegExp(`- HTTPRoute ${NS}/hello rule 0 \\(host \\*\\): PathPrefix /hello`));
  assert.match(nothing.stdout, /- httproute\/broken: sectionName web: ResolvedRefs=False BackendNotFound/);

  const broken = await weft(['explain', 'gateway/edge', '-n', NS, '-o', 'json', 'GET', `http://${address}/broken`]);
  assert.equal(broken.code, 0, broken.stderr);
  const e = JSON.parse(broken.stdout) as { outcome: string; route: { name: string }; backends: { decision: { kind: string; code: string; status: number } }[] };
  assert.equal(e.route.name, 'broken');
  assert.deepEqual(e.backends.map((b) => [b.decision.kind, b.decision.code, b.decision.status]), [['error', 'BACKEND_UNRESOLVED', 500]]);

  const port = await weft(['explain', 'gateway/edge', '-n', NS, '--port', '81']);
  assert.equal(port.code, 0, port.stderr);
  assert.match(port.stdout, /answered 404 .*has no valid listener on port 81[\s\S]*the gateway serves port 80/);
});

test('weft check names the broken route with its reason and a hint, as a warning; the Gateway itself passes', async () => {
  const r = await weft(['check', '-o', 'json']);
  const out = JSON.parse(r.stdout) as { ok: boolean; checks: { section: string; name: string; ok: boolean; problem?: string; hint?: string; warning?: boolean; detail?: string }[] };
  const gw = out.checks.filter((c) => c.section === 'gateways');
  process.stdout.write(`# weft check gateways: ${JSON.stringify(gw.map((c) => [c.name, c.ok, c.warning ?? false]))}\n`);
  assert.equal(gw.length, 6, JSON.stringify(out.checks.map((c) => c.section)));
  const routes = gw.find((c) => c.name.startsWith('routes attached'));
  assert.ok(routes !== undefined && !routes.ok && routes.warning === true);
  assert.match(routes.problem ?? '', new RegExp(`HTTPRoute ${NS}/broken \\(parent Gateway ${NS}/edge sectionName web\\): ResolvedRefs=False BackendNotFound`));
  assert.doesNotMatch(routes.problem ?? '', /\/hello/);
  assert.match(routes.hint ?? '', /fix the backendRef/);
  for (const c of gw.filter((x) => !x.ok)) assert.doesNotMatch(`${c.problem ?? ''}`, new RegExp(`Gateway ${NS}/edge(:| listener)`), `${c.name}: our Gateway is fine`);
  const text = await weft(['check']);
  assert.match(text.stdout, /‼ routes attached to Weft's Gateways are Accepted with resolved references/);
});
