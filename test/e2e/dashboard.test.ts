/**
 * `weft dashboard` in a real headless browser (Debian's chromium driven by playwright-core) against
 * the local cluster with the booksapp (test/support/booksapp.ts) and its fault-injection route
 * (10% of books traffic to the error injector), the authorization example on authors (a deny Server;
 * GET for books and webapp only) and the timeouts route on authors, so authors has a mesh route whose
 * page shows its authorization view.
 *
 * Traffic runs for the whole test from two meshed clients: `client` (ServiceAccount traffic) calls
 * books and authors (its authors calls are denied), `client-webapp` (ServiceAccount webapp) calls
 * authors (allowed). While it runs, `weft routes svc/books` and `weft authz deploy/authors` measure a
 * 30 s window; the page, read as soon as they return with its window at 30 s, must agree:
 *   - the fault route's success rate and each backend's, within 2 points;
 *   - on the authors route's authorization view, the allowed rate of webapp's and books' identities and the
 *     denied rate of traffic's identity within 25% of `weft authz`'s (the two 30 s windows start up
 *     to one dashboard interval, 2 s, apart, and the clients send in bursts of 20);
 * then the test clicks namespace -> workload -> route, runs an explain that is denied (DELETE from
 * traffic to authors) and checks that the page shows the reason `weft explain -o json` gives.
 * Screenshots of each view go to dist/test-output/dashboard/.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import {
  clientDeployment, deployBooksapp, manifest, podName, send, sharedMeshedNamespace, waitAvailable, waitRouteConditions,
} from '../support/booksapp.js';
import { useMesh, type Mesh } from '../support/mesh.js';
import { REPO_ROOT } from '../support/paths.js';

/** Debian's chromium and the flags that keep it offline, quiet and sandbox-free (root, no GPU). */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const OUTPUT = join(REPO_ROOT, 'dist', 'test-output', 'dashboard');
const WINDOW_S = 30;

let mesh: Mesh;
let ns = '';
let removeNamespace: (() => Promise<void>) | undefined;
let dashboard: ChildProcess | undefined;
let dashboardUrl = '';
let browser: BrowserContext | undefined;
let profile = '';
let stopTraffic = false;
let traffic: Promise<void> = Promise.resolve();
let trafficError: unknown;

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const parsePercent = (text: string): number | null => (text.trim() === '-' ? null : Number(text.trim().replace('%', '')) / 100);
const parseRps = (text: string): number => (text.trim() === '0' ? 0 : Number(text.trim().replace('rps', '')));

/** Starts `weft dashboard` and resolves with the URL it prints. */
function startDashboard(): Promise<string> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'dist', 'cli', 'main.js'), 'dashboard', '--no-open', '--port', '0', '--interval', '2s', '--kubeconfig', mesh.cluster.info.kubeconfig], { stdio: ['ignore', 'pipe', 'pipe'] });
  dashboard = child;
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^(http:\/\/\S+)\n/m.exec(out);
      if (m?.[1] !== undefined) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`weft dashboard exited ${code}: ${stderr}`)));
  });
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(OUTPUT, `${name}.png`), fullPage: true });
}

before(async () => {
  mesh = await useMesh();
  const shared = await sharedMeshedNamespace(mesh.cluster, 'dashboard');
  ns = shared.ns;
  removeNamespace = shared.remove;
  await deployBooksapp(mesh.cluster, ns);
  await mesh.cluster.apply(ns, clientDeployment('client-webapp', 'webapp'));
  await mesh.cluster.apply(ns, manifest('fault-injection/error-injector.yaml', { booksapp: ns }));
  await waitAvailable(mesh.cluster, ns, ['error-injector', 'client-webapp']);
  for (const f of ['authentications.yaml', 'policies.yaml', 'routes.yaml', 'server.yaml']) await mesh.cluster.apply(ns, manifest(`authorization/${f}`, { booksapp: ns }));
  await mesh.cluster.apply(ns, manifest('fault-injection/route.yaml', { booksapp: ns }));
  await mesh.cluster.apply(ns, manifest('timeouts/route.yaml', { booksapp: ns }));
  await waitRouteConditions(mesh.cluster, ns, 'books-fault-injection', { Accepted: 'True', ResolvedRefs: 'True' });
  await waitRouteConditions(mesh.cluster, ns, 'authors-timeouts', { Accepted: 'True', ResolvedRefs: 'True' });
  const client = await podName(mesh.cluster, ns, 'app=client');
  const webapp = await podName(mesh.cluster, ns, 'app=client-webapp');
  // The client proxies have the routes and the authors Server denies traffic's identity.
  await mesh.cluster.waitFor('books answers 500 through the fault route and authors denies traffic', async () => {
    const books = await send(mesh.cluster, ns, client, 'echo', 'http://books:7002/books/1', [], 30);
    const [authors] = await send(mesh.cluster, ns, client, 'echo', 'http://authors:7001/authors/1');
    return books.some((o) => o.status === 500) && authors?.status === 403 ? true : `books ${books.map((o) => o.status).join(',')}; authors ${authors?.status}`;
  }, { timeoutMs: 120_000, intervalMs: 1000 });
  const loop = async (pod: string, url: string) => {
    while (!stopTraffic) await send(mesh.cluster, ns, pod, 'echo', url, [], 20);
  };
  traffic = Promise.all([
    loop(client, 'http://books:7002/books/1'),
    loop(client, 'http://authors:7001/authors/1'),
    loop(webapp, 'http://authors:7001/authors/1'),
  ]).then(() => undefined, (err: unknown) => { trafficError = err; });
  dashboardUrl = await startDashboard();
  rmSync(OUTPUT, { recursive: true, force: true });
  mkdirSync(OUTPUT, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), 'weft-dashboard-chromium-'));
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, viewport: { width: 1280, height: 900 } });
}, { timeout: 900_000 });

