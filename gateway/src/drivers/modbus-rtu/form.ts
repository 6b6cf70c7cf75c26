import { BAUD_RATES, modbusRtuDeviceSchema } from './schema.ts';
import { describeForm, type DriverForm, MODBUS_COMMON, MODBUS_POINT_FIELDS } from '../form.ts';

// Built when the form API first asks (DriverDefinition.form), not by every process that loads the config.
let built: DriverForm | undefined;

/** Modbus RTU on RS-485: the serial port and its line settings (shared by every unit of the bus). */
export const modbusRtuForm = (): DriverForm =>
  (built ??= describeForm(modbusRtuDeviceSchema, {
    driver: 'modbus-rtu',
    label: { ru: 'Modbus RTU (RS-485)', en: 'Modbus RTU (RS-485)' },
    fields: [
      ...MODBUS_COMMON.slice(0, 3),
      { key: 'port', group: 'connection', label: { ru: 'Последовательный порт', en: 'Serial port' }, hint: { ru: 'например /dev/ttyUSB0', en: 'e.g. /dev/ttyUSB0' } },
      { key: 'baudRate', group: 'connection', label: { ru: 'Скорость, бод', en: 'Baud rate' }, options: [...BAUD_RATES] },
      { key: 'parity', group: 'connection', label: { ru: 'Чётность', en: 'Parity' } },
      { key: 'dataBits', group: 'connection', label: { ru: 'Биты данных', en: 'Data bits' } },
      { key: 'stopBits', group: 'connection', label: { ru: 'Стоповые биты', en: 'Stop bits' } },
      ...MODBUS_COMMON.slice(3),
    ],
    pointFields: MODBUS_POINT_FIELDS,
    template: { driver: 'modbus-rtu', port: '/dev/ttyUSB0', baudRate: 9600, parity: 'none', unitId: 1, points: [{ id: 'value', table: 'holding', address: 0, type: 'uint16' }] },
  }));
