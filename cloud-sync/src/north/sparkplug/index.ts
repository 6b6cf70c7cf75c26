/**
 * The Sparkplug B sink (a local SCADA host): its registration in north/registry.ts. The schema
 * is eager (config validation); the implementation, with protobufjs and the .proto, loads only
 * when an entry of this kind is built.
 */
import { brokerCredentials } from '../credentials.ts';
import { fieldFiles, tlsFiles } from '../secret-fields.ts';
import { defineSink } from '../sink.ts';
import { sparkplugMessages } from './messages.ts';
import { BDSEQ_COUNTER, sparkplugSinkSchema } from './schema.ts';

export const sparkplugSink = defineSink({
  kind: 'sparkplug',
  schema: sparkplugSinkSchema,
  brokerLink: true,
  // NBIRTH/DBIRTH list every device's metrics: a change of devices means new births.
  dependsOnDevices: true,
  logCounters: [BDSEQ_COUNTER],
  secretFiles: (entry) => [...fieldFiles(entry, 'passwordFile'), ...tlsFiles(entry)],
  credentialBinding: brokerCredentials,
  create: async (config, ctx) => (await import('./create.ts')).createSparkplugSink(config, ctx),
  form: async () => (await import('./form.ts')).sparkplugForm(),
  messages: sparkplugMessages,
});
