/**
 * THE published Modbus register map of the kedge sensor node (river station).
 *
 * This file is data on purpose: the slave serves it, the README table is generated from it
 * (`node --import tsx firmware-ts/src/register-map-doc.ts`), and the device profile
 * device-profiles/profiles/kedge-sensor-node.yaml is checked against it by a test. Changing an
 * address here is a breaking change for every gateway in the field: add, never move.
 *
 * Addresses are 0-based protocol addresses. Multi-register values are big-endian words and
 * bytes (ABCD, the Modbus convention). Measured values are input registers (FC 4); settings
 * are holding registers (FC 3 read, FC 6/16 write).
 */

export type MapTable = 'input' | 'holding';
export type MapType = 'float32' | 'uint16' | 'uint32';

/** Where a register's value comes from; the slave dispatches on this, never on the address. */
export type RegisterSource =
  | { kind: 'value'; channel: AnalogChannelId }
  | { kind: 'raw'; channel: AnalogChannelId }
  | { kind: 'door' }
  | { kind: 'status' }
  | { kind: 'counter'; counter: 'uptime_s' | 'resets' | 'crc_errors' | 'samples' }
  | { kind: 'version'; part: 'major' | 'minor' | 'patch' }
  | { kind: 'sampling_period' }
  | { kind: 'calibration'; channel: AnalogChannelId; coefficient: 0 | 1 | 2 | 3 };

export interface RegisterDef {
  /** Point id, as used in the device profile and the gateway config. */
  id: string;
  table: MapTable;
  address: number;
  type: MapType;
  order: 'ABCD';
  unit?: string;
  writable: boolean;
  /** Accepted values of a writable register; a write outside gets Modbus exception 03. */
  range?: { min: number; max: number };
  description: string;
  source: RegisterSource;
}

export const ANALOG_CHANNELS = ['water_level', 'water_temperature', 'turbidity', 'battery_voltage'] as const;
export type AnalogChannelId = (typeof ANALOG_CHANNELS)[number];

/** Meaning of each bit of the `status` input register (bit 0 = least significant). */
export const STATUS_BITS = [
  { bit: 0, id: 'water_level_fault', description: 'water level out of its valid range or not sampled' },
  { bit: 1, id: 'water_temperature_fault', description: 'water temperature out of its valid range or not sampled' },
  { bit: 2, id: 'turbidity_fault', description: 'turbidity out of its valid range or not sampled' },
  { bit: 3, id: 'battery_voltage_fault', description: 'battery voltage out of its valid range or not sampled' },
  { bit: 4, id: 'stale', description: 'no sample within 3 sampling periods: all values are old (and reported as NaN)' },
  { bit: 5, id: 'board_disconnected', description: 'the sensor board is not connected; the node is retrying' },
  { bit: 6, id: 'settings_defaulted', description: 'the settings file was corrupt or invalid; defaults are in use' },
] as const;
export type StatusBitId = (typeof STATUS_BITS)[number]['id'];

/** Fault bit of an analog channel, in the same order as ANALOG_CHANNELS. */
export function faultBit(channel: AnalogChannelId): number {
  return ANALOG_CHANNELS.indexOf(channel);
}

const UNITS: Record<AnalogChannelId, string> = {
  water_level: 'm',
  water_temperature: '°C',
  turbidity: 'NTU',
  battery_voltage: 'V',
};

const NAMES: Record<AnalogChannelId, string> = {
  water_level: 'Water level',
  water_temperature: 'Water temperature',
  turbidity: 'Turbidity',
  battery_voltage: 'Battery voltage',
};

/**
 * Calibration is a cubic in raw ADC counts (0..1023): value = c0 + c1*raw + c2*raw^2 + c3*raw^3.
 * A two-point calibration is the special case c2 = c3 = 0. The limits keep a fat-fingered
 * write from turning a river gauge into a random number generator.
 */
const COEFFICIENT_RANGES = [
  { min: -1000, max: 1000 },
  { min: -100, max: 100 },
  { min: -1, max: 1 },
  { min: -0.001, max: 0.001 },
] as const;

const input = (address: number, def: Omit<RegisterDef, 'table' | 'address' | 'order' | 'writable'>): RegisterDef => ({
  table: 'input',
  address,
  order: 'ABCD',
  writable: false,
  ...def,
});

function buildMap(): RegisterDef[] {
  const defs: RegisterDef[] = [];
  ANALOG_CHANNELS.forEach((ch, i) => {
    defs.push(
      input(i * 2, {
        id: ch,
        type: 'float32',
        unit: UNITS[ch],
        description: `${NAMES[ch]} (NaN when its fault bit or the stale bit is set)`,
        source: { kind: 'value', channel: ch },
      }),
    );
  });
  defs.push(
    input(8, { id: 'door_open', type: 'uint16', description: 'Enclosure door: 1 open, 0 closed, 65535 not read yet', source: { kind: 'door' } }),
    input(9, { id: 'status', type: 'uint16', description: 'Status bits (see the status bit table)', source: { kind: 'status' } }),
    input(10, { id: 'uptime', type: 'uint32', unit: 's', description: 'Seconds since the firmware started', source: { kind: 'counter', counter: 'uptime_s' } }),
    input(12, { id: 'resets', type: 'uint32', description: 'Boot counter (persisted in the settings file)', source: { kind: 'counter', counter: 'resets' } }),
    input(14, {
      id: 'crc_errors',
      type: 'uint32',
      description: 'RTU frames dropped for a bad CRC since start',
      source: { kind: 'counter', counter: 'crc_errors' },
    }),
    input(16, { id: 'samples', type: 'uint32', description: 'Sampling cycles completed since start', source: { kind: 'counter', counter: 'samples' } }),
    input(20, { id: 'fw_major', type: 'uint16', description: 'Firmware version, major', source: { kind: 'version', part: 'major' } }),
    input(21, { id: 'fw_minor', type: 'uint16', description: 'Firmware version, minor', source: { kind: 'version', part: 'minor' } }),
    input(22, { id: 'fw_patch', type: 'uint16', description: 'Firmware version, patch', source: { kind: 'version', part: 'patch' } }),
  );
  ANALOG_CHANNELS.forEach((ch, i) => {
    defs.push(
      input(24 + i, {
        id: `${ch}_raw`,
        type: 'uint16',
        unit: 'counts',
        description: `${NAMES[ch]}, filtered raw ADC counts (for field calibration)`,
        source: { kind: 'raw', channel: ch },
      }),
    );
  });

  defs.push({
    id: 'sampling_period',
    table: 'holding',
    address: 0,
    type: 'uint16',
    order: 'ABCD',
    unit: 'ms',
    writable: true,
    range: { min: 100, max: 60_000 },
    description: 'Sampling period',
    source: { kind: 'sampling_period' },
  });
  ANALOG_CHANNELS.forEach((ch, i) => {
    for (const k of [0, 1, 2, 3] as const) {
      defs.push({
        id: `${ch}_c${k}`,
        table: 'holding',
        address: 10 + i * 10 + k * 2,
        type: 'float32',
        order: 'ABCD',
        writable: true,
        range: COEFFICIENT_RANGES[k],
        description: `${NAMES[ch]} calibration coefficient c${k} (value = c0 + c1*raw + c2*raw^2 + c3*raw^3)`,
        source: { kind: 'calibration', channel: ch, coefficient: k },
      });
    }
  });
  return defs;
}

export const REGISTER_MAP: readonly RegisterDef[] = buildMap();

/** Registers a type occupies. */
export function wordCount(type: MapType): number {
  return type === 'uint16' ? 1 : 2;
}
