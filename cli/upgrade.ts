// `weft upgrade`: see cli/install/command.ts.
import { runInstallCommand } from './install/command.js';

export function run(argv: readonly string[]): Promise<number> {
  return runInstallCommand('upgrade', argv);
}
