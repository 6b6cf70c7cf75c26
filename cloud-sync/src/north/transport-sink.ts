import type { LogSource } from './log-source.ts';
import type { SinkStatusBase } from './sink.ts';
import type { SinkTransport } from './transport.ts';
import { reconnectDelay, spreadDelay } from '../backoff.ts';
import { SinkWindow, wireBatch, type InflightEntry, type WindowOptions } from './window.ts';
import { monoNow, timerDelay } from '../clock.ts';

export interface TransportSinkLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  error?(obj: object, msg?: string): void;
}

/** Log lines a sink words its own way (MQTT: 'no PUBACK in time', 'the center'); tests and operators match them. */
export interface SinkTexts {
  ackTimeout: string;
  /** Confirm mode: the far end answers but does not confirm past a point in time. */
  resend: string;
  /** Confirm mode: the far end does not answer at all (said once per link). */
  silent: string;
}

/** A confirm-mode drain stops waiting for the far end once it has confirmed nothing new for this long. */
const DRAIN_CONFIRM_QUIET_MS = 1000;

export interface TransportSinkOptions extends Omit<WindowOptions, 'log'> {
  log: LogSource;
  /** The sink's log cursor (its name in `uplinks:`). */
  cursorName: string;
  /** The gateway id every batch carries. */
  gateway: string;
  /**
   * 'delivery' (default): the cursor moves on the transport's delivery (2xx, PUBACK).
   * 'confirm': only on the far end's confirmation (TransportEvents.confirmed).
   */
  ackMode?: 'delivery' | 'confirm';
  /** A batch neither delivered nor failed for this long means a dead link: drop it, send again. */
  ackTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** This box's fleet-spreading window (backoff.ts spreadDelay); 0 = off. */
  reconnectSpreadMs?: number;
  random?: () => number;
  logger: TransportSinkLogger;
  /**
   * Confirm mode: data sent this long ago (monotonic) that a far end which keeps answering has
   * not confirmed is sent again from its position; the wait doubles each time, up to 16 times.
   * A far end that does not answer at all is away, and gets nothing twice. 0 or absent = never.
   */
  resendAfterSilenceMs?: number;
  /**
   * Confirm mode, a confirmation beyond the end of the log: 'ignore' (default), or 'newEpoch':
   * the log went backwards (a restored backup), so it starts a new epoch and its unconfirmed
   * readings are renumbered and sent again.
   */
  beyondLog?: 'ignore' | 'newEpoch';
  texts?: Partial<SinkTexts>;
  /**
   * A full batch of fresh readings goes inside the log's append (default true). False: it waits
   * for the turn like any other, after whatever the append's caller does next in the same turn:
   * Sparkplug learns a device's presence (DBIRTH, DDEATH) from the poll listeners, which the
   * gateway runs after logging the poll's readings; sent inside the append, the first poll of a
   * device coming back would be encoded while the device is still offline.
   */
  sendAtCommit?: boolean;
}

export interface TransportSinkStatus extends SinkStatusBase {
  /** Sends that failed (non-2xx, timeout, network): each one dropped the link and sent again from the cursor. */
  sendFailures: number;
  /** Highest contiguous sequence the transport delivered (confirm mode: may be ahead of ackedSeq). */
  deliveredSeq: number;
  /** Confirm mode: times the sink sent again from the far end's position (no confirmation came, or asked to). */
  resends: number;
  /** Confirm mode: readings confirmed since start. */
  readingsConfirmed: number;
  /** Confirm mode: wall time of the last confirmation that moved the cursor. */
  lastConfirmAt: number | null;
  /** Confirm mode: confirmations beyond the end of the log in its own epoch (the log went backwards). */
  logBehind: number;
}

/**
 * A sink made of the window (north/window.ts) over any SinkTransport: it connects, sends what
 * the window plans, moves the cursor over the contiguous delivered prefix, and after a failed
 * send, a lost link or an acknowledgement that never comes, forgets what was in flight, backs
 * off and starts again from the cursor. Results of an earlier link are ignored.
 */
