/**
 * The manifests checked against the code, without a cluster: images, args and environment of every
 * container, namespaces, injection, probes and Service ports, and the READMEs against the files they
 * show. (test/e2e/examples-manifests.test.ts checks them against a real API server.)
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';

import { DEFAULT_EXAMPLES_IMAGE, INJECT_ANNOTATION, INJECT_ENABLED } from '../../core/contract.js';
import { APP_NAMES, authorsConfig, booksConfig, errorInjectorConfig, podinfoConfig, trafficConfig, webappConfig, type Env, type AppName } from './config.js';

// This file runs as dist/examples/booksapp/manifests.test.js; the manifests stay in the source tree.
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const DIR = join(REPO, 'examples', 'booksapp', 'manifests');

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> }; spec?: Record<string, unknown> };
interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  env?: Array<{ name: string; value?: string }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  readinessProbe?: { httpGet?: { path: string; port: string | number }; tcpSocket?: { port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
}
interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec: { containers: Container[]; serviceAccountName?: string };
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return name.endsWith('.yaml') ? [p] : [];
  }).sort();
}

function docs(file: string): Obj[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    assert.deepEqual(d.errors, [], `${file}: YAML errors`);
    return d.toJS() as Obj;
  }).filter((o) => o !== null);
}

const FILES = yamlFiles(DIR);
const ALL = FILES.flatMap((f) => docs(f).map((o) => ({ file: relative(DIR, f), o })));
const templates = (): Array<{ file: string; o: Obj; template: PodTemplate }> =>
  ALL.flatMap(({ file, o }) => (o.kind === 'Deployment' || o.kind === 'Job' ? [{ file, o, template: o.spec?.['template'] as PodTemplate }] : []));

const PARSERS: Record<AppName, (env: Env) => { ok: boolean; errors?: readonly string[] }> = {
  webapp: webappConfig, books: booksConfig, authors: authorsConfig, traffic: trafficConfig, podinfo: podinfoConfig, 'error-injector': errorInjectorConfig,
};

test('the manifests folder has the base manifests and one folder per scenario', () => {
  assert.deepEqual(readdirSync(DIR).sort(), [
    'README.md', 'authorization', 'booksapp.yaml', 'cross-namespace-backends', 'dynamic-request-routing', 'fault-injection', 'header-modification-and-canary', 'podinfo.yaml', 'timeouts',
  ]);
  assert.ok(ALL.length >= 40, `${ALL.length} objects`);
});

/** The file examples/bin/examples (the image's entry point) runs for `booksapp`, relative to the image's /app. */
function entryPointTarget(app: string): string | undefined {
  const script = readFileSync(join(REPO, 'examples', 'bin', 'examples'), 'utf8');
  const m = new RegExp(`^\\s*${app}\\) shift; exec node "\\$dist/([^"]+)" "\\$@" ;;$`, 'm').exec(script);
  return m?.[1];
}

test('every container runs the examples image of this version with args naming a booksapp program', () => {
  const target = entryPointTarget('booksapp');
  assert.equal(target, 'examples/booksapp/main.js', 'the image entry point runs booksapp/main.js for `booksapp`');
  assert.ok(existsSync(join(REPO, 'examples', 'booksapp', 'main.ts')));
  for (const { file, o, template } of templates()) {
    for (const c of template.spec.containers) {
      const where = `${file} ${o.kind}/${o.metadata.name} container ${c.name}`;
      assert.equal(c.image, DEFAULT_EXAMPLES_IMAGE, where);
      assert.equal(c.command, undefined, `${where}: the image's entrypoint picks the program`);
      assert.equal(c.args?.[0], 'booksapp', where);
      assert.ok((APP_NAMES as readonly string[]).includes(c.args?.[1] ?? ''), `${where}: unknown app ${c.args?.[1]}`);
    }
  }
});

test('every container environment is valid for its program', () => {
  for (const { file, o, template } of templates()) {
    for (const c of template.spec.containers) {
      const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
      const parsed = PARSERS[c.args?.[1] as AppName](env);
      assert.ok(parsed.ok, `${file} ${o.metadata.name}: ${parsed.errors?.join('; ')}`);
    }
  }
});

