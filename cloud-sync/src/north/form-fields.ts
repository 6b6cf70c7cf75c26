/**
 * Labels of the fields several sinks share (name, the window, TLS, the broker): each sink's
 * form.ts picks the ones its schema has. Constraints come from the schema (form-kit.ts).
 */
import type { FieldSpec, SinkGroup } from '../form-kit.ts';

type Spec = FieldSpec<SinkGroup>;

export const NAME_FIELD: Spec = {
  key: 'name',
  group: 'identity',
  label: { ru: 'Имя канала', en: 'Name' },
  hint: { ru: 'латиница, цифры, «-» и «_»: имя курсора журнала и метрик', en: 'latin letters, digits, "-" and "_": names the log cursor and metrics' },
};

export const TLS_FIELDS: Spec[] = [
  { key: 'tls.ca', group: 'security', upload: 'ca', label: { ru: 'Сертификат УЦ (CA), путь', en: 'CA certificate, path' } },
  { key: 'tls.cert', group: 'security', upload: 'cert', label: { ru: 'Сертификат клиента, путь', en: 'Client certificate, path' } },
  { key: 'tls.key', group: 'security', upload: 'key', label: { ru: 'Ключ клиента, путь', en: 'Client key, path' } },
  { key: 'tls.rejectUnauthorized', group: 'security', label: { ru: 'Проверять сертификат сервера', en: 'Verify the server certificate' } },
];

/** The window every sink has (schema-kit.ts windowShape); `inflight` differs by sink, so each form adds it. */
export const WINDOW_FIELDS: Spec[] = [
  { key: 'batchMaxReadings', group: 'delivery', label: { ru: 'Показаний в пакете, не более', en: 'Readings per batch, max' } },
  { key: 'batchMaxDelayMs', group: 'delivery', label: { ru: 'Интервал пакета, мс', en: 'Batch delay, ms' } },
  { key: 'maxReadingsPerSec', group: 'delivery', label: { ru: 'Предел скорости, показаний/с', en: 'Rate limit, readings/s' }, hint: { ru: '0 — без ограничения', en: '0: unlimited' } },
  {
    key: 'liveFirst',
    group: 'delivery',
    label: { ru: 'Сначала свежие данные', en: 'Live data first' },
    // Where the schema leaves it unset, on unless the codec is compact-v2 (live-first-codec.ts).
    default: true,
    hint: { ru: 'после обрыва свежие показания идут раньше накопленных; с кодеком compact-v2 выключено', en: 'after an outage live readings go before the backlog; off with codec compact-v2' },
  },
  { key: 'ackTimeoutMs', group: 'timing', label: { ru: 'Ожидание подтверждения, мс', en: 'Ack timeout, ms' } },
  { key: 'reconnectMinMs', group: 'timing', label: { ru: 'Повтор подключения от, мс', en: 'Reconnect after, min ms' } },
  { key: 'reconnectMaxMs', group: 'timing', label: { ru: 'Повтор подключения до, мс', en: 'Reconnect after, max ms' } },
];

export const INFLIGHT_FIELD: Spec = { key: 'inflight', group: 'delivery', label: { ru: 'Пакетов в пути, не более', en: 'Batches in flight, max' } };

/** What every MQTT-broker sink has (broker-link/shape.ts). */
export const BROKER_FIELDS: Spec[] = [
  { key: 'url', group: 'connection', label: { ru: 'Адрес брокера', en: 'Broker URL' }, hint: { ru: 'например mqtts://broker.example.ru:8883', en: 'e.g. mqtts://broker.example.ru:8883' } },
  { key: 'clientId', group: 'connection', label: { ru: 'Идентификатор клиента', en: 'Client id' } },
  { key: 'topicPrefix', group: 'connection', label: { ru: 'Префикс топиков', en: 'Topic prefix' } },
  { key: 'protocolVersion', group: 'connection', label: { ru: 'Версия MQTT', en: 'MQTT version' }, options: [4, 5], hint: { ru: '4 — MQTT 3.1.1, 5 — MQTT 5', en: '4: MQTT 3.1.1, 5: MQTT 5' } },
  { key: 'keepaliveSec', group: 'timing', label: { ru: 'Keepalive, с', en: 'Keepalive, s' } },
  { key: 'username', group: 'security', label: { ru: 'Пользователь', en: 'Username' } },
  { key: 'password', group: 'security', label: { ru: 'Пароль', en: 'Password' }, widget: 'password' },
  { key: 'passwordFile', group: 'security', label: { ru: 'Файл пароля', en: 'Password file' }, hint: { ru: 'вместо пароля: путь к файлу в папке секретов', en: 'instead of the password: a file in the secrets folder' } },
  ...TLS_FIELDS,
];
