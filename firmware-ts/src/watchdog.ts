/**
 * Keeps a board connected and says when the data cannot be trusted.
 *
 * - Stale: no sampling cycle took a fresh reading within `stalePeriods` sampling periods.
 *   Judged when asked (by the Modbus slave), not by a timer, so a stuck sampler cannot hide
 *   its own stall.
 * - Disconnect: the board reports close/disconnect/error, or no reading arrived within
 *   `noDataPeriods` periods (a USB cable pulled out of a Firmata board often says nothing).
 *   The link is dropped and re-opened with exponential backoff until it comes back.
 */
import { openBoard, type BoardFactory, type BoardLink } from './board-link.ts';

export interface WatchdogOptions {
  factory: BoardFactory;
  readyTimeoutMs: number;
  backoff: { minMs: number; maxMs: number };
  stalePeriods: number;
  noDataPeriods: number;
  periodMs: () => number;
  /** When the board last delivered a reading (ms). */
  lastDataAt: () => number;
  /** When a sampling cycle last took a fresh reading (ms). */
  lastSampleAt: () => number;
  onConnected: (link: BoardLink) => void;
  onDisconnected: (reason: string) => void;
  log: (message: string) => void;
  now?: () => number;
}

export class Watchdog {
  #link: BoardLink | undefined;
  #connectedAt = 0;
  #stopped = true;
  #retryTimer: NodeJS.Timeout | undefined;
  #delayMs: number;
  /** Connection attempts that failed, since start. */
  failedAttempts = 0;
  /** Times a ready board was lost, since start. */
  disconnects = 0;
  readonly #now: () => number;

  constructor(private readonly opts: WatchdogOptions) {
    this.#delayMs = opts.backoff.minMs;
    this.#now = opts.now ?? Date.now;
  }

  get connected(): boolean {
    return this.#link !== undefined;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    void this.#attempt();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#link?.close();
    this.#link = undefined;
  }

  isStale(): boolean {
    if (!this.connected) return true;
    return this.#now() - this.opts.lastSampleAt() > this.opts.stalePeriods * this.opts.periodMs();
  }

  /** Called every sampling period: a connected board that went silent counts as lost. */
  check(): void {
    if (!this.#link) return;
    const silentSince = Math.max(this.opts.lastDataAt(), this.#connectedAt);
    const limit = this.opts.noDataPeriods * this.opts.periodMs();
    if (this.#now() - silentSince > limit) this.#lose(`no reading from the board for more than ${limit} ms`);
  }

  async #attempt(): Promise<void> {
    if (this.#stopped) return;
    let link: BoardLink;
    try {
      link = await openBoard(this.opts.factory, this.opts.readyTimeoutMs);
    } catch (err) {
      this.failedAttempts++;
      this.opts.log(`board connect failed (${(err as Error).message}); retrying in ${this.#delayMs} ms`);
      this.#scheduleRetry();
      return;
    }
    if (this.#stopped) {
      link.close();
      return;
    }
    this.#link = link;
    this.#connectedAt = this.#now();
    this.#delayMs = this.opts.backoff.minMs;
    link.onLost((reason) => this.#lose(reason));
    this.opts.log('board connected');
    this.opts.onConnected(link);
  }

  #lose(reason: string): void {
    const link = this.#link;
    if (!link) return;
    this.#link = undefined;
    this.disconnects++;
    link.close();
    this.opts.log(`board lost: ${reason}; reconnecting in ${this.#delayMs} ms`);
    this.opts.onDisconnected(reason);
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#stopped) return;
    const delay = this.#delayMs;
    this.#delayMs = Math.min(this.#delayMs * 2, this.opts.backoff.maxMs);
    this.#retryTimer = setTimeout(() => void this.#attempt(), delay);
  }
}
