/**
 * Units as UCUM codes (https://ucum.org, case-sensitive "c/s" form), so the center can
 * convert and compare what different meters send. Vendor manuals and technicians write
 * "°C", "m³/h", "kWh", "Гкал"; `normalizeUnit` maps those spellings to the code and checks
 * that anything else is a well-formed UCUM expression over the units a gateway meets.
 */
import { closest } from './closest.ts';

/** Common spellings (compared case-sensitively, then case-insensitively) -> UCUM code. */
const ALIASES: Record<string, string> = {
  '°C': 'Cel',
  '℃': 'Cel',
  degC: 'Cel',
  'deg C': 'Cel',
  '°F': '[degF]',
  '°': 'deg',
  'м3': 'm3',
  'м³': 'm3',
  'm³': 'm3',
  'm³/h': 'm3/h',
  'м3/ч': 'm3/h',
  'м³/ч': 'm3/h',
  'm3/hr': 'm3/h',
  'l/s': 'L/s',
  'л/с': 'L/s',
  'l/min': 'L/min',
  l: 'L',
  'л': 'L',
  kWh: 'kW.h',
  'кВт·ч': 'kW.h',
  'кВт*ч': 'kW.h',
  Wh: 'W.h',
  MWh: 'MW.h',
  'kW·h': 'kW.h',
  'kW*h': 'kW.h',
  VA: 'V.A',
  kVA: 'kV.A',
  var: 'V.A{reactive}',
  kvar: 'kV.A{reactive}',
  kvarh: 'kV.A.h{reactive}',
  kVAh: 'kV.A.h',
  'Гкал': 'Gcal',
  'Гкал/ч': 'Gcal/h',
  'МВт': 'MW',
  'кВт': 'kW',
  'В': 'V',
  'А': 'A',
  'Гц': 'Hz',
  'МПа': 'MPa',
  'кПа': 'kPa',
  'ч': 'h',
  hr: 'h',
  hours: 'h',
  sec: 's',
  NTU: '[NTU]',
  FNU: '[FNU]',
  pH: '[pH]',
  ppm: '[ppm]',
  ppb: '[ppb]',
  ppt: '[ppth]',
  '‰': '[ppth]',
  PSU: '[ppth]',
  'µS/cm': 'uS/cm',
  'μS/cm': 'uS/cm',
  'мкСм/см': 'uS/cm',
  'mg/l': 'mg/L',
  'мг/л': 'mg/L',
  'µg/L': 'ug/L',
  'μg/L': 'ug/L',
  'km/h': 'km/h',
  'км/ч': 'km/h',
  rpm: '{rev}/min',
  'об/мин': '{rev}/min',
  dBm: 'dB[mW]',
  'kgf/cm2': 'kgf/cm2',
  'кгс/см2': 'kgf/cm2',
  'кгс/см²': 'kgf/cm2',
  'см': 'cm',
  'мм': 'mm',
  'м': 'm',
  'м/с': 'm/s',
};

/** UCUM prefixes (c/s). */
const PREFIXES: Record<string, number> = {
  Y: 1e24, Z: 1e21, E: 1e18, P: 1e15, T: 1e12, G: 1e9, M: 1e6, k: 1e3, h: 1e2, da: 1e1,
  d: 1e-1, c: 1e-2, m: 1e-3, u: 1e-6, n: 1e-9, p: 1e-12, f: 1e-15, a: 1e-18,
};

/**
 * UCUM atoms a gateway meets; `true` when the atom is metric (takes a prefix). Not all of
 * UCUM: an atom missing here is reported, and added when a real device needs it.
 */
