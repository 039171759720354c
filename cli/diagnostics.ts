// `weft diagnostics`: see cli/observe/diagnostics-command.ts.
import { runDiagnostics } from './observe/diagnostics-command.js';

export function run(argv: readonly string[]): Promise<number> {
  return runDiagnostics(argv);
}
