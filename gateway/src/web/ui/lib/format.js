import { lang, t, plural } from './i18n.js';
import { displayUnit } from './units.js';

/**
 * A number as an engineer reads it: at most 6 significant digits, so 1e-7 is "1·10⁻⁷" and
 * not "0" (or "-0"), and 3e36 is "3·10³⁶", not 37 digits. Integers up to 1e15 stay exact.
 */
export function fmtNumber(v, digits = 6) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v;
  if (typeof v !== 'number') return String(v);
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (Number.isInteger(v) && abs < 1e15) return v.toLocaleString(lang());
  if (abs >= 1e9 || abs < 1e-4) {
    const [m, e] = v.toExponential(Math.max(0, digits - 1)).split('e');
    const mant = Number(m).toLocaleString(lang(), { maximumFractionDigits: digits - 1 });
    return `${mant}·10${[...String(Number(e))].map((c) => ({ '-': '⁻', 0: '⁰', 1: '¹', 2: '²', 3: '³', 4: '⁴', 5: '⁵', 6: '⁶', 7: '⁷', 8: '⁸', 9: '⁹' })[c]).join('')}`;
  }
  return v.toLocaleString(lang(), { maximumSignificantDigits: digits });
}

export function fmtValue(v, unit) {
  if (typeof v === 'boolean') return t(v ? 'common.true' : 'common.false');
  const u = displayUnit(unit);
  return u && v !== null && v !== undefined ? `${fmtNumber(v)} ${u}` : fmtNumber(v);
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['unit.b', 'unit.kib', 'unit.mib', 'unit.gib', 'unit.tib'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${(Math.round(n * 10) / 10).toLocaleString(lang())} ${t(units[i])}`;
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined) return '—';
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  if (d > 0) return t('time.dh', { d, h: hh });
  if (hh > 0) return t('time.hm', { h: hh, m: mm });
  if (mm > 0) return t('time.ms', { m: mm, s: s % 60 });
  return t('time.s', { s });
}

export const fmtAgo = (ts, now = Date.now()) => (ts ? t('time.ago', { d: fmtDuration(now - ts) }) : t('common.never'));

export const fmtTime = (ts) => (ts ? new Date(ts).toLocaleString(lang()) : '—');
export const fmtClock = (ts) => (ts ? new Date(ts).toLocaleTimeString(lang(), { hour: '2-digit', minute: '2-digit', second: '2-digit' }) : '—');

export { plural };
