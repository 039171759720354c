/**
 * Entry point of the echo client:
 * `node dist/examples/echo/client.js <url> [--method=M] [-H name:value]... [--count=N] [--timeout=D] [--qps=N]`.
 * The examples image's `client` command (examples/bin/client) runs this.
 */
import { parseClientArgs } from './flags.js';
import { runClient } from './echo-client.js';

const { flags, warnings, errors } = parseClientArgs(process.argv.slice(2));
for (const w of warnings) console.error(`warning: ${w}`);
if (errors.length > 0) {
  for (const e of errors) console.error(`error: ${e}`);
  process.exit(2);
}
process.exitCode = await runClient(flags, {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
