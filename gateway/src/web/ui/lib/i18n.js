// Every visible string comes from i18n/<lang>.json through t(); Russian is the default.
// Counted nouns go through plural(): Intl.PluralRules picks one/few/many/other.

export const LANGS = ['ru', 'en'];
const state = { lang: 'ru', messages: {}, rules: new Intl.PluralRules('ru') };

/** The messages in force (loadLang in the browser; the unit tests set them directly). */
export function setMessages(lang, messages) {
  state.messages = messages;
  state.lang = lang;
  state.rules = new Intl.PluralRules(lang);
}

export async function loadLang(lang) {
  const res = await fetch(`/i18n/${lang}.json`);
  setMessages(lang, await res.json());
  document.documentElement.lang = lang;
  localStorage.setItem('kedge.lang', lang);
}

export const lang = () => state.lang;

/** The message as written, `{name}` holes included; undefined when the files do not have it. */
export const message = (key) => state.messages[key];

export function t(key, vars = {}) {
  const text = state.messages[key];
  if (text === undefined) return key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (vars[name] === undefined ? '' : String(vars[name])));
}

/** `key.one|few|many|other` by the count; `{n}` is the count formatted for the language. */
export function plural(key, n, vars = {}) {
  const form = Number.isInteger(n) ? state.rules.select(n) : 'other';
  return t(`${key}.${form}`, { n: Number(n).toLocaleString(state.lang), ...vars });
}

/** A text given in both languages (driver forms carry their labels so). */
export const pick = (text) => (text && typeof text === 'object' ? (text[state.lang] ?? text.en) : text);
