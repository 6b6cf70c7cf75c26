/**
 * The HTTP(S) POST sink: its registration in north/registry.ts. The schema is eager (config
 * validation); the implementation (node:http/https transport) loads when an entry of this kind is built.
 */
import { httpCredentials } from '../credentials.ts';
import { fieldFiles, tlsFiles } from '../secret-fields.ts';
import { defineSink } from '../sink.ts';
import { httpSinkSchema } from './schema.ts';

export const httpSink = defineSink({
  kind: 'http',
  schema: httpSinkSchema,
  secretFiles: (entry) => [...fieldFiles(entry, 'tokenFile'), ...tlsFiles(entry)],
  credentialBinding: httpCredentials,
  create: async (config, ctx) => (await import('./sink.ts')).createHttpSinkFrom(config, ctx),
  form: async () => (await import('./form.ts')).httpForm(),
});