after(async () => {
  stopTraffic = true;
  await browser?.close();
  if (profile !== '') rmSync(profile, { recursive: true, force: true });
  if (dashboard?.pid !== undefined && dashboard.exitCode === null) {
    const exited = new Promise((r) => dashboard?.once('exit', r));
    dashboard.kill('SIGTERM');
    await exited;
  }
  await traffic.catch(() => undefined);
  await removeNamespace?.();
  await mesh?.release();
}, { timeout: 300_000 });

interface RouteRow { route: { name: string } | null; backend: { name: string } | null; requests: number; successRate: number | null }
interface AuthzRow { route: string | null; authorization: string | null; allowedRps: number; deniedRps: number; successRate: number | null }

async function openPage(hash: string): Promise<Page> {
  assert.ok(browser !== undefined, 'the browser is up');
  const page = browser.pages()[0] ?? await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${dashboardUrl}${hash}`);
  await page.locator('main table, main form, main [data-testid=route-detail]').first().waitFor({ timeout: 60_000 });
  assert.deepEqual(errors, [], 'the page runs without errors');
  return page;
}

test('the page shows the figures weft routes and weft authz measure over the same 30 s window', async () => {
  // The dashboard started before this test: by the time the CLI's window closes it holds scrapes
  // from a full window back.
  const [routes, authz] = await Promise.all([
    mesh.weft(['routes', 'svc/books', '-n', ns, '--from', 'deploy/client', '-o', 'json', '--window', `${WINDOW_S}s`]),
    mesh.weft(['authz', 'deploy/authors', '-n', ns, '-o', 'json', '--window', `${WINDOW_S}s`]),
  ]);
  assert.equal(routes.code, 0, routes.stderr);
  assert.equal(authz.code, 0, authz.stderr);
  assert.equal(trafficError, undefined, 'the clients kept sending');
  const page = await openPage(`#/ns/${ns}`);
  const routeKey = `${ns}/httproute/books-fault-injection`;
  const routeRow = page.locator(`[data-testid=routes] tr[data-key="${routeKey}"]`);
  await routeRow.waitFor();
  const pageRate = parsePercent(await routeRow.locator('[data-field=success]').innerText());

  const rows = (JSON.parse(routes.stdout) as RouteRow[]).filter((r) => r.route?.name === 'books-fault-injection');
  const total = rows.reduce((s, r) => s + r.requests, 0);
  const cliRate = rows.reduce((s, r) => s + (r.successRate ?? 0) * r.requests, 0) / total;
  process.stdout.write(`# dashboard: route success page ${pageRate === null ? '-' : pct(pageRate)}, weft routes ${pct(cliRate)} over ${total} requests\n`);
  assert.ok(pageRate !== null && Math.abs(pageRate - cliRate) <= 0.02, `the page's ${pageRate === null ? '-' : pct(pageRate)} is within 2 points of weft routes' ${pct(cliRate)}`);
  assert.ok(Math.abs(cliRate - 0.9) <= 0.05, `the fault route runs near 90%: ${pct(cliRate)}`);
  await shot(page, 'namespace');

  // The route page: each backend's success rate against weft routes', and the injector's share.
  const route = await openPage(`#/route/${encodeURIComponent(routeKey)}`);
  for (const backend of ['books', 'error-injector']) {
    const row = route.locator(`[data-testid=backends] tr[data-key^="${ns}/${backend}:"]`);
    await row.waitFor();
    const got = parsePercent(await row.locator('[data-field=success]').innerText());
    const want = rows.find((r) => r.backend?.name === backend)?.successRate ?? null;
    assert.ok(got !== null && want !== null && Math.abs(got - want) <= 0.02, `${backend}: page ${got} vs weft routes ${want}`);
  }
  const share = Number((await route.locator(`[data-testid=backends] tr[data-key^="${ns}/error-injector:"] [data-field=observed-share]`).innerText()).replace('%', '')) / 100;
  assert.ok(share > 0.04 && share < 0.16, `the error injector's observed share is near its 10% weight: ${share}`);

  // The authors route: its authorization view against weft authz.
  const authzRows = JSON.parse(authz.stdout) as AuthzRow[];
  const cliAllowed = authzRows.filter((r) => r.route === 'authors-get' && r.authorization === 'authors-get').reduce((s, r) => s + r.allowedRps, 0);
  const cliDenied = authzRows.filter((r) => r.authorization === null).reduce((s, r) => s + r.deniedRps, 0);
  const authors = await openPage(`#/route/${encodeURIComponent(`${ns}/httproute/authors-timeouts`)}`);
  const view = authors.locator(`.authz[data-backend="${ns}/authors:7001"]`);
  await view.waitFor();
  const id = (sa: string) => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;
  // authors-get allows books and webapp: books calls authors for every book it serves.
  const allowed = parseRps(await view.locator(`tr[data-key="${id('webapp')}"] [data-field=allowed-rps]`).innerText())
    + parseRps(await view.locator(`tr[data-key="${id('books')}"] [data-field=allowed-rps]`).innerText());
  const denied = parseRps(await view.locator(`tr[data-key="${id('traffic')}"] [data-field=denied-rps]`).innerText());
  process.stdout.write(`# dashboard: authors allowed webapp+books page ${allowed}/s weft authz ${cliAllowed}/s; denied traffic page ${denied}/s weft authz ${cliDenied}/s\n`);
  assert.ok(cliAllowed > 0 && Math.abs(allowed - cliAllowed) <= 0.25 * cliAllowed, `allowed rate: page ${allowed} vs weft authz ${cliAllowed}`);
  assert.ok(cliDenied > 0 && Math.abs(denied - cliDenied) <= 0.25 * cliDenied, `denied rate: page ${denied} vs weft authz ${cliDenied}`);
  assert.match(await view.innerText(), /Server: authors;/);
  assert.match(await view.innerText(), new RegExp(`authors-get on HTTPRoute authors-get: allows MeshTLSAuthentication ${ns}/books-and-webapp`));
  await shot(authors, 'route-authors-authorization');
});

