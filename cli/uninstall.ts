// `weft uninstall`: see cli/install/uninstall.ts.
import { runUninstall } from './install/uninstall.js';

export function run(argv: readonly string[]): Promise<number> {
  return Promise.resolve(runUninstall(argv));
}
