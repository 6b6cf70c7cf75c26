/** The PostgreSQL PgIngestStore keeps the ingest store contract (store-contract.ts), on a real server. */
import test from 'node:test';
import pg from 'pg';
import { startPostgres, type PostgresHandle } from '@kedge/testkit/postgres.ts';
import { PgIngestStore } from './pg-store.ts';
import { ingestStoreContract } from './store-contract.ts';

let server: PostgresHandle;
test.before(async () => {
  server = await startPostgres();
});
test.after(() => server.stop());

ingestStoreContract('PgIngestStore (PostgreSQL)', async (t) => {
  const store = await PgIngestStore.open(server.url);
  const reader = new pg.Client({ connectionString: server.url });
  await reader.connect();
  t.after(async () => {
    await reader.end();
    await store.close();
  });
  return {
    store,
    sequences: async (gateway, epoch) =>
      (await reader.query<{ seq: string }>('SELECT seq FROM kedge_readings WHERE gateway = $1 AND epoch = $2 ORDER BY seq', [gateway, epoch])).rows.map((r) => Number(r.seq)),
  };
});