test('namespaced objects name their namespace, and every Namespace is annotated for injection', () => {
  const namespaces = ALL.filter(({ o }) => o.kind === 'Namespace');
  assert.deepEqual(namespaces.map(({ o }) => o.metadata.name).sort(), ['booksapp', 'podinfo-east', 'podinfo-west']);
  for (const { o } of namespaces) assert.equal(o.metadata.annotations?.[INJECT_ANNOTATION], INJECT_ENABLED, o.metadata.name);
  for (const { file, o } of ALL) if (o.kind !== 'Namespace') assert.ok(o.metadata.namespace, `${file} ${o.kind}/${o.metadata.name} has no namespace`);
});

test('the booksapp Deployments run as their own ServiceAccounts, which the manifest creates', () => {
  const base = ALL.filter(({ file }) => file === 'booksapp.yaml').map(({ o }) => o);
  const accounts = base.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name).sort();
  assert.deepEqual(accounts, ['authors', 'books', 'traffic', 'webapp']);
  for (const o of base.filter((x) => x.kind === 'Deployment')) {
    assert.equal((o.spec?.['template'] as PodTemplate).spec.serviceAccountName, o.metadata.name);
  }
});

test('servers have probes on ports they declare, and Services select pods that have the target port', () => {
  for (const { file, o, template } of templates()) {
    for (const c of template.spec.containers) {
      if (c.args?.[1] === 'traffic') continue;
      const probe = c.readinessProbe;
      assert.ok(probe, `${file} ${o.metadata.name}: no readinessProbe`);
      const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
      assert.ok((c.ports ?? []).some((p) => p.name === port || p.containerPort === port), `${file} ${o.metadata.name}: probe port ${String(port)}`);
      if (probe.httpGet) assert.ok(['/ready', '/live'].includes(probe.httpGet.path), probe.httpGet.path);
    }
  }
  for (const { file, o } of ALL.filter(({ o }) => o.kind === 'Service')) {
    const selector = o.spec?.['selector'] as Record<string, string>;
    const ports = o.spec?.['ports'] as Array<{ targetPort?: string | number; port: number }>;
    const pods = templates().filter(({ o: d, template }) => d.metadata.namespace === o.metadata.namespace
      && Object.entries(selector).every(([k, v]) => template.metadata?.labels?.[k] === v));
    assert.ok(pods.length > 0, `${file} Service ${o.metadata.name} selects no pod template`);
    for (const { template } of pods) {
      for (const p of ports) {
        const target = p.targetPort ?? p.port;
        assert.ok(template.spec.containers.some((c) => (c.ports ?? []).some((cp) => cp.name === target || cp.containerPort === target)),
          `${file} Service ${o.metadata.name} targets ${String(target)}`);
      }
    }
  }
});

test('each scenario README names its files, and every YAML it shows equals the object in those files', () => {
  for (const folder of readdirSync(DIR).filter((n) => statSync(join(DIR, n)).isDirectory())) {
    const readme = readFileSync(join(DIR, folder, 'README.md'), 'utf8');
    const files = readdirSync(join(DIR, folder)).filter((n) => n.endsWith('.yaml'));
    assert.ok(files.length > 0, folder);
    for (const f of files) assert.ok(readme.includes(f), `${folder}/README.md does not mention ${f}`);
    const objects = files.flatMap((f) => docs(join(DIR, folder, f)));
    let shown = 0;
    for (const block of readme.matchAll(/```yaml\n([\s\S]*?)```/g)) {
      for (const doc of parseAllDocuments(block[1] as string)) {
        const o = doc.toJS() as Obj | null;
        if (o?.kind === undefined) continue;
        const match = objects.find((x) => x.kind === o.kind && x.metadata.name === o.metadata.name && x.metadata.namespace === o.metadata.namespace);
        assert.ok(match, `${folder}/README.md shows ${o.kind}/${o.metadata.name} that no file holds`);
        assert.deepEqual(o, match, `${folder}/README.md: ${o.kind}/${o.metadata.name} differs from the file`);
        shown++;
      }
    }
    if (folder !== 'authorization') assert.ok(shown > 0, `${folder}/README.md shows no YAML`);
  }
});
