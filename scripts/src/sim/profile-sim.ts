/**
 * Serves device profiles as simulated devices with plausible, changing values:
 *
 *   node --import tsx scripts/src/sim/profile-sim.ts --profile sdm630 --unit 1 \
 *     [--profile ysi-odo-ct-probe --unit 2 ...] (--tcp 5020 | --rtu /dev/ttyV1 [--baud 9600] [--parity none] | --opcua 4840)
 *
 * The simulators are @kedge/testkit/sim/profile-sim.ts; this is their command line, which
 * loads the named profiles of device-profiles/profiles/. Each --profile pairs with the --unit
 * that follows it (default 1, 2, ...).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { loadProfile } from '@kedge/device-profiles/load.ts';
import type { Profile } from '@kedge/device-profiles/schema.ts';
import { startProfileSim as startLoadedProfileSim, type ProfileSim, type ProfileSimTarget } from '@kedge/testkit/sim/profile-sim.ts';
import { usageExit } from '../cli-args.ts';

export interface NamedProfileUnit {
  profile: Profile | string;
  unitId: number;
}

/** `units` with every profile name loaded from device-profiles/profiles/. */
export function loadUnits(units: NamedProfileUnit[]): Array<{ profile: Profile; unitId: number }> {
  return units.map((u) => ({ profile: typeof u.profile === 'string' ? loadProfile(u.profile) : u.profile, unitId: u.unitId }));
}

/** testkit's startProfileSim on profiles given by name or loaded. */
export function startProfileSim(units: NamedProfileUnit[], target: ProfileSimTarget): Promise<ProfileSim> {
  return startLoadedProfileSim(loadUnits(units), target);
}

/** Pairs each --profile with the --unit right after it, in argv order. */
export function parseUnits(argv: string[]): NamedProfileUnit[] {
  const units: NamedProfileUnit[] = [];
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
