/**
 * Says why the controller's streams fail, without a line per stream and retry: the first failure,
 * a new reason, then at most one summary every FAILURE_LOG_INTERVAL_MS; and when a stream answers again.
 * Without it a proxy whose controller cannot be reached (say a reinstall with a new trust anchor)
 * would serve on its last policy and say nothing.
 */
export const FAILURE_LOG_INTERVAL_MS = 30_000;
export class StreamHealth {
  private lastReason = '';
  private lastLogAt = 0;
  private suppressed = 0;
  private failing = false;
  constructor(private readonly log: (line: string) => void, private readonly now: () => number = Date.now) {}

  failed(name: string, err: unknown, retryInMs: number): void {
    const e = err as { details?: string; message?: string };
    const reason = e.details ?? e.message ?? String(err);
    const t = this.now();
    if (!this.failing || reason !== this.lastReason || t - this.lastLogAt >= FAILURE_LOG_INTERVAL_MS) {
      const more = this.suppressed > 0 ? ` (${this.suppressed} more stream failures since the last line)` : '';
      this.log(`control plane: ${name}: stream failed: ${reason}; retry within ${retryInMs} ms${more}`);
      this.lastReason = reason;
      this.lastLogAt = t;
      this.suppressed = 0;
    } else {
      this.suppressed++;
    }
    this.failing = true;
  }

  answered(name: string): void {
    if (!this.failing) return;
    this.failing = false;
    this.suppressed = 0;
    this.lastReason = '';
    this.log(`control plane: ${name}: stream answering again`);
  }
}
