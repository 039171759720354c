/**
 * Entry point of the echo server: `node dist/examples/echo/server.js --port=8080 --grpc=7070 ...`.
 * The examples image runs it for `args: [echo, ...]` and, imported as registry.k8s.io/gateway-api/echo-advanced, for flags alone (flags: flags.ts).
 */
import { parseServerFlags, withDefaultPorts } from './flags.js';
import { startEchoServer } from './echo-server.js';

const parsed = parseServerFlags(process.argv.slice(2));
const { warnings, errors } = parsed;
const flags = withDefaultPorts(parsed.flags);
for (const w of warnings) console.error(`echo: warning: ${w}`);
if (errors.length > 0) {
  for (const e of errors) console.error(`echo: error: ${e}`);
  process.exit(2);
}

try {
  const server = await startEchoServer(flags);
  const stop = (signal: string): void => {
    console.log(`echo: ${signal}: closing`);
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
} catch (err) {
  console.error(`echo: error: ${(err as Error).message}`);
  process.exit(1);
}
