/**
 * Device profiles served as simulated devices with plausible, changing values: Modbus TCP
 * (modbus-tcp-sim.ts's server), Modbus RTU (modbus-serial's ServerSerial on a serial device,
 * one end of a socat pair in tests) or OPC UA (opcua-sim.ts; every point becomes
 * `ns=1;s=u<unit>_<point>`). Profiles come in loaded (the caller reads them with
 * device-profiles' loadProfile); the command line is scripts/src/sim/profile-sim.ts.
 */
import { ServerSerial } from 'modbus-serial';
import type { SimMeter } from './meters.ts';
import { createSimVector, startModbusSim } from './modbus-tcp-sim.ts';
import type { OpcuaSimDataType, OpcuaSimVariable } from './opcua-sim.ts';
import { engineeringValue, metersFromProfiles, rawValue, type ProfileUnit, type SimProfilePoint } from './profile-meters.ts';

export { metersFromProfiles, type ProfileUnit, type SimProfile, type SimProfilePoint } from './profile-meters.ts';

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

const OPCUA_TYPES: Record<SimProfilePoint['type'], OpcuaSimDataType> = {
  bool: 'Boolean', bit: 'Boolean', int16: 'Int16', uint16: 'UInt16', int32: 'Int32', uint32: 'UInt32',
  float32: 'Float', int64: 'Int64', uint64: 'UInt64', float64: 'Double', string: 'String',
};

function opcuaVariables(units: ProfileUnit[]): OpcuaSimVariable[] {
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
        ...(p.writable !== undefined ? { writable: p.writable } : {}),
      };
    }),
  );
}

export async function startProfileSim(units: ProfileUnit[], target: ProfileSimTarget): Promise<ProfileSim> {
  const meters = metersFromProfiles(units);
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
      const sim = await startOpcuaSim({ variables: opcuaVariables(units), folder: 'Profiles', ...(target.port ? { port: target.port } : {}) });
      return { meters, where: sim.endpointUrl, port: sim.port, endpointUrl: sim.endpointUrl, close: () => sim.stop() };
    }
  }
}
