/**
 * A farm of simulated Modbus TCP devices for the benchmark, run as its own process so its CPU
 * is not counted against the gateway's. ONE TCP server per device (100 devices = 100 ports):
 * closer to 100 field devices than 100 unit ids behind one port, and it exercises the
 * gateway's 100 connections. Each device holds `registers` holding registers whose values
 * move on every read (so the deadband-free pipeline logs every tag).
 *
 *   node --import tsx scripts/src/bench/modbus-farm.ts --devices 100 --registers 100
 *
 * prints `FARM READY ports=<p1,p2,...>` once every server listens, then `requests <total> <epoch ms> <registers>`
 * every 250 ms: the number of read requests served so far, for requests-per-cycle, and of
 * registers served (the readings polled, counted where the devices are).
 */
import { Command } from 'commander';
import { ServerTCP, type IServiceVector } from 'modbus-serial';
import { freePort } from '@kedge/testkit/ports.ts';
import { intArg, usageExit } from '../cli-args.ts';

const program = usageExit(
  new Command('modbus-farm')
    .description('many Modbus TCP devices on free ports (benchmarks)')
    .option('--devices <n>', 'devices, one port each', intArg(1), 100)
    .option('--registers <n>', 'holding registers per device', intArg(1, 65536), 100),
);
program.parse();
const { devices, registers } = program.opts<{ devices: number; registers: number }>();
let requests = 0;
let registersServed = 0;

function read(device: number, addr: number, length: number): number[] {
  if (addr + length > registers) throw Object.assign(new Error('illegal address'), { modbusErrorCode: 2 });
  requests++;
  registersServed += length;
  const t = Date.now();
  const out = new Array<number>(length);
  // Meter-like slow drift plus per-register offset; changes every read at 1 s and faster polls.
  for (let i = 0; i < length; i++) out[i] = (Math.floor(t / 7) + (addr + i) * 131 + device * 17) & 0xffff;
  return out;
}

const servers: ServerTCP[] = [];
const ports: number[] = [];
for (let d = 0; d < devices; d++) {
  const port = await freePort();
  const vector: IServiceVector = {
    getHoldingRegister: (addr: number) => read(d, addr, 1)[0] as number,
    getMultipleHoldingRegisters: (addr: number, length: number) => read(d, addr, length),
    getInputRegister: (addr: number) => read(d, addr, 1)[0] as number,
    getMultipleInputRegisters: (addr: number, length: number) => read(d, addr, length),
    getCoil: () => false,
    getDiscreteInput: () => false,
  };
  const server = new ServerTCP(vector, { host: '127.0.0.1', port, unitID: 255 });
  await new Promise<void>((resolve, reject) => {
    server.once('initialized', () => resolve());
    server.once('serverError', (err: Error | null) => reject(err ?? new Error(`farm: port ${port} failed`)));
  });
  server.on('error', () => {});
  server.on('socketError', () => {});
  servers.push(server);
  ports.push(port);
}
console.log(`FARM READY ports=${ports.join(',')}`);
setInterval(() => console.log(`requests ${requests} ${Date.now()} ${registersServed}`), 250);

const stop = () => {
  for (const s of servers) s.close(() => {});
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
