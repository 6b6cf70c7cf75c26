#!/usr/bin/env node
/**
 * The sensor node firmware:
 *   node --import tsx firmware-ts/src/main.ts --serial /dev/ttyUSB0 --board /dev/ttyACM0 --unit 7 --settings ./node-settings.json
 * --mock-board replaces the Firmata board by mock-firmata fed with plausible river readings.
 */
import { Command, InvalidArgumentError } from 'commander';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { ioBoard, serialBoard, type BoardFactory } from './board-link.ts';
import { RIVER_STATION } from './channels/river-station.ts';
import { MockBoardIo, startDemoSignals } from './mock-board.ts';
import { startRtuSlave, type RtuSlave } from './modbus-slave.ts';
import { SensorNode } from './node.ts';
import { FIRMWARE_VERSION } from './version.ts';

function integer(name: string, min: number, max: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a whole number ${min}..${max} (got "${text}")`);
    return n;
  };
}

const version = `${FIRMWARE_VERSION.major}.${FIRMWARE_VERSION.minor}.${FIRMWARE_VERSION.patch}`;
const program = new Command('kedge-sensor-node')
  .description('kedge sensor node: reads river-station sensors through johnny-five and serves them as a Modbus RTU slave')
  .version(version)
  .requiredOption('--serial <path>', 'RS-485 serial port the gateway polls (e.g. /dev/ttyUSB0)')
  .option('--baud <rate>', 'baud rate of the RS-485 line', integer('--baud', 1200, 115_200), 9600)
  .option('--parity <parity>', 'none, even or odd', 'none')
  .option('--unit <id>', 'Modbus unit id of this node', integer('--unit', 1, 247), 1)
  .option('--board <path>', 'serial port of the Firmata board (e.g. /dev/ttyACM0)')
  .option('--mock-board', 'use a simulated board (mock-firmata) instead of hardware')
  .option('--settings <file>', 'settings file (sampling period, calibration, boot counter)', './node-settings.json')
  .option('--log-level <level>', 'pino log level', process.env.LOG_LEVEL ?? 'info');
program.parse();
const opts = program.opts<{
  serial: string;
  baud: number;
  parity: string;
  unit: number;
  board?: string;
  mockBoard?: boolean;
  settings: string;
  logLevel: string;
}>();

if (!['none', 'even', 'odd'].includes(opts.parity)) program.error(`--parity must be none, even or odd (got "${opts.parity}")`);
if (!opts.board === !opts.mockBoard) program.error('give exactly one of --board <path> or --mock-board');

const logger = pino({ name: 'kedge-sensor-node', level: opts.logLevel });
const log = (message: string) => logger.info(message);

let stopDemo = () => {};
const board: BoardFactory = opts.mockBoard
  ? ioBoard(() => {
      const io = new MockBoardIo();
      setImmediate(() => {
        io.bringUp();
        stopDemo();
        stopDemo = startDemoSignals(io, RIVER_STATION);
      });
      return io;
    })
  : serialBoard(opts.board!, 10_000);

const node = new SensorNode({ channels: RIVER_STATION, settingsFile: resolve(opts.settings), board, log });
node.start();
logger.info({ version, boot: node.settings.bootCount, samplingPeriodMs: node.settings.samplingPeriodMs }, 'sensor node started');

let slave: RtuSlave;
try {
  slave = await startRtuSlave({
    path: opts.serial,
    unitId: opts.unit,
    baudRate: opts.baud,
    parity: opts.parity as 'none' | 'even' | 'odd',
    backend: node,
    log: (m) => logger.warn(m),
  });
} catch (err) {
  logger.fatal((err as Error).message);
  node.stop();
  stopDemo();
  process.exit(1);
}
logger.info({ serial: opts.serial, unit: opts.unit, baud: opts.baud }, 'Modbus RTU slave listening');

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  stopDemo();
  node.stop();
  await slave.close();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
