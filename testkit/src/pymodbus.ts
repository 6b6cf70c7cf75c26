import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.ts';
import { startProcess } from './proc.ts';

/** Debian's interpreter: the pyenv python3 on PATH cannot import Debian's python3-pymodbus. */
export const SYSTEM_PYTHON = '/usr/bin/python3';
export const PYMODBUS_SERVER_SCRIPT = fileURLToPath(new URL('./pymodbus_server.py', import.meta.url));

/** 0-based protocol addresses mapped to 16-bit register values or bits. */
export interface RegisterImage {
  holding?: Record<number, number>;
  input?: Record<number, number>;
  coils?: Record<number, boolean>;
  discrete?: Record<number, boolean>;
  /**
   * Unit ids to answer, each with its own copy of the image. pymodbus 3.0 silently drops
   * requests for other ids (the client times out). Without it any unit id is served from
   * one shared store.
   */
  units?: number[];
  /** Only addresses present in the image answer, others get exception 0x02. Default false: 0..65535 all read as 0. */
  sparse?: boolean;
}

export interface PymodbusOptions {
  port?: number;
  host?: string;
  image: RegisterImage;
}

export interface PymodbusHandle {
  port: number;
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

export async function startPymodbus(opts: PymodbusOptions): Promise<PymodbusHandle> {
  const port = opts.port ?? (await freePort());
  const host = opts.host ?? '127.0.0.1';
  // A file rather than argv: a full 64k-register image would exceed the argument size limit.
  const dir = await mkdtemp(path.join(tmpdir(), 'kedge-pymodbus-'));
  const imageFile = path.join(dir, 'image.json');
  await writeFile(imageFile, JSON.stringify(opts.image));
  let proc;
  try {
    proc = await startProcess(
      SYSTEM_PYTHON,
      [PYMODBUS_SERVER_SCRIPT, '--host', host, '--port', String(port), '--image-file', imageFile],
      {
        name: `pymodbus:${port}`,
        readyLine: /pymodbus server listening on/,
        readyPort: port,
        readyHost: host,
        // Python's stdout is block-buffered on a pipe; the script flushes, this is belt and braces.
        env: { ...process.env, PYTHONUNBUFFERED: '1' },
        timeoutMs: 20_000,
      },
    );
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  // The script has read the image before printing its ready line.
  await rm(dir, { recursive: true, force: true });
  const p = proc;
  return {
    port,
    pid: p.pid,
    output: () => p.output(),
    stop: () => p.stop(),
  };
}

export interface PymodbusSerialOptions {
  /** Serial device the server opens, e.g. one end of a socat pair. */
  device: string;
  baudRate?: number;
  parity?: 'none' | 'even' | 'odd';
  image: RegisterImage;
}

export interface PymodbusSerialHandle {
  device: string;
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

/** pymodbus as a Modbus RTU slave on a serial device; unit ids outside `image.units` stay silent. */
export async function startPymodbusSerial(opts: PymodbusSerialOptions): Promise<PymodbusSerialHandle> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kedge-pymodbus-'));
  const imageFile = path.join(dir, 'image.json');
  await writeFile(imageFile, JSON.stringify(opts.image));
  const parity = { none: 'N', even: 'E', odd: 'O' }[opts.parity ?? 'none'];
  try {
    const p = await startProcess(
      SYSTEM_PYTHON,
      [PYMODBUS_SERVER_SCRIPT, '--serial', opts.device, '--baudrate', String(opts.baudRate ?? 9600), '--parity', parity, '--image-file', imageFile],
      {
        name: `pymodbus:${opts.device}`,
        readyLine: /pymodbus server listening on/,
        env: { ...process.env, PYTHONUNBUFFERED: '1' },
        timeoutMs: 20_000,
      },
    );
    return { device: opts.device, pid: p.pid, output: () => p.output(), stop: () => p.stop() };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
