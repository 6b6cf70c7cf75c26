import type { Batch } from '../codec/index.ts';
import type { SeqRange } from '../model.ts';
import type { GatewayIdentity } from '../topics.ts';

export interface StoreResult {
  inserted: number;
  duplicates: number;
  /**
   * Highest sequence the backlog lane had reached for this gateway (in the batch's epoch)
   * before the batch, carried to the end of what is covered (stored or reported evicted)
   * right after it: without live batches, the highest sequence seen. Live readings beyond a
   * hole do not move it, so a backlog batch that skips sequences is still seen as a gap; a
   * live run continuing it does (after live-first the backlog resumes behind that run).
   */
  previousMax: number;
  /** The batch's log epoch ('' for gateways older than epochs). */
  epoch: string;
  /**
   * Highest sequence n of the epoch with 1..n all stored or reported evicted, after this
   * batch was committed durably: what the ingest confirms to the gateway.
   */
  confirmed: number;
  /** Set when this batch is the first of a new epoch of a gateway that had data in another one. */
  epochChange?: EpochChange;
}

/** A gateway's log was recreated (damaged, lost): the center says what it held of the old one. */
export interface EpochChange {
  gateway: string;
  previousEpoch: string;
  /** Highest sequence of the old epoch the center has seen. */
  previousLastSeq: number;
  /** Highest sequence of the old epoch held without a hole. */
  previousConfirmed: number;
  epoch: string;
  at: number;
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
  /** Highest sequence n of the gateway's epoch with 1..n stored or evicted (told to a gateway that comes online). */
  confirmed?(gateway: string, epoch: string): number | Promise<number>;
  /**
   * A gateway replaced a damaged log whose sequences (confirmed..lastSeq] of `epoch` it could
   * not send: records what of them the center does not hold as missing and unrecoverable
   * (and still a gap), returning the ranges newly recorded.
   */
  recordUnrecoverable?(gateway: string, epoch: string, confirmed: number, lastSeq: number): SeqRange[] | Promise<SeqRange[]>;
}
