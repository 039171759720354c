/**
 * Process lifecycle of a running proxy: SIGTERM (and SIGINT) start a drain bounded by the grace
 * period; the returned promise resolves with the exit code once everything is closed. A second signal
 * does not cut the drain short: Kubernetes sends SIGKILL itself when the grace period is over.
 */
import type { RunningProxy } from './proxy.js';

export function serveUntilSignal(proxy: Pick<RunningProxy, 'shutdown'>, graceMs: number, log: (line: string) => void): Promise<number> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.removeListener('SIGTERM', stop);
      process.removeListener('SIGINT', stop);
      log(`received ${signal}: draining for up to ${graceMs} ms`);
      const t0 = Date.now();
      proxy.shutdown(graceMs).then(() => {
        log(`drained in ${Date.now() - t0} ms`);
        resolve(0);
      }, (err: unknown) => {
        log(`shutdown failed: ${String(err)}`);
        resolve(1);
      });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
