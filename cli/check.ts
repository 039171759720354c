// `weft check`: see cli/check/command.ts.
import { runCheck } from './check/command.js';

export function run(argv: readonly string[]): Promise<number> {
  return runCheck(argv);
}
