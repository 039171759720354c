/**
 * Generators for the request pipeline's fuzzing: request targets built from the pieces that break
 * normalisers (percent-encodings in mixed case, double encodings, encoded `/` `\` `.`, dot segments,
 * `;` parameters, `//`, fragments, unicode, control characters, huge targets), methods, header lists,
 * hosts, query strings, and route tables / inbound policies whose path values are drawn from the
 * same vocabulary as the targets, so that generated requests actually hit generated rules.
 *
 * Everything here is plain data; world.ts turns it into cluster objects.
 */
import fc from 'fast-check';
import { MAX_TARGET_LENGTH } from '../../core/path.js';

const HEX = '0123456789abcdef';
const UNRESERVED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';

/** `%XX` for a byte, each hex digit in a random case. */
export const pctEncode = (byte: number, upper: readonly boolean[]): string => {
  const hi = HEX[byte >> 4]!;
  const lo = HEX[byte & 15]!;
  return `%${upper[0] === true ? hi.toUpperCase() : hi}${upper[1] === true ? lo.toUpperCase() : lo}`;
};

const caseFlags = fc.tuple(fc.boolean(), fc.boolean());

/** Words that routes also use, so requests and rules meet. */
export const WORDS = ['a', 'b', 'admin', 'api', 'v1', 'v2', 'users', 'x'] as const;

const word = fc.constantFrom(...WORDS);

/** One path segment: plain, dotted, encoded, parametered, unicode, malformed, control. */
export const segment: fc.Arbitrary<string> = fc.oneof(
  { weight: 10, arbitrary: word },
  { weight: 3, arbitrary: fc.constantFrom('.', '..', '...', '.a', 'a.') },
  // Encoded dots, in both cases, once and twice.
  { weight: 3, arbitrary: fc.constantFrom('%2e', '%2E', '%2e%2e', '%2E%2e', '.%2e', '%2e.', '%252e', '%252E%252e', '%25%32%65') },
  // An encoded unreserved character in random case (must decode).
  {
    weight: 3,
    arbitrary: fc.tuple(word, fc.nat(UNRESERVED.length - 1), caseFlags, fc.nat(3)).map(([w, i, up, at]) => {
      const enc = pctEncode(UNRESERVED.charCodeAt(i), up);
      const cut = Math.min(at, w.length);
      return w.slice(0, cut) + enc + w.slice(cut);
    }),
  },
  // Encoded separators and other reserved bytes (must be refused or kept encoded).
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(0x2f, 0x5c, 0x3b, 0x3f, 0x23, 0x25, 0x20, 0x00, 0x0a, 0x2c, 0x3d, 0x80, 0xff), caseFlags).map(([b, up]) => pctEncode(b, up)) },
  { weight: 2, arbitrary: fc.constantFrom(';', 'a;x=1', '..;', '.;x', '..;/', ';..', 'a;b;c', '%2e%2e;') },
  { weight: 1, arbitrary: fc.constantFrom('\\', 'a\\..', '..\\', '\\admin') },
  { weight: 1, arbitrary: fc.constantFrom('@', ':', '!', '$', '&', "'", '(', ')', '*', '+', ',', '=', '"', '<', '>', '|', '{', '}', '`', '^', '[', ']') },
  { weight: 1, arbitrary: fc.constantFrom('é', '日本', '\u{1F600}', '\uD800', '\uDC00', 'Å', '\u200B', '\uFEFF', 'ﬀ') },
  { weight: 1, arbitrary: fc.constantFrom('%', '%4', '%zz', '%%', '%g0', '%0', '%+1') },
  { weight: 1, arbitrary: fc.constantFrom('\u0000', '\t', ' ', '\u007f', '\r', '\n', '\u0085') },
  { weight: 1, arbitrary: fc.string({ maxLength: 6, unit: 'binary' }) },
);

const separator = fc.oneof(
  { weight: 12, arbitrary: fc.constant('/') },
  { weight: 2, arbitrary: fc.constantFrom('//', '/./', '/../', '///') },
);

/** A raw path, starting with `/` (or occasionally not). */
export const rawPath: fc.Arbitrary<string> = fc
  .tuple(fc.array(fc.tuple(separator, segment), { maxLength: 8 }), fc.constantFrom('', '', '', '/', '//'))
  .map(([parts, tail]) => (parts.length === 0 ? '/' : parts.map(([s, g]) => s + g).join('')) + tail);

const queryPart = fc.oneof(
  word,
  fc.tuple(word, fc.constantFrom('', 'x', '1', '%41', '%2F', '%zz', '+', 'a+b', '%E9', '%C3%A9', 'é', ' ', '\u0000', '%00', '?', '/', '=')).map(([k, v]) => `${k}=${v}`),
  fc.string({ maxLength: 6, unit: 'binary-ascii' }),
);

