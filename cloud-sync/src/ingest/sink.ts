import type { Batch } from '../codec/index.ts';
import type { GatewayIdentity } from '../topics.ts';

export interface StoreResult {
  inserted: number;
  duplicates: number;
  /** Highest sequence stored for this gateway before the batch. */
  previousMax: number;
}

/**
 * Where the ingest puts what it receives: SQLite (IngestStore) by default, PostgreSQL
 * (PgIngestStore) at a regional data center. Results may be synchronous or not.
 */
export interface IngestSink {
  storeBatch(id: GatewayIdentity, batch: Batch): StoreResult | Promise<StoreResult>;
  recordStatus(id: GatewayIdentity, status: string, json: string): void | Promise<void>;
  /** Keeps what could not be decoded, with the reason, so nothing is lost on the way in. */
  reject(topic: string, payload: Buffer, error: string): void | Promise<void>;
}
