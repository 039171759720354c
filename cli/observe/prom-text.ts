/**
 * A parser of the Prometheus text exposition format (version 0.0.4, what prom-client writes), for
 * the samples the CLI reads from the proxies' /metrics. prom-client only writes this format, and no
 * installed library parses it, so this is the one place that does.
 *
 * Model: text -> Sample[] (`name{labels} value [timestamp]`), in order. `# HELP` / `# TYPE` lines
 * give each family its type; a histogram's `_bucket`, `_sum` and `_count` samples keep their own
 * names (the caller asks for them by name).
 *
 * Invariants: label values are unescaped (`\\`, `\"`, `\n`); `+Inf`, `-Inf` and `NaN` are numbers, in any case;
 * a malformed line is an error naming its line number (never silently skipped), since a wrong
 * figure is worse than none.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly samples: readonly Sample[];
  /** Family name -> type, from `# TYPE` lines. */
  readonly types: ReadonlyMap<string, MetricType>;
}

export class ExpositionError extends Error {
  readonly code = 'bad-exposition';
  constructor(readonly line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'ExpositionError';
  }
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

const SPECIAL_VALUES: ReadonlyMap<string, number> = new Map([
  ['nan', Number.NaN],
  ['inf', Number.POSITIVE_INFINITY], ['+inf', Number.POSITIVE_INFINITY], ['infinity', Number.POSITIVE_INFINITY], ['+infinity', Number.POSITIVE_INFINITY],
  ['-inf', Number.NEGATIVE_INFINITY], ['-infinity', Number.NEGATIVE_INFINITY],
]);

/**
 * A sample value: a decimal or exponent float, or one of the special values, which the format takes
 * as Go's strconv.ParseFloat does, in any case: `NaN`, `Inf`/`Infinity` with an optional sign.
 * prom-client writes NaN as "Nan", Prometheus and most clients "NaN", some "nan".
 */
export function parseNumber(text: string): number | undefined {
  const special = SPECIAL_VALUES.get(text.toLowerCase());
  if (special !== undefined) return special;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

/** Parses `{a="x",b="y"}` starting at `i` (on the `{`); returns the labels and the index after `}`. */
function parseLabels(line: string, start: number, lineNo: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    while (line[i] === ' ') i++;
    if (line[i] === '}') return { labels, end: i + 1 };
    const m = LABEL_NAME.exec(line.slice(i));
    if (m === null) throw new ExpositionError(lineNo, `expected a label name at column ${i + 1}`);
    const name = m[0];
    i += name.length;
    while (line[i] === ' ') i++;
    if (line[i] !== '=') throw new ExpositionError(lineNo, `expected = after label ${name}`);
    i++;
    while (line[i] === ' ') i++;
    if (line[i] !== '"') throw new ExpositionError(lineNo, `expected a quoted value for label ${name}`);
    i++;
    let value = '';
    for (;;) {
      const c = line[i];
      if (c === undefined) throw new ExpositionError(lineNo, `unterminated value of label ${name}`);
      if (c === '"') break;
      if (c === '\\') {
        const n = line[i + 1];
        if (n === 'n') value += '\n';
        else if (n === '\\' || n === '"') value += n;
        else throw new ExpositionError(lineNo, `bad escape \\${n ?? ''} in label ${name}`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    i++;
    if (Object.hasOwn(labels, name)) throw new ExpositionError(lineNo, `label ${name} repeated`);
    labels[name] = value;
    while (line[i] === ' ') i++;
    if (line[i] === ',') {
      i++;
      continue;
    }
    if (line[i] === '}') return { labels, end: i + 1 };
    throw new ExpositionError(lineNo, `expected , or } after label ${name}`);
  }
}

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, MetricType>();
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const lineNo = n + 1;
    const line = (lines[n] ?? '').replace(/\r$/, '').trimStart();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const parts = line.split(/\s+/);
      if (parts[1] === 'TYPE' && parts[2] !== undefined) {
        const t = parts[3] as MetricType | undefined;
        if (t === undefined || !TYPES.has(t)) throw new ExpositionError(lineNo, `unknown metric type ${JSON.stringify(parts[3] ?? '')}`);
        types.set(parts[2], t);
      }
      continue;
    }
    const m = NAME.exec(line);
    if (m === null) throw new ExpositionError(lineNo, 'expected a metric name');
    const name = m[0];
    let i = name.length;
    let labels: Record<string, string> = {};
    if (line[i] === '{') ({ labels, end: i } = parseLabels(line, i, lineNo));
    const rest = line.slice(i).trim().split(/\s+/);
    if (rest.length < 1 || rest.length > 2 || rest[0] === '') throw new ExpositionError(lineNo, `expected "value [timestamp]" after ${name}`);
    const value = parseNumber(rest[0] ?? '');
    if (value === undefined) throw new ExpositionError(lineNo, `${JSON.stringify(rest[0])} is not a number`);
    if (rest[1] !== undefined && !/^-?\d+$/.test(rest[1])) throw new ExpositionError(lineNo, `${JSON.stringify(rest[1])} is not a timestamp`);
    samples.push({ name, labels, value });
  }
  return { samples, types };
}
