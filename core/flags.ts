/**
 * Flags of the in-cluster executables (`weft controller`, `weft injector`, `weft proxy-init`,
 * `weft proxy`): one table per executable, from which its help, its parsing and its usage errors are
 * generated. The wording and layout are the `weft` CLI's (commander, cli/args.ts): `unknown option
 * '--x'` with commander's "(Did you mean --y?)" (same edit distance and threshold), `option '--x <v>'
 * argument missing`, `too many arguments`, help with a `Flags:` list, and every usage error ends with
 * `Run 'weft <command> --help' for usage.` and exit code 2.
 *
 * Model: argv -> (values by flag name | help | problems). Values are strings (or true for a switch);
 * each config module turns them, and its environment variables, into typed settings and adds its own
 * problems, so every problem is reported at once. Pure: no I/O, no process.env.
 */

export interface FlagSpec {
  /** The long name without dashes: 'webhook-port'. */
  readonly name: string;
  /** The value's placeholder, 'port' -> `--webhook-port <port>`; absent: a switch taking no value. */
  readonly value?: string;
  /** The environment variable that sets it when the flag is absent. */
  readonly env?: string;
  /** The default as help shows it; absent: no default (or it is said in `help`). */
  readonly default?: string | undefined;
  readonly help: string;
}

/** A setting read only from the environment (the proxy's, set by the injector). */
export interface EnvSpec {
  readonly name: string;
  readonly default?: string | undefined;
  readonly help: string;
}

export interface ExecutableSpec {
  /** As typed: 'weft injector'. */
  readonly command: string;
  readonly description: string;
  readonly flags: readonly FlagSpec[];
  readonly environment?: readonly EnvSpec[];
}

export type FlagValues = ReadonlyMap<string, string | true>;

export type FlagParse =
  /** -h or --help: the help text for stdout, exit 0. */
  | { readonly help: true; readonly text: string }
  /**
   * The values of the flags that parsed, and the usage problems (one clause each, without the
   * command's name): the config module adds its own, so every problem is reported at once.
   */
  | { readonly help: false; readonly values: FlagValues; readonly problems: readonly string[] };

const HELP_WIDTH = 100;
const HELP_FLAG = '-h, --help';

/** `--webhook-port <port>`, as commander writes an option's flags. */
export function flagTerm(flag: FlagSpec): string {
  return flag.value === undefined ? `--${flag.name}` : `--${flag.name} <${flag.value}>`;
}

/**
 * Parses argv (the words after the command) against the table: `--name value`, `--name=value`, switches
 * `--name`; the last of a repeated flag wins. Unlike commander, a value that starts with `--` is taken
 * for a forgotten value, not swallowed (write `--name=--x` to mean it). Never throws.
 */
export function parseFlags(spec: ExecutableSpec, argv: readonly string[]): FlagParse {
  const byName = new Map(spec.flags.map((f) => [f.name, f]));
  const values = new Map<string, string | true>();
  const problems: string[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h' || arg === '--help') return { help: true, text: flagHelp(spec) };
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const word = eq > 0 && arg.startsWith('--') ? arg.slice(0, eq) : arg;
    const flag = word.startsWith('--') ? byName.get(word.slice(2)) : undefined;
    if (flag === undefined) {
      problems.push(`unknown option '${word}'${word.startsWith('--') ? suggestSimilar(word, [...spec.flags.map((f) => `--${f.name}`), '--help']) : ''}`);
      continue;
    }
    if (flag.value === undefined) {
      if (eq > 0) problems.push(`option '${flagTerm(flag)}' takes no argument (given '${arg.slice(eq + 1)}')`);
      else values.set(flag.name, true);
      continue;
    }
    if (eq > 0) {
      values.set(flag.name, arg.slice(eq + 1));
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) {
      problems.push(`option '${flagTerm(flag)}' argument missing`);
      continue;
    }
    values.set(flag.name, next);
    i++;
  }
  // A word after an unknown option is most likely its value: the unknown option is the problem to name.
  if (positionals.length > 0 && !problems.some((p) => p.startsWith('unknown option'))) {
    problems.push(`too many arguments. Expected 0 arguments but got ${positionals.length}: ${positionals.join(', ')}.`);
  }
  return { help: false, values, problems };
}

/** Where a setting came from, for messages: the flag (`--webhook-port`) or the variable's name. */
export interface Setting {
  readonly value: string;
  readonly from: string;
}

