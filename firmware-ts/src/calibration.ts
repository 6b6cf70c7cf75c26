/**
 * Calibration of raw ADC counts into engineering units. Pure functions: the sampler applies
 * them, the Modbus slave shows and edits them as cubic coefficients.
 */

export interface TwoPointCalibration {
  kind: 'two-point';
  /** Raw counts at the two reference points (must differ). */
  raw: readonly [number, number];
  /** Engineering values at those raw counts. */
  value: readonly [number, number];
}

export interface PolynomialCalibration {
  kind: 'polynomial';
  /** c0, c1, c2, ...: value = c0 + c1*raw + c2*raw^2 + ... */
  coefficients: readonly number[];
}

export type Calibration = TwoPointCalibration | PolynomialCalibration;

/** Coefficients the register map exposes per channel (c0..c3). */
export const MAX_COEFFICIENTS = 4;

export function twoPoint(cal: TwoPointCalibration, raw: number): number {
  const [r0, r1] = cal.raw;
  const [v0, v1] = cal.value;
  return v0 + ((raw - r0) * (v1 - v0)) / (r1 - r0);
}

/** Horner's rule: one multiply-add per coefficient, no Math.pow rounding. */
export function polynomial(cal: PolynomialCalibration, raw: number): number {
  let acc = 0;
  for (let i = cal.coefficients.length - 1; i >= 0; i--) acc = acc * raw + cal.coefficients[i]!;
  return acc;
}

export function calibrate(cal: Calibration, raw: number): number {
  return cal.kind === 'two-point' ? twoPoint(cal, raw) : polynomial(cal, raw);
}

/** The same calibration as exactly MAX_COEFFICIENTS polynomial coefficients (zero-padded). */
export function toCoefficients(cal: Calibration): number[] {
  if (cal.kind === 'polynomial') {
    return Array.from({ length: MAX_COEFFICIENTS }, (_, i) => cal.coefficients[i] ?? 0);
  }
  const [r0, r1] = cal.raw;
  const [v0, v1] = cal.value;
  const gain = (v1 - v0) / (r1 - r0);
  return [v0 - gain * r0, gain, 0, 0];
}

/** Why a calibration cannot be used, or undefined when it can. */
export function calibrationProblem(cal: Calibration): string | undefined {
  if (cal.kind === 'two-point') {
    const all = [...cal.raw, ...cal.value];
    if (!all.every(Number.isFinite)) return 'two-point calibration values must be finite numbers';
    if (cal.raw[0] === cal.raw[1]) return `two-point calibration needs two different raw points (both are ${cal.raw[0]})`;
    return undefined;
  }
  if (cal.coefficients.length === 0) return 'polynomial calibration needs at least one coefficient';
  if (cal.coefficients.length > MAX_COEFFICIENTS) {
    return `polynomial calibration has ${cal.coefficients.length} coefficients; at most ${MAX_COEFFICIENTS} (cubic) are supported`;
  }
  if (!cal.coefficients.every(Number.isFinite)) return 'polynomial coefficients must be finite numbers';
  return undefined;
}
