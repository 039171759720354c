/**
 * The command line of the in-cluster executables: `weft controller`, `weft injector`, `weft proxy-init`
 * and `weft proxy`. Each declares its flags as data in its config module (core/flags.ts); this module
 * builds a commander Command from that table, so help, parsing, unknown options with commander's
 * "(Did you mean --x?)", missing values and extra arguments are commander's, worded as the user verbs'
 * (cli/args.ts). The values go to the component's config module, which adds its own problems (and
 * reads its environment), so every problem is reported at once; then the component runs its config.
 *
 * Order: argv -> commander (help: stdout, exit 0) -> flag values and commander's usage problem ->
 * config module -> problems: stderr, exit 2 | the component's main, loaded only now, runs the config.
 * Dependencies point one way: components never import cli/; this module imports their config modules.
 */
import { Command, CommanderError, Help, Option } from 'commander';
import type { Configured, ExecutableSpec, FlagSpec, FlagValues } from '../core/flags.js';
import { INJECTOR_FLAGS, loadInjectorConfig } from '../injector/config.js';
import { loadProxyInitConfig, PROXY_INIT_FLAGS } from '../injector/proxy-init/config.js';
import { CONTROLLER_FLAGS, loadConfig as loadControllerConfig } from '../policy-controller/config.js';
import { PROXY_SETTINGS } from '../proxy/config.js';
import { GATEWAY_SETTINGS } from '../proxy/gateway/config.js';
import { captureOutput, usageError } from './args.js';

interface Io { out(text: string): void; err(text: string): void }
const processIo: Io = { out: (t) => { process.stdout.write(t); }, err: (t) => { process.stderr.write(t); } };

/** `--webhook-port <port>`, as commander writes an option's flags. */
export function flagTerm(flag: FlagSpec): string {
  return flag.value === undefined ? `--${flag.name}` : `--${flag.name} <${flag.value}>`;
}

/**
 * A flag's or variable's help with its default and environment variable. Said in the text, not through
 * commander's .default() and .env(): commander would then apply them, and the config module owns the
 * environment and the precedence flag > environment > default.
 */
function described(help: string, dflt: string | undefined, env: string | undefined): string {
  const notes = [...(dflt !== undefined ? [`default: ${dflt}`] : []), ...(env !== undefined ? [`env: ${env}`] : [])];
  return notes.length > 0 ? `${help} (${notes.join('; ')})` : help;
}

/** The commander Command of a component, its output captured into `sink`. */
export function componentCommand(spec: ExecutableSpec, sink?: { out: string[]; err: string[] }): Command {
  const cmd = new Command(spec.command);
  cmd.description(spec.description);
  cmd.usage('[flags]');
  cmd.optionsGroup(spec.flags.some((f) => f.env !== undefined) ? 'Flags (a flag wins over its environment variable):' : 'Flags:');
  for (const f of spec.flags) cmd.addOption(new Option(flagTerm(f), described(f.help, f.default, f.env)));
  cmd.helpOption('-h, --help', 'print this help');
  const environment = spec.environment ?? [];
  cmd.configureHelp({
    sortOptions: false,
    helpWidth: 100,
    // commander's help, then the environment-only settings as one more list in its layout.
    formatHelp: (c: Command, helper: Help): string => {
      const help = Help.prototype.formatHelp.call(helper, c, helper);
      if (environment.length === 0) return help;
      const width = Math.max(...environment.map((e) => e.name.length));
      const items = environment.map((e) => helper.formatItem(e.name, width, described(e.help, e.default, undefined), helper));
      return `${help}\n${helper.formatItemList('Environment:', items, helper).join('\n')}`;
    },
  });
  return captureOutput(cmd, sink);
}

export type FlagParse =
  /** -h or --help: the help text for stdout, exit 0. */
  | { readonly help: true; readonly text: string }
  /** The flags given, by name, and commander's usage problem if any (without "error: "). */
  | { readonly help: false; readonly values: FlagValues; readonly problems: readonly string[] };

/**
 * Parses a component's arguments (those after the verb) with commander. commander stops at its first
 * usage problem, but for an unknown option or extra arguments it has read every known flag by then:
 * those values go to the config module too, so a bad value is reported with the unknown option.
 */
export function parseComponentFlags(spec: ExecutableSpec, argv: readonly string[]): FlagParse {
  const sink = { out: [] as string[], err: [] as string[] };
  const cmd = componentCommand(spec, sink);
  const problems: string[] = [];
  try {
    cmd.parse([...argv], { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help') return { help: true, text: sink.out.join('') };
    problems.push(sink.err.join('').replace(/^error: /, '').trimEnd());
  }
  const values = new Map<string, string | true>();
  for (const option of cmd.options) {
    const v: unknown = cmd.getOptionValue(option.attributeName());
    if (typeof v === 'string' || v === true) values.set(option.name(), v);
  }
  return { help: false, values, problems };
}

/** A component: its flag table, its config module's loader, and its main, imported only when it runs. */
interface Component<C> {
  readonly verb: string;
  readonly spec: ExecutableSpec;
  readonly configure: (values: FlagValues) => Configured<C>;
  readonly main: () => Promise<{ run(config: C): Promise<number> }>;
}

async function runComponent<C>(component: Component<C>, argv: readonly string[], io: Io): Promise<number> {
  const parsed = parseComponentFlags(component.spec, argv);
  if (parsed.help) {
    io.out(parsed.text);
    return 0;
  }
  const configured = component.configure(parsed.values);
  const problems = [...parsed.problems, ...(configured.ok ? [] : configured.errors)];
  if (!configured.ok || problems.length > 0) {
    io.err(usageError(component.verb, ...problems).text);
    return 2;
  }
  return (await component.main()).run(configured.config);
}

export interface ComponentCommand {
  readonly spec: ExecutableSpec;
  run(argv: readonly string[], io?: Io): Promise<number>;
}

function component<C>(c: Component<C>): ComponentCommand {
  return { spec: c.spec, run: (argv, io = processIo) => runComponent(c, argv, io) };
}

export const COMPONENTS = {
  controller: component({ verb: 'controller', spec: CONTROLLER_FLAGS, configure: loadControllerConfig, main: () => import('../policy-controller/main.js') }),
  injector: component({ verb: 'injector', spec: INJECTOR_FLAGS, configure: loadInjectorConfig, main: () => import('../injector/main.js') }),
  'proxy-init': component({ verb: 'proxy-init', spec: PROXY_INIT_FLAGS, configure: loadProxyInitConfig, main: () => import('../injector/proxy-init/main.js') }),
  // The proxy takes no flags; its main reads and reports its environment (proxy/config.ts).
  proxy: component({ verb: 'proxy', spec: PROXY_SETTINGS, configure: () => ({ ok: true, config: undefined }), main: () => import('../proxy/main.js') }),
  // Likewise: a Gateway's proxy, configured by the controller's Deployment (proxy/gateway/config.ts).
  gateway: component({ verb: 'gateway', spec: GATEWAY_SETTINGS, configure: () => ({ ok: true, config: undefined }), main: () => import('../proxy/gateway/main.js') }),
} as const satisfies Readonly<Record<string, ComponentCommand>>;
