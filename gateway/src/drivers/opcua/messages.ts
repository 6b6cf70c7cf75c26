import { defineMessages } from '../definition.ts';

/**
 * The UI texts of the log lines only the OPC UA driver writes (opcua-device.ts), merged into the
 * UI's catalog (web/i18n.ts). Its lost/back lines use the gateway's device_failed and
 * device_recovered, whose texts are the base catalog's.
 */
export const opcuaMessages = defineMessages({
  ru: {
    'logmsg.OPC UA session established': 'Сеанс OPC UA установлен',
  },
  en: {
    'logmsg.OPC UA session established': 'OPC UA session established',
  },
});