export class TransportSink {
  private readonly window: SinkWindow;
  private readonly mode: 'delivery' | 'confirm';
  private readonly random: () => number;
  private gen = 0;
  private attempt = 0;
  private spreadMs: number | undefined;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private delayTimer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private pumpScheduled = false;
  private unsubscribe: (() => void) | null = null;
  private readonly st: Omit<TransportSinkStatus, 'ackedSeq' | 'sentSeq' | 'lastSeq' | 'inflight' | 'window' | 'deliveredSeq'>;
  private readonly texts: SinkTexts;
  /** Bumped by a rewind: results of sends before it no longer count (the link stays). */
  private sendGen = 0;
  /** Highest contiguous delivered sequence (confirm mode: the transport's, not the far end's). */
  private delivered = 0;
  /** Confirm mode: since when (monotonic) sent data waits for the far end's confirmation. */
  private unconfirmedSince: number | null = null;
  private silenceFactor = 1;
  /**
   * Confirm mode: a fresh (not stored) confirmation of this log arrived since the last
   * (re)send. A far end that answers but does not move past a point is missing data the link
   * lost: send again. One that does not answer at all is away: its queue (an MQTT broker)
   * holds the data, and sending it again would only pile up copies.
   */
  private farEndHeard = false;
  private warnedSilent = false;
  /** Monotonic time of the last confirmation that moved the cursor (stop's drain). */
  private lastConfirmMono: number | null = null;
  /** A resend asked for (resendAfter), applied at once while online, else at the next connect. */
  private rewindTo: number | null = null;

  constructor(
    private readonly o: TransportSinkOptions,
    private readonly transport: SinkTransport,
  ) {
    this.window = new SinkWindow(o);
    this.mode = o.ackMode ?? 'delivery';
    this.random = o.random ?? Math.random;
    this.texts = {
      ackTimeout: `${transport.label}: no answer in time: reconnecting`,
      resend: `${transport.label}: the far end answers but does not confirm past its position in time: sending again from there`,
      silent: `${transport.label}: no confirmation from the far end: the log keeps everything until it does`,
      ...o.texts,
    };
    this.st = {
      state: 'offline',
      url: transport.target,
      batchesAcked: 0,
      readingsAcked: 0,
      sendFailures: 0,
      reconnects: 0,
      lastError: null,
      connectedSince: null,
      nextAttemptAt: null,
      resends: 0,
      readingsConfirmed: 0,
      lastConfirmAt: null,
      logBehind: 0,
    };
  }

  /** Online (the transport's link is ready), not stopped. */
  online(): boolean {
    return this.st.state === 'online';
  }

  /**
   * Sends everything after `seq` again (the far end asked for a range it is missing; `seq`
   * must not be below what the log still holds). The far end drops what it already has.
   */
  resendAfter(seq: number): void {
    this.rewindTo = Math.min(this.rewindTo ?? Number.POSITIVE_INFINITY, seq);
    if (this.st.state === 'online') this.applyRewind();
  }

  private applyRewind(): void {
    const to = this.rewindTo;
    this.rewindTo = null;
    if (to !== null && to < this.window.sentSeq()) this.rewind(to);
    this.schedulePump();
  }

  /**
   * Continue sending after `seq` on the same link (what is in flight no longer counts); live
   * readings keep flowing beside the resend (SinkWindow.rewind).
   */
  private rewind(seq: number): void {
    this.sendGen++;
    this.window.rewind(seq);
    if (this.delayTimer) clearTimeout(this.delayTimer);
    this.delayTimer = null;
    this.unconfirmedSince = monoNow();
    this.farEndHeard = false;
    this.st.resends++;
  }

