import { maxAbs, mulberry32 } from '@adamant/core';
import { describe, expect, it } from 'vitest';
import { GradientReducer } from './GradientReducer.js';

// A table of 20 rows of 4, then 6 dense values.
const table = { rows: 20, dim: 4 };
const SIZE = 86;

/** A chunk touching `rows` (ascending), with values of mixed scale. */
function part(random: () => number, rows: number[]) {
  const values = Float32Array.from({ length: rows.length * table.dim }, () => (random() - 0.5) * 10 ** Math.floor(random() * 6 - 2));
  return { dense: Float32Array.from({ length: SIZE - 80 }, () => random() - 0.5), sparse: { rows: Uint32Array.from(rows), values } };
}

/** The mean as the dense sum of the parts, divided element by element over the whole vector. */
function denseMean(parts: ReturnType<typeof part>[], batchSize: number): Float32Array {
  const sum = new Float32Array(SIZE);
  for (const p of parts) {
    for (let i = 0; i < p.dense.length; i++) sum[80 + i] = sum[80 + i]! + p.dense[i]!;
    p.sparse.rows.forEach((row, k) => {
      for (let e = 0; e < table.dim; e++) sum[row * table.dim + e] = sum[row * table.dim + e]! + p.sparse.values[k * table.dim + e]!;
    });
  }
  for (let i = 0; i < SIZE; i++) sum[i] = sum[i]! / batchSize;
  return sum;
}

const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

describe('GradientReducer with an embedding table', () => {
  it('averages only the dense part and the touched rows, to the bits of a whole division, and their largest magnitude is the whole largest', () => {
    const random = mulberry32(4);
    const reducer = new GradientReducer(SIZE, table);
    for (let step = 0; step < 20; step++) {
      const parts = [part(random, [1, 5, 6]), part(random, [0, 5, 19]), part(random, [step % 20])];
      reducer.begin(parts.length, 7);
      for (const [index, p] of parts.entries()) reducer.add(index, p);
      const expected = denseMean(parts, 7);
      expect(bytes(reducer.mean()).equals(bytes(expected))).toBe(true);
      expect(reducer.maxAbsOfMean()).toBe(maxAbs(expected));
    }
  });

  it('hands its mean over: the mean stays as it was while the next step sums into the other buffer', () => {
    const random = mulberry32(8);
    const reducer = new GradientReducer(SIZE, table);
    let kept: { mean: Float32Array; copy: Float32Array } | undefined;
    for (let step = 0; step < 6; step++) {
      const parts = [part(random, [2, 3]), part(random, [step + 7])];
      reducer.begin(parts.length, 2);
      reducer.add(1, parts[1]!);
      reducer.add(0, parts[0]!);
      if (kept) expect(bytes(kept.mean).equals(bytes(kept.copy))).toBe(true);
      const mean = reducer.handOverMean();
      expect(bytes(mean).equals(bytes(denseMean(parts, 2)))).toBe(true);
      expect(mean).not.toBe(kept?.mean);
      kept = { mean, copy: mean.slice() };
      expect(reducer.complete).toBe(false);
    }
  });
});
