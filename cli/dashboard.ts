// `weft dashboard`: see cli/dashboard/command.ts.
import { runDashboard } from './dashboard/command.js';

export function run(argv: readonly string[]): Promise<number> {
  return runDashboard(argv);
}
