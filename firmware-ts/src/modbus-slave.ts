/**
 * The node as a Modbus RTU slave: modbus-serial's ServerSerial serving REGISTER_MAP.
 *
 * Reads: float32 ABCD, uint16, uint32; one snapshot per request so the two words of a float
 * never come from different samples. Unused addresses inside the map read as 0 (so a gateway
 * may coalesce reads over gaps); addresses past the end get exception 02.
 * Writes (FC 6, FC 16) go to writable holding registers only, whole values only, all checked
 * before any is applied: unmapped address -> 02; value out of range, not a whole number, or
 * half of a float32 -> 03; settings file cannot be written -> 04.
 *
 * CRC: ServerSerial overwrites the CRC of every received frame with a freshly computed one
 * before parsing it (modbus-serial 8.0.25 servers/serverserial.js), so it never rejects a
 * corrupted frame; on a noisy RS-485 line that would let garbage become a write. We sit
 * between its frame splitter and its parser, drop bad-CRC frames and count them (input
 * register crc_errors).
 */
import type { Transform } from 'node:stream';
import { ServerSerial, type IServiceVector } from 'modbus-serial';
import { frameCrcOk } from './crc16.ts';
import { InvalidWriteError, type RegisterBackend, type RegisterWrite } from './node.ts';
import { REGISTER_MAP, wordCount, type MapTable, type RegisterDef } from './register-map.ts';

/** Thrown into modbus-serial, which answers with exception `modbusErrorCode`. */
export class ModbusException extends Error {
  override readonly name = 'ModbusException';
  constructor(
    readonly modbusErrorCode: 1 | 2 | 3 | 4,
    message: string,
  ) {
    super(message);
  }
}

interface Cell {
  def: RegisterDef;
  /** Which word of the value this address holds (0 = first). */
  word: number;
}

interface Layout {
  cells: Map<number, Cell>;
  /** First address past the map. */
  end: number;
}

function layout(table: MapTable): Layout {
  const cells = new Map<number, Cell>();
  let end = 0;
  for (const def of REGISTER_MAP) {
    if (def.table !== table) continue;
    for (let w = 0; w < wordCount(def.type); w++) cells.set(def.address + w, { def, word: w });
    end = Math.max(end, def.address + wordCount(def.type));
  }
  return { cells, end };
}

const LAYOUTS: Record<MapTable, Layout> = { input: layout('input'), holding: layout('holding') };

/** Words of one value; NaN in an integer register reads as all ones ("no value"). */
export function encodeWords(def: RegisterDef, value: number): number[] {
  const buf = Buffer.alloc(4);
  switch (def.type) {
    case 'float32':
      buf.writeFloatBE(value);
      return [buf.readUInt16BE(0), buf.readUInt16BE(2)];
    case 'uint16':
      return [Number.isNaN(value) ? 0xffff : Math.min(0xffff, Math.max(0, Math.round(value)))];
    case 'uint32':
      buf.writeUInt32BE(Number.isNaN(value) ? 0xffffffff : Math.min(0xffffffff, Math.max(0, Math.round(value))));
      return [buf.readUInt16BE(0), buf.readUInt16BE(2)];
  }
}

export function decodeWords(def: RegisterDef, words: readonly number[]): number {
  const buf = Buffer.alloc(4);
  words.forEach((w, i) => buf.writeUInt16BE(w, i * 2));
  switch (def.type) {
    case 'float32':
      return buf.readFloatBE(0);
    case 'uint16':
      return words[0]!;
    case 'uint32':
      return buf.readUInt32BE(0);
  }
}

export function readRegisters(backend: RegisterBackend, table: MapTable, address: number, length: number): number[] {
  const { cells, end } = LAYOUTS[table];
  if (length < 1 || address + length > end) {
    throw new ModbusException(2, `${table} registers ${address}..${address + length - 1} are outside the map (0..${end - 1})`);
  }
  const values = backend.values(table);
  const out: number[] = [];
  for (let a = address; a < address + length; a++) {
    const cell = cells.get(a);
    out.push(cell ? encodeWords(cell.def, values.get(cell.def)!)[cell.word]! : 0);
  }
  return out;
}

