/** The SQLite IngestStore keeps the ingest store contract (store-contract.ts). */
import { ingestStoreContract } from './store-contract.ts';
import { IngestStore } from './store.ts';

ingestStoreContract('IngestStore (SQLite)', async (t) => {
  const store = new IngestStore(':memory:');
  t.after(() => store.close());
  return { store, sequences: (gateway, epoch) => store.sequences(gateway, epoch) };
});
