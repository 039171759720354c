import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

function run(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, exited, out: () => out, err: () => err };
}

test('main.js runs the named app from the environment and exits 0 on SIGTERM', async (t) => {
  const p = run(['podinfo'], { PORT: '0', NAME: 'from-env' });
  t.after(() => p.child.kill('SIGKILL'));
  const deadline = Date.now() + 10_000;
  let port: number | undefined;
  while (port === undefined && Date.now() < deadline) {
    const m = /listening on :(\d+)/.exec(p.out());
    if (m) port = Number(m[1]);
    else await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(port !== undefined, `no listening line: ${p.out()} ${p.err()}`);
  const r = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(((await r.json()) as { name: string }).name, 'from-env');
  p.child.kill('SIGTERM');
  const [code] = await p.exited;
  assert.equal(code, 0);
  assert.match(p.out(), /SIGTERM: shutting down/);
});

test('main.js exits 2 naming every bad variable, and 2 for an unknown app', async () => {
  const bad = run(['authors'], { PORT: 'x', FAILURE_RATE: '2' });
  const [code] = await bad.exited;
  assert.equal(code, 2);
  assert.match(bad.err(), /PORT=x/);
  assert.match(bad.err(), /FAILURE_RATE=2/);
  const unknown = run(['library'], {});
  assert.equal((await unknown.exited)[0], 2);
  assert.match(unknown.err(), /usage: main\.js <webapp\|books\|authors\|traffic\|podinfo\|error-injector>/);
});