export function writeRegisters(backend: RegisterBackend, address: number, words: readonly number[]): void {
  const { cells } = LAYOUTS.holding;
  const writes: RegisterWrite[] = [];
  for (let i = 0; i < words.length; ) {
    const a = address + i;
    const cell = cells.get(a);
    if (!cell || !cell.def.writable) throw new ModbusException(2, `holding register ${a} is not a writable register`);
    const { def } = cell;
    const n = wordCount(def.type);
    if (cell.word !== 0 || i + n > words.length) {
      throw new ModbusException(3, `${def.id} is a ${def.type} at ${def.address}..${def.address + n - 1}: write all ${n} registers at once (FC 16)`);
    }
    const value = decodeWords(def, words.slice(i, i + n));
    const range = def.range;
    if (!Number.isFinite(value) || (range && (value < range.min || value > range.max))) {
      throw new ModbusException(3, `${def.id} = ${value} is outside ${range?.min}..${range?.max}`);
    }
    writes.push({ def, value });
    i += n;
  }
  try {
    backend.write(writes);
  } catch (err) {
    if (err instanceof InvalidWriteError) throw new ModbusException(3, err.message);
    throw new ModbusException(4, `cannot apply ${writes.map((w) => w.def.id).join(', ')}: ${(err as Error).message}`);
  }
}

/** The callbacks ServerSerial calls; errors carry modbusErrorCode, which it turns into exceptions. */
export function serviceVector(backend: RegisterBackend, log: (message: string) => void = () => {}): IServiceVector {
  const guard = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      log(`${what}: ${(err as Error).message}`);
      throw err instanceof ModbusException ? err : new ModbusException(4, (err as Error).message);
    }
  };
  return {
    getInputRegister: (addr: number) => guard('read input', () => readRegisters(backend, 'input', addr, 1)[0]!),
    getMultipleInputRegisters: (addr: number, len: number) => guard('read input', () => readRegisters(backend, 'input', addr, len)),
    getHoldingRegister: (addr: number) => guard('read holding', () => readRegisters(backend, 'holding', addr, 1)[0]!),
    getMultipleHoldingRegisters: (addr: number, len: number) => guard('read holding', () => readRegisters(backend, 'holding', addr, len)),
    setRegister: (addr: number, value: number) => guard('write', () => writeRegisters(backend, addr, [value])),
    setRegisterArray: (addr: number, values: number[]) => guard('write', () => writeRegisters(backend, addr, values)),
  };
}

export interface RtuSlaveOptions {
  path: string;
  unitId: number;
  baudRate?: number;
  parity?: 'none' | 'even' | 'odd';
  /** Silence that ends a request frame, in ms (ServerSerial's frame splitter). */
  frameGapMs?: number;
  backend: RegisterBackend;
  log?: (message: string) => void;
}

export interface RtuSlave {
  close(): Promise<void>;
}

export function startRtuSlave(opts: RtuSlaveOptions): Promise<RtuSlave> {
  if (!Number.isInteger(opts.unitId) || opts.unitId < 1 || opts.unitId > 247) {
    return Promise.reject(new Error(`unit id must be 1..247 (got ${opts.unitId})`));
  }
  const log = opts.log ?? (() => {});
  return new Promise((resolve, reject) => {
    const server = new ServerSerial(serviceVector(opts.backend, log), {
      path: opts.path,
      baudRate: opts.baudRate ?? 9600,
      parity: opts.parity ?? 'none',
      unitID: opts.unitId,
      interval: opts.frameGapMs ?? 30,
      openCallback: (err?: Error | null) => {
        if (err) reject(new Error(`cannot open ${opts.path}: ${err.message}`));
      },
    } as ConstructorParameters<typeof ServerSerial>[1]);
    interposeCrcCheck(server, () => opts.backend.frameRejected());
    server.on('socketError', (err: Error | null) => log(`serial error: ${err?.message}`));
    server.on('initialized', () =>
      resolve({
        close: () => new Promise<void>((done) => server.close(() => done())),
      }),
    );
  });
}

function interposeCrcCheck(server: ServerSerial, rejected: () => void): void {
  const frames = (server as unknown as { _server?: Transform })._server;
  const parse = frames?.listeners('data')[0] as ((frame: Buffer) => void) | undefined;
  if (!frames || !parse) throw new Error('modbus-serial ServerSerial internals changed: cannot install the CRC check');
  frames.removeListener('data', parse);
  frames.on('data', (frame: Buffer) => {
    if (!frameCrcOk(frame)) {
      rejected();
      return;
    }
    parse.call(frames, frame);
  });
}