/** A raw query string without `?`. */
export const rawQuery: fc.Arbitrary<string> = fc.array(queryPart, { maxLength: 4 }).map((p) => p.join('&'));

const absolutePrefix = fc.constantFrom(
  '', '', '', '', '', '', 'http://api.shop', 'HTTP://Api.Shop.', 'https://api.shop:8080', 'http://[::1]:80', 'http://', 'ftp://x', '*', 'api.shop:80', 'http://a@b',
);

/** Requests targets: structured most of the time; sometimes huge; sometimes any string at all. */
export const target: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 20,
    arbitrary: fc
      .tuple(absolutePrefix, rawPath, fc.option(rawQuery, { freq: 3 }), fc.option(fc.constantFrom('', 'frag', '/../admin', '%2e'), { freq: 8 }))
      .map(([pre, p, q, frag]) => pre + p + (q === null ? '' : `?${q}`) + (frag === null ? '' : `#${frag}`)),
  },
  // Near the length bound, below and above it, with 1-byte and multi-byte characters.
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('a', 'é', '%2e/', '../', '"', 'admin/', '%41'), fc.integer({ min: -8, max: 8 }), fc.integer({ min: 1, max: 4 }))
      .map(([unit, delta, scale]) => {
        const n = Math.max(1, Math.floor(MAX_TARGET_LENGTH / scale / unit.length) + delta);
        return ('/' + unit.repeat(n)).slice(0, MAX_TARGET_LENGTH + 16);
      }),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 40, unit: 'binary' }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40, unit: 'grapheme' }).map((s) => '/' + s) },
);

/** Methods: the usual ones, wrong case, and junk. */
export const method: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS') },
  { weight: 1, arbitrary: fc.constantFrom('get', 'Get', 'CONNECT', 'TRACE', 'PROPFIND', '', 'G ET', 'GET\r\n') },
  { weight: 1, arbitrary: fc.string({ maxLength: 8, unit: 'binary' }) },
);

/** Hosts and authorities: case, trailing dots, ports, IPv6, userinfo, junk. */
export const host: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('api.shop', 'API.Shop.', 'api.shop:8080', 'api.shop.:80', '[::1]:80', '[::1]', '10.0.0.1:443', ' api.shop ') },
  { weight: 1, arbitrary: fc.constantFrom('', ':80', 'api.shop:99999', 'api.shop:-1', 'a@b', 'a/b', '[::1', 'a b', '.', 'api.shop:8o') },
  { weight: 1, arbitrary: fc.string({ maxLength: 12, unit: 'binary' }) },
);

export const HEADER_NAMES = ['x-user', 'x-env', 'content-type', 'accept', 'host', 'weft-client-id', 'X-User', 'Host'] as const;
export const HEADER_VALUES = ['alice', 'bob', 'prod', 'canary', 'application/grpc', 'application/grpc+proto', 'text/plain', ''] as const;

/** Header lists with duplicates, mixed-case names and arbitrary values. */
export const headers: fc.Arbitrary<[string, string][]> = fc.array(
  fc.tuple(
    fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...HEADER_NAMES) }, { weight: 1, arbitrary: fc.string({ maxLength: 8, unit: 'binary' }) }),
    fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...HEADER_VALUES) }, { weight: 1, arbitrary: fc.string({ maxLength: 12, unit: 'binary' }) }),
  ),
  { maxLength: 6 },
);

// --- routes -----------------------------------------------------------------------------------------

/** Route path values: valid absolute paths from the same words, sometimes with dots or a slash. */
export const routePath: fc.Arbitrary<string> = fc
  .tuple(fc.array(fc.oneof({ weight: 8, arbitrary: word }, { weight: 1, arbitrary: fc.constantFrom('.', '..', '%2e', 'a;x=1', 'é') }), { minLength: 0, maxLength: 3 }), fc.boolean())
  .map(([segs, slash]) => '/' + segs.join('/') + (slash && segs.length > 0 ? '/' : ''));

/** RE2-compatible path patterns that hit the vocabulary. */
export const PATH_REGEXES = ['/a/.*', '/v[0-9]+(/.*)?', '.*admin.*', '/(a|b)/[a-z]+', '/users/[^/]+', '/[a-z]+', '.*'] as const;

export interface HeaderMatchSpec {
  readonly type: 'Exact' | 'RegularExpression';
  readonly name: string;
  readonly value: string;
}

export interface MatchSpec {
  readonly path?: { readonly type: 'Exact' | 'PathPrefix' | 'RegularExpression'; readonly value: string };
  readonly method?: string;
  readonly headers?: readonly HeaderMatchSpec[];
  readonly queryParams?: readonly HeaderMatchSpec[];
}

