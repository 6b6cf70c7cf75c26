/** The uplink page's form of a kedge MQTT sink entry (labels here, limits from mqtt/schema.ts). */
import { describeSinkForm, type SinkForm } from '../../form-kit.ts';
import { BROKER_FIELDS, INFLIGHT_FIELD, NAME_FIELD, WINDOW_FIELDS } from '../form-fields.ts';
import { tlsSchema } from '../schema-kit.ts';
import { mqttSinkSchema } from './schema.ts';

// Built when the form API first asks (SinkDefinition.form), not by every process that loads the config.
let built: SinkForm | undefined;

export const mqttForm = (): SinkForm =>
  (built ??= describeSinkForm(mqttSinkSchema, {
    kind: 'mqtt',
    label: { ru: 'MQTT (kedge, центр)', en: 'MQTT (kedge, center)' },
    fields: [
      NAME_FIELD,
      ...BROKER_FIELDS,
      { key: 'codec', group: 'delivery', label: { ru: 'Кодек', en: 'Codec' }, hint: { ru: 'compact-v2 — для центра старой версии', en: 'compact-v2: for a center not yet upgraded' } },
      { key: 'ackMode', group: 'delivery', label: { ru: 'Подтверждение доставки', en: 'Delivery acknowledged by' }, hint: { ru: 'center — после записи в центре, broker — по PUBACK брокера', en: 'center: after the center commits, broker: on the broker PUBACK' } },
      INFLIGHT_FIELD,
      ...WINDOW_FIELDS,
    ],
    template: { url: 'mqtts://', codec: 'compact' },
    nested: { tls: tlsSchema },
  }));
