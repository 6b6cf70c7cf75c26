import { defineMessages } from '../../ui-messages.ts';

/**
 * The UI texts of the log lines only the Sparkplug sink writes (sparkplug-uplink.ts), carried by
 * its definition and merged into the UI's catalog (gateway/src/web/i18n.ts). A line without a
 * text here is shown as logged, in English, and marked so.
 */
export const sparkplugMessages = defineMessages({
  ru: {
    'logmsg.Primary Host Application online': 'Основное приложение центра (Primary Host) на связи',
    'logmsg.Primary Host Application offline: NDEATH, disconnecting, holding the data': 'Основное приложение центра недоступно: данные копятся в журнале',
    'logmsg.rebirth requested by the host': 'Центр запросил повторное описание устройств',
    'logmsg.DCMD write done': 'Команда центра на запись выполнена',
    'logmsg.DCMD write refused or failed': 'Команда центра на запись отклонена или не выполнена',
  },
  en: {
    'logmsg.Primary Host Application online': 'Primary Host Application online',
    'logmsg.Primary Host Application offline: NDEATH, disconnecting, holding the data': 'Primary Host Application offline: the data waits in the log',
    'logmsg.rebirth requested by the host': 'Rebirth requested by the host',
    'logmsg.DCMD write done': 'Write command from the center done',
    'logmsg.DCMD write refused or failed': 'Write command from the center refused or failed',
  },
});
