/**
 * Simulated municipal meters for the Modbus TCP simulator.
 *
 * Every value is a pure function of wall-clock time, so two readers (or a test and the
 * simulator) agree on what a register holds at time t, and a restarted simulator resumes
 * where it "left off". Totals are closed-form integrals of their rates, so they are
 * monotonic and consistent with the instantaneous values.
 *
 * `value(t)` returns the RAW register value: a point the gateway config scales (volume in
 * litres, water temperature x10) returns the unscaled integer here.
 */
import type { SimPointRef, SimValue } from './registers.ts';

export type { SimValue } from './registers.ts';

export interface SimPoint extends SimPointRef {
  unit?: string;
  /** Raw value at `t` (ms since the Unix epoch). */
  value: (t: number) => SimValue;
  /** Accept client writes (coil / holding); a written value then sticks until the simulator stops. */
  writable?: boolean;
}

export interface SimMeter {
  unitId: number;
  name: string;
  points: SimPoint[];
  /**
   * Unmapped registers between mapped ones read as 0 instead of exception 2, as many meters
   * answer block reads across their gaps. Default false: strict.
   */
  fillGaps?: boolean;
}

/** Totals count from here so 32-bit counters stay far from wrapping for decades. */
export const SIM_EPOCH_MS = Date.UTC(2024, 0, 1);

const HOUR = 3_600_000;
const MINUTE = 60_000;
const TAU = 2 * Math.PI;

/** Hours since SIM_EPOCH_MS. */
const hours = (t: number) => (t - SIM_EPOCH_MS) / HOUR;

/** a + b·sin(2π·h/period + phase), h and period in hours. */
const wave = (h: number, a: number, b: number, periodH: number, phase = 0) => a + b * Math.sin((TAU * h) / periodH + phase);

/**
 * ∫₀ʰ (a + b·sin(2π·x/period + phase)) dx: the total accumulated by a `wave` rate.
 * Non-decreasing whenever a > |b|.
 */
const waveIntegral = (h: number, a: number, b: number, periodH: number, phase = 0) => {
  const w = TAU / periodH;
  return a * h + (b / w) * (Math.cos(phase) - Math.cos(w * h + phase));
};

// --- unit 1: water meter --------------------------------------------------------------

/** Daily demand curve plus a faster wobble; stays within ~6..18 m3/h. */
function waterFlow(t: number): number {
  const h = hours(t);
  return wave(h, 12, 4, 24, -Math.PI / 2) + wave(h, 0, 1.5, 0.12);
}

function waterVolumeM3(t: number): number {
  const h = hours(t);
  return 12_345.678 + waveIntegral(h, 12, 4, 24, -Math.PI / 2) + waveIntegral(h, 0, 1.5, 0.12);
}

// --- unit 2: heat meter ---------------------------------------------------------------

function supplyTemp(t: number): number {
  const h = hours(t);
  return wave(h, 70, 5, 24) + wave(h, 0, 0.5, 1 / 6);
}

function returnTemp(t: number): number {
  return supplyTemp(t) - wave(hours(t), 20, 3, 5);
}

const HEAT_POWER = { a: 120, b: 40, periodH: 2 } as const;

function heatPowerKw(t: number): number {
  return wave(hours(t), HEAT_POWER.a, HEAT_POWER.b, HEAT_POWER.periodH);
}

function heatEnergyWh(t: number): bigint {
  const kwh = 850_000 + waveIntegral(hours(t), HEAT_POWER.a, HEAT_POWER.b, HEAT_POWER.periodH);
  return BigInt(Math.floor(kwh * 1000));
}

/** Bit 0 (sensor fault) for one minute in every 30. */
function heatErrorFlags(t: number): number {
  return Math.floor(t / MINUTE) % 30 === 17 ? 0x0001 : 0x0000;
}

// --- unit 3: three-phase energy meter (SDM630-like) ------------------------------------

const PHASES = [0, TAU / 3, (2 * TAU) / 3] as const;
const CURRENT = { a: 15, b: 5, periodH: 3 } as const;
const NOMINAL_V = 230;
const POWER_FACTOR = 0.95;

function phaseVoltage(t: number, i: number): number {
  const h = hours(t);
  return wave(h, NOMINAL_V, 3, 8, PHASES[i]) + wave(h, 0, 0.4, 0.05, i);
}

function phaseCurrent(t: number, i: number): number {
  return wave(hours(t), CURRENT.a, CURRENT.b, CURRENT.periodH, PHASES[i]);
}

function totalPowerW(t: number): number {
  let p = 0;
  for (let i = 0; i < 3; i++) p += phaseVoltage(t, i) * phaseCurrent(t, i) * POWER_FACTOR;
  return p;
}

/** Integral of the nominal-voltage power; close enough to totalPowerW and exactly monotonic. */
function importKwh(t: number): number {
  let ah = 0;
  for (const phase of PHASES) ah += waveIntegral(hours(t), CURRENT.a, CURRENT.b, CURRENT.periodH, phase);
  return 40_000 + (ah * NOMINAL_V * POWER_FACTOR) / 1000;
}

