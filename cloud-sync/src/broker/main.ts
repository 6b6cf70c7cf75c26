import { parseArgs } from 'node:util';
import { startEmbeddedBroker } from './embedded.ts';

const USAGE = 'usage: node --import tsx cloud-sync/src/broker/main.ts [--port 1883] [--host 127.0.0.1] [--verbose]';

const { values } = parseArgs({
  options: {
    port: { type: 'string', short: 'p', default: '1883' },
    host: { type: 'string', short: 'H', default: '127.0.0.1' },
    verbose: { type: 'boolean', short: 'v', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid --port ${values.port}\n${USAGE}`);
  process.exit(2);
}

const b = await startEmbeddedBroker({ port, host: values.host });
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
