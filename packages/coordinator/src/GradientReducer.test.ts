import { mulberry32 } from '@adamant/core';
import { describe, expect, it } from 'vitest';
import { GradientReducer } from './GradientReducer.js';

const SIZE = 64;
const BATCH_SIZE = 10;

/**
 * Four chunks whose float32 sum depends on the order of addition: large values that cancel,
 * small ones that get lost beside them, and noise of mixed scale.
 */
function chunks(): Float32Array[] {
  const random = mulberry32(11);
  const out = Array.from({ length: 4 }, () => Float32Array.from({ length: SIZE }, () => (random() * 2 - 1) * 10 ** Math.floor(random() * 9 - 4)));
  for (let i = 0; i < SIZE; i += 2) {
    out[0]![i] = 1e8;
    out[1]![i] = 1;
    out[2]![i] = -1e8;
    out[3]![i] = 1;
  }
  return out;
}

/** ((c[o0] + c[o1]) + c[o2]) + c[o3] in float32. */
function sumInOrder(parts: Float32Array[], order: number[]): Float32Array {
  const sum = new Float32Array(SIZE);
  for (const k of order) for (let i = 0; i < SIZE; i++) sum[i] = sum[i]! + parts[k]![i]!;
  return sum;
}

function expectedMean(parts: Float32Array[]): Float32Array {
  const mean = sumInOrder(parts, [0, 1, 2, 3]);
  for (let i = 0; i < SIZE; i++) mean[i] = mean[i]! / BATCH_SIZE;
  return mean;
}

