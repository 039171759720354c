/**
 * Routes `weft <verb> [args]` to its command module. Pure of side effects except writing usage, so it
 * is tested in-process; `main.ts` only wires it to process.argv and the exit code.
 */
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

export async function dispatch(
  argv: readonly string[],
  io: Output,
  commands: Readonly<Record<string, CommandSpec>> = COMMANDS,
): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    io.out(usage(commands));
    return verb === undefined ? 2 : 0;
  }
  if (verb === '--version') return dispatch(['version'], io, commands);
  if (verb.startsWith('-')) {
    io.err(`weft: unknown flag ${JSON.stringify(verb)}\n\n${usage(commands)}`);
    return 2;
  }
  const spec = Object.hasOwn(commands, verb) ? commands[verb] : undefined;
  if (spec === undefined) {
    io.err(`weft: unknown command ${JSON.stringify(verb)}\n\n${usage(commands)}`);
    return 2;
  }
  if (spec.load === undefined) {
    io.err(`weft ${verb}: not available in this build yet; missing: ${spec.missing ?? 'its implementation'}\n`);
    return 3;
  }
  const mod = await spec.load();
  return mod.run(rest);
}
