import type { LogRecord, Value } from '@kedge/cloud-sync/model.ts';
import { decodeRegisters, encodeRegisters } from '@kedge/gateway/drivers/modbus/decode.ts';
import { defaultMeters, SIM_EPOCH_MS } from '@kedge/testkit/sim/meters.ts';

/**
 * Polls of a box with many points, for the wire-size bench: what one uplink batch holds when
 * a poll has 2,000-10,000 points (many devices) rather than the 22 of the demo meters.
 * Each poll is returned as the readings the log would hold, in poll order, plus the raw
 * register words per device (what a Node-RED flow publishes as a bare JSON array).
 */
export interface FleetPoll {
  readings: LogRecord[];
  /** One entry per device: its raw 16-bit register words (coils as 0/1) in point order. */
  deviceWords: number[][];
}

/** Scales config/kedge.example.yaml applies, as in meter-data.ts. */
const EXAMPLE_SCALES: Record<string, number> = { volume: 0.001, water_temp: 0.1 };
const START = SIM_EPOCH_MS + 400 * 86_400_000;

/**
 * `points` readings per poll from copies of the four simulated meters: copy k is named
 * `<device>-<k>` and runs `k` hours and 7 minutes out of phase, so copies hold different but
 * realistic values; the last copy is cut to reach exactly `points`.
 */
export function meterFleetPolls(points: number, polls: number, intervalMs = 1000): FleetPoll[] {
  const meters = defaultMeters();
  const out: FleetPoll[] = [];
  let seq = 1;
  for (let poll = 0; poll < polls; poll++) {
    const t = START + poll * intervalMs;
    const readings: LogRecord[] = [];
    const deviceWords: number[][] = [];
    for (let copy = 1; readings.length < points; copy++) {
      const phase = copy * (3_600_000 + 7 * 60_000);
      for (const m of meters) {
        if (readings.length >= points) break;
        const device = `${m.name.replace(/[^a-z0-9]+/g, '-')}-${copy}`;
        const words: number[] = [];
        for (const p of m.points) {
          if (readings.length >= points) break;
          let value: Value;
          if (p.table === 'coil' || p.table === 'discrete') {
            value = Boolean(p.value(t + phase));
            words.push(value ? 1 : 0);
          } else {
            const raw = encodeRegisters(p, p.value(t + phase));
            words.push(...raw);
            value = decodeRegisters(p, raw);
          }
          const scale = EXAMPLE_SCALES[p.id];
          if (scale !== undefined && typeof value === 'number') value *= scale;
          readings.push({ seq: seq++, point: `${device}/${p.id}`, ts: t, value, quality: 'good' });
        }
        deviceWords.push(words);
      }
    }
    out.push({ readings, deviceWords });
  }
  return out;
}

/**
 * `devices` x `registers` holding registers of uniformly random 16-bit values (a seeded
 * generator, so runs compare): the worst case for any value encoding, 16 bits of entropy each.
 */
export function randomRegisterPolls(devices: number, registers: number, polls: number, intervalMs = 1000): FleetPoll[] {
  let state = 0x9e3779b9;
  const next16 = () => {
    // xorshift32: cheap, deterministic, good enough to defeat a compressor.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) & 0xffff;
  };
  const out: FleetPoll[] = [];
  let seq = 1;
  for (let poll = 0; poll < polls; poll++) {
    const t = START + poll * intervalMs;
    const readings: LogRecord[] = [];
    const deviceWords: number[][] = [];
    for (let d = 1; d <= devices; d++) {
      const words: number[] = [];
      for (let r = 0; r < registers; r++) {
        const v = next16();
        words.push(v);
        readings.push({ seq: seq++, point: `plc-${d}/hr${r}`, ts: t, value: v, quality: 'good' });
      }
      deviceWords.push(words);
    }
    out.push({ readings, deviceWords });
  }
  return out;
}