function gridFrequency(t: number): number {
  const h = hours(t);
  return wave(h, 50, 0.04, 0.5) + wave(h, 0, 0.01, 0.01);
}

// --- unit 4: river level station ------------------------------------------------------

function riverLevelCm(t: number): number {
  const h = hours(t);
  return wave(h, 180, 60, 6) + wave(h, 0, 8, 0.7);
}

function waterTempC(t: number): number {
  return wave(hours(t), 4.5, 1.5, 24, -Math.PI / 2);
}

function turbidityNtu(t: number): number {
  const h = hours(t);
  return Math.max(0.5, wave(h, 12, 8, 6, 1) + wave(h, 0, 1, 0.25));
}

/** Door opened for a 2-minute inspection every 45 minutes. */
function doorOpen(t: number): boolean {
  return Math.floor(t / MINUTE) % 45 < 2;
}

export function defaultMeters(): SimMeter[] {
  return [
    {
      unitId: 1,
      name: 'water meter',
      points: [
        { id: 'flow', table: 'holding', address: 0, type: 'float32', order: 'CDAB', unit: 'm3/h', value: waterFlow },
        {
          id: 'volume',
          table: 'holding',
          address: 2,
          type: 'uint32',
          order: 'ABCD',
          unit: 'L',
          // A real register rolls over rather than refusing the value.
          value: (t) => Math.floor(waterVolumeM3(t) * 1000) % 2 ** 32,
        },
        // Bit 0: high-flow alarm, raised above 16 m3/h.
        { id: 'status', table: 'holding', address: 4, type: 'uint16', order: 'ABCD', value: (t) => (waterFlow(t) > 16 ? 1 : 0) },
      ],
    },
    {
      unitId: 2,
      name: 'heat meter',
      points: [
        { id: 'supply_temp', table: 'input', address: 0, type: 'float32', order: 'ABCD', unit: '°C', value: supplyTemp },
        { id: 'return_temp', table: 'input', address: 2, type: 'float32', order: 'ABCD', unit: '°C', value: returnTemp },
        { id: 'power', table: 'input', address: 4, type: 'float32', order: 'ABCD', unit: 'kW', value: heatPowerKw },
        { id: 'energy', table: 'input', address: 6, type: 'uint64', order: 'ABCD', unit: 'Wh', value: heatEnergyWh },
        { id: 'error_flags', table: 'input', address: 10, type: 'uint16', order: 'ABCD', value: heatErrorFlags },
      ],
    },
    {
      unitId: 3,
      name: 'energy meter',
      points: [
        { id: 'voltage_l1', table: 'input', address: 0, type: 'float32', order: 'ABCD', unit: 'V', value: (t) => phaseVoltage(t, 0) },
        { id: 'voltage_l2', table: 'input', address: 2, type: 'float32', order: 'ABCD', unit: 'V', value: (t) => phaseVoltage(t, 1) },
        { id: 'voltage_l3', table: 'input', address: 4, type: 'float32', order: 'ABCD', unit: 'V', value: (t) => phaseVoltage(t, 2) },
        { id: 'current_l1', table: 'input', address: 6, type: 'float32', order: 'ABCD', unit: 'A', value: (t) => phaseCurrent(t, 0) },
        { id: 'current_l2', table: 'input', address: 8, type: 'float32', order: 'ABCD', unit: 'A', value: (t) => phaseCurrent(t, 1) },
        { id: 'current_l3', table: 'input', address: 10, type: 'float32', order: 'ABCD', unit: 'A', value: (t) => phaseCurrent(t, 2) },
        { id: 'power_total', table: 'input', address: 12, type: 'float32', order: 'ABCD', unit: 'W', value: totalPowerW },
        { id: 'frequency', table: 'input', address: 70, type: 'float32', order: 'ABCD', unit: 'Hz', value: gridFrequency },
        { id: 'import_total', table: 'input', address: 342, type: 'float32', order: 'ABCD', unit: 'kWh', value: importKwh },
      ],
    },
    {
      unitId: 4,
      name: 'river level station',
      points: [
        { id: 'level', table: 'holding', address: 0, type: 'int16', order: 'ABCD', unit: 'cm', value: (t) => Math.round(riverLevelCm(t)) },
        { id: 'water_temp', table: 'holding', address: 1, type: 'int16', order: 'ABCD', unit: '0.1 °C', value: (t) => Math.round(waterTempC(t) * 10) },
        { id: 'turbidity', table: 'holding', address: 2, type: 'float32', order: 'CDAB', unit: 'NTU', value: turbidityNtu },
        // The pump drains the wet well whenever the river is high.
        { id: 'pump_on', table: 'coil', address: 0, type: 'bool', order: 'ABCD', writable: true, value: (t) => riverLevelCm(t) > 200 },
        { id: 'door_open', table: 'discrete', address: 0, type: 'bool', order: 'ABCD', value: doorOpen },
      ],
    },
  ];
}
