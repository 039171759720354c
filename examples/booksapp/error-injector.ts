/**
 * The error injector: answers every request, on every path, with 500. The fault-injection scenario
 * sends a share of books traffic here; its probes are TCP checks, since it has no healthy path.
 */
import type { ErrorInjectorConfig } from './config.js';
import { sendText, startServer, type Log, type RunningServer } from './http.js';

export interface ErrorInjectorOptions extends ErrorInjectorConfig {
  readonly log: Log;
}

export function startErrorInjector(opts: ErrorInjectorOptions): Promise<RunningServer> {
  return startServer('error-injector', opts.port, async (req, res) => {
    req.resume();
    sendText(res, 500, 'error-injector: this backend always fails\n');
  }, opts.log);
}