function permutations(items: number[]): number[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

const bytesOf = (x: Float32Array): Buffer => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

describe('GradientReducer', () => {
  const parts = chunks();
  const expected = expectedMean(parts);

  it('uses chunks whose sum really depends on the order of addition', () => {
    // Otherwise the test below could not tell a fixed order from any other.
    expect(bytesOf(sumInOrder(parts, [0, 2, 1, 3])).equals(bytesOf(sumInOrder(parts, [0, 1, 2, 3])))).toBe(false);
    expect(expected[0]).toBe(Math.fround(1 / BATCH_SIZE));
  });

  it.each(permutations([0, 1, 2, 3]))('sums in chunk order whatever the arrival order (%j)', (...arrival) => {
    const reducer = new GradientReducer(SIZE);
    reducer.begin(4, BATCH_SIZE);
    for (const index of arrival) reducer.add(index, { dense: parts[index]! });
    expect(reducer.complete).toBe(true);
    expect(bytesOf(reducer.mean()).equals(bytesOf(expected))).toBe(true);
  });

  it('leaves the chunk arrays untouched', () => {
    const copies = parts.map((p) => p.slice());
    const reducer = new GradientReducer(SIZE);
    reducer.begin(4, BATCH_SIZE);
    for (const index of [3, 1, 0, 2]) reducer.add(index, { dense: parts[index]! });
    reducer.mean();
    parts.forEach((p, k) => {
      expect(bytesOf(p).equals(bytesOf(copies[k]!))).toBe(true);
    });
  });

  it('starts afresh on begin', () => {
    const reducer = new GradientReducer(SIZE);
    reducer.begin(2, 1);
    reducer.add(0, { dense: parts[0]! });
    reducer.add(1, { dense: parts[1]! });
    reducer.mean();
    reducer.begin(4, BATCH_SIZE);
    expect(reducer.has(0)).toBe(false);
    expect(reducer.complete).toBe(false);
    for (const index of [2, 3, 1, 0]) reducer.add(index, { dense: parts[index]! });
    expect(bytesOf(reducer.mean()).equals(bytesOf(expected))).toBe(true);
  });

  it('reports which chunks it has, whether summed already or waiting', () => {
    const reducer = new GradientReducer(SIZE);
    reducer.begin(4, BATCH_SIZE);
    reducer.add(2, { dense: parts[2]! });
    expect([0, 1, 2, 3].map((i) => reducer.has(i))).toEqual([false, false, true, false]);
    reducer.add(0, { dense: parts[0]! });
    expect([0, 1, 2, 3].map((i) => reducer.has(i))).toEqual([true, false, true, false]);
    expect(reducer.complete).toBe(false);
  });

  it('rejects a duplicate chunk, summed or waiting', () => {
    const reducer = new GradientReducer(SIZE);
    reducer.begin(4, BATCH_SIZE);
    reducer.add(0, { dense: parts[0]! });
    reducer.add(2, { dense: parts[2]! });
    expect(() => reducer.add(0, { dense: parts[0]! })).toThrow(new RangeError('chunk 0 was already added'));
    expect(() => reducer.add(2, { dense: parts[2]! })).toThrow(new RangeError('chunk 2 was already added'));
    // The duplicates did not count: the result is still the plain mean.
    reducer.add(1, { dense: parts[1]! });
    reducer.add(3, { dense: parts[3]! });
    expect(bytesOf(reducer.mean()).equals(bytesOf(expected))).toBe(true);
  });

  it('rejects a chunk index outside the step', () => {
    const reducer = new GradientReducer(SIZE);
    reducer.begin(4, BATCH_SIZE);
    expect(() => reducer.add(4, { dense: parts[0]! })).toThrow(new RangeError('chunk 4 is outside 0..3'));
    expect(() => reducer.add(-1, { dense: parts[0]! })).toThrow(new RangeError('chunk -1 is outside 0..3'));
    expect(reducer.has(4)).toBe(false);
  });

  it('refuses to give a mean before every chunk is in', () => {
    const reducer = new GradientReducer(SIZE);
    reducer.begin(4, BATCH_SIZE);
    reducer.add(0, { dense: parts[0]! });
    reducer.add(3, { dense: parts[3]! });
    expect(() => reducer.mean()).toThrow('GradientReducer.mean: 3 chunks missing');
  });
});

describe('GradientReducer with an embedding table', () => {
  // 4 rows x 2 dims of table, then 3 dense parameters.
  const table = { rows: 4, dim: 2 };
  const size = 4 * 2 + 3;

  it('scatter-adds embedding rows in chunk order and averages the whole vector', () => {
    const reducer = new GradientReducer(size, table);
    reducer.begin(2, 4);
    reducer.add(1, { dense: Float32Array.from([1, 1, 1]), sparse: { rows: Uint32Array.from([1, 3]), values: Float32Array.from([4, 4, 8, 8]) } });
    expect(reducer.complete).toBe(false);
    reducer.add(0, { dense: Float32Array.from([3, 3, 3]), sparse: { rows: Uint32Array.from([1]), values: Float32Array.from([4, 0]) } });
    expect(Array.from(reducer.mean())).toEqual([0, 0, 2, 1, 0, 0, 2, 2, 1, 1, 1]);
    expect([...reducer.touchedRows].sort()).toEqual([1, 3]);
  });

  it('forgets the touched rows of the previous step', () => {
    const reducer = new GradientReducer(size, table);
    reducer.begin(1, 1);
    reducer.add(0, { dense: new Float32Array(3), sparse: { rows: Uint32Array.from([2]), values: Float32Array.from([1, 1]) } });
    reducer.begin(1, 1);
    reducer.add(0, { dense: new Float32Array(3), sparse: { rows: Uint32Array.from([0]), values: Float32Array.from([1, 1]) } });
    expect([...reducer.touchedRows]).toEqual([0]);
    expect(Array.from(reducer.mean().subarray(0, 8))).toEqual([1, 1, 0, 0, 0, 0, 0, 0]);
  });

  it('rejects rows whose values do not match the table width', () => {
    const reducer = new GradientReducer(size, table);
    reducer.begin(1, 1);
    expect(() => reducer.add(0, { dense: new Float32Array(3), sparse: { rows: Uint32Array.from([2]), values: Float32Array.from([1, 1, 1]) } })).toThrow(
      /3 embedding values for 1 rows of 2/,
    );
  });
});
