/**
 * The sensor node: settings, sampler and watchdog wired together, seen by the Modbus slave as
 * a RegisterBackend (values by register definition, validated writes).
 */
import { performance } from 'node:perf_hooks';
import type { BoardFactory } from './board-link.ts';
import { calibrationProblem, toCoefficients, type Calibration } from './calibration.ts';
import type { ChannelSet } from './channels/types.ts';
import { loadSettings, saveSettings, type Settings } from './persist.ts';
import { ANALOG_CHANNELS, REGISTER_MAP, STATUS_BITS, faultBit, type AnalogChannelId, type MapTable, type RegisterDef, type StatusBitId } from './register-map.ts';
import { Sampler } from './sampler.ts';
import { FIRMWARE_VERSION } from './version.ts';
import { Watchdog } from './watchdog.ts';

export interface RegisterWrite {
  def: RegisterDef;
  value: number;
}

/** What the Modbus slave needs of the node. */
export interface RegisterBackend {
  /** The value of every register definition of `table`, from one consistent moment. */
  values(table: MapTable): Map<RegisterDef, number>;
  /** Applies and persists range-checked writes all together; throws when they cannot be applied. */
  write(writes: readonly RegisterWrite[]): void;
  /** A request frame was dropped (bad CRC). */
  frameRejected(): void;
}

/** A write the node refuses although it is within the register's range (e.g. a calibration that divides by zero). */
export class InvalidWriteError extends Error {
  override readonly name = 'InvalidWriteError';
}

export interface SensorNodeOptions {
  channels: ChannelSet;
  settingsFile: string;
  board: BoardFactory;
  readyTimeoutMs?: number;
  backoff?: { minMs: number; maxMs: number };
  stalePeriods?: number;
  noDataPeriods?: number;
  log?: (message: string) => void;
}

const bitOf = (id: StatusBitId): number => STATUS_BITS.find((b) => b.id === id)!.bit;

export class SensorNode implements RegisterBackend {
  readonly sampler: Sampler;
  readonly watchdog: Watchdog;
  readonly #opts: SensorNodeOptions;
  #settings: Settings;
  readonly #settingsDefaulted: boolean;
  readonly #startedAt = performance.now();
  readonly #stalePeriods: number;
  #timer: NodeJS.Timeout | undefined;
  #crcErrors = 0;

  constructor(opts: SensorNodeOptions) {
    this.#opts = opts;
    const log = opts.log ?? (() => {});
    const loaded = loadSettings(opts.settingsFile);
    if (loaded.problem) log(`settings: ${loaded.problem}; using defaults`);
    this.#settingsDefaulted = loaded.defaulted;
    this.#settings = { ...loaded.settings, bootCount: loaded.settings.bootCount + 1 };
    try {
      saveSettings(opts.settingsFile, this.#settings);
    } catch (err) {
      log(`settings: cannot record boot ${this.#settings.bootCount} in ${opts.settingsFile}: ${(err as Error).message}`);
    }

    this.#stalePeriods = opts.stalePeriods ?? 3;
    this.sampler = new Sampler(opts.channels, (ch) => this.calibrationOf(ch));
    this.watchdog = new Watchdog({
      factory: opts.board,
      readyTimeoutMs: opts.readyTimeoutMs ?? 10_000,
      backoff: opts.backoff ?? { minMs: 1000, maxMs: 30_000 },
      stalePeriods: this.#stalePeriods,
      noDataPeriods: opts.noDataPeriods ?? 5,
      periodMs: () => this.#settings.samplingPeriodMs,
      lastDataAt: () => this.sampler.lastDataAt,
      lastSampleAt: () => this.sampler.lastSampleAt,
      onConnected: (link) => this.sampler.attach(link.board),
      onDisconnected: () => this.sampler.detach(),
      log,
    });
  }

  get settings(): Readonly<Settings> {
    return this.#settings;
  }

  get settingsDefaulted(): boolean {
    return this.#settingsDefaulted;
  }

  calibrationOf(channel: AnalogChannelId): Calibration {
    const override = this.#settings.calibration[channel];
    if (override) return override;
    const def = this.#opts.channels.analog.find((c) => c.id === channel);
    if (!def) throw new Error(`no channel definition for ${channel}`);
    return def.calibration;
  }

  start(): void {
    this.watchdog.start();
    this.#tick();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.watchdog.stop();
    this.sampler.detach();
  }

  /** Sampling loop; re-armed with the current period so a Modbus write takes effect next cycle. */
  #tick = (): void => {
    if (this.watchdog.connected) this.sampler.sample();
    this.watchdog.check();
    this.#timer = setTimeout(this.#tick, this.#settings.samplingPeriodMs);
  };

