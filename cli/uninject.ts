// `weft uninject`: see cli/inject/command.ts.
import { runUninject } from './inject/command.js';

export function run(argv: readonly string[]): Promise<number> {
  return runUninject(argv);
}
