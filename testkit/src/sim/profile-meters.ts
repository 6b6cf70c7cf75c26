/**
 * Simulated meters built from device profiles: every profile point gets a plausible value that
 * changes over time (a pure function of t, like meters.ts), from the point's `sim` hint or,
 * without one, from its unit: voltages near 230 V, frequency near 50 Hz, totals that only grow.
 */
import { SIM_EPOCH_MS, type SimMeter, type SimPoint } from './meters.ts';
import type { SimByteOrder, SimDataType, SimTable, SimValue } from './registers.ts';

/**
 * What the simulator reads of a device profile (device-profiles/src/schema.ts): declared here
 * by shape, so the test kit depends on no kedge package; a loaded Profile fits it.
 */
export interface SimProfilePoint {
  id: string;
  table: SimTable;
  /** In the numbering of the profile's `protocol.addressBase`. */
  address: number;
  type: SimDataType;
  order?: SimByteOrder;
  bit?: number;
  length?: number;
  scale?: number;
  offset?: number;
  unit?: string;
  writable?: boolean;
  sim?: { kind?: 'wave' | 'total' | 'constant' | 'toggle'; min?: number; max?: number; value?: number | string | boolean; ratePerHour?: number };
}

export interface SimProfile {
  name: string;
  protocol: { addressBase: number; order: SimByteOrder; maxGap?: number };
  points: SimProfilePoint[];
}

const HOUR = 3_600_000;
const TAU = 2 * Math.PI;

interface Range {
  min: number;
  max: number;
}

/** Typical ranges by UCUM unit, for points without a `sim` hint. */
const BY_UNIT: Record<string, Range> = {
  V: { min: 225, max: 235 },
  Hz: { min: 49.95, max: 50.05 },
  A: { min: 5, max: 20 },
  W: { min: 1000, max: 5000 },
  Cel: { min: 5, max: 70 },
  'm3/h': { min: 5, max: 20 },
  m: { min: 1, max: 3 },
  cm: { min: 100, max: 300 },
  mm: { min: 1000, max: 3000 },
  '%': { min: 40, max: 90 },
  '[NTU]': { min: 1, max: 40 },
  '[pH]': { min: 6.5, max: 8 },
};

/** Units of accumulating quantities: their points count up. */
const TOTAL_UNITS = new Set(['kW.h', 'W.h', 'MW.h', 'm3', 'L', 'GJ', 'Gcal', 'h', 'kV.A.h{reactive}']);

/** Stable per-point phase so neighbouring points do not move in lockstep. */
function phaseOf(id: string): number {
  let h = 0;
  for (const c of id) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return (h % 1000) / 1000;
}

/** The engineering value of a point at time t. */
export function engineeringValue(p: SimProfilePoint, t: number): number | boolean | string {
  const hint = p.sim ?? {};
  const h = (t - SIM_EPOCH_MS) / HOUR;
  const phase = phaseOf(p.id);
  if (p.type === 'string') return String(hint.value ?? p.id.toUpperCase());
  const kind = hint.kind ?? (p.type === 'bool' || p.type === 'bit' ? 'toggle' : p.unit && TOTAL_UNITS.has(p.unit) ? 'total' : 'wave');
  switch (kind) {
    case 'constant':
      return hint.value ?? hint.min ?? 0;
    case 'toggle': {
      // On for ~3 minutes in every 40: rare, as doors, alarms and blade changes are.
      const on = Math.floor(t / 60_000 + phase * 40) % 40 < 3;
      if (p.type === 'bool' || p.type === 'bit') return on;
      return on ? (hint.max ?? 1) : (hint.min ?? 0);
    }
    case 'total': {
      const start = hint.min ?? 1000;
      const rate = hint.ratePerHour ?? 1;
      return start + rate * h;
    }
    case 'wave': {
      const r = hint.min !== undefined && hint.max !== undefined ? { min: hint.min, max: hint.max } : (BY_UNIT[p.unit ?? ''] ?? { min: 0, max: 100 });
      const mid = (r.min + r.max) / 2;
      const amp = (r.max - r.min) / 2;
      // A slow daily-ish swing plus a faster wobble, staying inside [min, max].
      return mid + amp * (0.8 * Math.sin(TAU * (h / 6 + phase)) + 0.2 * Math.sin(TAU * (h / 0.05 + phase)));
    }
  }
}

const INT_RANGE: Partial<Record<SimProfilePoint['type'], [number, number]>> = {
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
  int64: [-(2 ** 53), 2 ** 53],
  uint64: [0, 2 ** 53],
};

/** Raw register value for an engineering value: undoes scale and offset, rounds integers. */
export function rawValue(p: SimProfilePoint, eng: number | boolean | string): SimValue {
  if (typeof eng !== 'number') return eng;
  const raw = (eng - (p.offset ?? 0)) / (p.scale ?? 1);
  const range = INT_RANGE[p.type];
  if (!range) return raw;
  const n = Math.min(range[1], Math.max(range[0], Math.round(raw)));
  return p.type === 'int64' || p.type === 'uint64' ? BigInt(n) : n;
}

export interface ProfileUnit {
  profile: SimProfile;
  unitId: number;
}

/**
 * SimMeters for modbus-tcp-sim.ts / profile-sim.ts. Bit points of one register become one
 * register whose bits follow their points, since a slave serves registers, not bits.
 */
export function metersFromProfiles(units: ProfileUnit[]): SimMeter[] {
  return units.map(({ profile, unitId }) => {
    const base = profile.protocol.addressBase;
    const points: SimPoint[] = [];
    const bitWords = new Map<string, SimProfilePoint[]>();
    for (const p of profile.points) {
      if (p.type === 'bit') {
        const key = `${p.table}/${p.address}`;
        bitWords.set(key, [...(bitWords.get(key) ?? []), p]);
        continue;
      }
      points.push({
        id: p.id,
        table: p.table,
        address: p.address - base,
        type: p.type,
        order: p.order ?? profile.protocol.order,
        ...(p.length !== undefined ? { length: p.length } : {}),
        ...(p.unit !== undefined ? { unit: p.unit } : {}),
        ...(p.writable ? { writable: true } : {}),
        value: (t) => rawValue(p, engineeringValue(p, t)),
      });
    }
    for (const bits of bitWords.values()) {
      const first = bits[0]!;
      points.push({
        id: bits.map((b) => b.id).join('+'),
        table: first.table,
        address: first.address - base,
        type: 'uint16',
        order: 'ABCD',
        value: (t) => bits.reduce((w, b) => (engineeringValue(b, t) === true ? w | (1 << b.bit!) : w), 0),
      });
    }
    // A profile that allows gaps in reads describes a device that answers them.
    return { unitId, name: profile.name, points, fillGaps: profile.protocol.maxGap !== 0 };
  });
}
