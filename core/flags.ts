/**
 * The flags of the in-cluster executables (`weft controller`, `weft injector`, `weft proxy-init`,
 * `weft proxy`) as data: one table per executable, declared in its config module. The `weft`
 * dispatcher builds a commander Command from the table (cli/components.ts), so help, parsing, usage
 * errors and suggestions are commander's, as for the user verbs; docs/cli.md's tables are generated
 * from the same tables.
 *
 * Model: argv -(commander, in cli/)-> FlagValues -(config module, with its environment)-> a frozen
 * config or every problem. Pure: no I/O, no process.env, no parser.
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

/** The flags given on the command line, by name ('webhook-port'): the value, or true for a switch. */
export type FlagValues = ReadonlyMap<string, string | true>;

/** A config module's outcome: the frozen config, or every problem (one clause each, naming its source). */
export type Configured<C> = { readonly ok: true; readonly config: C } | { readonly ok: false; readonly errors: readonly string[] };

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
