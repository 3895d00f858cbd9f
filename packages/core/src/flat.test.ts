import { describe, expect, it } from 'vitest';
import { addInto, distinctRows, divideInPlace, firstNonFinite, gatherTableRows, maxAbs, sumOfSquares } from './flat.js';

describe('addInto', () => {
  it('adds element-wise into the accumulator and leaves the addend alone', () => {
    const acc = Float32Array.from([1, 2, 3]);
    const x = Float32Array.from([0.5, -2, 10]);
    addInto(acc, x);
    expect(Array.from(acc)).toEqual([1.5, 0, 13]);
    expect(Array.from(x)).toEqual([0.5, -2, 10]);
  });

  it('rounds each sum to float32', () => {
    const acc = Float32Array.from([1e8]);
    addInto(acc, Float32Array.from([1]));
    expect(acc[0]).toBe(1e8);
  });

  it('throws a RangeError naming both lengths when they differ', () => {
    expect(() => addInto(new Float32Array(3), new Float32Array(2))).toThrow(RangeError);
    expect(() => addInto(new Float32Array(3), new Float32Array(2))).toThrow('addInto: lengths differ (3 vs 2)');
  });
});

describe('divideInPlace', () => {
  it('divides every element by the divisor', () => {
    const x = Float32Array.from([3, -6, 0, 1]);
    divideInPlace(x, 3);
    expect(Array.from(x)).toEqual([1, -2, 0, Math.fround(1 / 3)]);
  });
});

describe('firstNonFinite', () => {
  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
  ])('finds %s', (_, bad) => {
    expect(firstNonFinite(Float32Array.from([0, 1, bad, 2, bad]))).toBe(2);
    expect(firstNonFinite(Float32Array.from([bad]))).toBe(0);
  });

  it('returns -1 when every value is finite', () => {
    expect(firstNonFinite(Float32Array.from([0, -0, 3.4e38, -3.4e38, 1e-45]))).toBe(-1);
    expect(firstNonFinite(new Float32Array(0))).toBe(-1);
  });
});

describe('firstNonFinite on long arrays (the unrolled pre-check)', () => {
  it.each([0, 1, 2, 3, 4, 1021, 1022])('finds a NaN at %i of 1023, and nothing in the clean array', (at) => {
    const x = new Float32Array(1023).fill(1e38);
    expect(firstNonFinite(x)).toBe(-1);
    x[at] = Number.NaN;
    x[1022 - (at % 3)] = Number.NEGATIVE_INFINITY;
    expect(firstNonFinite(x)).toBe(Math.min(at, 1022 - (at % 3)));
  });
});

describe('maxAbs', () => {
  it('gives the largest magnitude, whatever the length modulo 4', () => {
    for (let n = 0; n < 9; n++) {
      const x = Float32Array.from({ length: n }, (_, i) => (i % 2 ? -1 : 1) * (i + 1));
      expect(maxAbs(x)).toBe(n);
    }
    expect(maxAbs(Float32Array.of(-3e38, 1))).toBe(Math.fround(3e38));
  });

  it('is NaN or Infinity when a value is not finite', () => {
    expect(maxAbs(Float32Array.of(1, 2, 3, 4, Number.NaN))).toBeNaN();
    expect(maxAbs(Float32Array.of(Number.NaN, 1e38, 1, 1))).toBeNaN();
    expect(maxAbs(Float32Array.of(1, Number.NEGATIVE_INFINITY, 2))).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('sumOfSquares', () => {
  it('sums in float64: float32 gradients near 3e38 do not overflow it', () => {
    expect(sumOfSquares(Float32Array.of(3, 4, 12))).toBe(169);
    expect(sumOfSquares(Float32Array.of(3e38, 3e38))).toBeCloseTo(2 * Math.fround(3e38) ** 2, -70);
    expect(Number.isFinite(sumOfSquares(Float32Array.of(3e38, 3e38)))).toBe(true);
  });
});

describe('distinctRows and gatherTableRows', () => {
  it('lists the distinct ids of several arrays in ascending order, ignoring values that are not rows', () => {
    const ids = distinctRows([Float32Array.from([5, 1, 5, 3]), Float32Array.from([1, 0, 9, 2.5, -1])], 6);
    expect(Array.from(ids)).toEqual([0, 1, 3, 5]);
  });

  it('packs the named rows of a table', () => {
    const table = Float32Array.from([0, 0, 10, 11, 20, 21, 30, 31]);
    expect(Array.from(gatherTableRows(table, Uint32Array.from([1, 3]), 2))).toEqual([10, 11, 30, 31]);
  });
});
