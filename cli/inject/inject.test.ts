/**
 * `weft inject` / `weft uninject` in-process, without a cluster: a multi-document file with every
 * workload kind against a golden output, the round trip back to the input, and flag errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../../test/support/paths.js';
import { runInject, runUninject } from './command.js';

const DIR = join(REPO_ROOT, 'cli', 'inject', 'testdata');
const INPUT = join(DIR, 'workloads.yaml');
const ANCHORS = join(REPO_ROOT, 'cli', 'inject', 'testdata', 'anchors.pem');
const UPDATE = process.env['WEFT_UPDATE_GOLDEN'] === '1';

async function cli(fn: typeof runInject, argv: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await fn(argv, { out: (t) => { out += t; }, err: (t) => { err += t; } }, () => Promise.resolve(stdin));
  return { code, out, err };
}

const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as unknown);

test('golden: weft inject --ignore-cluster on every workload kind', async () => {
  const r = await cli(runInject, ['--ignore-cluster', '--identity-trust-anchors', ANCHORS, INPUT]);
  assert.equal(r.code, 0, r.err);
  const path = join(DIR, 'workloads.injected.golden.yaml');
  if (UPDATE) writeFileSync(path, r.out);
  assert.equal(r.out, readFileSync(path, 'utf8'), `${path} differs (WEFT_UPDATE_GOLDEN=1 refreshes it)`);
  assert.equal(r.err, [
    'deployment/web: injected',
    'cronjob/nightly: injected',
    "pod/p1: not injected: the pod's weft.dev/inject annotation is disabled",
    "daemonset/ds: not injected: the pod uses the host network: redirecting its traffic would redirect the node's",
    '',
  ].join('\n'));
  assert.ok(r.out.startsWith('# Workloads of every kind'), 'an untouched document keeps its comment');
});

test('uninject of the injected output gives back the input; injecting twice equals injecting once', async () => {
  const injected = await cli(runInject, ['--ignore-cluster', '--identity-trust-anchors', ANCHORS, INPUT]);
  const back = await cli(runUninject, [], injected.out);
  assert.equal(back.code, 0);
  assert.deepEqual(docs(back.out), docs(readFileSync(INPUT, 'utf8')));
  const twice = await cli(runInject, ['--ignore-cluster', '--identity-trust-anchors', ANCHORS, '-'], injected.out);
  assert.deepEqual(docs(twice.out), docs(injected.out));
  assert.match(twice.err, /deployment\/web: the pod already has the proxy/);
});

test('inject flag errors are reported clearly and exit 2', async () => {
  const unknown = await cli(runInject, ['--bogus']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /unknown option '--bogus'/);
  const noAnchors = await cli(runInject, ['--ignore-cluster']);
  assert.equal(noAnchors.code, 2);
  assert.match(noAnchors.err, /--ignore-cluster needs --identity-trust-anchors/);
  const badYaml = await cli(runInject, ['--ignore-cluster', '--identity-trust-anchors', ANCHORS, '-'], 'a: [unclosed');
  assert.equal(badYaml.code, 1);
  assert.match(badYaml.err, /stdin:/);
  assert.equal((await cli(runUninject, ['--help'])).code, 0);
});

test('comments survive in the documents inject changes, and uninject gives the text back', async () => {
  const input = `# the web tier
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web # inline comment on the name
  namespace: shop
spec:
  replicas: 2 # two for now
  selector: {matchLabels: {app: web}}
  template:
    # the pod template
    metadata: {labels: {app: web}}
    spec:
      containers:
        # the app itself
        - name: web
          image: nginx # pinned later
`;
  const r = await cli(runInject, ['--ignore-cluster', '--identity-trust-anchors', ANCHORS], input);
  assert.equal(r.code, 0, r.err);
  for (const c of ['# the web tier', '# inline comment on the name', '# two for now', '# the pod template', '# the app itself', '# pinned later']) assert.ok(r.out.includes(c), `${c} kept in\n${r.out}`);
  assert.match(r.out, /weft-proxy/);
  const back = await cli(runUninject, [], r.out);
  assert.equal(back.code, 0, back.err);
  assert.deepEqual(docs(back.out), docs(input));
  for (const c of ['# the web tier', '# the pod template', '# pinned later']) assert.ok(back.out.includes(c), `${c} kept by uninject`);
});

test('a workload whose containers are not a list is an error naming the object and the field', async () => {
  const input = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad, namespace: shop}\nspec:\n  template:\n    spec:\n      containers: "notalist"\n`;
  const r = await cli(runInject, ['--ignore-cluster', '--identity-trust-anchors', ANCHORS], input);
  assert.equal(r.code, 1);
  assert.equal(r.out, '');
  assert.equal(r.err, 'weft inject: stdin: document 2: deployment/bad (namespace shop): spec.template.spec.containers is a string, not a list of containers\n');
  const noSpec = await cli(runInject, ['--ignore-cluster', '--identity-trust-anchors', ANCHORS], 'kind: StatefulSet\nmetadata: {name: s}\nspec: {template: {metadata: {}}}\n');
  assert.match(noSpec.err, /statefulset\/s: spec\.template\.spec is missing, not a pod spec/);
  const badItem = await cli(runUninject, [], 'kind: Pod\nmetadata: {name: p}\nspec: {containers: [web]}\n');
  assert.match(badItem.err, /pod\/p: spec\.containers\[0\] is a string, not a container/);
});

test('an Argo Rollout with a pod template is injected; one with a workloadRef is passed through with a note', async () => {
  const rollout = `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: canary, namespace: shop}
spec:
  strategy: {canary: {steps: [{setWeight: 20}]}}
  template:
    metadata: {labels: {app: canary}}
    spec:
      containers: [{name: app, image: example/app:1}]
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: byref}
spec:
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web}
`;
  const r = await cli(runInject, ['--ignore-cluster', '--identity-trust-anchors', ANCHORS], rollout);
  assert.equal(r.code, 0, r.err);
  const [injected, byRef] = docs(r.out) as [{ spec: { template: { spec: { initContainers?: { name: string }[] } } } }, unknown];
  assert.deepEqual(injected.spec.template.spec.initContainers?.map((c) => c.name), ['weft-init', 'weft-proxy']);
  assert.deepEqual(byRef, docs(rollout)[1]);
  assert.match(r.err, /^rollout\/canary: injected\n/m);
  assert.match(r.err, /^rollout\/byref: not injected: it takes its pods from spec\.workloadRef; inject the Deployment it names\n/m);
});
