// Moved with the MQTT sink's config schema (issue 19): the sink schemas live in their folders.
export { brokerUrlAmbiguity, DEFAULT_BROKER_PORTS } from '@kedge/cloud-sync/north/mqtt/broker-url.ts';