export interface RuleSpec {
  readonly matches: readonly MatchSpec[];
}

export interface RouteSpec {
  /** Seconds after a fixed epoch; equal values are allowed (then name order decides). */
  readonly createdAt: number;
  readonly rules: readonly RuleSpec[];
}

const pathMatch: fc.Arbitrary<NonNullable<MatchSpec['path']>> = fc.oneof(
  { weight: 4, arbitrary: routePath.map((value) => ({ type: 'PathPrefix' as const, value })) },
  { weight: 3, arbitrary: routePath.map((value) => ({ type: 'Exact' as const, value })) },
  { weight: 1, arbitrary: fc.constantFrom(...PATH_REGEXES).map((value) => ({ type: 'RegularExpression' as const, value })) },
);

const headerMatch: fc.Arbitrary<HeaderMatchSpec> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ type: fc.constant('Exact' as const), name: fc.constantFrom('x-user', 'X-Env'), value: fc.constantFrom('alice', 'bob', 'prod') }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('RegularExpression' as const), name: fc.constantFrom('x-user', 'x-env'), value: fc.constantFrom('a.*', '(alice|bob)', 'p[a-z]+') }) },
);

const queryMatch: fc.Arbitrary<HeaderMatchSpec> = fc.record({
  type: fc.constant('Exact' as const),
  name: fc.constantFrom('v', 'x', 'a'),
  value: fc.constantFrom('1', 'x', 'é', 'a b'),
});

export const matchSpec: fc.Arbitrary<MatchSpec> = fc.record(
  {
    path: pathMatch,
    method: fc.constantFrom('GET', 'HEAD', 'POST'),
    headers: fc.array(headerMatch, { maxLength: 2 }),
    queryParams: fc.array(queryMatch, { maxLength: 1 }),
  },
  { requiredKeys: [] },
);

export const ruleSpec: fc.Arbitrary<RuleSpec> = fc.record({ matches: fc.array(matchSpec, { minLength: 0, maxLength: 3 }) });

export const routeSpecs: fc.Arbitrary<RouteSpec[]> = fc.array(
  fc.record({ createdAt: fc.integer({ min: 0, max: 3 }), rules: fc.array(ruleSpec, { minLength: 1, maxLength: 3 }) }),
  { minLength: 1, maxLength: 4 },
);

/** A request that is likely to hit the generated rules: a vocabulary path, sometimes disguised. */
export const vocabularyTarget: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(routePath, fc.option(rawQuery, { freq: 3 })).map(([p, q]) => (q === null ? p : `${p}?${q}`)) },
  { weight: 1, arbitrary: target },
);

// --- semantics-preserving disguises -----------------------------------------------------------------

export type Disguise =
  | { readonly kind: 'encode'; readonly at: number; readonly upper: readonly boolean[] }
  | { readonly kind: 'dot'; readonly at: number }
  | { readonly kind: 'double-slash'; readonly at: number }
  | { readonly kind: 'climb'; readonly at: number; readonly word: string };

export const disguise: fc.Arbitrary<Disguise> = fc.oneof(
  fc.record({ kind: fc.constant('encode' as const), at: fc.nat(), upper: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }) }),
  fc.record({ kind: fc.constant('dot' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('double-slash' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('climb' as const), at: fc.nat(), word }),
);

/** Absolute-form authorities that must not change routing (it keys on the path). */
export const absoluteAuthority = fc.option(fc.constantFrom('api.shop', 'API.SHOP.', 'api.shop:80'), { freq: 3 });

/**
 * Applies a disguise that must not change what the path means under core/path.ts: encode one
 * unreserved character, or insert `/.`, an extra `/` or `/<word>/..` at a segment boundary. `path`
 * starts with `/`; disguises compose.
 */
export function applyDisguise(path: string, d: Disguise): string {
  if (d.kind === 'encode') {
    const spots: number[] = [];
    // Unreserved characters outside existing `%XX` escapes.
    for (let i = 0; i < path.length; i++) {
      if (path[i] === '%') i += 2;
      else if (UNRESERVED.includes(path[i]!)) spots.push(i);
    }
    if (spots.length === 0) return path;
    const i = spots[d.at % spots.length]!;
    return path.slice(0, i) + pctEncode(path.charCodeAt(i), d.upper) + path.slice(i + 1);
  }
  const slashes: number[] = [];
  for (let i = 0; i < path.length; i++) if (path[i] === '/') slashes.push(i);
  const i = slashes[d.at % slashes.length]!;
  const insert = d.kind === 'dot' ? '/.' : d.kind === 'double-slash' ? '/' : `/${d.word}/..`;
  return path.slice(0, i) + insert + path.slice(i);
}
