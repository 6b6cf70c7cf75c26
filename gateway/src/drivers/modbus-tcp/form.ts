import { modbusTcpDeviceSchema } from './schema.ts';
import { describeForm, type DriverForm, MODBUS_COMMON, MODBUS_POINT_FIELDS } from '../form.ts';

// Built when the form API first asks (DriverDefinition.form), not by every process that loads the config.
let built: DriverForm | undefined;

/** Modbus TCP: a host and port (a meter with Ethernet, or a TCP-to-RS-485 gateway). */
export const modbusTcpForm = (): DriverForm =>
  (built ??= describeForm(modbusTcpDeviceSchema, {
    driver: 'modbus-tcp',
    label: { ru: 'Modbus TCP', en: 'Modbus TCP' },
    fields: [
      ...MODBUS_COMMON.slice(0, 3),
      { key: 'host', group: 'connection', label: { ru: 'IP-адрес или имя', en: 'Host' } },
      { key: 'port', group: 'connection', label: { ru: 'TCP-порт', en: 'TCP port' } },
      ...MODBUS_COMMON.slice(3),
    ],
    pointFields: MODBUS_POINT_FIELDS,
    template: { driver: 'modbus-tcp', host: '', port: 502, unitId: 1, points: [{ id: 'value', table: 'holding', address: 0, type: 'uint16' }] },
  }));
