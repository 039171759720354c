// `weft explain`: see cli/observe/explain-command.ts.
import { runExplain } from './observe/explain-command.js';

export function run(argv: readonly string[]): Promise<number> {
  return runExplain(argv);
}
