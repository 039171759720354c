/**
 * Flag values that used to be accepted or to fail deep inside with a message naming nothing: an empty
 * image, a CIDR prefix past the address's bits, a certificate given as a key (and the reverse).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/support/paths.js';
import { runInject } from './inject/command.js';
import { parseInstallArgs } from './install/command.js';
import { cidrProblem, parseCidrList } from './validate.js';

const CERT = join(REPO_ROOT, 'cli', 'inject', 'testdata', 'anchors.pem');

function errorText(argv: string[]): string {
  const r = parseInstallArgs('install', ['--ignore-cluster', ...argv]);
  assert.ok(!r.ok && !r.help, `${argv.join(' ')} is refused`);
  return r.text;
}

test('--image "" is refused naming the flag and why, in install and inject', async () => {
  assert.match(errorText(['--image', '']), /^weft install: --image: the image is empty; give an image reference such as /);
  assert.match(errorText(['--image', 'has space:1']), /--image: "has space:1" is not an image reference/);
  assert.ok(parseInstallArgs('install', ['--image', 'registry.example:5000/team/weft:0.1.0@sha256:' + 'a'.repeat(64)]).ok);
  let err = '';
  const code = await runInject(['--ignore-cluster', '--identity-trust-anchors', CERT, '--image', ''], { out: () => undefined, err: (t) => { err += t; } }, () => Promise.resolve(''));
  assert.equal(code, 2);
  assert.match(err, /^weft inject: --image: the image is empty/);
});

test('--cluster-networks: a prefix past the family\'s bits, a bad address or an empty list is refused', () => {
  assert.match(errorText(['--cluster-networks', '10.0.0.0/99']), /--cluster-networks: "10\.0\.0\.0\/99" is not a CIDR: the prefix \/99 is not 0 to 32 \(IPv4\)/);
  assert.match(errorText(['--cluster-networks', 'fd00::/129']), /the prefix \/129 is not 0 to 128 \(IPv6\)/);
  assert.match(errorText(['--cluster-networks', '10.0.0.300/8']), /"10\.0\.0\.300" is not an IPv4 or IPv6 address/);
  assert.match(errorText(['--cluster-networks', ',']), /--cluster-networks: the list is empty/);
  assert.equal(cidrProblem('fd00::/8'), undefined);
  assert.deepEqual(parseCidrList('x', '10.0.0.0/8, fd00::/8').cidrs, ['10.0.0.0/8', 'fd00::/8']);
});

test('a certificate given as a key (and a key as a certificate) names the file and what it holds', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-pem-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const key = join(dir, 'key.pem');
  writeFileSync(key, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const garbled = join(dir, 'garbled.pem');
  writeFileSync(garbled, readFileSync(key, 'utf8').replace(/\n[A-Za-z0-9+/]{8}/, '\n!!!!!!!!'));
  const text = errorText(['--identity-trust-anchor', CERT, '--identity-trust-anchor-key', CERT]);
  assert.match(text, new RegExp(`--identity-trust-anchor-key: ${CERT.replace(/[/.]/g, '\\$&')} holds a certificate, not a private key`));
  assert.doesNotMatch(text, /DECODER|error:[0-9A-F]{8}/, 'no raw OpenSSL error');
  assert.match(errorText(['--identity-trust-anchor', key, '--identity-trust-anchor-key', key]), /--identity-trust-anchor: .*key\.pem holds a private key, not a certificate/);
  assert.match(errorText(['--identity-issuer', CERT, '--identity-issuer-key', garbled]), /--identity-issuer-key: .*garbled\.pem holds a private key that cannot be read/);
});
