/**
 * The test policy server of the proxy-policy integration tests, and the little world around it.
 *
 * Policy takes the production path: Kubernetes objects (a ClusterSnapshot) -> core's compilers ->
 * the controller's domain -> wire conversion (policy-controller/services/convert.ts) -> the proxy's
 * wire -> domain conversion (proxy/policy/wire.ts) -> PolicyStore -> the hook, on real proxies with
 * real sockets. `PolicyServer` also serves the same snapshots over the api/ gRPC contract
 * (OutboundPolicy.Watch, InboundPolicy.Watch) for the control-plane test.
 *
 * Outbound world: one client proxy per client namespace; every Service port has plain HTTP/1 (or h2c
 * for `h2` ports) echo apps as endpoints, one per named pod. In-process there is no iptables: each
 * request leaves from its own loopback source address (127.1.x.y), which the client proxy's
 * `originalDestination` maps back to the ClusterIP:port it "dialled".
 */
import { createServer as createH2cServer } from 'node:http2';
import type { Http2Server, IncomingHttpHeaders as H2Headers } from 'node:http2';
import { createServer, request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http';
import { connect as h2connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ClusterSnapshot, Service } from '../../core/kube.js';
import { EMPTY_SNAPSHOT } from '../../core/kube.js';
import { indexSnapshot, outboundView } from '../../core/outbound/policy.js';
import type { OutboundOptions } from '../../core/outbound/policy.js';
import { DEFAULT_CONVERT_OPTIONS, portPolicy, servicePolicy } from '../../policy-controller/services/convert.js';
import type { InboundPortPolicy } from '../../core/inbound/types.js';
import { RouteMetrics } from '../../proxy/metrics.js';
import { createPolicyHook, PolicyStore } from '../../proxy/policy/hook.js';
import { portPolicyOf, servicePortPolicyOf } from '../../proxy/policy/wire.js';
import type { PortPolicy } from '../../api/gen/weft/inbound/v1/inbound.js';
import type { Endpoint, ServicePort } from '../../proxy/io.js';
import type { PolicyHook } from '../../proxy/policy-hook.js';
import { startProxy } from '../../proxy/proxy.js';
import type { RunningProxy } from '../../proxy/proxy.js';
import { id, ready, StaticCertificates, StaticDiscovery, TEST_LIMITS, TestPki } from '../support/proxy-fixtures.js';
import type { ProxyLimits } from '../../proxy/config.js';

export const TRUST_DOMAIN = 'cluster.local';

// --- echo apps ----------------------------------------------------------------------------------------

/** What an echo app saw. */
export interface Seen {
  readonly pod: string;
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
}

export type AppHandler = (req: IncomingMessage, res: ServerResponse, pod: string) => boolean;

export interface EchoApp {
  readonly pod: string;
  readonly port: number;
  readonly seen: Seen[];
  /** Called first; return true when it answered. */
  handler: AppHandler | undefined;
  close(): void;
}

export function echoApp(pod: string): Promise<EchoApp> {
  const app: EchoApp = {
    pod, port: 0, seen: [], handler: undefined,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
  const server: Server = createServer({ keepAliveTimeout: 120_000 }, (req, res) => {
    app.seen.push({ pod, method: req.method ?? '', path: req.url ?? '', headers: req.headers });
    req.resume();
    if (app.handler?.(req, res, pod) === true) return;
    req.once('end', () => {
      const body = JSON.stringify({ pod, path: req.url, method: req.method });
      res.writeHead(200, { 'content-type': 'application/json', 'x-echo-pod': pod, 'x-echo-keep': 'k', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  // WebSocket-style upgrades: recorded like requests, answered 101 with the pod's name.
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    app.seen.push({ pod, method: req.method ?? '', path: req.url ?? '', headers: req.headers });
    socket.on('error', () => undefined);
    socket.end(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nx-echo-pod: ${pod}\r\n\r\n`);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(Object.assign(app, { port: (server.address() as AddressInfo).port }))));
}

/** An h2c echo app answering gRPC-style (grpc-status 0 in trailers, the pod in a header). */
export function echoH2App(pod: string): Promise<EchoApp & { server: Http2Server }> {
  const server = createH2cServer();
  const app = {
    pod, port: 0, seen: [] as Seen[], handler: undefined, server,
    close: () => server.close(),
  };
  server.on('stream', (s, h: H2Headers) => {
    s.on('error', () => undefined);
    app.seen.push({ pod, method: String(h[':method']), path: String(h[':path']), headers: h as IncomingHttpHeaders });
    s.resume();
    const respond = () => {
      if (s.closed) return;
      s.respond({ ':status': 200, 'content-type': String(h['content-type'] ?? 'application/grpc'), 'x-echo-pod': pod }, { waitForTrailers: true });
      s.once('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
      s.end(Buffer.from([0, 0, 0, 0, 0]));
    };
    if (s.readableEnded) respond();
    else s.once('end', respond);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(Object.assign(app, { port: (server.address() as AddressInfo).port }))));
}

// --- outbound world -------------------------------------------------------------------------------------

export interface ServiceSpec {
  readonly namespace: string;
  readonly name: string;
  readonly clusterIP: string;
  readonly ports: readonly { readonly port: number; readonly name?: string; readonly h2?: boolean }[];
  /** Pod names behind the Service: one echo app per pod and port. */
  readonly pods: readonly string[];
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** Pod that answered (x-echo-pod), or ''. */
  readonly pod: string;
}

interface Client {
  readonly proxy: RunningProxy;
  readonly store: PolicyStore;
  readonly metrics: RouteMetrics;
}

export class OutboundWorld {
  readonly apps = new Map<string, EchoApp>(); // `${pod}:${servicePort}`
  readonly clients = new Map<string, Client>();
  readonly discovery = new StaticDiscovery();
  private readonly sourceToDst = new Map<string, { address: string; port: number }>();
  private readonly dstToSource = new Map<string, string>();
  private snapshot: ClusterSnapshot = EMPTY_SNAPSHOT;

  private constructor(
    readonly pki: TestPki,
    readonly services: readonly ServiceSpec[],
    private readonly options: OutboundOptions,
    private readonly random: (() => number) | undefined,
    private readonly limits: Partial<ProxyLimits>,
  ) {}

  static async start(o: {
    services: readonly ServiceSpec[];
    snapshot?: Partial<ClusterSnapshot>;
    options?: OutboundOptions;
    random?: () => number;
    limits?: Partial<ProxyLimits>;
  }): Promise<OutboundWorld> {
    const w = new OutboundWorld(await TestPki.create(), o.services, o.options ?? {}, o.random, o.limits ?? {});
    let n = 0;
    for (const s of o.services) {
      for (const p of s.ports) {
        const eps: Endpoint[] = [];
        for (const pod of s.pods) {
          const app = p.h2 === true ? await echoH2App(pod) : await echoApp(pod);
          w.apps.set(`${pod}:${p.port}`, app);
          eps.push({ ip: '127.0.0.1', port: app.port, meshed: false });
        }
        w.discovery.service(s.clusterIP, { namespace: s.namespace, name: s.name, port: p.port }, eps);
        n++;
        const source = `127.1.${Math.floor(n / 250)}.${(n % 250) + 1}`;
        w.sourceToDst.set(source, { address: s.clusterIP, port: p.port });
        w.dstToSource.set(`${s.clusterIP}:${p.port}`, source);
      }
    }
    w.setSnapshot(o.snapshot ?? {});
    return w;
  }

  /** The Kubernetes Services of the world, for snapshots. */
  kubeServices(): Service[] {
    return this.services.map((s) => ({
      metadata: { name: s.name, namespace: s.namespace, ...(s.annotations !== undefined ? { annotations: { ...s.annotations } } : {}) },
      spec: { clusterIP: s.clusterIP, ports: s.ports.map((p) => ({ port: p.port, ...(p.name !== undefined ? { name: p.name } : {}), ...(p.h2 === true ? { appProtocol: 'kubernetes.io/h2c' } : {}) })) },
    }));
  }

  /** Compiles `parts` (+ the world's Services and namespaces) and pushes the policy to every client proxy. */
  setSnapshot(parts: Partial<ClusterSnapshot>): void {
    const nsNames = new Set<string>([...this.services.map((s) => s.namespace), ...this.clients.keys()]);
    this.snapshot = {
      ...EMPTY_SNAPSHOT,
      namespaces: [...nsNames].map((name) => ({ metadata: { name } })),
      services: this.kubeServices(),
      ...parts,
    };
    for (const ns of this.clients.keys()) this.push(ns);
  }

  private push(clientNs: string): void {
    const c = this.clients.get(clientNs)!;
    const index = indexSnapshot(this.snapshot, this.options);
    for (const s of this.services) {
      for (const p of s.ports) {
        const view = outboundView(index, clientNs, s.namespace, s.name, p.port);
        if (view === undefined) continue;
        const wire = servicePolicy(view, DEFAULT_CONVERT_OPTIONS);
        c.store.setOutbound({ namespace: s.namespace, name: s.name, port: p.port }, servicePortPolicyOf(wire, clientNs));
      }
    }
  }

  /** The client proxy of a namespace (started on first use). */
  async client(ns: string): Promise<Client> {
    const have = this.clients.get(ns);
    if (have !== undefined) return have;
    const store = new PolicyStore();
    const metrics = new RouteMetrics();
    const policy = createPolicyHook({ store, metrics, ...(this.random !== undefined ? { random: this.random } : {}) });
    const proxy = await startTestProxyWith({
      pki: this.pki, identity: id(ns, 'client'), discovery: this.discovery, policy, metrics, limits: this.limits,
      outboundDst: (s) => {
        const d = this.sourceToDst.get(s.remoteAddress ?? '');
        return d === undefined ? null : { address: d.address, port: d.port, family: 4 };
      },
    });
    const c = { proxy, store, metrics };
    this.clients.set(ns, c);
    this.push(ns);
    return c;
  }

  sourceFor(host: string, port: number): string {
    const svc = this.services.find((s) => s.clusterIP === host || `${s.name}.${s.namespace}` === host || s.name === host);
    const src = svc === undefined ? undefined : this.dstToSource.get(`${svc.clusterIP}:${port}`);
    if (src === undefined) throw new Error(`no Service ${host}:${port} in the world`);
    return src;
  }

  /** An HTTP/1.1 request from a pod in `clientNs` to `http://<service>[:port]/path`. */
  async request(clientNs: string, url: string, o: { method?: string; headers?: OutgoingHttpHeaders; body?: string | Buffer; agentless?: boolean } = {}): Promise<Reply> {
    const c = await this.client(clientNs);
    const u = new URL(url);
    const port = u.port === '' ? 80 : Number(u.port);
    const localAddress = this.sourceFor(u.hostname, port);
    return new Promise((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1', port: c.proxy.outboundPort, localAddress, method: o.method ?? 'GET', path: `${u.pathname}${u.search}`,
        headers: { host: u.host, ...o.headers }, agent: false,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), pod: String(res.headers['x-echo-pod'] ?? '') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(o.body);
    });
  }

  /** A WebSocket-style upgrade request from `clientNs`; resolves with the response head the client read. */
  async upgrade(clientNs: string, url: string, headers: Record<string, string> = {}): Promise<string> {
    const c = await this.client(clientNs);
    const u = new URL(url);
    const port = u.port === '' ? 80 : Number(u.port);
    const localAddress = this.sourceFor(u.hostname, port);
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    return new Promise((resolve, reject) => {
      const s = netConnect({ host: '127.0.0.1', port: c.proxy.outboundPort, localAddress }, () => {
        s.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nhost: ${u.host}\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: x\r\nsec-websocket-version: 13\r\n${extra}\r\n`);
      });
      let out = '';
      s.on('data', (d: Buffer) => {
        out += d.toString('latin1');
        const end = out.indexOf('\r\n\r\n');
        if (end >= 0) {
          s.destroy();
          resolve(out.slice(0, end));
        }
      });
      s.on('error', reject);
      s.on('close', () => resolve(out));
    });
  }

  /** An HTTP/2 (gRPC when `grpc`) request from `clientNs`. */
  async h2(clientNs: string, url: string, o: { grpc?: boolean; headers?: Record<string, string> } = {}): Promise<{ headers: Record<string, unknown>; trailers: Record<string, unknown> }> {
    const c = await this.client(clientNs);
    const u = new URL(url);
    const port = u.port === '' ? 80 : Number(u.port);
    const localAddress = this.sourceFor(u.hostname, port);
    const session = h2connect(`http://127.0.0.1:${c.proxy.outboundPort}`, { localAddress } as never);
    try {
      return await new Promise((resolve, reject) => {
        const req = session.request({
          ':method': 'POST', ':path': `${u.pathname}${u.search}`, ':authority': u.host,
          ...(o.grpc === true ? { 'content-type': 'application/grpc', te: 'trailers' } : {}), ...o.headers,
        });
        let headers: Record<string, unknown> = {};
        let trailers: Record<string, unknown> = {};
        req.on('response', (h) => {
          headers = h;
        });
        req.on('trailers', (t) => {
          trailers = t;
        });
        req.on('error', reject);
        req.on('close', () => resolve({ headers, trailers }));
        req.resume();
        req.end(o.grpc === true ? Buffer.from([0, 0, 0, 0, 0]) : undefined);
      });
    } finally {
      session.close();
    }
  }

  app(pod: string, port = 80): EchoApp {
    const a = this.apps.get(`${pod}:${port}`);
    if (a === undefined) throw new Error(`no app ${pod}:${port}`);
    return a;
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.proxy.shutdown(0)));
    for (const a of this.apps.values()) a.close();
  }
}

/** A proxy with the real policy hook, an admin port and the per-route metrics exposed. */
export async function startTestProxyWith(o: {
  pki: TestPki;
  identity: string;
  discovery?: StaticDiscovery;
  policy: PolicyHook;
  metrics: RouteMetrics;
  outboundDst?: (s: Socket) => { address: string; port: number; family: 4 | 6 } | null;
  inboundDst?: (s: Socket) => { address: string; port: number; family: 4 | 6 } | null;
  limits?: Partial<ProxyLimits>;
  inboundHost?: string;
}): Promise<RunningProxy> {
  const discovery = o.discovery ?? new StaticDiscovery();
  let outboundPort = -1;
  const proxy = await startProxy({
    limits: { ...TEST_LIMITS, ...o.limits },
    podIp: '127.0.0.1',
    opaquePorts: new Set(),
    destinations: discovery,
    endpoints: discovery,
    policy: o.policy,
    routeMetrics: o.metrics,
    certificates: new StaticCertificates(await o.pki.certificate(o.identity)),
    readiness: [ready],
    originalDestination: (s) => (s.localPort === outboundPort ? o.outboundDst?.(s) ?? null : o.inboundDst?.(s) ?? null),
    outbound: { host: '127.0.0.1', port: 0 },
    inbound: { host: o.inboundHost ?? '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
  });
  outboundPort = proxy.outboundPort;
  return proxy;
}

// --- inbound ----------------------------------------------------------------------------------------------

/** The wire PortPolicy the controller would send for a compiled port policy. */
export function wirePortPolicy(p: InboundPortPolicy): PortPolicy {
  return { version: 1, ...portPolicy(p, DEFAULT_CONVERT_OPTIONS) };
}

/** Feeds a compiled port policy to a store, through the wire (as the InboundPolicy stream does). */
export function pushInbound(store: PolicyStore, port: number, p: InboundPortPolicy): void {
  store.setInbound(port, portPolicyOf(wirePortPolicy(p), p.pod, port, TRUST_DOMAIN));
}

export { id, TestPki };

// --- metrics ----------------------------------------------------------------------------------------------

export interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Scrapes a proxy's admin /metrics and parses the text exposition. */
export function scrape(adminPort: number): Promise<Sample[]> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port: adminPort, path: '/metrics' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve(parseExposition(text)));
    }).on('error', reject).end();
  });
}

export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of samples named `name` whose labels include `match`. */
export function sum(samples: readonly Sample[], name: string, match: Record<string, string> = {}): number {
  let total = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}

export type { ServicePort };
