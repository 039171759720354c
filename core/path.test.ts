import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_TARGET_LENGTH, normalizeRequestTarget } from './path.js';

function pathOf(target: string): string | undefined {
  const r = normalizeRequestTarget(target);
  return r.ok ? r.path : undefined;
}

describe('normalizeRequestTarget', () => {
  const normalised: readonly [string, string, string][] = [
    ['double slashes merge', '//admin', '/admin'],
    ['dot-dot resolves', '/a/../admin', '/admin'],
    ['encoded dot-dot resolves after decoding unreserved', '/%2e%2e/admin', '/admin'],
    ['mixed-case encoded dots resolve', '/x/%2E%2e/admin', '/admin'],
    ['dot-dot never climbs above root', '/../../admin', '/admin'],
    ['single dot segments vanish', '/./a/./b', '/a/b'],
    ['trailing slash is kept', '/a/', '/a/'],
    ['trailing dot segment leaves a trailing slash', '/a/b/.', '/a/b/'],
    ['encoded unreserved characters are decoded', '/%7Euser/%41%62c', '/~user/Abc'],
    ['other escapes keep encoding with uppercase hex', '/a%3fb%2a', '/a%3Fb%2A'],
    ['double encoding is decoded once only', '/%252e%252e/admin', '/%252e%252e/admin'],
    ['semicolon parameters stay part of the segment', '/admin;x=1', '/admin;x=1'],
    ['characters outside the path set are encoded', '/a"b|c', '/a%22b%7Cc'],
    ['non-ASCII is encoded as UTF-8', '/é', '/%C3%A9'],
    ['root stays root', '/', '/'],
  ];
  for (const [rule, input, expected] of normalised) {
    test(rule, () => assert.equal(pathOf(input), expected));
  }

  const rejected: readonly [string, string][] = [
    ['encoded slash is refused', '/admin%2Fx'],
    ['lowercase encoded slash is refused', '/admin%2fx'],
    ['encoded backslash is refused', '/admin%5cx'],
    ['raw backslash is refused', '/admin\\x'],
    ['fragment is refused', '/admin#x'],
    ['fragment after query is refused', '/admin?a=1#x'],
    ['dot-dot with parameters is refused', '/public/..;/admin'],
    ['dot with parameters is refused', '/public/.;x/admin'],
    ['malformed escape is refused', '/a%zz'],
    ['truncated escape is refused', '/a%4'],
    ['space is refused', '/a b'],
    ['control character is refused', '/a\u0001b'],
    ['asterisk-form is refused', '*'],
    ['authority-form is refused', 'example.com:443'],
    ['empty target is refused', ''],
    ['over-long target is refused', '/' + 'a'.repeat(MAX_TARGET_LENGTH)],
  ];
  for (const [rule, input] of rejected) {
    test(rule, () => {
      const r = normalizeRequestTarget(input);
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.code, 'bad-target');
    });
  }

  test('a target of exactly the limit is accepted', () => {
    assert.equal(normalizeRequestTarget('/' + 'a'.repeat(MAX_TARGET_LENGTH - 1)).ok, true);
  });

  test('a target whose percent-encoded output passes the limit is refused, so no output is ever refused again', () => {
    // 1,401 characters in, 8,401 out: each é becomes %C3%A9.
    const r = normalizeRequestTarget('/' + 'é'.repeat(1400));
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.code, 'bad-target');
      assert.match(r.reason, /normalised request target longer than 8192/);
    }
    assert.equal(normalizeRequestTarget('/' + '"'.repeat(2731)).ok, false);
  });

  test('an output of exactly the limit (path plus ?query) is accepted and normalises to itself', () => {
    // 1 + 3 * 2730 = 8191 path characters, plus "?" = 8192.
    const input = '/' + '"'.repeat(2730) + '?';
    const once = normalizeRequestTarget(input);
    assert.ok(once.ok);
    assert.equal(once.path.length, MAX_TARGET_LENGTH - 1);
    assert.deepEqual(normalizeRequestTarget(once.path), once);
    const withQuery = normalizeRequestTarget('/' + '"'.repeat(2730) + '?a');
    assert.equal(withQuery.ok, false, 'path plus "?a" is 8,193 characters');
  });

  test('query is split off and kept raw', () => {
    assert.deepEqual(normalizeRequestTarget('/a/../b?x=%2F&y'), { ok: true, path: '/b', query: 'x=%2F&y' });
  });

  test('an exact path cannot be escaped with ? (query is not path)', () => {
    assert.equal(pathOf('/admin?/../public'), '/admin');
  });

  test('absolute-form yields path, query and authority', () => {
    assert.deepEqual(normalizeRequestTarget('HTTP://Echo.ns:8080/a//b?q=1'), {
      ok: true,
      path: '/a/b',
      query: 'q=1',
      authority: 'Echo.ns:8080',
    });
    assert.deepEqual(normalizeRequestTarget('http://echo'), { ok: true, path: '/', query: '', authority: 'echo' });
    assert.deepEqual(normalizeRequestTarget('http://echo?x'), { ok: true, path: '/', query: 'x', authority: 'echo' });
  });

  test('normalising twice changes nothing (property)', () => {
    const alphabet = fc.constantFrom('/', '.', '..', '%2e', '%2E', '%41', '%25', '%3f', 'a', 'B', '~', ';', '=', '"', 'é', '%c3%a9', '//', '%');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 30 }), fc.string({ maxLength: 10 }), (parts, q) => {
        const first = normalizeRequestTarget('/' + parts.join(''));
        if (!first.ok) return;
        const query = q.replace(/[\s#\u0000-\u001f\u007f]/g, '');
        const target = first.path + (query !== '' ? '?' + query : '');
        const once = normalizeRequestTarget(target);
        assert.ok(once.ok);
        const twice = normalizeRequestTarget(once.path + (once.query !== '' ? '?' + once.query : ''));
        assert.deepEqual(twice, once);
        assert.equal(once.path, first.path);
      }),
      { numRuns: 2000 },
    );
  });
});
