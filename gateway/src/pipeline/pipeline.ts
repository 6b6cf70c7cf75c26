import type { Quality, Reading, Value } from '@kedge/cloud-sync/model.ts';
import { monoNow } from '@kedge/cloud-sync/clock.ts';
import type { Sample } from '../drivers/driver.ts';

export interface PipelineOptions {
  /** Monotonic ms for heartbeats (cloud-sync/src/clock.ts); reading timestamps may jump. */
  mono?: () => number;
  /**
   * True when the box's wall clock was known wrong at any time since `sinceMono` (or now):
   * ClockWatch.wrongSince. Readings with a value taken then get the quality `uncertain_clock`.
   */
  clockWrong?: (sinceMono?: number) => boolean;
}

/** What the pipeline needs to know of a point; built from the config. */
export interface PipelinePoint {
  /** `<device>/<point>`. */
  key: string;
  scale: number;
  offset: number;
  /** Absolute change needed to log a numeric value again; 0 logs every poll. */
  deadband: number;
  /** Log at least this often even inside the deadband; 0 = no heartbeat. */
  heartbeatMs: number;
}

/** The newest value of a point, logged or not: what the UI shows as live. */
export interface LiveValue {
  value: Value;
  quality: Quality;
  ts: number;
  error?: string;
  loggedTs: number | null;
}

/**
 * Between the drivers and the log: scales raw values, then decides what is worth logging.
 * A change of quality is always logged (the center must see a meter go dark and come back);
 * a repeated bad state is not, until the heartbeat. While the box's wall clock is known to be
 * wrong, readings that carry a value are marked `uncertain_clock` (a quality change, so the
 * first one is logged at once); bad readings keep their reason, their value is null anyway.
 */
export class Pipeline {
  private readonly points = new Map<string, PipelinePoint>();
  private readonly live = new Map<string, LiveValue>();
  /** `mono`: when it was logged, on the monotonic clock (heartbeats must not stop when the wall clock goes back). */
  private last = new Map<string, { value: Value; quality: Quality; mono: number }>();
  private readonly mono: () => number;

  constructor(
    points: Iterable<PipelinePoint>,
    private readonly sink: (readings: Reading[]) => void,
    private readonly o: PipelineOptions = {},
  ) {
    for (const p of points) this.points.set(p.key, p);
    this.mono = o.mono ?? monoNow;
  }

  /**
   * Takes a device's samples, logs the ones that pass; returns what was logged. `takenSinceMono`:
   * when the poll that took them started (monotonic), so a clock that was wrong during the poll
   * marks them even if it was set right just before they arrived.
   */
  ingest(deviceId: string, samples: readonly Sample[], takenSinceMono?: number): Reading[] {
    const out: Reading[] = [];
    const now = this.mono();
    let clockWrong: boolean | undefined;
    for (const s of samples) {
      const key = `${deviceId}/${s.point}`;
      const point = this.points.get(key);
      if (!point) continue;
      // An uncertain value is still the device's value (stale, out of range): keep it.
      const hasValue = s.quality === 'good' || s.quality === 'uncertain';
      const value = hasValue ? scale(s.value, point) : null;
      clockWrong ??= hasValue ? (this.o.clockWrong?.(takenSinceMono) ?? false) : undefined;
      const quality: Quality = hasValue && clockWrong ? 'uncertain_clock' : s.quality;
      const reading: Reading = { point: key, ts: s.ts, value, quality };
      const logged = this.shouldLog(point, reading, now);
      if (logged) {
        this.last.set(key, { value: reading.value, quality: reading.quality, mono: now });
        out.push(reading);
      }
      this.live.set(key, {
        value: reading.value,
        quality: reading.quality,
        ts: reading.ts,
        ...(s.error ? { error: s.error } : {}),
        loggedTs: logged ? reading.ts : (this.live.get(key)?.loggedTs ?? null),
      });
    }
    if (out.length) this.sink(out);
    return out;
  }

  private shouldLog(point: PipelinePoint, r: Reading, now: number): boolean {
    const prev = this.last.get(point.key);
    if (!prev || prev.quality !== r.quality) return true;
    if (point.heartbeatMs > 0 && now - prev.mono >= point.heartbeatMs) return true;
    if (r.value === null) return false;
    if (typeof r.value === 'number' && typeof prev.value === 'number') {
      return point.deadband === 0 || Math.abs(r.value - prev.value) >= point.deadband;
    }
    return point.deadband === 0 || r.value !== prev.value;
  }

  liveValues(): ReadonlyMap<string, LiveValue> {
    return this.live;
  }
}

/** value * scale + offset for numbers; other kinds pass through (the config forbids scaling them). */
export function scale(value: Value, p: { scale: number; offset: number }): Value {
  if (p.scale === 1 && p.offset === 0) return value;
  if (typeof value !== 'number' && typeof value !== 'bigint') return value;
  // 15 significant digits drop the binary noise of decimal scales (12345 * 0.001).
  return Number((Number(value) * p.scale + p.offset).toPrecision(15));
}