  private onConfirmed(seq: number, fresh: boolean): void {
    // A stored one may be all that is left of a far end that is away.
    if (fresh) this.farEndHeard = true;
    const lastSeq = this.o.log.lastSeq();
    if (seq > lastSeq) {
      if (this.o.beyondLog === 'newEpoch') this.onLogBehind(seq, lastSeq);
      else this.o.logger.warn({ seq, lastSeq }, `${this.transport.label}: confirmation beyond the log ignored`);
      return;
    }
    const before = this.o.log.cursor(this.o.cursorName);
    if (seq <= before) return;
    this.o.log.advance(this.o.cursorName, seq);
    this.st.readingsConfirmed += seq - before;
    this.st.lastConfirmAt = Date.now();
    this.lastConfirmMono = monoNow();
    this.silenceFactor = 1;
    // The far end may hold more than this link sent (after a reconnect): no need to send it
    // again. A confirmation beyond the backlog lane moves that lane on and may merge the lanes;
    // the window forgets what is in flight exactly when the confirmation covers all it sent.
    if (seq > this.window.status().backlogSeq && this.window.sentSeq() <= seq) this.sendGen++;
    this.window.skipTo(seq);
    this.unconfirmedSince = this.window.sentSeq() > seq ? monoNow() : null;
    this.schedulePump();
  }

  /**
   * The far end holds more of this epoch than the log ever wrote: the log went backwards (a
   * restored backup, lost writes). Its next readings would reuse sequences the far end holds
   * with other content, and clamping the confirmation would count unsent readings delivered.
   * Said loudly; the log starts a new epoch (its unconfirmed readings renumbered and sent
   * again). A log that cannot do that gets no confirmation at all.
   */
  private onLogBehind(confirmed: number, lastSeq: number): void {
    this.st.logBehind++;
    const epoch = this.o.log.epoch?.() ?? '';
    const error = (obj: object, msg: string) => (this.o.logger.error ?? this.o.logger.warn).call(this.o.logger, obj, msg);
    const what = `the center confirms sequence ${confirmed} of epoch ${epoch || "''"} but the log ends at ${lastSeq}`;
    if (!this.o.log.startNewEpoch) {
      error({ confirmed, lastSeq, epoch }, `${what}: the log went backwards; confirmation ignored`);
      return;
    }
    let fresh: string;
    try {
      fresh = this.o.log.startNewEpoch(`is behind the center (${what})`);
    } catch (err) {
      error({ confirmed, lastSeq, epoch, err: (err as Error).message }, `${what}: the log went backwards and could not start a new epoch; confirmation ignored`);
      return;
    }
    error({ confirmed, lastSeq, epoch, newEpoch: fresh }, `${what}: the log went backwards; it starts the new epoch ${fresh}`);
    this.delivered = 0;
    this.rewind(this.o.log.cursor(this.o.cursorName));
    this.st.resends--;
    this.schedulePump();
  }

  start(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.o.log.onAppend(() => this.onAppend());
    this.watchdog = setInterval(() => this.guarded(() => this.checkLink(), 'checking the link'), Math.min(1000, this.o.ackTimeoutMs));
    this.watchdog.unref();
    this.connect();
  }

  status(): TransportSinkStatus {
    const cursor = this.o.log.cursor(this.o.cursorName);
    return {
      ...this.st,
      ackedSeq: cursor,
      deliveredSeq: Math.max(this.delivered, cursor),
      sentSeq: this.window.sentSeq(),
      lastSeq: this.o.log.lastSeq(),
      inflight: this.window.inflightCount(),
      window: this.window.status(),
    };
  }

  /** Up to `drainMs` to deliver what is logged, then a clean close. What is not delivered stays in the log. */
  async stop(drainMs = 0): Promise<void> {
    const deadline = monoNow() + drainMs;
    // Confirm mode: wait for the confirmation while the far end keeps confirming; once the
    // transport delivered everything and the far end has been quiet for a moment (it is away,
    // or stops too), delivery is as far as a drain can get. The log keeps the rest anyway.
    const drained = () => {
      const last = this.o.log.lastSeq();
      if (this.o.log.cursor(this.o.cursorName) >= last) return true;
      const quiet = this.lastConfirmMono === null || monoNow() - this.lastConfirmMono > DRAIN_CONFIRM_QUIET_MS;
      return this.mode === 'confirm' && this.delivered >= last && quiet;
    };
    while (monoNow() < deadline && this.st.state === 'online' && !drained()) {
      this.schedulePump();
      await new Promise((r) => setTimeout(r, 20));
    }
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    this.clearTimers();
    this.st.state = 'stopped';
    this.gen++;
    await this.transport.close();
  }

