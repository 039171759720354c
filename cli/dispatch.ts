/**
 * Routes `weft <verb> [args]` to its command module. Pure of side effects except writing usage, so it
 * is tested in-process; `main.ts` only wires it to process.argv and the exit code. An unknown verb or
 * flag is reported by commander (with its "did you mean" suggestion). The components (proxy, controller,
 * injector, proxy-init) are parsed by commander too, from the flag tables of their config modules
 * (cli/components.ts).
 */
import { Command, CommanderError } from 'commander';
import { COMMANDS } from './commands.js';
import type { CommandSpec } from './commands.js';

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

export function usage(commands: Readonly<Record<string, CommandSpec>> = COMMANDS): string {
  const width = Math.max(...Object.keys(commands).map((k) => k.length)) + 2;
  const line = ([name, spec]: [string, CommandSpec]) => `  ${name.padEnd(width)}${spec.summary}`;
  const entries = Object.entries(commands);
  return [
    'weft: a sidecar service mesh for Kubernetes, configured with the Gateway API (GAMMA).',
    '',
    'Usage: weft <command> [flags]',
    '',
    'Commands:',
    ...entries.filter(([, s]) => s.kind === 'user').map(line),
    '',
    'Components (run inside the cluster):',
    ...entries.filter(([, s]) => s.kind === 'component').map(line),
    '',
    'Run `weft <command> --help` for the flags of a command.',
    '',
  ].join('\n');
}

/** commander's message for a first word that is no verb: unknown command or flag, with a suggestion. */
function unknownFirstWord(word: string, commands: Readonly<Record<string, CommandSpec>>): string {
  const errors: string[] = [];
  const program = new Command('weft').exitOverride().helpOption(false).helpCommand(false)
    .configureOutput({ writeOut: () => undefined, writeErr: (s) => { errors.push(s); }, outputError: (s) => { errors.push(s); } });
  for (const name of Object.keys(commands)) program.command(name).helpOption(false).allowUnknownOption().allowExcessArguments().action(() => undefined);
  try {
    program.parse([word], { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
  }
  return errors.join('').replace(/^error: /, '').trimEnd() || `unknown command '${word}'`;
}

export async function dispatch(
  argv: readonly string[],
  io: Output,
  commands: Readonly<Record<string, CommandSpec>> = COMMANDS,
): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '--help' || verb === '-h' || (verb === 'help' && rest.length === 0)) {
    io.out(usage(commands));
    return verb === undefined ? 2 : 0;
  }
  if (verb === '--version') return dispatch(['version', '--client'], io, commands);
  if (verb === 'help') return dispatch([rest[0] ?? '', '--help'], io, commands);
  const spec = Object.hasOwn(commands, verb) ? commands[verb] : undefined;
  if (spec === undefined) {
    io.err(`weft: ${unknownFirstWord(verb, commands)}\nRun 'weft --help' for the commands.\n`);
    return 2;
  }
  if (spec.load === undefined) {
    io.err(`weft ${verb}: not available in this build yet; missing: ${spec.missing ?? 'its implementation'}\n`);
    return 3;
  }
  const mod = await spec.load();
  return mod.run(rest, io);
}

