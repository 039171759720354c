// `weft authz`: see cli/observe/command.ts.
import { runObserve } from './observe/command.js';

export function run(argv: readonly string[]): Promise<number> {
  return runObserve('authz', argv);
}
