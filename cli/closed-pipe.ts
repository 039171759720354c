/**
 * What `weft` does when the reader of its output goes away (`weft install | head -1`): a write to a
 * closed pipe fails with EPIPE, which Node reports as an 'error' event on the stream and, unhandled,
 * as a crash with a stack trace. Like other Unix tools, weft then stops quietly: the reader has what it
 * wanted. Any other write error (a full disk, EIO) is named on stderr and exits 1.
 */

export interface WritableLike {
  on(event: 'error', listener: (err: NodeJS.ErrnoException) => void): unknown;
}

/** The exit code for a closed output pipe: 0, as `yes | head -1` leaves its pipeline successful. */
export const CLOSED_PIPE_EXIT_CODE = 0;

export function stopOnClosedPipe(
  streams: readonly { readonly name: string; readonly stream: WritableLike }[],
  exit: (code: number) => void,
  report: (text: string) => void,
): void {
  for (const { name, stream } of streams) {
    stream.on('error', (err) => {
      if (err.code === 'EPIPE') {
        exit(CLOSED_PIPE_EXIT_CODE);
        return;
      }
      report(`weft: cannot write to ${name}: ${err.message}\n`);
      exit(1);
    });
  }
}
