// Moved with the broker sinks' shared config (north/broker-link/, issue 16): the sink schemas live in their folders.
export { brokerUrlAmbiguity, DEFAULT_BROKER_PORTS } from '@kedge/cloud-sync/north/broker-link/broker-url.ts';
