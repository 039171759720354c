import { WEFT_VERSION } from '../core/contract.js';
import { parseVerb, reportParse } from './args.js';
import { stdio } from './install/command.js';

export async function run(argv: readonly string[]): Promise<number> {
  const parsed = parseVerb('version', argv);
  if (!parsed.ok) return reportParse(parsed, stdio);
  stdio.out(`weft ${WEFT_VERSION} (node ${process.version})\n`);
  return 0;
}
