import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { selfSignedServer } from '../../test/support/tls-certs.js';
import { checkKeyPair } from './key-pair.js';

test('checkKeyPair: a matching pair passes; another key, an unparsable certificate or key, an encrypted key each say which part is wrong', () => {
  const a = selfSignedServer(['a.example.com']);
  const b = selfSignedServer(['b.example.com']);
  assert.equal(checkKeyPair(a.certPem, a.keyPem), undefined);
  assert.equal(checkKeyPair(`${a.certPem}${b.certPem}`, a.keyPem), undefined, 'a chain: the leaf comes first');
  assert.match(checkKeyPair(a.certPem, b.keyPem) ?? '', /^tls\.key is not the private key of the certificate in tls\.crt \(subject CN=a\.example\.com\)$/);
  assert.match(checkKeyPair('not a certificate', a.keyPem) ?? '', /^tls\.crt is not a PEM certificate/);
  assert.match(checkKeyPair(a.certPem, 'not a key') ?? '', /^tls\.key is not an unencrypted PEM private key/);
  const encrypted = generateKeyPairSync('ec', {
    namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' },
  }).privateKey;
  assert.match(checkKeyPair(a.certPem, encrypted) ?? '', /^tls\.key is not an unencrypted PEM private key/);
  for (const m of [checkKeyPair(a.certPem, b.keyPem), checkKeyPair(a.certPem, 'not a key')]) {
    assert.ok(!(m ?? '').includes('PRIVATE KEY'), 'no key material in the message');
  }
});
