import { WEFT_VERSION } from '../core/contract.js';

export async function run(argv: readonly string[]): Promise<number> {
  if (argv.length > 0) {
    process.stderr.write(`weft version: unexpected argument ${JSON.stringify(argv[0])}\nUsage: weft version\n`);
    return 2;
  }
  process.stdout.write(`weft ${WEFT_VERSION} (node ${process.version})\n`);
  return 0;
}
