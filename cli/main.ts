// Entry point of the `weft` executable (bin/weft.js imports this after checking the Node version).
import { stopOnClosedPipe } from './closed-pipe.js';
import { dispatch } from './dispatch.js';

stopOnClosedPipe(
  [{ name: 'stdout', stream: process.stdout }, { name: 'stderr', stream: process.stderr }],
  (code) => process.exit(code),
  (text) => { try { process.stderr.write(text); } catch { /* stderr is gone too */ } },
);

process.exitCode = await dispatch(process.argv.slice(2), {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
});
