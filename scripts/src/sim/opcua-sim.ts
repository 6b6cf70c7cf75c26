/**
 * The OPC UA river station by hand: `node --import tsx scripts/src/sim/opcua-sim.ts --port 4840`.
 * The simulator itself is @kedge/testkit/sim/opcua-sim.ts.
 */
import { fileURLToPath } from 'node:url';
import { startOpcuaSim } from '@kedge/testkit/sim/opcua-sim.ts';

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { Command } = await import('commander');
  const o = new Command('opcua-sim')
    .description('simulated OPC UA river station (anonymous, all security modes)')
    .option('--port <port>', 'TCP port on 127.0.0.1', (v) => Number.parseInt(v, 10), 4840)
    .option('--user <user:password>', 'accept this user (repeatable)', (v, acc: string[]) => [...acc, v], [])
    .parse()
    .opts<{ port: number; user: string[] }>();
  const sim = await startOpcuaSim({
    port: o.port,
    users: o.user.map((u) => {
      const i = u.indexOf(':');
      return { username: u.slice(0, i), password: u.slice(i + 1) };
    }),
    allowAnonymous: true,
  });
  process.stdout.write(`opcua-sim listening on ${sim.endpointUrl} (variables under ns=1;s=RiverStation)\n`);
  const stop = () => void sim.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
