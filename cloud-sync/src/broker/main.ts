import { Command, InvalidArgumentError } from 'commander';
import { startEmbeddedBroker } from './embedded.ts';

const port = (v: string): number => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new InvalidArgumentError('a TCP port 0..65535 (0: a free one)');
  return n;
};
const program = new Command('kedge-broker')
  .description('embedded aedes MQTT broker for development and tests')
  .option('-p, --port <port>', 'TCP port (0: a free one)', port, 1883)
  .option('-H, --host <host>', 'address to listen on', '127.0.0.1')
  .option('-v, --verbose', 'log clients and publishes', false)
  // Usage errors exit 2, as before the move to commander.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
program.parse();
const values = program.opts<{ port: number; host: string; verbose: boolean }>();

const b = await startEmbeddedBroker({ port: values.port, host: values.host });
console.log(`broker listening on mqtt://${values.host}:${b.port}`);

if (values.verbose) {
  b.broker.on('client', (c) => console.log(`client connected: ${c.id}`));
  b.broker.on('clientDisconnect', (c) => console.log(`client disconnected: ${c.id}`));
  b.broker.on('publish', (p, c) => {
    if (c) console.log(`publish ${p.topic} qos${p.qos} ${p.payload.length}B from ${c.id}`);
  });
}

let stopping = false;
const shutdown = (sig: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  console.log(`${sig}: closing broker`);
  b.close().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error('close failed:', err);
      process.exit(1);
    },
  );
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
