/**
 * The UI texts a driver or a sink carries in its own folder (DriverDefinition.messages in
 * gateway/src/drivers/definition.ts, SinkDefinition.messages in north/sink.ts): the gateway's
 * UI merges them into its catalog (gateway/src/web/i18n.ts), so a new driver's or sink's log
 * lines and warnings need no edit of the base catalog. Here, where both sides import from
 * (cloud-sync imports nothing of the gateway), like form-kit.ts for their forms.
 */

/**
 * What a folder's texts may translate: its warnings' codes, its log lines' event codes, the
 * fixed messages of its log lines without an event (`logmsg.<the message as logged>`), and a
 * device's address line (DriverDefinition.describeText).
 */
export type UiMessageKey = `warn.${string}` | `logevent.${string}` | `logmsg.${string}` | `address.${string}`;

/** Texts by catalog key, the same keys in both languages. */
export interface UiMessages {
  ru: Readonly<Record<string, string>>;
  en: Readonly<Record<string, string>>;
}

/** Identity with the keys checked: a key in one language and not in the other fails to compile. */
export function defineMessages<K extends UiMessageKey>(m: { ru: Record<K, string>; en: Record<NoInfer<K>, string> }): UiMessages {
  return m;
}
