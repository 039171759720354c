/**
 * User-supplied regular expressions (route path, header, query and gRPC method matches; anything a
 * user writes into a resource) are compiled here and only here, with re2js: RE2 semantics, linear
 * time in the input, no backtracking. V8's RegExp is never used for a user pattern, since a
 * pattern like `(a+)+$` would let one request stall the proxy.
 *
 * Model: `compileRegex` is a compile-time step (controller admission and policy compilation);
 * `CompiledRegex.fullMatch` is the per-request step and allocates nothing but the matcher.
 * Matches are anchored at both ends (the whole value must match), as Envoy and Linkerd do for
 * Gateway API RegularExpression matches.
 *
 * Invariant: a pattern re2js cannot compile (backreferences, lookaround, bad syntax) is a typed
 * error, never an exception, and never silently replaced by a looser match.
 */

import { RE2JS } from 're2js';

/** Longer patterns are refused: they are not a real route and cost memory per proxy. */
export const MAX_PATTERN_LENGTH = 1024;

export interface CompiledRegex {
  readonly source: string;
  /** True when the whole input matches the pattern. */
  fullMatch(input: string): boolean;
}

export type RegexResult =
  | { readonly ok: true; readonly regex: CompiledRegex }
  | { readonly ok: false; readonly code: 'bad-regex'; readonly reason: string };

export function compileRegex(pattern: string): RegexResult {
  if (typeof pattern !== 'string') return { ok: false, code: 'bad-regex', reason: 'pattern is not a string' };
  if (pattern.length > MAX_PATTERN_LENGTH) {
    return { ok: false, code: 'bad-regex', reason: `pattern longer than ${MAX_PATTERN_LENGTH} characters` };
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      code: 'bad-regex',
      reason: `RE2 cannot compile ${JSON.stringify(pattern)}: ${detail}`,
    };
  }
  return {
    ok: true,
    regex: {
      source: pattern,
      fullMatch: (input: string) => re.matches(input),
    },
  };
}
