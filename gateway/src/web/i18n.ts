/**
 * The UI's message catalogs: the base one (web/ui/i18n/<lang>.json: the UI's own texts and the
 * codes the gateway writes for any driver or sink) merged with the texts each registered driver
 * and sink carries (DriverDefinition.messages, SinkDefinition.messages: its warnings, its own
 * log lines). The browser loads the merged one from /i18n/<lang>.json (routes/i18n.ts), so a
 * new driver's or sink's texts live in its folder.
 */
import { readFileSync } from 'node:fs';
import { SINKS } from '@kedge/cloud-sync/north/registry.ts';
import type { UiMessages } from '@kedge/cloud-sync/ui-messages.ts';
import { DRIVERS, type DriverDefinition } from '../drivers/registry.ts';

export const UI_LANGS = ['ru', 'en'] as const;
export type UiLang = (typeof UI_LANGS)[number];
export type Catalog = Record<string, string>;

/** The UI folder, as server.ts serves it (the same asset in dist/). */
const UI_FOLDER = new URL('./ui/', import.meta.url);

/** What a driver or sink may translate (ui-messages.ts UiMessageKey): never the UI's own texts. */
const DRIVER_KEY = /^(warn|logevent|logmsg|address)\./;

/** web/ui/i18n/<lang>.json as written. */
export function baseCatalog(lang: UiLang): Catalog {
  return JSON.parse(readFileSync(new URL(`i18n/${lang}.json`, UI_FOLDER), 'utf8')) as Catalog;
}

/** What carries texts: a driver or a sink definition (both `kind` and `messages`). */
interface Carrier {
  kind: string;
  messages?: UiMessages | undefined;
}

/**
 * Every language's catalog: the base one plus every driver's and every sink's messages. Throws,
 * naming the driver or sink and the key, when its text would replace a base text or another
 * one's different text, translates a key none may, or is missing in one of the languages: a
 * wrong text in the UI would otherwise be whichever was merged last. The build calls it
 * (scripts/src/build.ts), so a clash fails the build, not the box.
 */
export function uiCatalogs(
  drivers: readonly DriverDefinition[] = DRIVERS,
  base: (lang: UiLang) => Catalog = baseCatalog,
  sinks: readonly Carrier[] = SINKS,
): Record<UiLang, Catalog> {
  const out = Object.fromEntries(UI_LANGS.map((lang) => [lang, { ...base(lang) }])) as Record<UiLang, Catalog>;
  const givenBy = new Map<string, { role: 'driver' | 'sink'; kind: string }>();
  const carriers = [...drivers.map((d) => ({ role: 'driver' as const, d })), ...sinks.map((d) => ({ role: 'sink' as const, d }))];
  for (const { role, d } of carriers) {
    const messages = d.messages;
    if (!messages) continue;
    const who = `${role} ${d.kind}`;
    const keys = UI_LANGS.map((lang) => Object.keys(messages[lang] ?? {}));
    const all = new Set(keys.flat());
    for (const [i, lang] of UI_LANGS.entries()) {
      const missing = [...all].filter((k) => !keys[i]!.includes(k));
      if (missing.length > 0) throw new Error(`${who}: no ${lang} text for ${missing.join(', ')}`);
    }
    for (const key of all) {
      if (!DRIVER_KEY.test(key)) throw new Error(`${who}: ${key} is not a ${role}'s text (warn.*, logevent.*, logmsg.*, address.*)`);
      const other = givenBy.get(key);
      for (const lang of UI_LANGS) {
        const text = messages[lang][key]!;
        if (!text.trim()) throw new Error(`${who}: the ${lang} text of ${key} is empty`);
        if (other === undefined && key in out[lang]) throw new Error(`${who}: ${key} is in the base catalog (web/ui/i18n/${lang}.json) already`);
        if (other !== undefined && out[lang][key] !== text) {
          const pair = other.role === role ? `${role}s ${other.kind} and ${d.kind}` : `${other.role} ${other.kind} and ${who}`;
          throw new Error(`${pair} give ${key} different ${lang} texts`);
        }
        out[lang][key] = text;
      }
      // Drivers sharing code (Modbus TCP and RTU) share its texts: the same text twice is one.
      if (other === undefined) givenBy.set(key, { role, kind: d.kind });
    }
  }
  return out;
}

/** One language's merged catalog (what /i18n/<lang>.json serves). */
export function uiCatalog(lang: UiLang, drivers: readonly DriverDefinition[] = DRIVERS): Catalog {
  return uiCatalogs(drivers)[lang];
}
