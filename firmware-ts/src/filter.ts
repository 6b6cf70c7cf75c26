/**
 * Smoothing of raw readings over a sliding window. The median rejects the single wild
 * readings an ultrasonic sensor produces on a wave or a bird; the mean suits slow, noisy
 * signals such as temperature.
 */

export type FilterKind = 'median' | 'mean';

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty window');
  const sorted = [...values].sort((a, b) => a - b);
  const half = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[half]! : (sorted[half - 1]! + sorted[half]!) / 2;
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('mean of an empty window');
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Keeps the last `size` readings; `value()` is undefined until the first reading. */
export class WindowFilter {
  readonly #values: number[] = [];

  constructor(
    readonly kind: FilterKind,
    readonly size: number,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`filter window must be a whole number >= 1 (got ${size})`);
  }

  push(value: number): void {
    this.#values.push(value);
    if (this.#values.length > this.size) this.#values.shift();
  }

  value(): number | undefined {
    if (this.#values.length === 0) return undefined;
    return this.kind === 'median' ? median(this.#values) : mean(this.#values);
  }

  clear(): void {
    this.#values.length = 0;
  }
}
