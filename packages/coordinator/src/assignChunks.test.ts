import { describe, expect, it } from 'vitest';
import { assignChunks } from './assignChunks.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('assignChunks', () => {
  it('splits evenly into contiguous runs when the chunks divide', () => {
    const out = assignChunks(range(6), ['a', 'b', 'c']);
    expect([...out.entries()]).toEqual([
      ['a', [0, 1]],
      ['b', [2, 3]],
      ['c', [4, 5]],
    ]);
  });

  it.each([
    [4, 3],
    [7, 3],
    [10, 4],
    [5, 5],
  ])('gives %i chunks to %i workers in contiguous runs differing by at most one', (chunkCount, workerCount) => {
    const chunks = range(chunkCount).map((i) => 100 + i);
    const workers = range(workerCount).map((k) => `w${k}`);
    const out = assignChunks(chunks, workers);
    // Every worker gets work, in worker order, and the runs concatenate to the chunk list.
    expect([...out.keys()]).toEqual(workers);
    expect([...out.values()].flat()).toEqual(chunks);
    const sizes = [...out.values()].map((run) => run.length);
    expect(sizes.every((n) => n === Math.floor(chunkCount / workerCount) || n === Math.ceil(chunkCount / workerCount))).toBe(true);
  });

  it('leaves workers without a chunk out when there are more workers than chunks', () => {
    const out = assignChunks([0, 1], ['a', 'b', 'c', 'd', 'e']);
    expect(out.size).toBe(2);
    expect([...out.values()]).toEqual([[0], [1]]);
    expect([...out.values()].flat()).toEqual([0, 1]);
  });

  it('assigns nothing to no workers', () => {
    expect(assignChunks(range(4), []).size).toBe(0);
  });

  it('assigns nothing when there are no chunks', () => {
    expect(assignChunks([], ['a', 'b']).size).toBe(0);
  });

  it('keys the map by the worker objects themselves', () => {
    const a = { id: 1 };
    const b = { id: 2 };
    const out = assignChunks([0, 1, 2, 3], [a, b]);
    expect(out.get(a)).toEqual([0, 1]);
    expect(out.get(b)).toEqual([2, 3]);
  });
});