  status(): number {
    const stale = this.watchdog.isStale();
    const freshSince = Date.now() - this.#stalePeriods * this.#settings.samplingPeriodMs;
    const readings = this.sampler.readings(freshSince);
    let bits = 0;
    for (const ch of ANALOG_CHANNELS) if (readings[ch].fault) bits |= 1 << faultBit(ch);
    if (stale) bits |= 1 << bitOf('stale');
    if (!this.watchdog.connected) bits |= 1 << bitOf('board_disconnected');
    if (this.#settingsDefaulted) bits |= 1 << bitOf('settings_defaulted');
    return bits;
  }

  values(table: MapTable): Map<RegisterDef, number> {
    const stale = this.watchdog.isStale();
    const freshSince = Date.now() - this.#stalePeriods * this.#settings.samplingPeriodMs;
    const readings = this.sampler.readings(freshSince);
    const status = this.status();
    const out = new Map<RegisterDef, number>();
    for (const def of REGISTER_MAP) {
      if (def.table !== table) continue;
      const s = def.source;
      let v: number;
      switch (s.kind) {
        case 'value':
          v = stale ? NaN : readings[s.channel].value;
          break;
        case 'raw':
          v = readings[s.channel].raw ?? NaN;
          break;
        case 'door':
          v = this.sampler.doorOpen() ?? NaN;
          break;
        case 'status':
          v = status;
          break;
        case 'counter':
          v =
            s.counter === 'uptime_s' ? Math.floor((performance.now() - this.#startedAt) / 1000)
            : s.counter === 'resets' ? this.#settings.bootCount
            : s.counter === 'crc_errors' ? this.#crcErrors
            : this.sampler.samples;
          break;
        case 'version':
          v = FIRMWARE_VERSION[s.part];
          break;
        case 'sampling_period':
          v = this.#settings.samplingPeriodMs;
          break;
        case 'calibration':
          v = toCoefficients(this.calibrationOf(s.channel))[s.coefficient]!;
          break;
      }
      out.set(def, v);
    }
    return out;
  }

  write(writes: readonly RegisterWrite[]): void {
    const next: Settings = structuredClone(this.#settings);
    for (const { def, value } of writes) {
      const s = def.source;
      if (s.kind === 'sampling_period') {
        next.samplingPeriodMs = value;
      } else if (s.kind === 'calibration') {
        const coefficients = toCoefficients(next.calibration[s.channel] ?? this.calibrationOf(s.channel));
        coefficients[s.coefficient] = value;
        next.calibration[s.channel] = { kind: 'polynomial', coefficients };
      } else {
        throw new InvalidWriteError(`${def.id} is not writable`);
      }
    }
    for (const ch of ANALOG_CHANNELS) {
      const cal = next.calibration[ch];
      const problem = cal && calibrationProblem(cal);
      if (problem) throw new InvalidWriteError(`${ch}: ${problem}`);
    }
    // Persist first: a setting acknowledged to the gateway must survive the next power cut.
    saveSettings(this.#opts.settingsFile, next);
    this.#settings = next;
  }

  frameRejected(): void {
    this.#crcErrors++;
  }
}
