export * from './model.ts';
export * from './topics.ts';
export * from './codec/index.ts';
export type { LogSource } from './uplink/log-source.ts';
export { Uplink, type UplinkOptions, type UplinkStatus, type UplinkLogger } from './uplink/uplink.ts';
export { reconnectDelay } from './uplink/backoff.ts';
export { IngestStore, subtractRanges, type GatewaySummary, type StoreResult } from './ingest/store.ts';
export { IngestConsumer, type IngestOptions } from './ingest/consumer.ts';
export type { IngestSink } from './ingest/sink.ts';
// PgIngestStore is imported from '@kedge/cloud-sync/ingest/pg-store.ts' so that gateways never load pg.
