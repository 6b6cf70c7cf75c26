export * from './model.ts';
export * from './topics.ts';
export * from './codec/index.ts';
export type { LogSource } from './north/log-source.ts';
export { Uplink, type UplinkOptions, type UplinkStatus, type UplinkLogger } from './north/mqtt/uplink.ts';
export { reconnectDelay, spreadDelay } from './backoff.ts';
export { SinkWindow, type WindowOptions, type WindowStatus, type PlannedBatch } from './north/window.ts';
export type { SinkTransport, TransportEvents, SendResult } from './north/transport.ts';
export { TransportSink, type TransportSinkOptions, type TransportSinkStatus } from './north/transport-sink.ts';
export { IngestStore, subtractRanges, type GatewaySummary, type StoreResult } from './ingest/store.ts';
export { IngestConsumer, type IngestOptions } from './ingest/consumer.ts';
export type { IngestSink } from './ingest/sink.ts';
// PgIngestStore is imported from '@kedge/cloud-sync/ingest/pg-store.ts' so that gateways never load pg.
