/**
 * Leader election for route status (policy-controller/status/lease.ts) with two replicas on the local
 * cluster: two `weft controller` processes (admin kubeconfig, one mesh issuer, distinct ports, one
 * Lease namespace) watch the same routes; only the Lease holder writes route status; after the holder
 * is killed (SIGKILL: it cannot release the Lease) the other takes over once the Lease has expired,
 * and writes the status of a route created while nobody led.
 *
 * Another Weft controller on the same cluster (e.g. one installed in weft-system by another test)
 * writes the same status entries (same controllerName) and may write them first, so a replica of
 * this test then finds nothing to change. The test looks for such a controller (a fresh Lease of the
 * same name in another namespace) and, when one is running, only asserts what it can attribute: the
 * follower writes nothing while the leader lives, and the takeover (Lease holder and timing). It says
 * so in a diagnostic.
 *
 * Bounds asserted are the ones lease.ts promises: no takeover before `leaseDurationSeconds` (15 s)
 * after the dead holder's last renewal, and a takeover at the first renewal round after that (rounds
 * every 2 s), plus a few seconds for the API round trips on a loaded machine.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { useCluster, type Cluster } from '../cluster/fixture.js';
import { REPO_ROOT } from '../support/paths.js';
import { createMesh, startControllerProcess, type ControllerProcess, type Mesh } from '../support/policy-controller.js';

/** lease.ts defaults: leaseDurationSeconds and the renewal period. */
const LEASE_DURATION_MS = 15_000;
const RENEW_MS = 2_000;
/** API round trips (GET + PUT of the Lease) on a loaded 2-core machine. */
const ROUND_TRIP_SLACK_MS = 3_000;
const LEASE_NAME = 'weft-policy-controller-status';

let cluster: Cluster;
let mesh: Mesh;
let leaseNs: string;
const replicas: ControllerProcess[] = [];

before(async () => {
  cluster = await useCluster();
  const crds = await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager', 'weft-e2e', '-f', join(REPO_ROOT, 'manifests', 'crds')]);
  assert.equal(crds.code, 0, crds.stderr);
  mesh = await createMesh();
  leaseNs = `e2e-pc-lease2-${randomBytes(3).toString('hex')}`;
  await cluster.core.createNamespace({ body: { metadata: { name: leaseNs, labels: { 'weft.dev/e2e': 'true' } } } });
  const args = [
    '--kubeconfig', cluster.info.kubeconfig,
    '--issuer-dir', mesh.issuerDir,
    '--namespace', leaseNs,
    '--listen-host', '127.0.0.1',
    '--grpc-port', '0',
    '--admin-port', '0',
    '--webhook-port', '0',
    '--log-level', 'info',
  ];
  // One after the other: the first one up is the likely leader, but the test does not rely on it.
  replicas.push(await startControllerProcess(args, 120_000));
  replicas.push(await startControllerProcess(args, 120_000));
});

after(async () => {
  for (const r of replicas) await r.stop().catch(() => undefined);
  await cluster?.core.deleteNamespace({ name: leaseNs }).catch(() => undefined);
});

interface LogLine {
  readonly msg?: string;
  readonly identity?: string;
  readonly time?: number;
}

function records(p: ControllerProcess): LogLine[] {
  const out: LogLine[] = [];
  for (const chunk of p.log) {
    for (const line of chunk.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as LogLine);
      } catch {
        // a partial line from stderr
      }
    }
  }
  return out;
}

const becameLeader = (p: ControllerProcess) => records(p).find((r) => r.msg === 'became the status leader');

async function statusWrites(p: ControllerProcess): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${p.adminPort}/metrics`)).text();
  const m = /^weft_route_status_writes_total\{result="written"\} (\d+)/m.exec(text);
  return m === null ? 0 : Number(m[1]);
}

interface LeaseSpec {
  holderIdentity?: string;
  renewTime?: string;
  acquireTime?: string;
  leaseTransitions?: number;
}

async function lease(): Promise<LeaseSpec> {
  const obj = (await cluster.objects.read({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: LEASE_NAME, namespace: leaseNs } })) as {
    spec?: { holderIdentity?: string; renewTime?: Date | string; acquireTime?: Date | string; leaseTransitions?: number };
  };
  const iso = (d: Date | string | undefined) => (d === undefined ? undefined : d instanceof Date ? d.toISOString() : d);
  const s = obj.spec ?? {};
  const out: LeaseSpec = {};
  if (s.holderIdentity !== undefined) out.holderIdentity = s.holderIdentity;
  const renew = iso(s.renewTime);
  if (renew !== undefined) out.renewTime = renew;
  const acquire = iso(s.acquireTime);
  if (acquire !== undefined) out.acquireTime = acquire;
  if (s.leaseTransitions !== undefined) out.leaseTransitions = s.leaseTransitions;
  return out;
}

/** Other Weft controllers writing route status: holders of a fresh status Lease in another namespace. */
async function foreignLeaders(): Promise<string[]> {
  const list = (await cluster.objects.list('coordination.k8s.io/v1', 'Lease')) as unknown as {
    items: { metadata?: { name?: string; namespace?: string }; spec?: { holderIdentity?: string; renewTime?: Date | string } }[];
  };
  return list.items
    .filter((l) => l.metadata?.name === LEASE_NAME && l.metadata.namespace !== leaseNs && (l.spec?.holderIdentity ?? '') !== '')
    .filter((l) => Date.now() - new Date(l.spec?.renewTime ?? 0).getTime() < 30_000)
    .map((l) => `${l.metadata?.namespace}/${l.spec?.holderIdentity}`);
}

async function accepted(ns: string, name: string): Promise<boolean> {
  const obj = (await cluster.objects.read({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace: ns } })) as {
    status?: { parents?: { controllerName: string; conditions?: { type: string; status: string }[] }[] };
  };
  const mine = obj.status?.parents?.find((p) => p.controllerName === 'weft.dev/policy-controller');
  return mine?.conditions?.some((c) => c.type === 'Accepted' && c.status === 'True') === true;
}

const route = (name: string) => `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}}
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 80}]
  rules:
  - backendRefs: [{name: web, port: 80}]
