import { defineMessages } from '../../ui-messages.ts';

/**
 * The UI texts of the log lines only the MQTT sink writes (uplink.ts), carried by its definition
 * and merged into the UI's catalog (gateway/src/web/i18n.ts).
 */
export const mqttMessages = defineMessages({
  ru: {
    'logmsg.birth message not acknowledged': 'Брокер не подтвердил сообщение о запуске',
  },
  en: {
    'logmsg.birth message not acknowledged': 'Birth message not acknowledged',
  },
});
