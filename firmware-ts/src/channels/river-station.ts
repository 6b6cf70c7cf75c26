import type { ChannelSet } from './types.ts';

/**
 * Channels of the Uskat river station node (Arduino Uno class board, 10-bit ADC, 0..1023).
 *
 * - water level: 4..20 mA ultrasonic transmitter over a 250 ohm shunt (1..5 V), 0..10 m.
 *   Below ~3.8 mA the loop is broken, which the valid range turns into a fault.
 * - water temperature: thermistor divider, a cubic fitted on the bench.
 * - turbidity: analog turbidity probe, 0..1000 NTU.
 * - battery: 1:5 divider on the 12 V lead-acid battery; outside 9..15 V something is wrong.
 * - door: reed contact, closed while the enclosure door is shut.
 */
export const RIVER_STATION: ChannelSet = {
  analog: [
    {
      id: 'water_level',
      kind: 'analog',
      pin: 'A0',
      unit: 'm',
      calibration: { kind: 'two-point', raw: [204.6, 1023], value: [0, 10] },
      filter: { kind: 'median', window: 5 },
      validRange: { min: -0.2, max: 10.2 },
    },
    {
      id: 'water_temperature',
      kind: 'analog',
      pin: 'A1',
      unit: '°C',
      calibration: { kind: 'polynomial', coefficients: [-40, 0.2, -4e-5, 1e-8] },
      filter: { kind: 'mean', window: 8 },
      validRange: { min: -5, max: 40 },
    },
    {
      id: 'turbidity',
      kind: 'analog',
      pin: 'A2',
      unit: 'NTU',
      calibration: { kind: 'two-point', raw: [0, 1000], value: [0, 1000] },
      filter: { kind: 'median', window: 5 },
      validRange: { min: 0, max: 1000 },
    },
    {
      id: 'battery_voltage',
      kind: 'analog',
      pin: 'A3',
      unit: 'V',
      calibration: { kind: 'two-point', raw: [0, 1023], value: [0, 25] },
      filter: { kind: 'mean', window: 4 },
      validRange: { min: 9, max: 15 },
    },
  ],
  door: { id: 'door_open', kind: 'digital', pin: 2, contact: 'NO' },
};
