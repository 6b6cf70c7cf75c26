/**
 * Test support: a node on mock boards with channels whose calibrations give round numbers,
 * so assertions can be exact.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ioBoard } from './board-link.ts';
import type { ChannelSet } from './channels/types.ts';
import { MockBoardIo, analogIndex } from './mock-board.ts';
import { SensorNode, type SensorNodeOptions } from './node.ts';
import type { AnalogChannelId } from './register-map.ts';

export const TEST_CHANNELS: ChannelSet = {
  analog: [
    { id: 'water_level', kind: 'analog', pin: 'A0', unit: 'm', calibration: { kind: 'two-point', raw: [0, 1000], value: [0, 10] }, filter: { kind: 'median', window: 3 }, validRange: { min: 0, max: 10 } },
    { id: 'water_temperature', kind: 'analog', pin: 'A1', unit: '°C', calibration: { kind: 'polynomial', coefficients: [-10, 0.125] }, filter: { kind: 'mean', window: 2 }, validRange: { min: -5, max: 40 } },
    { id: 'turbidity', kind: 'analog', pin: 'A2', unit: 'NTU', calibration: { kind: 'two-point', raw: [0, 1000], value: [0, 1000] }, filter: { kind: 'median', window: 3 }, validRange: { min: 0, max: 1000 } },
    { id: 'battery_voltage', kind: 'analog', pin: 'A3', unit: 'V', calibration: { kind: 'two-point', raw: [0, 1000], value: [0, 20] }, filter: { kind: 'mean', window: 1 }, validRange: { min: 9, max: 15 } },
  ],
  door: { id: 'door_open', kind: 'digital', pin: 2, contact: 'NO' },
};

/** Raw counts per channel; the feeder sends them every few ms like Firmata's analog reporting. */
export type RawInputs = Record<AnalogChannelId, number>;

export interface MockRig {
  node: SensorNode;
  settingsFile: string;
  /** Every mock io the node asked for, in order (one per connection attempt). */
  ios: MockBoardIo[];
  inputs: RawInputs;
  /** Door contact level (NO contact: 0 closed = door shut, 1 open). */
  door: 0 | 1;
  feeding: boolean;
  stop(): void;
}

export interface RigOptions extends Partial<Omit<SensorNodeOptions, 'board' | 'channels' | 'settingsFile'>> {
  settingsFile?: string;
  samplingPeriodMs?: number;
  /** Return false to make attempt n (0-based) never become ready. */
  bringUp?: (attempt: number) => boolean;
}

export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'kedge-fw-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function startMockRig(opts: RigOptions = {}): MockRig {
  const tmp = opts.settingsFile ? undefined : tempDir();
  const settingsFile = opts.settingsFile ?? path.join(tmp!.dir, 'node.json');
  if (!opts.settingsFile) writeFileSync(settingsFile, JSON.stringify({ samplingPeriodMs: opts.samplingPeriodMs ?? 100, calibration: {}, bootCount: 0 }));
  const ios: MockBoardIo[] = [];
  const rig: MockRig = {
    node: undefined as unknown as SensorNode,
    settingsFile,
    ios,
    inputs: { water_level: 500, water_temperature: 200, turbidity: 300, battery_voltage: 600 },
    door: 0,
    feeding: true,
    stop() {
      clearInterval(feeder);
      rig.node.stop();
      tmp?.remove();
    },
  };
  rig.node = new SensorNode({
    channels: TEST_CHANNELS,
    settingsFile,
    readyTimeoutMs: 300,
    backoff: { minMs: 50, maxMs: 200 },
    // Silence detection only where a test asks for it: a loaded CI machine can pause the feeder.
    noDataPeriods: 50,
    ...opts,
    board: ioBoard(() => {
      const io = new MockBoardIo();
      const attempt = ios.length;
      ios.push(io);
      if (opts.bringUp?.(attempt) ?? true) setImmediate(() => io.bringUp());
      return io;
    }),
  });
  const feeder = setInterval(() => {
    const io = ios.at(-1);
    if (!rig.feeding || !io?.isReady) return;
    for (const ch of TEST_CHANNELS.analog) io.feedAnalog(analogIndex(ch.pin), rig.inputs[ch.id]);
    io.feedDigital(TEST_CHANNELS.door.pin, rig.door);
  }, 20);
  return rig;
}
