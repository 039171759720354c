/**
 * `weft stat` beyond deploy/pod/ns: StatefulSets, DaemonSets, Jobs and CronJobs from their pods'
 * owners, -A (every namespace, a NAMESPACE column, names repeated across namespaces kept apart),
 * -l, and the progress stat prints on stderr while it scrapes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../../core/kube.js';
import { parseObserveArgs, withProgress } from './command.js';
import type { Group } from './figures.js';
import { renderStat } from './views.js';
import { groupKey, groupPods, jobOwners, parseResource } from './workloads.js';

const pod = (namespace: string, name: string, owner?: { kind: string; name: string }, labels: Record<string, string> = {}): Pod => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: { namespace, name, labels: { 'weft.dev/meshed': 'true', ...labels }, ...(owner !== undefined ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: owner.kind, name: owner.name, uid: 'u', controller: true }] } : {}) },
  status: { phase: 'Running' },
} as unknown as Pod);

test('resource kinds: sts, ds, job and cronjob with kubectl aliases', () => {
  assert.deepEqual(parseResource('statefulsets/db', ['sts']), { kind: 'sts', name: 'db' });
  assert.deepEqual(parseResource('daemonset.apps', ['ds']), { kind: 'ds' });
  assert.deepEqual(parseResource('jobs/x', ['job']), { kind: 'job', name: 'x' });
  assert.deepEqual(parseResource('cj/nightly', ['cronjob']), { kind: 'cronjob', name: 'nightly' });
  const args = parseObserveArgs('stat', ['cronjob/nightly', '-n', 'ops']);
  assert.ok(args.ok && args.args.resource.kind === 'cronjob');
  assert.ok(parseObserveArgs('authz', ['sts/db']).ok);
});

test('pods group by their StatefulSet, DaemonSet, Job, and by the CronJob owning their Job', () => {
  const pods = [
    pod('a', 'db-0', { kind: 'StatefulSet', name: 'db' }), pod('a', 'db-1', { kind: 'StatefulSet', name: 'db' }),
    pod('a', 'agent-x', { kind: 'DaemonSet', name: 'agent' }),
    pod('a', 'once-abc', { kind: 'Job', name: 'once' }),
    pod('a', 'nightly-2900-q', { kind: 'Job', name: 'nightly-2900' }),
    pod('a', 'loose'),
  ];
  assert.deepEqual(groupPods(pods, { kind: 'sts' }).map((g) => [g.name, g.pods.length]), [['sts/db', 2]]);
  assert.deepEqual(groupPods(pods, { kind: 'ds' }).map((g) => g.name), ['ds/agent']);
  assert.deepEqual(groupPods(pods, { kind: 'job' }).map((g) => g.name), ['job/nightly-2900', 'job/once']);
  const owners = jobOwners([
    { metadata: { namespace: 'a', name: 'nightly-2900', ownerReferences: [{ kind: 'CronJob', name: 'nightly', controller: true }] } },
    { metadata: { namespace: 'a', name: 'once' } },
  ]);
  assert.deepEqual(groupPods(pods, { kind: 'cronjob' }, owners).map((g) => [g.name, g.pods.map((p) => p.metadata.name)]), [['cronjob/nightly', ['nightly-2900-q']]]);
  assert.deepEqual(groupPods(pods, { kind: 'cronjob', name: 'other' }, owners), []);
});

test('-A: the same name in two namespaces stays two rows, with a NAMESPACE column', () => {
  const pods = [pod('shop', 'db-0', { kind: 'StatefulSet', name: 'db' }), pod('bank', 'db-0', { kind: 'StatefulSet', name: 'db' })];
  const groups = groupPods(pods, { kind: 'sts' });
  assert.deepEqual(groups.map(groupKey), ['bank/sts/db', 'shop/sts/db']);
  const resources = groups.map((g) => ({ name: g.name, namespace: g.namespace, key: groupKey(g), meshed: 1, pods: 1 }));
  const figures: Group<string>[] = [];
  const text = renderStat(resources, figures, 30, 'table', { namespaceColumn: true }).text;
  const lines = text.trim().split('\n');
  assert.match(lines[0] ?? '', /^NAMESPACE +NAME +MESHED/);
  assert.match(lines[1] ?? '', /^bank +sts\/db +1\/1/);
  assert.match(lines[2] ?? '', /^shop +sts\/db +1\/1/);
});

test('-A and -l parse; -A with a name, with -n or with --from, and an empty -l are usage errors', () => {
  const ok = parseObserveArgs('stat', ['deploy', '-A', '-l', 'app in (web,api)']);
  assert.ok(ok.ok && ok.args.allNamespaces === true && ok.args.selector === 'app in (web,api)');
  for (const [argv, why] of [
    [['deploy/web', '-A'], /-A lists every namespace: give a kind without a name/],
    [['deploy', '-A', '-n', 'x'], /-A and -n do not go together/],
    [['deploy', '-A', '--from', 'deploy/x'], /-A and --from do not go together/],
    [['deploy', '-l', ' '], /-l: the selector is empty/],
  ] as const) {
    const r = parseObserveArgs('stat', [...argv]);
    assert.ok(!r.ok && why.test(r.text), `${argv.join(' ')}: ${r.ok ? 'accepted' : r.text}`);
  }
});

test('progress: what is scraped and for how long at once, then the time left, on stderr until the results', async () => {
  const lines: string[] = [];
  const io = { out: () => assert.fail('progress never goes to stdout'), err: (t: string) => lines.push(t) };
  // The scrape ends once two ticks have printed (a fixed delay undercounts ticks on a loaded machine).
  const scrape = () => new Promise<string>((r) => {
    const check = setInterval(() => {
      if (lines.length < 3) return;
      clearInterval(check);
      r('done');
    }, 5);
  });
  const result = await withProgress(io, 'stat', { windowSeconds: 30 }, 3, scrape, 40);
  assert.equal(result, 'done');
  assert.equal(lines[0], "weft stat: scraping 3 meshed pods' proxies now and after 30s (--window); results then\n");
  assert.ok(lines.length >= 3, lines.join(''));
  for (const l of lines.slice(1)) assert.match(l, /^weft stat: \d+s left\n$/);
  const after = lines.length;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(lines.length, after, 'no progress after the results');
  const prom: string[] = [];
  await withProgress({ out: () => undefined, err: (t) => prom.push(t) }, 'routes', { windowSeconds: 90, prometheus: 'http://prom:9090' }, 1, () => Promise.resolve(0));
  assert.deepEqual(prom, ['weft routes: querying Prometheus at http://prom:9090 for 1 meshed pod over the last 1m30s\n']);
});
