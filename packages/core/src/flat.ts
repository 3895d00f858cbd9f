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
  // The common answer (all finite) from one branch-free pass: x * 0 is NaN exactly for NaN and
  // +-Infinity, and four sums keep the additions independent. Twice as fast as testing each value.
  if (nonFiniteMark(x) === 0) return -1;
  for (let i = 0; i < x.length; i++) {
    const value = x[i]!;
    // value - value is NaN exactly for NaN and +-Infinity; cheaper than Number.isFinite per element.
    if (value - value !== 0) return i;
  }
  return -1;
}

/** 0 when every value is finite, NaN otherwise. */
function nonFiniteMark(x: Float32Array): number {
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  const end = x.length - (x.length % 4);
  let i = 0;
  for (; i < end; i += 4) {
    a += x[i]! * 0;
    b += x[i + 1]! * 0;
    c += x[i + 2]! * 0;
    d += x[i + 3]! * 0;
  }
  for (; i < x.length; i++) a += x[i]! * 0;
  return a + b + c + d;
}

/**
 * The largest |x[i]|, or NaN or Infinity when some value is not finite (Math.max passes NaN on):
 * the magnitude and the finiteness of a vector in one pass, four running maxima wide.
 */
export function maxAbs(x: Float32Array): number {
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  const end = x.length - (x.length % 4);
  let i = 0;
  for (; i < end; i += 4) {
    a = Math.max(a, Math.abs(x[i]!));
    b = Math.max(b, Math.abs(x[i + 1]!));
    c = Math.max(c, Math.abs(x[i + 2]!));
    d = Math.max(d, Math.abs(x[i + 3]!));
  }
  for (; i < x.length; i++) a = Math.max(a, Math.abs(x[i]!));
  return Math.max(a, b, c, d);
}

/** The sum of squares, in float64 (a float32 gradient's square overflows float32 near 1.8e19). */
export function sumOfSquares(x: Float32Array): number {
  let a = 0;
  let b = 0;
  const end = x.length - (x.length % 2);
  let i = 0;
  for (; i < end; i += 2) {
    a += x[i]! * x[i]!;
    b += x[i + 1]! * x[i + 1]!;
  }
  if (i < x.length) a += x[i]! * x[i]!;
  return a + b;
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

/** Rows `rows` of a row-major table of width `dim`, packed one after another (into the start of `into` when given). */
export function gatherTableRows(table: Float32Array, rows: Uint32Array, dim: number, into?: Float32Array): Float32Array {
  if (into && into.length < rows.length * dim) throw new RangeError(`gatherTableRows: ${rows.length} rows of ${dim} do not fit in ${into.length} floats`);
  const out = into ? into.subarray(0, rows.length * dim) : new Float32Array(rows.length * dim);
  for (let k = 0; k < rows.length; k++) out.set(table.subarray(rows[k]! * dim, (rows[k]! + 1) * dim), k * dim);
  return out;
}
