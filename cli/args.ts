/**
 * Turns a verb's definition (cli/verbs.ts) into a commander Command and parses argv with it, so every
 * verb's help, usage errors and "did you mean" suggestions come from commander and the one definition.
 * Nothing here writes or exits: the outcome says what to print and the exit code.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { parseDuration } from '../core/duration.js';
import { VERBS } from './verbs.js';
import type { FlagDef, VerbDef } from './verbs.js';

export type ParseOutcome<O> =
  | { readonly ok: true; readonly opts: O; readonly args: readonly string[] }
  /** help: text for stdout, exit 0; otherwise a usage error for stderr, exit 2. */
  | { readonly ok: false; readonly help: boolean; readonly text: string };

/** The line every usage error ends with. */
export function helpHint(verb: string): string {
  return `Run 'weft ${verb} --help' for usage.`;
}

/** A usage error found after parsing (values that depend on each other), worded like commander's. */
export function usageError(verb: string, ...problems: readonly string[]): { readonly ok: false; readonly help: false; readonly text: string } {
  return { ok: false, help: false, text: `weft ${verb}: ${problems.join('\n  ')}\n${helpHint(verb)}\n` };
}

function optionOf(def: FlagDef): Option {
  const o = new Option(def.flags, def.help);
  if (def.choices !== undefined) o.choices(def.choices);
  if (def.value === 'duration') {
    o.argParser((text: string) => {
      const d = parseDuration(text);
      if (!d.ok) throw new InvalidArgumentError(d.why);
      return d.ms;
    });
  }
  if (def.repeatable === true) o.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
  return o;
}

/** The commander Command of a verb, with its output captured into `sink`. */
export function commandOf(verb: string, def: VerbDef = VERBS[verb] ?? { kind: 'user', summary: '', flags: [] }, sink?: { out: string[]; err: string[] }): Command {
  const cmd = new Command(`weft ${verb}`);
  cmd.description(def.description ?? def.summary);
  cmd.usage(def.usage ?? ['[flags]', ...(def.args ?? [])].join(' '));
  cmd.optionsGroup('Flags:');
  for (const a of def.args ?? []) cmd.argument(a);
  for (const f of def.flags) cmd.addOption(optionOf(f));
  cmd.helpOption('-h, --help', 'print this help');
  cmd.configureHelp({ sortOptions: false, helpWidth: 100 });
  return captureOutput(cmd, sink);
}

/** Makes a Command throw instead of exiting, and collects what it would print into `sink`. */
export function captureOutput(cmd: Command, sink?: { out: string[]; err: string[] }): Command {
  cmd.exitOverride();
  cmd.configureOutput({
    writeOut: (s) => { sink?.out.push(s); },
    writeErr: (s) => { sink?.err.push(s); },
    outputError: (s) => { sink?.err.push(s); },
  });
  return cmd;
}

export function helpOf(verb: string): string {
  return commandOf(verb).helpInformation();
}

/**
 * Parses a verb's arguments (those after the verb) against its definition. Unknown flags, missing or
 * extra arguments, bad choices and bad durations are usage errors naming the flag, with commander's
 * suggestion of the flag meant when there is one.
 */
export function parseVerb<O = Record<string, unknown>>(verb: string, argv: readonly string[]): ParseOutcome<O> {
  const sink = { out: [] as string[], err: [] as string[] };
  const cmd = commandOf(verb, VERBS[verb], sink);
  try {
    cmd.parse([...argv], { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help') return { ok: false, help: true, text: sink.out.join('') };
    const message = sink.err.join('').replace(/^error: /, '').trimEnd();
    return { ok: false, help: false, text: `weft ${verb}: ${message}\n${helpHint(verb)}\n` };
  }
  return { ok: true, opts: cmd.opts<O & object>() as O, args: cmd.args };
}

/** For modules: prints a failed parse and gives its exit code (0 for help, 2 for a usage error). */
export function reportParse(outcome: { readonly help: boolean; readonly text: string }, io: { out(t: string): void; err(t: string): void }): number {
  if (outcome.help) {
    io.out(outcome.text);
    return 0;
  }
  io.err(outcome.text);
  return 2;
}
