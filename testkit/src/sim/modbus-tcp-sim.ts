/**
 * Modbus TCP simulator of a few municipal meters, all behind ONE port and told apart by
 * unit id (as behind a Modbus TCP gateway in a real pump station).
 *
 * modbus-serial's ServerTCP has a single `unitID` option that filters requests before the
 * vector sees them (anything but 255 drops other ids silently, and 0 is treated as "unset").
 * So it runs with 255 (accept all) and every vector function routes on the `unitID`
 * argument it receives. A vector signals a Modbus exception by throwing an object with a
 * numeric `modbusErrorCode`; anything else thrown becomes exception 4 (server failure).
 */
import { ServerTCP, type IServiceVector } from 'modbus-serial';
import { freePort } from '../ports.ts';
import { defaultMeters, type SimMeter, type SimPoint } from './meters.ts';
import { encodePoint, registerWidth, type SimTable as ModbusTable } from './registers.ts';

export type { SimMeter, SimPoint } from './meters.ts';
export { defaultMeters } from './meters.ts';

export const ILLEGAL_DATA_ADDRESS = 0x02;

export interface ModbusSimOptions {
  /** Default: a free port. (ServerTCP turns port 0 into 502, so 0 is treated as "pick one".) */
  port?: number;
  host?: string;
  meters?: SimMeter[];
  /** ms since the epoch; injectable so tests can pin the simulated time. */
  clock?: () => number;
}

export interface ModbusSim {
  port: number;
  host: string;
  meters: SimMeter[];
  close(): Promise<void>;
}

/** The shape ServerTCP inspects: `modbusErrorCode` becomes the exception code on the wire. */
class ModbusException extends Error {
  constructor(
    readonly modbusErrorCode: number,
    message: string,
  ) {
    super(message);
  }
}

const illegalAddress = (msg: string) => new ModbusException(ILLEGAL_DATA_ADDRESS, msg);

interface Slot {
  point: SimPoint;
  /** Register (or bit) index inside the point. */
  offset: number;
}

/** Per unit and table: address -> the point covering it. */
type AddressIndex = Map<number, Map<ModbusTable, Map<number, Slot>>>;

function buildIndex(meters: SimMeter[]): AddressIndex {
  const index: AddressIndex = new Map();
  for (const meter of meters) {
    if (index.has(meter.unitId)) throw new Error(`duplicate simulated unit id ${meter.unitId}`);
    const tables = new Map<ModbusTable, Map<number, Slot>>();
    index.set(meter.unitId, tables);
    for (const point of meter.points) {
      let slots = tables.get(point.table);
      if (!slots) tables.set(point.table, (slots = new Map()));
      const width = point.table === 'coil' || point.table === 'discrete' ? 1 : registerWidth(point);
      for (let offset = 0; offset < width; offset++) {
        const addr = point.address + offset;
        const clash = slots.get(addr);
        if (clash) throw new Error(`unit ${meter.unitId} ${point.table} ${addr}: ${point.id} overlaps ${clash.point.id}`);
        slots.set(addr, { point, offset });
      }
    }
  }
  return index;
}

/**
 * The register image of `meters` as modbus-serial's service vector, routed on unit id: shared
 * by this TCP server and the RTU (ServerSerial) mode of profile-sim.ts (the RTU mode).
 */
export function createSimVector(meters: SimMeter[], clock: () => number = Date.now): IServiceVector {
  const index = buildIndex(meters);
  const fillGaps = new Set(meters.filter((m) => m.fillGaps).map((m) => m.unitId));
  const lastAddr = (slots: Map<number, Slot>) => Math.max(...slots.keys());
  // Values written by clients; they win over the computed value until the simulator stops.
  const overrides = new Map<string, number>();
  const key = (unit: number, table: ModbusTable, addr: number) => `${unit}/${table}/${addr}`;

  const slotsFor = (unitID: number, table: ModbusTable) => {
    const tables = index.get(unitID);
    if (!tables) throw illegalAddress(`no simulated unit ${unitID}`);
    return tables.get(table) ?? new Map<number, Slot>();
  };

  /**
   * All words of one request come from a single clock reading, so a multi-register value is
   * never torn between two instants.
   */
  const readWords = (unitID: number, table: ModbusTable, addr: number, count: number): number[] => {
    const slots = slotsFor(unitID, table);
    const t = clock();
    const encoded = new Map<SimPoint, number[]>();
    const words: number[] = [];
    for (let a = addr; a < addr + count; a++) {
      const over = overrides.get(key(unitID, table, a));
      if (over !== undefined) {
        words.push(over);
        continue;
      }
      const slot = slots.get(a);
      if (!slot) {
        if (!fillGaps.has(unitID) || !slots.has(addr) || a > lastAddr(slots)) throw illegalAddress(`unit ${unitID} has no ${table} ${a}`);
        words.push(0);
        continue;
      }
      let regs = encoded.get(slot.point);
      if (!regs) encoded.set(slot.point, (regs = encodePoint(slot.point, slot.point.value(t))));
      words.push(regs[slot.offset] ?? 0);
    }
    return words;
  };

  const write = (unitID: number, table: ModbusTable, addr: number, words: number[]) => {
    const slots = slotsFor(unitID, table);
    for (let i = 0; i < words.length; i++) {
      const slot = slots.get(addr + i);
      if (!slot?.point.writable) throw illegalAddress(`unit ${unitID} ${table} ${addr + i} is not writable`);
    }
    words.forEach((w, i) => overrides.set(key(unitID, table, addr + i), w));
  };

  // Sync functions only: ServerTCP picks callback style by arity, and its callback-style
  // multi-register path mishandles errors. Both single and multi readers are needed, since
  // the multi one is only consulted for count > 1.
  const vector: IServiceVector = {
    getHoldingRegister: (addr: number, unitID: number) => readWords(unitID, 'holding', addr, 1)[0] as number,
    getMultipleHoldingRegisters: (addr: number, length: number, unitID: number) => readWords(unitID, 'holding', addr, length),
    getInputRegister: (addr: number, unitID: number) => readWords(unitID, 'input', addr, 1)[0] as number,
    getMultipleInputRegisters: (addr: number, length: number, unitID: number) => readWords(unitID, 'input', addr, length),
    getCoil: (addr: number, unitID: number) => readWords(unitID, 'coil', addr, 1)[0] === 1,
    getDiscreteInput: (addr: number, unitID: number) => readWords(unitID, 'discrete', addr, 1)[0] === 1,
    setCoil: (addr: number, value: boolean, unitID: number) => write(unitID, 'coil', addr, [value ? 1 : 0]),
    setRegister: (addr: number, value: number, unitID: number) => write(unitID, 'holding', addr, [value]),
    setRegisterArray: (addr: number, value: number[], unitID: number) => write(unitID, 'holding', addr, value),
  };
  return vector;
}

export async function startModbusSim(opts: ModbusSimOptions = {}): Promise<ModbusSim> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port || (await freePort());
  const meters = opts.meters ?? defaultMeters();
  const vector = createSimVector(meters, opts.clock ?? Date.now);

  const server = new ServerTCP(vector, { host, port, unitID: 255 });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error | null) => reject(err ?? new Error('modbus sim: server error'));
    server.once('serverError', onError);
    server.once('initialized', () => {
      server.off('serverError', onError);
      resolve();
    });
  });
  // ServerTCP emits 'error' for socket write failures; unhandled it would crash the process.
  server.on('error', () => {});
  server.on('socketError', () => {});

  let closing: Promise<void> | undefined;
  return {
    port,
    host,
    meters,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
      })),
  };
}
