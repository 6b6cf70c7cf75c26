#!/usr/bin/env node
import { Command } from 'commander';
import { pino } from 'pino';
import { codecByName } from '../codec/index.ts';
import { IngestConsumer } from './consumer.ts';
import { IngestStore } from './store.ts';
import { formatSummary } from './report.ts';

const program = new Command('kedge-ingest')
  .description('Center-side ingest: subscribes to every gateway, stores batches once, reports sequence gaps')
  .option('--url <url>', 'MQTT broker URL', process.env.KEDGE_INGEST_URL ?? 'mqtt://127.0.0.1:1883')
  .option('--db <path>', 'SQLite file for the center store', process.env.KEDGE_INGEST_DB ?? './data/center.db')
  .option('--prefix <prefix>', 'topic prefix', 'kedge/v1')
  .option('--client-id <id>', 'MQTT client id (fixed, for a persistent session)', 'kedge-ingest')
  .option('--codec <name>', 'payload codec', 'json')
  .option('--report-every <seconds>', 'print a summary this often (0 = never)', '5')
  .option('--log-level <level>', 'pino log level', process.env.LOG_LEVEL ?? 'info');

program.parse();
const opts = program.opts<{ url: string; db: string; prefix: string; clientId: string; codec: string; reportEvery: string; logLevel: string }>();
const logger = pino({ name: 'ingest', level: opts.logLevel });
const store = new IngestStore(opts.db);
const consumer = new IngestConsumer({
  url: opts.url,
  clientId: opts.clientId,
  prefix: opts.prefix,
  store,
  codec: codecByName(opts.codec),
  logger,
});

const reportEvery = Number(opts.reportEvery);
let timer: NodeJS.Timeout | null = null;
if (reportEvery > 0) {
  timer = setInterval(() => process.stdout.write(formatSummary(store, consumer.counters) + '\n'), reportEvery * 1000);
}

async function shutdown(signal: string): Promise<void> {
  logger.info({ signal }, 'ingest stopping');
  if (timer) clearInterval(timer);
  await consumer.stop();
  store.close();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

consumer.start().catch((err: Error) => {
  logger.error({ err: err.message }, 'ingest could not connect');
});
