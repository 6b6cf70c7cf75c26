import { defineMessages } from '../definition.ts';

/**
 * The UI texts of the warnings Modbus devices get (warnings.ts) and of their address line
 * (modbusAddressText), carried by the Modbus TCP and RTU definitions and merged into the UI's
 * catalog (web/i18n.ts). `{name}` is a parameter the code passes; both languages name the same
 * ones (web/i18n.test.ts).
 */
export const modbusMessages = defineMessages({
  ru: {
    'warn.modicon_address':
      'адрес {address} похож на запись Modicon {notation}: kedge не отбрасывает префикс и читает регистр {address} таблицы {table}. Для регистра {register} таблицы {manualTable} из паспорта укажите table: {manualTable}, address: {register} при addressBase: 1 (или address: {protocolAddress} при addressBase: 0)',
    'warn.points_overlap':
      'точка «{point}» ({pointSpan}) перекрывается с точкой «{other}» ({otherSpan}) в {shared}: два значения не могут занимать одни и те же регистры, вероятно, ошибка в адресе или типе',
    'warn.beyond_profile': 'точка «{point}» ({span}) вне карты регистров профиля «{profile}»: профиль описывает {documented} (в нумерации этого устройства)',
    'warn.beyond_profile_table': 'точка «{point}» ({span}) вне карты регистров профиля «{profile}»: регистров таблицы {table} профиль не описывает',
    // The devices page's address line (describeText): the link, then the unit on it.
    'address.modbus-unit': '{link} · адрес Modbus {unitId}',
  },
  en: {
    'warn.modicon_address':
      'address {address} looks like Modicon notation {notation}: kedge does not strip the prefix and reads {table} register {address}. For {manualTable} register {register} of the manual write table: {manualTable}, address: {register} with addressBase: 1 (or address: {protocolAddress} with addressBase: 0)',
    'warn.points_overlap':
      'point "{point}" ({pointSpan}) overlaps point "{other}" ({otherSpan}) in {shared}: two values cannot live in the same registers, one of the addresses (or types) is probably wrong',
    'warn.beyond_profile': 'point "{point}" ({span}) is beyond the register map of profile "{profile}": it documents {documented} (in this device\'s numbering)',
    'warn.beyond_profile_table': 'point "{point}" ({span}) is beyond the register map of profile "{profile}": it documents no {table} registers',
    'address.modbus-unit': '{link} · unit {unitId}',
  },
});

/**
 * What the production build leaves in node_modules for every Modbus driver: modbus-serial
 * (bundled) requires serialport, whose bindings are a native addon.
 */
export const MODBUS_EXTERNALS = ['serialport', '@serialport/*'] as const;

/** The address line of a Modbus device in the UI's language: its link (host:port, a serial port) and its unit. */
export const modbusAddressText = (link: string, unitId: number) => ({ key: 'address.modbus-unit' as const, params: { link, unitId } });