const ATOMS: Record<string, boolean> = {
  m: true, g: true, s: true, K: true, C: true, cd: true, mol: true, rad: true,
  L: true, l: true, t: true, W: true, V: true, A: true, Hz: true, J: true, N: true, Pa: true, bar: true,
  Ohm: true, S: true, F: true, H: true, Wb: true, T: true, B: true, 'B[mW]': true, 'B[V]': true, Cel: true,
  cal: true, eV: true, gf: true, lx: true, lm: true, sr: true, Bq: true, Gy: true, Sv: true,
  '%': false, '[ppth]': false, '[ppm]': false, '[ppb]': false, '[pH]': false, '[NTU]': false, '[FNU]': false,
  min: false, h: false, d: false, wk: false, mo: false, a: false, deg: false, "'": false, "''": false,
  '[degF]': false, '[psi]': false, atm: false, 'm[H2O]': true, 'm[Hg]': true, '[in_i]': false, '[ft_i]': false,
  '[gal_us]': false, '[mi_i]': false, '[kn_i]': false, '[iU]': true, eq: true,
  '10*': false, '[pi]': false, bit: true, By: true, Bd: true,
};

export type UnitResult = { ok: true; code: string } | { ok: false; message: string };

const ANNOTATION = /^\{[^{}]*\}$/;

function isSimpleUnit(text: string): boolean {
  // Optional annotation suffix, e.g. V.A{reactive}.
  const m = /^(.*?)(\{[^{}]*\})?$/.exec(text)!;
  const core = m[1]!;
  if (core === '') return m[2] !== undefined; // a bare annotation is the unity with a label
  const e = /^(.*?)(-?\d+)?$/.exec(core)!;
  const atom = e[1]!;
  if (atom === '') return /^\d+$/.test(core); // a plain number such as 1 or 10
  if (ATOMS[atom] !== undefined) return true;
  for (const [p] of Object.entries(PREFIXES)) {
    if (atom.startsWith(p) && ATOMS[atom.slice(p.length)] === true) return true;
  }
  return false;
}

/** Whether `code` is a UCUM term made of known atoms: components joined by "." and "/". */
export function isUcum(code: string): boolean {
  if (code === '' || /\s/.test(code)) return false;
  if (code === '1') return true;
  // Parentheses only group; a term inside must itself be valid.
  let rest = code;
  for (;;) {
    const inner = /\(([^()]*)\)/.exec(rest);
    if (!inner) break;
    if (!isUcum(inner[1]!)) return false;
    rest = rest.replace(inner[0], '1');
  }
  const body = rest.startsWith('/') ? rest.slice(1) : rest;
  // Split on . and / outside annotations and brackets.
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of body) {
    if (ch === '{' || ch === '[') depth++;
    if (ch === '}' || ch === ']') depth--;
    if (depth === 0 && (ch === '.' || ch === '/')) {
      parts.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  parts.push(cur);
  return parts.every((p) => p !== '' && (ANNOTATION.test(p) || isSimpleUnit(p)));
}

function suggest(text: string): string | undefined {
  const hit = closest(text, [...Object.keys(ALIASES), ...Object.values(ALIASES), ...Object.keys(ATOMS)], 'typed');
  return hit === undefined ? undefined : (ALIASES[hit] ?? hit);
}

const lowerAliases = new Map(Object.entries(ALIASES).map(([k, v]) => [k.toLowerCase(), v]));

/** Maps a unit as written in a manual or config to its UCUM code, or explains why it cannot. */
export function normalizeUnit(text: string): UnitResult {
  const t = text.trim().replace(/³/g, '3').replace(/²/g, '2');
  const alias = ALIASES[text.trim()] ?? ALIASES[t];
  if (alias !== undefined) return { ok: true, code: alias };
  if (isUcum(t)) return { ok: true, code: t };
  const loose = lowerAliases.get(t.toLowerCase());
  // Case matters in UCUM (mS vs MS), so a case-insensitive alias hit is only a suggestion.
  const hint = loose ?? suggest(t);
  return {
    ok: false,
    message:
      `unknown unit "${text}": not a UCUM code (https://ucum.org) or a known spelling` +
      (hint ? ` (did you mean "${hint}"?)` : '; write it as UCUM, e.g. "Cel", "m3/h", "kW.h", "[NTU]"'),
  };
}
