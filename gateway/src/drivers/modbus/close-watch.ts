/**
 * Fails the transactions in flight on a link at once when the link closes under them
 * (client-transport.ts watchClose). Each transaction registers itself and leaves when it
 * settles, so nothing outlives it.
 *
 * Why not `Promise.race([work, closed])` with one `closed` promise per link: every race adds
 * a reaction to `closed`, and a promise that never settles keeps its reactions, each holding
 * the race's promise and so the transaction's result, until the link closes. A link that
 * stays up for months kept every poll's registers: 100 devices at 1 s grew the heap by about
 * 0.5 MB a minute (issue 20, scripts/src/build/README.md).
 */
export class CloseWatch {
  private error: Error | null = null;
  private readonly waiters = new Set<(err: Error) => void>();

  /** The link closed: every transaction in flight, and every later one, fails with `err`. */
  close(err: Error): void {
    if (this.error) return;
    this.error = err;
    for (const fail of this.waiters) fail(err);
    this.waiters.clear();
  }

  /** `work`'s outcome, or the close error as soon as the link closes (work's later outcome is ignored). */
  guard<T>(work: Promise<T>): Promise<T> {
    if (this.error) {
      work.catch(() => undefined);
      return Promise.reject(this.error);
    }
    return new Promise<T>((resolve, reject) => {
      this.waiters.add(reject);
      work.then(
        (v) => {
          this.waiters.delete(reject);
          resolve(v);
        },
        (err: unknown) => {
          this.waiters.delete(reject);
          reject(err);
        },
      );
    });
  }

  /** Transactions waiting (tests: none once they settled). */
  inFlight(): number {
    return this.waiters.size;
  }
}
