/**
 * The one duration grammar of every flag and setting that takes a duration (`weft --window`, `--wait`,
 * `weft controller --cert-lifetime`): Go's time.ParseDuration without its rarely used units, as
 * kubectl's flags take them. A duration is one or more decimal numbers each followed by a unit, ms, s,
 * m or h: 500ms, 90s, 1m30s, 1h30m, 1.5h. A bare number (90) is rejected, 0 included: it would leave the
 * unit to guesswork; write 90s. Pure.
 */

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)/y;

/** Milliseconds, or why the text is not a duration (a clause to follow the flag and its value). */
export function parseDuration(text: string): { ok: true; ms: number } | { ok: false; why: string } {
  const bad = (why: string) => ({ ok: false as const, why });
  if (text === '') return bad('it is empty; write e.g. 30s, 1m30s or 500ms');
  if (/^\d+(\.\d+)?$/.test(text)) return bad(`a number needs a unit (ms, s, m or h), e.g. ${text}s`);
  PART.lastIndex = 0;
  let ms = 0;
  while (PART.lastIndex < text.length) {
    const at = PART.lastIndex;
    const m = PART.exec(text);
    if (m === null) return bad(`unexpected ${JSON.stringify(text.slice(at))}; write numbers with units ms, s, m or h, e.g. 1h30m, 90s, 500ms`);
    ms += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? Number.NaN);
  }
  if (!Number.isFinite(ms)) return bad('it is too long');
  return { ok: true, ms };
}

/** Formats milliseconds the way parseDuration reads them (1m30s, 500ms), for messages and help. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}
