// Display units from the UCUM codes the config stores (device-profiles/src/units.ts): one
// table, Russian as engineers write it, English as on a data sheet.
import { lang } from './i18n.js';

/** UCUM code -> [ru, en]. */
export const UNITS = {
  Cel: ['°C', '°C'],
  K: ['K', 'K'],
  '[degF]': ['°F', '°F'],
  deg: ['°', '°'],
  '%': ['%', '%'],
  W: ['Вт', 'W'],
  kW: ['кВт', 'kW'],
  MW: ['МВт', 'MW'],
  'W.h': ['Вт·ч', 'Wh'],
  'kW.h': ['кВт·ч', 'kWh'],
  'MW.h': ['МВт·ч', 'MWh'],
  'V.A': ['В·А', 'VA'],
  'kV.A': ['кВ·А', 'kVA'],
  'kV.A.h': ['кВ·А·ч', 'kVAh'],
  'V.A{reactive}': ['вар', 'var'],
  'kV.A{reactive}': ['квар', 'kvar'],
  'kV.A.h{reactive}': ['квар·ч', 'kvarh'],
  'kV.A{reactive}.h': ['квар·ч', 'kvarh'],
  V: ['В', 'V'],
  kV: ['кВ', 'kV'],
  A: ['А', 'A'],
  mA: ['мА', 'mA'],
  Hz: ['Гц', 'Hz'],
  Ohm: ['Ом', 'Ω'],
  Pa: ['Па', 'Pa'],
  kPa: ['кПа', 'kPa'],
  MPa: ['МПа', 'MPa'],
  bar: ['бар', 'bar'],
  mbar: ['мбар', 'mbar'],
  'kgf/cm2': ['кгс/см²', 'kgf/cm²'],
  'm[H2O]': ['м вод. ст.', 'mH₂O'],
  m: ['м', 'm'],
  cm: ['см', 'cm'],
  mm: ['мм', 'mm'],
  km: ['км', 'km'],
  'm/s': ['м/с', 'm/s'],
  'km/h': ['км/ч', 'km/h'],
  m3: ['м³', 'm³'],
  'm3/h': ['м³/ч', 'm³/h'],
  'm3/s': ['м³/с', 'm³/s'],
  L: ['л', 'L'],
  'L/s': ['л/с', 'L/s'],
  'L/min': ['л/мин', 'L/min'],
  'L/h': ['л/ч', 'L/h'],
  t: ['т', 't'],
  't/h': ['т/ч', 't/h'],
  kg: ['кг', 'kg'],
  'kg/h': ['кг/ч', 'kg/h'],
  Gcal: ['Гкал', 'Gcal'],
  'Gcal/h': ['Гкал/ч', 'Gcal/h'],
  GJ: ['ГДж', 'GJ'],
  s: ['с', 's'],
  min: ['мин', 'min'],
  h: ['ч', 'h'],
  d: ['сут', 'd'],
  '[NTU]': ['НЕФ', 'NTU'],
  '[FNU]': ['ЕМФ', 'FNU'],
  '[pH]': ['pH', 'pH'],
  '[ppm]': ['млн⁻¹', 'ppm'],
  '[ppb]': ['млрд⁻¹', 'ppb'],
  '[ppth]': ['‰', '‰'],
  'mg/L': ['мг/л', 'mg/L'],
  'ug/L': ['мкг/л', 'µg/L'],
  'uS/cm': ['мкСм/см', 'µS/cm'],
  'mS/cm': ['мСм/см', 'mS/cm'],
  '{rev}/min': ['об/мин', 'rpm'],
  'dB[mW]': ['дБм', 'dBm'],
  1: ['', ''],
};

const SUPERSCRIPT = { '-': '⁻', 0: '⁰', 1: '¹', 2: '²', 3: '³', 4: '⁴', 5: '⁵', 6: '⁶', 7: '⁷', 8: '⁸', 9: '⁹' };

/** The unit as shown next to a value; a code outside the table still reads better than UCUM. */
export function displayUnit(code) {
  if (!code) return '';
  const known = UNITS[code];
  if (known) return known[lang() === 'ru' ? 0 : 1];
  // Generic: annotations dropped, "." as a middle dot, exponents raised (m3 -> m³).
  return code
    .replace(/\{[^}]*\}/g, '')
    .replace(/\./g, '·')
    .replace(/([A-Za-z\]])(-?\d+)/g, (_, a, d) => a + [...d].map((c) => SUPERSCRIPT[c]).join(''));
}
