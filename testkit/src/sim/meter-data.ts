/**
 * Readings as a gateway logs them from the simulated meters, for codec sizes and benchmarks:
 * shaped like cloud-sync's LogRecord and Batch (declared here by shape: the test kit depends
 * on no kedge package).
 */
import { defaultMeters, SIM_EPOCH_MS, type SimMeter } from './meters.ts';
import { wireValue, type SimValue } from './registers.ts';

export interface MeterRecord {
  seq: number;
  point: string;
  ts: number;
  value: SimValue;
  quality: 'good';
}

export interface MeterBatch {
  gateway: string;
  first: number;
  last: number;
  evicted: [];
  readings: MeterRecord[];
}

/** Scales config/kedge.example.yaml applies, so scaled points log float64 values as in the field. */
const EXAMPLE_SCALES: Record<string, number> = { volume: 0.001, water_temp: 0.1 };

/**
 * Each point of `meters` polled every `intervalMs` for `durationMs`, its value as the wire
 * carries it (float32 stays float32, uint64 becomes a number or bigint), scaled as the
 * example config scales it.
 */
export function meterReadings(opts: { durationMs?: number; intervalMs?: number; meters?: SimMeter[]; start?: number } = {}): MeterRecord[] {
  const meters = opts.meters ?? defaultMeters();
  const duration = opts.durationMs ?? 3_600_000;
  const interval = opts.intervalMs ?? 1000;
  const start = opts.start ?? SIM_EPOCH_MS + 400 * 86_400_000;
  const out: MeterRecord[] = [];
  let seq = 1;
  for (let t = start; t < start + duration; t += interval) {
    for (const m of meters) {
      const device = m.name.replace(/[^a-z0-9]+/g, '-');
      // One poll of a device: every point gets the same timestamp, as the driver stamps a block.
      for (const p of m.points) {
        let value = p.table === 'coil' || p.table === 'discrete' ? Boolean(p.value(t)) : wireValue(p, p.value(t));
        const scale = EXAMPLE_SCALES[p.id];
        if (scale !== undefined && typeof value === 'number') value *= scale;
        out.push({ seq: seq++, point: `${device}/${p.id}`, ts: t, value, quality: 'good' });
      }
    }
  }
  return out;
}

/** Cuts readings into uplink batches of `size`. */
export function toBatches(gateway: string, readings: MeterRecord[], size: number): MeterBatch[] {
  const batches: MeterBatch[] = [];
  for (let i = 0; i < readings.length; i += size) {
    const part = readings.slice(i, i + size);
    batches.push({ gateway, first: part[0]!.seq, last: part[part.length - 1]!.seq, evicted: [], readings: part });
  }
  return batches;
}
