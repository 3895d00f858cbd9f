/**
 * The allocation-free loops over flat Float32Arrays on the parameter server's hot path.
 */

/** acc[i] += x[i]. */
export function addInto(acc: Float32Array, x: Float32Array): void {
  if (acc.length !== x.length) throw new RangeError(`addInto: lengths differ (${acc.length} vs ${x.length})`);
  for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + x[i]!;
}

/** x[i] /= divisor, in place. Division (not multiplication by 1/divisor) keeps a mean exact where it can be. */
export function divideInPlace(x: Float32Array, divisor: number): void {
  for (let i = 0; i < x.length; i++) x[i] = x[i]! / divisor;
}

/** The index of the first NaN or infinite value, or -1 when all are finite. */
export function firstNonFinite(x: Float32Array): number {
  for (let i = 0; i < x.length; i++) {
    const value = x[i]!;
    // value - value is NaN exactly for NaN and +-Infinity; cheaper than Number.isFinite per element.
    if (value - value !== 0) return i;
  }
  return -1;
}
