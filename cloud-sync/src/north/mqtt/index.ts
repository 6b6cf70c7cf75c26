/**
 * The kedge MQTT sink (compact or json batches to the regional broker and the center's
 * ingest): its registration in north/registry.ts. The schema is eager (config validation);
 * the implementation (mqtt.js session, codecs) loads when an entry of this kind is built.
 */
import { brokerCredentials } from '../credentials.ts';
import { fieldFiles, tlsFiles } from '../secret-fields.ts';
import { defineSink } from '../sink.ts';
import { mqttMessages } from './messages.ts';
import { mqttSinkSchema } from './schema.ts';

export const mqttSink = defineSink({
  kind: 'mqtt',
  schema: mqttSinkSchema,
  brokerLink: true,
  secretFiles: (entry) => [...fieldFiles(entry, 'passwordFile'), ...tlsFiles(entry)],
  credentialBinding: brokerCredentials,
  create: async (config, ctx) => (await import('./create.ts')).createMqttSink(config, ctx),
  form: async () => (await import('./form.ts')).mqttForm(),
  messages: mqttMessages,
});
