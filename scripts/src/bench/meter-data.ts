import type { LogRecord, Value } from '@kedge/cloud-sync/model.ts';
import type { Batch } from '@kedge/cloud-sync/codec/batch.ts';
import { decodeRegisters, encodeRegisters } from '@kedge/gateway/drivers/modbus/decode.ts';
import { defaultMeters, SIM_EPOCH_MS, type SimMeter } from '@kedge/testkit/sim/meters.ts';

/** Scales config/kedge.example.yaml applies, so scaled points log float64 values as in the field. */
const EXAMPLE_SCALES: Record<string, number> = { volume: 0.001, water_temp: 0.1 };

/**
 * Readings as the gateway logs them from the simulated meters: each point polled every
 * `intervalMs` for `durationMs`, its value taken through the same register encoding and
 * decoding as on the wire (float32 stays float32, uint64 becomes a number or bigint).
 * This is the "realistic meter data" the codec sizes are measured on.
 */
export function meterReadings(opts: { durationMs?: number; intervalMs?: number; meters?: SimMeter[]; start?: number } = {}): LogRecord[] {
  const meters = opts.meters ?? defaultMeters();
  const duration = opts.durationMs ?? 3_600_000;
  const interval = opts.intervalMs ?? 1000;
  const start = opts.start ?? SIM_EPOCH_MS + 400 * 86_400_000;
  const out: LogRecord[] = [];
  let seq = 1;
  for (let t = start; t < start + duration; t += interval) {
    for (const m of meters) {
      const device = m.name.replace(/[^a-z0-9]+/g, '-');
      // One poll of a device: every point gets the same timestamp, as the driver stamps a block.
      for (const p of m.points) {
        let value: Value;
        if (p.table === 'coil' || p.table === 'discrete') value = Boolean(p.value(t));
        else value = decodeRegisters(p, encodeRegisters(p, p.value(t)));
        const scale = EXAMPLE_SCALES[p.id];
        if (scale !== undefined && typeof value === 'number') value *= scale;
        out.push({ seq: seq++, point: `${device}/${p.id}`, ts: t, value, quality: 'good' });
      }
    }
  }
  return out;
}

/** Cuts readings into uplink batches of `size`. */
export function toBatches(gateway: string, readings: LogRecord[], size: number): Batch[] {
  const batches: Batch[] = [];
  for (let i = 0; i < readings.length; i += size) {
    const part = readings.slice(i, i + size);
    batches.push({ gateway, first: part[0]!.seq, last: part[part.length - 1]!.seq, evicted: [], readings: part });
  }
  return batches;
}