  private connect(): void {
    const gen = ++this.gen;
    this.st.state = 'connecting';
    this.st.nextAttemptAt = null;
    this.transport.connect({
      ready: () => {
        if (gen !== this.gen || this.st.state === 'stopped') return;
        this.attempt = 0;
        this.st.state = 'online';
        this.st.connectedSince = Date.now();
        this.st.lastError = null;
        // Confirm mode: the cursor is the far end's position, so this resends whatever was
        // delivered but never confirmed (lost in a broker crash, or still queued). A backlog
        // of more than a batch starts live-first: the newest value of every point goes first.
        this.sendGen++;
        this.window.limitInflight(this.transport.inflightLimit?.() ?? null);
        this.window.reset(this.o.log.cursor(this.o.cursorName), true);
        this.unconfirmedSince = null;
        this.silenceFactor = 1;
        this.farEndHeard = false;
        this.warnedSilent = false;
        this.o.logger.info(
          { url: this.st.url, ackMode: this.mode, ...this.transport.connectedInfo?.(), resumeAfter: this.window.sentSeq() },
          `${this.transport.label} connected`,
        );
        this.applyRewind();
      },
      down: (reason) => {
        if (gen === this.gen) this.onDown(reason);
      },
      confirmed: (seq, fresh = true) => {
        if (gen !== this.gen || this.mode !== 'confirm') return;
        this.guarded(() => this.onConfirmed(seq, fresh), 'taking the confirmation');
      },
      wake: () => {
        if (gen === this.gen) this.schedulePump();
      },
      problem: (message) => {
        if (gen === this.gen && this.st.state !== 'stopped') this.st.lastError = message;
      },
    });
  }

