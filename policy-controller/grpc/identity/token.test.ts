import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BoundObject, TokenReviewer } from './token.js';
import { classifyRejectedToken, decodeUnverifiedClaims, parseServiceAccountUsername } from './token.js';

const AUD = 'identity.weft.dev';
const NOW = new Date('2026-11-22T12:00:00Z');
const signal = new AbortController().signal;

function jwt(claims: Record<string, unknown>): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'RS256' })}.${enc(claims)}.sig`;
}

const base = {
  aud: [AUD],
  exp: NOW.getTime() / 1000 + 600,
  sub: 'system:serviceaccount:shop:web',
  'kubernetes.io': { namespace: 'shop', pod: { name: 'web-1', uid: 'p1' }, serviceaccount: { name: 'web', uid: 's1' } },
};

function reviewer(gone: string[] = [], failing = false): TokenReviewer & { lookups: string[] } {
  const lookups: string[] = [];
  return {
    lookups,
    review: async () => assert.fail('not called by classification'),
    exists: async (o: BoundObject) => {
      lookups.push(`${o.kind}/${o.name}/${o.uid ?? ''}`);
      if (failing) throw new Error('API down');
      return !gone.includes(`${o.kind}/${o.name}`);
    },
  };
}

const rejected = { authenticated: false, error: 'invalid bearer token' };

test('claims are read from the JWT payload, aud as a string or a list', () => {
  const c = decodeUnverifiedClaims(jwt({ ...base, aud: AUD }));
  assert.deepEqual(c?.audiences, [AUD]);
  assert.equal(c?.pod?.name, 'web-1');
  assert.equal(c?.serviceAccount?.uid, 's1');
  assert.equal(c?.expiresAt?.toISOString(), '2026-11-22T12:10:00.000Z');
  assert.equal(decodeUnverifiedClaims('not-a-jwt'), undefined);
  assert.equal(decodeUnverifiedClaims('a.!!!.c'), undefined);
});

test('a rejected token without our audience is classified as wrong audience, before expiry', async () => {
  const r = await classifyRejectedToken(jwt({ ...base, aud: ['api'], exp: 1 }), rejected, AUD, reviewer(), NOW, signal);
  assert.equal(r.reason, 'token_wrong_audience');
});

test('a rejected token past its exp is classified as expired', async () => {
  const r = await classifyRejectedToken(jwt({ ...base, exp: NOW.getTime() / 1000 - 1 }), rejected, AUD, reviewer(), NOW, signal);
  assert.equal(r.reason, 'token_expired');
});

test('a rejected token whose pod is gone is classified as a deleted pod, looked up by uid', async () => {
  const rv = reviewer(['Pod/web-1']);
  const r = await classifyRejectedToken(jwt(base), rejected, AUD, rv, NOW, signal);
  assert.equal(r.reason, 'token_pod_deleted');
  assert.deepEqual(rv.lookups, ['Pod/web-1/p1']);
});

test('a rejected token whose ServiceAccount is gone is classified as a deleted ServiceAccount', async () => {
  const r = await classifyRejectedToken(jwt(base), rejected, AUD, reviewer(['ServiceAccount/web']), NOW, signal);
  assert.equal(r.reason, 'token_service_account_deleted');
});

test('a failed lookup is not taken as proof of deletion', async () => {
  const r = await classifyRejectedToken(jwt(base), rejected, AUD, reviewer([], true), NOW, signal);
  assert.equal(r.reason, 'token_invalid');
});

test('anything else rejected is invalid, carrying TokenReview\'s error', async () => {
  const r = await classifyRejectedToken(jwt(base), rejected, AUD, reviewer(), NOW, signal);
  assert.equal(r.reason, 'token_invalid');
  assert.match(r.message, /invalid bearer token/);
});

test('ServiceAccount usernames parse; other users do not', () => {
  assert.deepEqual(parseServiceAccountUsername('system:serviceaccount:shop:web'), { namespace: 'shop', name: 'web' });
  assert.equal(parseServiceAccountUsername('system:admin'), undefined);
  assert.equal(parseServiceAccountUsername('system:serviceaccount:shop:web:x'), undefined);
  assert.equal(parseServiceAccountUsername(undefined), undefined);
});
