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