  private onDown(reason: string): void {
    this.gen++;
    this.clearTimers();
    if (this.st.state === 'stopped') return;
    if (this.st.state === 'online') this.o.logger.warn({ url: this.st.url, reason }, `${this.transport.label} disconnected`);
    this.st.lastError = reason;
    this.st.state = 'offline';
    this.st.connectedSince = null;
    this.window.reset(this.o.log.cursor(this.o.cursorName), false);
    this.spreadMs ??= spreadDelay(this.o.reconnectSpreadMs ?? 0, this.random);
    const delay = reconnectDelay(this.attempt, this.o.reconnectMinMs, this.o.reconnectMaxMs, this.random) + (this.attempt === 0 ? this.spreadMs : 0);
    this.attempt++;
    this.st.reconnects++;
    this.st.nextAttemptAt = Date.now() + delay;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, timerDelay(delay));
  }

  /** Drops the link (a failed send, no answer in time) and reconnects after the backoff. */
  private drop(reason: string): void {
    this.transport.disconnect();
    this.onDown(reason);
  }

  private checkLink(): void {
    const oldest = this.window.oldestSentAt();
    const now = this.o.clock?.() ?? monoNow();
    if (this.st.state === 'online' && oldest !== null && now - oldest > this.o.ackTimeoutMs) {
      this.o.logger.warn({ ackTimeoutMs: this.o.ackTimeoutMs }, this.texts.ackTimeout);
      this.drop('acknowledgement timeout');
      return;
    }
    if (this.mode === 'confirm' && this.o.resendAfterSilenceMs) this.checkSilence(this.o.resendAfterSilenceMs);
    this.schedulePump();
  }

  /** Confirm mode: a far end that stays silent about data already sent gets it again from its own position. */
  private checkSilence(afterMs: number): void {
    const now = monoNow();
    const stalled = this.unconfirmedSince !== null && now - this.unconfirmedSince > afterMs * this.silenceFactor;
    if (!stalled) return;
    if (!this.farEndHeard) {
      // Once per link: the far end is away, or it does not confirm at all.
      if (!this.warnedSilent) {
        this.warnedSilent = true;
        this.o.logger.warn({ confirmed: this.o.log.cursor(this.o.cursorName), sentSeq: this.window.sentSeq() }, this.texts.silent);
      }
      return;
    }
    if (this.st.state !== 'online') return;
    const from = this.o.log.cursor(this.o.cursorName);
    if (this.window.sentSeq() > from) {
      this.o.logger.warn({ confirmed: from, sentSeq: this.window.sentSeq(), waitedMs: Math.round(now - this.unconfirmedSince!) }, this.texts.resend);
      this.rewind(from);
      this.silenceFactor = Math.min(16, this.silenceFactor * 2);
    } else this.unconfirmedSince = null;
  }

  /**
   * A commit: a full batch of fresh readings goes at once, while its rows are in the log's
   * memory tail (SinkWindow.freshBatchReady); anything else waits for the next turn, so that
   * short batches and waits are decided once per turn, not once per commit.
   */
  private onAppend(): void {
    // Inside the log's append: nothing here may throw into it (the readings are committed).
    // A failure is said and retried by guarded (pumpIn), as in any pump.
    this.guarded(() => {
      if (this.o.sendAtCommit !== false && this.st.state === 'online' && this.transport.canSend?.() !== false && this.window.freshBatchReady()) this.pump();
      else this.schedulePump();
    });
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.guarded(() => this.pump());
    });
  }

  /** A log that cannot be read (a failing SD card) is said and retried, never thrown out of a timer. */
  private guarded(fn: () => void, what = 'reading the log'): void {
    try {
      fn();
    } catch (err) {
      this.st.lastError = `${what}: ${(err as Error).message}`;
      this.o.logger.warn({ err: (err as Error).message }, `${this.transport.label}: ${what} failed; retrying`);
      if (this.st.state !== 'stopped') this.pumpIn(1000);
    }
  }

  private pump(): void {
    while (this.st.state === 'online' && this.transport.canSend?.() !== false) {
      const step = this.window.next();
      if (!step) return;
      if ('waitMs' in step) return this.pumpIn(step.waitMs);
      const gen = this.gen;
      const sendGen = this.sendGen;
      const planned = step.batch;
      let entry: InflightEntry | null = null;
      let early: { ok: boolean; error?: string } | null = null;
      const bytes = this.transport.send(wireBatch(planned, this.o.gateway, this.o.log.epoch?.()), (result) => {
        if (entry) this.onResult(gen, sendGen, entry, result);
        else early = result; // a transport that answers synchronously
      });
      entry = this.window.sent(planned, bytes);
      // On the wire: the entry keeps the sequence range and the count, not thousands of records
      // that would outlive the young generation while the acknowledgement is on its way.
      planned.records = [];
      if (this.mode === 'confirm') this.unconfirmedSince ??= monoNow();
      if (early) this.onResult(gen, sendGen, entry, early);
    }
  }

  private onResult(gen: number, sendGen: number, entry: InflightEntry, result: { ok: boolean; error?: string }): void {
    // After a rewind (a resend from the far end's position), results of the sends before it no longer count.
    if (gen !== this.gen || sendGen !== this.sendGen || this.st.state !== 'online') return;
    if (!result.ok) {
      this.st.sendFailures++;
      this.o.logger.warn({ first: entry.batch.first, last: entry.batch.last, err: result.error }, `${this.transport.label}: send failed; sending again from the cursor after a backoff`);
      this.drop(result.error ?? 'send failed');
      return;
    }
    const moved = this.window.ack(entry);
    this.st.batchesAcked++;
    this.st.readingsAcked += entry.readings;
    if (moved) this.delivered = Math.max(this.delivered, moved);
    // Confirm mode: delivery only opens the window; the far end's confirmation moves the cursor.
    if (moved && this.mode === 'delivery') this.o.log.advance(this.o.cursorName, moved);
    this.schedulePump();
  }

  private pumpIn(ms: number): void {
    this.delayTimer ??= setTimeout(() => {
      this.delayTimer = null;
      this.guarded(() => this.pump());
    }, timerDelay(ms));
  }

  private clearTimers(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.delayTimer) clearTimeout(this.delayTimer);
    this.reconnectTimer = this.delayTimer = null;
  }
}
