/**
 * Serves device profiles as simulated devices with plausible, changing values:
 *
 *   node --import tsx scripts/src/sim/profile-sim.ts --profile sdm630 --unit 1 \
 *     [--profile ysi-odo-ct-probe --unit 2 ...] (--tcp 5020 | --rtu /dev/ttyV1 [--baud 9600] [--parity none] | --opcua 4840)
 *
 * Modbus TCP uses modbus-tcp-sim.ts's server, RTU modbus-serial's ServerSerial on a serial
 * device (one end of a socat pair in tests), OPC UA the OPC UA simulator (every point becomes
 * `ns=1;s=u<unit>_<point>`). Each --profile pairs with the --unit that follows it (default 1, 2, ...).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { ServerSerial } from 'modbus-serial';
import { loadProfile } from '@kedge/device-profiles/load.ts';
import type { Profile, ProfilePoint } from '@kedge/device-profiles/schema.ts';
import type { SimMeter } from './meters.ts';
import { usageExit } from '../cli-args.ts';
import { createSimVector, startModbusSim } from './modbus-tcp-sim.ts';
import { engineeringValue, metersFromProfiles, rawValue, type ProfileUnit } from './profile-meters.ts';
import type { OpcuaSimDataType, OpcuaSimVariable } from './opcua-sim.ts';

export { metersFromProfiles } from './profile-meters.ts';

export type ProfileSimTarget =
  /** `clock`: the time the simulated values follow (default wall time); tests move it by hand. */
  | { kind: 'tcp'; port?: number; host?: string; clock?: () => number }
  | { kind: 'rtu'; path: string; baudRate?: number; parity?: 'none' | 'even' | 'odd' }
  | { kind: 'opcua'; port?: number };

export interface ProfileSim {
  meters: SimMeter[];
  /** TCP/OPC UA port, or the serial device path. */
  where: string;
  port?: number;
  endpointUrl?: string;
  close(): Promise<void>;
}

/** modbus-serial's RTU slave on a serial device, answering every simulated unit id. */
export async function startRtuSim(meters: SimMeter[], path: string, baudRate = 9600, parity: 'none' | 'even' | 'odd' = 'none'): Promise<ProfileSim> {
  const vector = createSimVector(meters);
  // unitID 255 accepts every id and lets the vector route on it, as in the TCP simulator.
  const server = new ServerSerial(vector, { path, baudRate, parity, dataBits: 8, stopBits: 1, unitID: 255 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))));
    server.once('initialized', () => resolve());
  });
  server.on('error', () => {});
  server.on('socketError', () => {});
  let closing: Promise<void> | undefined;
  return {
    meters,
    where: path,
    close: () => (closing ??= new Promise<void>((resolve) => server.close(() => resolve()))),
  };
}

const OPCUA_TYPES: Record<ProfilePoint['type'], OpcuaSimDataType> = {
  bool: 'Boolean', bit: 'Boolean', int16: 'Int16', uint16: 'UInt16', int32: 'Int32', uint32: 'UInt32',
  float32: 'Float', int64: 'Int64', uint64: 'UInt64', float64: 'Double', string: 'String',
};

function opcuaVariables(units: Array<{ profile: Profile; unitId: number }>): OpcuaSimVariable[] {
  return units.flatMap(({ profile, unitId }) =>
    profile.points.map((p) => {
      // OPC UA carries engineering values: a scaled integer register (litres x 0.001 = m3)
      // is a Double there, and scale and offset are a Modbus matter.
      const scaled = (p.scale ?? 1) !== 1 || (p.offset ?? 0) !== 0;
      const native = OPCUA_TYPES[p.type];
      const type: OpcuaSimDataType = scaled && !['Float', 'Double', 'Boolean', 'String'].includes(native) ? 'Double' : native;
      return {
        name: `u${unitId}_${p.id}`,
        dataType: type,
        // Unscaled integers go through rawValue, which keeps them inside their type's range.
        value: () => {
          const v = engineeringValue(p, Date.now());
          return scaled || typeof v !== 'number' ? v : rawValue(p, v);
        },
        ...(p.unit !== undefined ? { unit: p.unit } : {}),
        writable: p.writable,
      };
    }),
  );
}

