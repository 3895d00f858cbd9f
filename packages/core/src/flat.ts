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

/**
 * The distinct row ids in some token-id arrays (floats holding integers below `rows`), ascending.
 * Values that are not such ids are ignored; callers that must refuse them check first.
 */
export function distinctRows(ids: readonly Float32Array[], rows: number): Uint32Array {
  const seen = new Uint8Array(rows);
  for (const x of ids) for (let k = 0; k < x.length; k++) seen[x[k]!] = 1;
  let count = 0;
  for (let row = 0; row < rows; row++) count += seen[row]!;
  const out = new Uint32Array(count);
  for (let row = 0, k = 0; row < rows; row++) if (seen[row]) out[k++] = row;
  return out;
}

/** Rows `rows` of a row-major table of width `dim`, packed one after another. */
export function gatherTableRows(table: Float32Array, rows: Uint32Array, dim: number): Float32Array {
  const out = new Float32Array(rows.length * dim);
  for (let k = 0; k < rows.length; k++) out.set(table.subarray(rows[k]! * dim, (rows[k]! + 1) * dim), k * dim);
  return out;
}
