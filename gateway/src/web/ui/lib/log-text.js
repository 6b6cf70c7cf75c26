// Log lines and config warnings carry English text with variable parts (a device id, a
// duration, an error), so they cannot be translated word for word. The code base attaches a
// stable `event` (log lines) or `code` (config warnings) and its parameters: the summary is
// translated by that, with the parameters put in. A line without a known code is shown in
// English and marked so (the marker is in the message files).
import { message, t } from './i18n.js';
import { fmtDuration, fmtNumber } from './format.js';
import { classify } from './device-errors.js';

/** A driver or connection error as the summary names it (translated when its kind is known). */
export function errorSummary(text) {
  if (typeof text !== 'string' || text === '') return '';
  const c = classify(text);
  return c ? t(c.key, { code: c.code }) : text;
}

/** A parameter as the summary shows it: durations (`…Ms`) as durations, lists joined, errors summarised. */
function param(name, value) {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map((v) => param(name, v)).join(name === 'errors' ? '; ' : ', ');
  // A clock jump back is a negative delta: the line says "by" how much.
  if (typeof value === 'number' && /Ms$/.test(name)) return fmtDuration(Math.abs(value));
  if (name === 'error' || name === 'errors') return errorSummary(String(value));
  // Integers are addresses, counts and ids: as written in the config (40001, not «40 001»).
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : fmtNumber(value);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function interpolate(key, fields) {
  const template = message(key);
  if (template === undefined) return null;
  // A writer that does not pass a parameter the text names (another driver's line with the same
  // event) gets the English original rather than a summary with a hole in it.
  for (const [, name] of template.matchAll(/\{(\w+)\}/g)) if (fields?.[name] === undefined || fields?.[name] === null) return null;
  const vars = {};
  for (const [name, value] of Object.entries(fields ?? {})) vars[name] = param(name, value);
  return t(key, vars);
}

/** A config warning (`{code, params, message}`) in the UI language, or null when its code has no translation. */
export function warningText(w) {
  if (!w || typeof w.code !== 'string') return null;
  return interpolate(`warn.${w.code}`, w.params);
}

/**
 * The translated summary of a log record ({msg, context}), or null: by its `event` code with
 * its context fields as parameters; a config warning line by the warning's own code; else
 * by the whole message for fixed texts ("config reloaded").
 */
export function logSummary(line) {
  const ctx = line.context ?? {};
  if (typeof ctx.event === 'string') {
    // A config warning line names its warning by code: untranslated, the whole line stays English.
    const vars = ctx.event === 'config_warning' ? { ...ctx, warning: warningText(ctx) ?? undefined } : ctx;
    const text = interpolate(`logevent.${ctx.event}`, vars);
    if (text !== null) return text;
  }
  const key = `logmsg.${line.msg}`;
  const fixed = t(key);
  return fixed === key ? null : fixed;
}
