/**
 * Turns johnny-five readings into channel values: every sampling period it takes the latest
 * raw reading of each analog Sensor into that channel's filter window; values are computed
 * on demand (filter -> calibration -> range check), so a calibration written over Modbus
 * applies to the very next read.
 *
 * Freshness is tracked apart from the values: johnny-five's Sensor keeps its last reading
 * forever, so a dead board would otherwise look like a perfectly steady river.
 */
import five, { type Board, type Sensor, type Switch } from 'johnny-five';
import { calibrate, type Calibration } from './calibration.ts';
import type { AnalogChannelDef, ChannelSet } from './channels/types.ts';
import { WindowFilter } from './filter.ts';
import type { AnalogChannelId } from './register-map.ts';

export interface ChannelReading {
  /** Filtered raw counts, undefined before the first reading. */
  raw: number | undefined;
  /** Calibrated value; NaN whenever `fault` is set, never a made-up number. */
  value: number;
  fault: boolean;
  /** Why the channel is faulted, for logs. */
  reason?: string;
}

interface AnalogState {
  def: AnalogChannelDef;
  filter: WindowFilter;
  sensor: Sensor | undefined;
  /** Readings received from the board (bumped by the io callback). */
  received: number;
  /** `received` at the previous sampling cycle. */
  consumed: number;
  /** When this channel last got a fresh reading into its window (ms, -Infinity = never). */
  lastFreshAt: number;
}

export class Sampler {
  readonly #analog: AnalogState[];
  readonly #doorDef: ChannelSet['door'];
  #door: Switch | undefined;
  /** When the board last delivered any analog reading (ms). */
  lastDataAt = -Infinity;
  /** When a sampling cycle last took at least one fresh reading (ms). */
  lastSampleAt = -Infinity;
  /** Sampling cycles that took fresh readings. */
  samples = 0;

  constructor(
    channels: ChannelSet,
    private readonly calibrationOf: (channel: AnalogChannelId) => Calibration,
    private readonly now: () => number = Date.now,
  ) {
    this.#analog = channels.analog.map((def) => ({
      def,
      filter: new WindowFilter(def.filter.kind, def.filter.window),
      sensor: undefined,
      received: 0,
      consumed: 0,
      lastFreshAt: -Infinity,
    }));
    this.#doorDef = channels.door;
  }

  /** Creates the johnny-five components on a ready board; windows restart empty. */
  attach(board: Board): void {
    for (const ch of this.#analog) {
      // The Sensor's own event loop is off: the sampler decides when to sample.
      ch.sensor = new five.Sensor({ pin: ch.def.pin, board, enabled: false });
      ch.filter.clear();
      ch.received = ch.consumed = 0;
      const state = ch;
      // Any IO plugin implements analogRead(pin, cb); a second subscriber only counts arrivals.
      board.io.analogRead(ch.sensor.pin, () => {
        state.received++;
        this.lastDataAt = this.now();
      });
    }
    this.#door = new five.Switch({ pin: this.#doorDef.pin, board, type: 'NO' });
  }

  detach(): void {
    for (const ch of this.#analog) ch.sensor = undefined;
    this.#door = undefined;
  }

  /** One sampling cycle; returns whether any fresh reading was taken. */
  sample(): boolean {
    const now = this.now();
    let fresh = false;
    for (const ch of this.#analog) {
      const raw = ch.sensor?.raw;
      if (ch.received === ch.consumed || raw === null || raw === undefined) continue;
      ch.consumed = ch.received;
      ch.filter.push(raw);
      ch.lastFreshAt = now;
      fresh = true;
    }
    if (fresh) {
      this.lastSampleAt = now;
      this.samples++;
    }
    return fresh;
  }

  /** Current value of every analog channel; a channel without a reading since `freshSince` is faulted. */
  readings(freshSince: number): Record<AnalogChannelId, ChannelReading> {
    const out = {} as Record<AnalogChannelId, ChannelReading>;
    for (const ch of this.#analog) out[ch.def.id] = this.#reading(ch, freshSince);
    return out;
  }

  /** 1 open, 0 closed, undefined before the contact was read. */
  doorOpen(): 0 | 1 | undefined {
    const sw = this.#door;
    if (!sw || (!sw.isOpen && !sw.isClosed)) return undefined;
    // NO: the contact is closed while the door is shut; NC: the other way round.
    const contactOpen = sw.isOpen;
    return (this.#doorDef.contact === 'NO' ? contactOpen : !contactOpen) ? 1 : 0;
  }

  #reading(ch: AnalogState, freshSince: number): ChannelReading {
    const raw = ch.filter.value();
    if (raw === undefined) return { raw, value: NaN, fault: true, reason: 'no reading yet' };
    if (ch.lastFreshAt < freshSince) return { raw, value: NaN, fault: true, reason: 'no fresh reading' };
    const value = calibrate(this.calibrationOf(ch.def.id), raw);
    const { min, max } = ch.def.validRange;
    if (!Number.isFinite(value) || value < min || value > max) {
      return { raw, value: NaN, fault: true, reason: `${value} ${ch.def.unit} outside ${min}..${max}` };
    }
    return { raw, value, fault: false };
  }
}