/** The flag's value, else its environment variable's when set and not empty, else undefined. */
export function flagOrEnv(spec: ExecutableSpec, values: FlagValues, env: Readonly<Record<string, string | undefined>>, name: string): Setting | undefined {
  const flag = spec.flags.find((f) => f.name === name);
  if (flag === undefined) throw new Error(`${spec.command} has no flag --${name}`);
  const v = values.get(name);
  if (typeof v === 'string') return { value: v, from: `--${name}` };
  const e = flag.env === undefined ? undefined : env[flag.env];
  return e !== undefined && e !== '' && flag.env !== undefined ? { value: e, from: flag.env } : undefined;
}

/** The usage error text for stderr: the command, each problem, and the help hint. */
export function usageErrorText(spec: ExecutableSpec, problems: readonly string[]): string {
  return `${spec.command}: ${problems.join('\n  ')}\nRun '${spec.command} --help' for usage.\n`;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(' ')) {
      if (line !== '' && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else line = line === '' ? word : `${line} ${word}`;
    }
    lines.push(line);
  }
  return lines;
}

function list(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...rows.map(([term]) => term.length)) + 2;
  return rows.flatMap(([term, text]) => {
    const [first = '', ...rest] = wrap(text, HELP_WIDTH - 2 - width);
    return [`  ${term.padEnd(width)}${first}`, ...rest.map((l) => `  ${' '.repeat(width)}${l}`)].map((l) => l.replaceAll(NBSP, ' '));
  });
}

/** Joins words that must stay on one line when the help wraps ("env: NAME"). */
const NBSP = '\u00a0';

function annotated(help: string, dflt: string | undefined, env: string | undefined): string {
  const notes = [...(dflt !== undefined ? [`default:${NBSP}${dflt}`] : []), ...(env !== undefined ? [`env:${NBSP}${env}`] : [])];
  return notes.length > 0 ? `${help} (${notes.join('; ')})` : help;
}

/** The help: usage, description, every flag with its default and environment variable, the environment. */
export function flagHelp(spec: ExecutableSpec): string {
  const flags = list([
    ...spec.flags.map((f) => [flagTerm(f), annotated(f.help, f.default, f.env)] as const),
    [HELP_FLAG, 'print this help'] as const,
  ]);
  const environment = spec.environment ?? [];
  return [
    `Usage: ${spec.command} [flags]`,
    '',
    spec.description,
    '',
    spec.flags.some((f) => f.env !== undefined) ? 'Flags (a flag wins over its environment variable):' : 'Flags:',
    ...flags,
    ...(environment.length > 0 ? ['', 'Environment:', ...list(environment.map((e) => [e.name, annotated(e.help, e.default, undefined)] as const))] : []),
    '',
  ].join('\n');
}

const MAX_DISTANCE = 3;

/** Optimal string alignment distance (Damerau-Levenshtein without repeated edits), as commander's. */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > MAX_DISTANCE) return Math.max(a.length, b.length);
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d[i] = [i];
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let j = 1; j <= b.length; j++) {
    for (let i = 1; i <= a.length; i++) {
      const row = d[i]!;
      const up = d[i - 1]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(up[j]! + 1, row[j - 1]! + 1, up[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * commander's suggestion for a mistyped `--flag`: the candidates at the smallest edit distance (at most
 * 3) that keep more than 40% of the word, as "\n(Did you mean --x?)"; '' when none is close.
 */
export function suggestSimilar(word: string, candidates: readonly string[]): string {
  const bare = word.replace(/^--/, '');
  let best = MAX_DISTANCE;
  let similar: string[] = [];
  for (const candidate of new Set(candidates.map((c) => c.replace(/^--/, '')))) {
    if (candidate.length <= 1) continue;
    const distance = editDistance(bare, candidate);
    const length = Math.max(bare.length, candidate.length);
    if ((length - distance) / length <= 0.4) continue;
    if (distance < best) {
      best = distance;
      similar = [candidate];
    } else if (distance === best) similar.push(candidate);
  }
  const named = similar.sort((a, b) => a.localeCompare(b)).map((c) => `--${c}`);
  if (named.length > 1) return `\n(Did you mean one of ${named.join(', ')}?)`;
  return named.length === 1 ? `\n(Did you mean ${named[0]}?)` : '';
}
