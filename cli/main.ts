// Entry point of the `weft` executable (bin/weft.js imports this after checking the Node version).
import { dispatch } from './dispatch.js';

process.exitCode = await dispatch(process.argv.slice(2), {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
});
