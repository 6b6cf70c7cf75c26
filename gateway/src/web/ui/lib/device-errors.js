// Driver and connection errors arrive as English text (Modbus, sockets, MQTT). The engineer
// reads a translated summary; the original stays beside it for a search or a vendor's support.
import { html } from './view.js';
import { t } from './i18n.js';

const PATTERNS = [
  [/Modbus exception (\d+)/, 'deverr.exception'],
  [/ECONNREFUSED/, 'deverr.refused'],
  [/EHOSTUNREACH|ENETUNREACH|EHOSTDOWN/, 'deverr.unreachable'],
  [/ENOTFOUND|EAI_AGAIN/, 'deverr.dns'],
  [/timeout|timed out|no response/i, 'deverr.timeout'],
  [/CRC|bad frame/i, 'deverr.frame'],
  [/ECONNRESET|EPIPE|socket hang up|closed/i, 'deverr.reset'],
  [/ENOENT|cannot open|No such file|Permission denied|EACCES/i, 'deverr.port'],
  [/Not authorized|Bad username or password/i, 'deverr.auth'],
];

/** Modbus exception codes the message files name (deverr.exception.N); others say just the number. */
export const MODBUS_EXCEPTIONS = [1, 2, 3, 4, 5, 6, 8, 10, 11];

/** The text of a Modbus exception by its code, as the engineer reads it ("недопустимый адрес данных …"). */
export function exceptionText(code) {
  return MODBUS_EXCEPTIONS.includes(Number(code)) ? t(`deverr.exception.${Number(code)}`) : t('deverr.exception', { code });
}

/** The translation key and its variables for an error text, or null when it is not a known kind. */
export function classify(text) {
  for (const [re, key] of PATTERNS) {
    const m = re.exec(text);
    if (m) return { key: key === 'deverr.exception' && MODBUS_EXCEPTIONS.includes(Number(m[1])) ? `deverr.exception.${Number(m[1])}` : key, code: m[1] };
  }
  return null;
}

export function ErrorText({ text }) {
  if (!text) return null;
  const c = classify(text);
  if (!c) return html`<span class="mono" lang="en">${text}</span>`;
  return html`<span class="err-summary">${t(c.key, { code: c.code })}</span> <span class="mono muted" lang="en">(${text})</span>`;
}