test('clicking namespace -> workload -> route opens each view', async () => {
  const page = await openPage('#/');
  await page.locator('[data-testid=problems]').waitFor();
  await shot(page, 'overview');
  await page.getByRole('link', { name: ns, exact: true }).click();
  await page.locator(`[data-testid=workloads] tr[data-key="${ns}/deploy/books"]`).waitFor();
  await page.locator(`[data-testid=workloads] tr[data-key="${ns}/deploy/books"] a`).click();
  await page.getByRole('heading', { name: /Workload deploy\/books/ }).waitFor();
  await shot(page, 'workload');
  await page.getByRole('link', { name: 'httproute/books-fault-injection' }).click();
  await page.locator('[data-testid=route-detail]').waitFor();
  await page.locator(`[data-testid=backends] tr[data-key^="${ns}/error-injector:"]`).waitFor();
  assert.match(await page.locator('[data-testid=backends]').innerText(), /error-injector:8080\s+10\s+10\.0%/);
  await shot(page, 'route');
  await page.getByRole('link', { name: 'Topology' }).click();
  const edges = page.locator(`tr[data-edge="${ns}/deploy/client->${ns}/deploy/error-injector"]`);
  await edges.waitFor();
  assert.equal(await edges.locator('[data-field=success]').innerText(), '0.00%');
  await page.waitForTimeout(500);
  await shot(page, 'topology');
});

test('an explain that is denied shows the reason weft explain gives', async () => {
  const url = `http://authors.${ns}.svc.cluster.local:7001/authors/1.json`;
  const cli = await mesh.weft(['explain', '--service-account', 'traffic', '-n', ns, '-o', 'json', 'DELETE', url]);
  assert.equal(cli.code, 0, cli.stderr);
  const reason = (JSON.parse(cli.stdout) as { backends: { server?: { decision?: { allowed: boolean; reason: string } } }[] }).backends[0]?.server?.decision;
  assert.equal(reason?.allowed, false, cli.stdout);

  const page = await openPage('#/explain');
  await page.getByLabel('Client namespace', { exact: true }).fill(ns);
  await page.getByLabel('Client is a', { exact: true }).selectOption('serviceAccount');
  await page.getByLabel('Client name', { exact: true }).fill('traffic');
  await page.getByLabel('Method', { exact: true }).selectOption('DELETE');
  await page.getByLabel('URL', { exact: true }).fill(url);
  await page.getByRole('button', { name: 'Explain' }).press('Enter');
  const result = page.locator('[data-testid=explain-result]');
  await result.waitFor({ timeout: 60_000 });
  assert.match(await result.locator('[data-testid=decision]').first().innerText(), /^DENIED \(403\)/);
  assert.equal(await result.locator('[data-testid=reason]').first().innerText(), `Reason: ${reason?.reason ?? ''}`);
  await shot(page, 'explain-denied');
});
