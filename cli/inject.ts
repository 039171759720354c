// `weft inject`: see cli/inject/command.ts.
import { runInject } from './inject/command.js';

export function run(argv: readonly string[]): Promise<number> {
  return runInject(argv);
}