`;

/** The replica that holds the Lease, once exactly one has said so and the Lease agrees. */
async function leader(among: readonly ControllerProcess[]): Promise<ControllerProcess> {
  let found: ControllerProcess | undefined;
  await cluster.waitFor('one replica to hold the status Lease', async () => {
    const leaders = among.filter((p) => becameLeader(p) !== undefined);
    if (leaders.length !== 1) return `${leaders.length} replicas say they lead`;
    const holder = (await lease()).holderIdentity;
    if (holder !== becameLeader(leaders[0]!)?.identity) return `Lease holder ${holder}`;
    found = leaders[0];
    return true;
  }, { timeoutMs: 60_000 });
  return found!;
}

test('with two replicas only the Lease holder writes route status; killing it lets the other take over once the Lease expires', async (t) => {
  const ns = await cluster.freshNamespace(t);
  await cluster.apply(ns, 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{name: http, port: 80, targetPort: 8080}]\n');
  const first = await leader(replicas);
  const other = replicas.find((p) => p !== first)!;

  const foreign = await foreignLeaders();
  if (foreign.length > 0) t.diagnostic(`another Weft controller writes route status too (${foreign.join(', ')}): writes of this test's leader are not asserted`);

  await cluster.apply(ns, route('one'));
  await cluster.waitFor('route one Accepted by weft', async () => ((await accepted(ns, 'one')) ? true : 'no status yet'), { timeoutMs: 60_000 });
  if (foreign.length === 0) {
    await cluster.waitFor('the leader\'s status write counted', async () => ((await statusWrites(first)) >= 1 ? true : 'no write counted'), { timeoutMs: 30_000 });
  }
  assert.equal(await statusWrites(other), 0, 'the other replica wrote no status');
  assert.equal(becameLeader(other), undefined, 'the other replica never led');

  // Kill the leader without letting it release the Lease.
  await first.stop('SIGKILL');
  const killedAt = Date.now();
  const dead = await lease();
  assert.equal(dead.holderIdentity, becameLeader(first)?.identity, 'the dead replica still holds the Lease');
  const lastRenew = Date.parse(dead.renewTime ?? '');
  assert.ok(Number.isFinite(lastRenew), `renewTime ${dead.renewTime}`);

  // A route created while nobody leads gets its status from the next leader.
  await cluster.apply(ns, route('two'));
  await cluster.waitFor('the other replica to take over', async () => (becameLeader(other) !== undefined ? true : 'not leading yet'), {
    timeoutMs: LEASE_DURATION_MS + 60_000,
    intervalMs: 200,
  });
  const taken = await lease();
  assert.equal(taken.holderIdentity, becameLeader(other)?.identity);
  assert.equal(taken.leaseTransitions, (dead.leaseTransitions ?? 0) + 1);
  const acquired = Date.parse(taken.acquireTime ?? '');
  const afterRenewMs = acquired - lastRenew;
  t.diagnostic(`takeover: ${afterRenewMs} ms after the dead holder's last renewal, ${acquired - killedAt} ms after the kill`);
  assert.ok(afterRenewMs >= LEASE_DURATION_MS, `taken over ${afterRenewMs} ms after the last renewal, before the Lease expired`);
  assert.ok(afterRenewMs <= LEASE_DURATION_MS + RENEW_MS + ROUND_TRIP_SLACK_MS, `taken over ${afterRenewMs} ms after the last renewal`);

  await cluster.waitFor('route two Accepted', async () => ((await accepted(ns, 'two')) ? true : 'no status yet'), { timeoutMs: 60_000 });
  if (foreign.length === 0 && (await foreignLeaders()).length === 0) {
    await cluster.waitFor('the new leader\'s status write counted', async () => ((await statusWrites(other)) >= 1 ? true : 'no write counted'), { timeoutMs: 30_000 });
  }
  assert.equal(await accepted(ns, 'one'), true);
});
