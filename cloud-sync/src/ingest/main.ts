#!/usr/bin/env node
import { Command } from 'commander';
import type { IngestSink } from './sink.ts';

const program = new Command('kedge-ingest')
  .description('Center-side ingest: subscribes to every gateway, stores batches once, reports sequence gaps')
  .option('--url <url>', 'MQTT broker URL', process.env.KEDGE_INGEST_URL ?? 'mqtt://127.0.0.1:1883')
  .option('--db <path>', 'SQLite file for the center store (default store)', process.env.KEDGE_INGEST_DB ?? './data/center.db')
  .option('--pg <url>', 'store into PostgreSQL instead of SQLite (postgres://user@host/db)', process.env.KEDGE_INGEST_PG)
  .option('--share <group>', 'split the feed with other ingest processes of this group (MQTT 5 shared subscription)')
  .option('--prefix <prefix>', 'topic prefix', 'kedge/v1')
  .option('--client-id <id>', 'MQTT client id (fixed, for a persistent session)', 'kedge-ingest')
  .option('--report-every <seconds>', 'print a summary this often (0 = never)', '5')
  .option('--no-confirm', 'publish no kedge-ack/1 confirmations (gateways in center ack mode then keep everything: only for a second, read-only ingest)')
  .option('--log-level <level>', 'pino log level', process.env.LOG_LEVEL ?? 'info');

program.parse();
const opts = program.opts<{
  url: string;
  db: string;
  pg?: string;
  share?: string;
  prefix: string;
  clientId: string;
  confirm: boolean;
  reportEvery: string;
  logLevel: string;
}>();
// After the command line: `--help` ends in parse() without loading pino, the MQTT client and
// SQLite (~1 s of CPU through tsx), and only --pg loads the PostgreSQL store. pino's default
// export: a bundle's dynamic import of CommonJS has no named `pino`.
const [{ default: pino }, { IngestConsumer }, { formatSummary }, { IngestStore }] = await Promise.all([
  import('pino'),
  import('./consumer.ts'),
  import('./report.ts'),
  import('./store.ts'),
]);
const logger = pino({ name: 'ingest', level: opts.logLevel });
const sqlite = opts.pg ? null : new IngestStore(opts.db);
const pgStore = opts.pg ? await (await import('./pg-store.ts')).PgIngestStore.open(opts.pg, { onWarn: (msg) => logger.warn(msg) }) : null;
const store: IngestSink = (sqlite ?? pgStore)!;
const consumer = new IngestConsumer({
  url: opts.url,
  clientId: opts.clientId,
  confirm: opts.confirm,
  prefix: opts.prefix,
  store,
  logger,
  ...(opts.share ? { shareGroup: opts.share } : {}),
});

const reportEvery = Number(opts.reportEvery);
let timer: NodeJS.Timeout | null = null;
if (reportEvery > 0) {
  timer = setInterval(() => {
    const c = consumer.counters;
    process.stdout.write(
      `${sqlite ? formatSummary(sqlite, c) : `ingest: ${c.inserted} readings stored from ${c.batches} batches, ${c.duplicates} duplicates dropped, ${c.rejected} rejected`}\n`,
    );
  }, reportEvery * 1000);
}

async function shutdown(signal: string): Promise<void> {
  logger.info({ signal }, 'ingest stopping');
  if (timer) clearInterval(timer);
  await consumer.stop();
  sqlite?.close();
  await pgStore?.close();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

consumer.start().catch((err: Error) => {
  logger.error({ err: err.message }, 'ingest could not connect');
});
