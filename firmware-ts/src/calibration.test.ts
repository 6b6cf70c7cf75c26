import test from 'node:test';
import assert from 'node:assert/strict';
import { calibrate, calibrationProblem, polynomial, toCoefficients, twoPoint } from './calibration.ts';

test('two-point calibration maps the reference points exactly and interpolates linearly between them', () => {
  const cal = { kind: 'two-point', raw: [200, 1000], value: [0, 10] } as const;
  assert.equal(twoPoint(cal, 200), 0);
  assert.equal(twoPoint(cal, 1000), 10);
  assert.equal(twoPoint(cal, 600), 5);
});

test('two-point calibration extrapolates outside the reference points (the range check decides what is plausible)', () => {
  assert.equal(twoPoint({ kind: 'two-point', raw: [0, 100], value: [0, 50] }, 200), 100);
  assert.equal(twoPoint({ kind: 'two-point', raw: [0, 100], value: [0, 50] }, -100), -50);
});

test('polynomial calibration evaluates c0 + c1*x + c2*x^2 + c3*x^3', () => {
  assert.equal(polynomial({ kind: 'polynomial', coefficients: [1, 2, 3, 4] }, 2), 1 + 4 + 12 + 32);
  assert.equal(polynomial({ kind: 'polynomial', coefficients: [7] }, 1000), 7);
});

test('calibrate dispatches on the calibration kind', () => {
  assert.equal(calibrate({ kind: 'two-point', raw: [0, 10], value: [0, 1] }, 5), 0.5);
  assert.equal(calibrate({ kind: 'polynomial', coefficients: [0, 0.5] }, 5), 2.5);
});

test('toCoefficients turns a two-point calibration into the equivalent c0..c3', () => {
  const cal = { kind: 'two-point', raw: [100, 300], value: [10, 50] } as const;
  const c = toCoefficients(cal);
  assert.deepEqual(c, [-10, 0.2, 0, 0]);
  assert.equal(polynomial({ kind: 'polynomial', coefficients: c }, 200), twoPoint(cal, 200));
});

test('toCoefficients pads a short polynomial with zeros to four coefficients', () => {
  assert.deepEqual(toCoefficients({ kind: 'polynomial', coefficients: [1, 2] }), [1, 2, 0, 0]);
});

test('calibrationProblem names what makes a calibration unusable', () => {
  assert.equal(calibrationProblem({ kind: 'two-point', raw: [0, 1023], value: [0, 25] }), undefined);
  assert.match(calibrationProblem({ kind: 'two-point', raw: [5, 5], value: [0, 1] })!, /two different raw points \(both are 5\)/);
  assert.match(calibrationProblem({ kind: 'two-point', raw: [0, 1], value: [0, NaN] })!, /finite/);
  assert.match(calibrationProblem({ kind: 'polynomial', coefficients: [] })!, /at least one coefficient/);
  assert.match(calibrationProblem({ kind: 'polynomial', coefficients: [1, 2, 3, 4, 5] })!, /5 coefficients; at most 4/);
  assert.match(calibrationProblem({ kind: 'polynomial', coefficients: [1, Infinity] })!, /finite/);
});
