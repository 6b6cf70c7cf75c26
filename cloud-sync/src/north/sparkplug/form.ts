/** The uplink page's form of a Sparkplug B sink entry (labels here, limits from sparkplug/schema.ts). */
import { describeSinkForm, type SinkForm } from '../../form-kit.ts';
import { BROKER_FIELDS, INFLIGHT_FIELD, NAME_FIELD, WINDOW_FIELDS } from '../form-fields.ts';
import { tlsSchema } from '../schema-kit.ts';
import { sparkplugOptionsSchema, sparkplugSinkSchema } from './schema.ts';

// Built when the form API first asks (SinkDefinition.form), not by every process that loads the config.
let built: SinkForm | undefined;

export const sparkplugForm = (): SinkForm =>
  (built ??= describeSinkForm(sparkplugSinkSchema, {
    kind: 'sparkplug',
    label: { ru: 'Sparkplug B (SCADA)', en: 'Sparkplug B (SCADA)' },
    fields: [
      NAME_FIELD,
      ...BROKER_FIELDS,
      { key: 'sparkplug.primaryHostId', group: 'delivery', label: { ru: 'Основной хост (Host ID)', en: 'Primary host id' }, hint: { ru: 'пока он не в сети, данные ждут в журнале', en: 'while it is offline the data waits in the log' } },
      { key: 'sparkplug.ddataQos', group: 'delivery', label: { ru: 'QoS для DDATA', en: 'DDATA QoS' }, options: [0, 1] },
      { key: 'sparkplug.birthWaitMs', group: 'timing', label: { ru: 'Ожидание BIRTH, мс', en: 'Birth wait, ms' }, hint: { ru: 'BIRTH ждёт первого опроса всех устройств', en: 'births wait for every device\'s first poll' } },
      { key: 'sparkplug.rebirthMinIntervalMs', group: 'timing', label: { ru: 'Интервал между Rebirth, мс', en: 'Rebirth interval, min ms' } },
      { key: 'sparkplug.maxQueuedWrites', group: 'delivery', label: { ru: 'Очередь команд DCMD', en: 'Queued DCMD writes, max' } },
      INFLIGHT_FIELD,
      ...WINDOW_FIELDS,
    ],
    template: { url: 'mqtt://' },
    nested: { tls: tlsSchema, sparkplug: sparkplugOptionsSchema },
  }));
