/** The uplink page's form of an HTTP(S) POST sink entry (labels here, limits from http/schema.ts). */
import { describeSinkForm, type SinkForm } from '../../form-kit.ts';
import { INFLIGHT_FIELD, NAME_FIELD, TLS_FIELDS, WINDOW_FIELDS } from '../form-fields.ts';
import { tlsSchema } from '../schema-kit.ts';
import { httpSinkSchema } from './schema.ts';

// Built when the form API first asks (SinkDefinition.form), not by every process that loads the config.
let built: SinkForm | undefined;

export const httpForm = (): SinkForm =>
  (built ??= describeSinkForm(httpSinkSchema, {
    kind: 'http',
    label: { ru: 'HTTP(S) POST', en: 'HTTP(S) POST' },
    fields: [
      NAME_FIELD,
      { key: 'url', group: 'connection', label: { ru: 'Адрес приёма (URL)', en: 'Endpoint URL' }, hint: { ru: 'например https://scada.city.example.ru/kedge/batches', en: 'e.g. https://scada.city.example.ru/kedge/batches' } },
      { key: 'codec', group: 'delivery', label: { ru: 'Кодек', en: 'Codec' } },
      { key: 'tokenFile', group: 'security', label: { ru: 'Файл токена (Bearer)', en: 'Bearer token file' }, hint: { ru: 'путь к файлу в папке секретов', en: 'a file in the secrets folder' } },
      ...TLS_FIELDS,
      INFLIGHT_FIELD,
      ...WINDOW_FIELDS,
      { key: 'timeoutMs', group: 'timing', label: { ru: 'Таймаут запроса, мс', en: 'Request timeout, ms' } },
      { key: 'refusedRetryMs', group: 'timing', label: { ru: 'Повтор после отказа, мс', en: 'Retry after a refusal, ms' } },
      { key: 'maxRetryAfterMs', group: 'timing', label: { ru: 'Retry-After, не более, мс', en: 'Retry-After honoured up to, ms' } },
    ],
    template: { url: 'https://', codec: 'json' },
    nested: { tls: tlsSchema },
  }));