export async function startProfileSim(units: ProfileUnit[], target: ProfileSimTarget): Promise<ProfileSim> {
  const loaded = units.map((u) => ({ profile: typeof u.profile === 'string' ? loadProfile(u.profile) : u.profile, unitId: u.unitId }));
  const meters = metersFromProfiles(loaded);
  switch (target.kind) {
    case 'tcp': {
      const sim = await startModbusSim({
        meters,
        ...(target.port ? { port: target.port } : {}),
        ...(target.host ? { host: target.host } : {}),
        ...(target.clock ? { clock: target.clock } : {}),
      });
      return { meters, where: `${sim.host}:${sim.port}`, port: sim.port, close: () => sim.close() };
    }
    case 'rtu':
      return startRtuSim(meters, target.path, target.baudRate, target.parity);
    case 'opcua': {
      // Loaded on demand: node-opcua takes seconds to import and Modbus users do not need it.
      const { startOpcuaSim } = await import('./opcua-sim.ts');
      const sim = await startOpcuaSim({ variables: opcuaVariables(loaded), folder: 'Profiles', ...(target.port ? { port: target.port } : {}) });
      return { meters, where: sim.endpointUrl, port: sim.port, endpointUrl: sim.endpointUrl, close: () => sim.stop() };
    }
  }
}

/** Pairs each --profile with the --unit right after it, in argv order. */
export function parseUnits(argv: string[]): ProfileUnit[] {
  const units: ProfileUnit[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--profile' || a.startsWith('--profile=')) {
      const name = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (!name) throw new Error('--profile needs a profile name');
      units.push({ profile: name, unitId: units.length + 1 });
    } else if (a === '--unit' || a.startsWith('--unit=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      const n = Number(v);
      const last = units[units.length - 1];
      if (!last) throw new Error('--unit must follow the --profile it applies to');
      if (!Number.isInteger(n) || n < 1 || n > 247) throw new Error(`--unit must be 1..247 (got ${v})`);
      last.unitId = n;
    }
  }
  return units;
}

async function main(): Promise<void> {
  const collect = (v: string, prev: string[]) => [...prev, v];
  const program = usageExit(
    new Command('profile-sim')
      .description('simulates devices of device-profiles over Modbus TCP, Modbus RTU or OPC UA')
      .option('--profile <name>', 'a profile of device-profiles/profiles/ (repeatable: one per unit)', collect, [] as string[])
      .option('--unit <n>', 'unit id of the --profile before it', collect, [] as string[])
      .option('--tcp <port>', 'serve Modbus TCP on this port')
      .option('--host <host>', 'address for --tcp', '127.0.0.1')
      .option('--rtu <device>', 'serve Modbus RTU on this serial device')
      .option('--baud <baud>', 'baud rate for --rtu', '9600')
      .option('--parity <parity>', 'parity for --rtu: none, even or odd', 'none')
      .option('--opcua <port>', 'serve OPC UA on this port'),
  );
  program.parse();
  const values = program.opts<{ tcp?: string; host: string; rtu?: string; baud: string; parity: string; opcua?: string }>();
  const units = parseUnits(process.argv.slice(2));
  if (units.length === 0) throw new Error('give at least one --profile <name> (see device-profiles/profiles/)');
  const modes = [values.tcp, values.rtu, values.opcua].filter((v) => v !== undefined);
  if (modes.length !== 1) throw new Error('give exactly one of --tcp <port>, --rtu <serial device>, --opcua <port>');
  if (!['none', 'even', 'odd'].includes(values.parity!)) throw new Error(`--parity must be none, even or odd (got ${values.parity})`);
  const target: ProfileSimTarget =
    values.tcp !== undefined
      ? { kind: 'tcp', port: Number(values.tcp), host: values.host! }
      : values.rtu !== undefined
        ? { kind: 'rtu', path: values.rtu, baudRate: Number(values.baud), parity: values.parity as 'none' | 'even' | 'odd' }
        : { kind: 'opcua', port: Number(values.opcua) };
  const sim = await startProfileSim(units, target);
  console.log(`profile sim serving ${target.kind} on ${sim.where}: ${sim.meters.map((m) => `unit ${m.unitId} ${m.name}`).join(', ')}`);
  const shutdown = () => void sim.close().then(() => process.exit(0));
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

const entry = process.argv[1];
if (entry && realpathSync(entry) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(`profile-sim: ${(err as Error).message}`);
    process.exit(2);
  });
}
