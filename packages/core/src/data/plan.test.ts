import { describe, expect, it } from 'vitest';
import { mixSeed, mulberry32 } from '../rng.js';
import { batchesPerEpoch, epochOrder, planEpoch } from './plan.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('epochOrder', () => {
  it('is the identity without shuffle', () => {
    expect(Array.from(epochOrder(7, 99, 3, false))).toEqual(range(7));
  });

  it('is a permutation of the rows with shuffle', () => {
    const order = Array.from(epochOrder(50, 1, 0, true));
    expect([...order].sort((a, b) => a - b)).toEqual(range(50));
    expect(order).not.toEqual(range(50));
  });

  it('depends only on seed and epoch', () => {
    expect(Array.from(epochOrder(50, 1, 2, true))).toEqual(Array.from(epochOrder(50, 1, 2, true)));
    expect(Array.from(epochOrder(50, 1, 2, true))).not.toEqual(Array.from(epochOrder(50, 1, 3, true)));
    expect(Array.from(epochOrder(50, 1, 2, true))).not.toEqual(Array.from(epochOrder(50, 2, 2, true)));
  });

  it('draws from the stream keyed (seed, 1, epoch), as saved runs did', () => {
    const random = mulberry32(mixSeed(17, 1, 4));
    const expected = range(30);
    for (let i = 29; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [expected[i], expected[j]] = [expected[j]!, expected[i]!];
    }
    expect(Array.from(epochOrder(30, 17, 4, true))).toEqual(expected);
  });

  it('handles zero and one rows', () => {
    expect(epochOrder(0, 1, 0, true).length).toBe(0);
    expect(Array.from(epochOrder(1, 1, 0, true))).toEqual([0]);
  });
});

describe('planEpoch', () => {
  const order = Uint32Array.from([9, 3, 7, 1, 0, 8, 2, 6, 5, 4]);

  it('splits into batches of batchSize with a short last batch', () => {
    const plan = planEpoch(order, 4, 4, 3);
    expect(plan.map((b) => b.size)).toEqual([4, 4, 2]);
    expect(plan.map((b) => b.batch)).toEqual([0, 1, 2]);
    expect(plan.every((b) => b.epoch === 4)).toBe(true);
    expect(plan.length).toBe(batchesPerEpoch(order.length, 4));
  });

  it('splits each batch into chunks of chunkSize, numbered from 0 in every batch', () => {
    const plan = planEpoch(order, 0, 4, 3);
    const chunks = plan.map((b) => b.chunks.map((c) => ({ index: c.index, rows: Array.from(c.rows) })));
    expect(chunks).toEqual([
      [
        { index: 0, rows: [9, 3, 7] },
        { index: 1, rows: [1] },
      ],
      [
        { index: 0, rows: [0, 8, 2] },
        { index: 1, rows: [6] },
      ],
      [{ index: 0, rows: [5, 4] }],
    ]);
  });

  it('covers every row exactly once, in order', () => {
    const plan = planEpoch(order, 0, 3, 2);
    const visited = plan.flatMap((b) => b.chunks.flatMap((c) => Array.from(c.rows)));
    expect(visited).toEqual(Array.from(order));
    for (const batch of plan) expect(batch.chunks.reduce((n, c) => n + c.rows.length, 0)).toBe(batch.size);
  });

  it('makes one chunk per batch when chunkSize equals batchSize', () => {
    const plan = planEpoch(order, 0, 5, 5);
    expect(plan.map((b) => b.chunks.length)).toEqual([1, 1]);
  });
});
