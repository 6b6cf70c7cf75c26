/**
 * `npm run sim`: the Modbus TCP simulator of the default meters on a fixed port. The simulator
 * itself (register image, unit routing, client writes) is @kedge/testkit/sim/modbus-tcp-sim.ts.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { startModbusSim } from '@kedge/testkit/sim/modbus-tcp-sim.ts';
import { portArg, usageExit } from '../cli-args.ts';

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const program = usageExit(
    new Command('modbus-tcp-sim')
      .description('Modbus TCP simulator of the default meters')
      .option('-p, --port <port>', 'TCP port', portArg(1), 5020)
      .option('-H, --host <host>', 'address to listen on', '127.0.0.1'),
  );
  program.parse();
  const values = program.opts<{ port: number; host: string }>();
  const sim = await startModbusSim({ port: values.port, host: values.host });
  console.log(`modbus sim listening on ${sim.host}:${sim.port} (units ${sim.meters.map((m) => m.unitId).join(',')})`);
  const shutdown = () => {
    void sim.close().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

if (isMain()) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
