import { describe, expect, it } from 'vitest';
import { floatBytes, wordBytes, type StepMessage, type WorkerJob } from '@adamant/core';
import { WeightsMirror } from './WeightsMirror.js';

const job: WorkerJob = {
  layers: [
    { type: 'embedding', inputDim: 4, outputDim: 2 },
    { type: 'lstm', units: 1, returnSequences: false, activation: 'tanh', recurrentActivation: 'sigmoid' },
    { type: 'dense', units: 1, activation: 'sigmoid', useBias: true },
  ],
  loss: 'binaryCrossentropy',
  metrics: [],
  backend: 'cpu',
  seed: 0,
  inputShape: [3],
  // 4 x 2 table, then 3 dense parameters (small enough to read by eye).
  paramCount: 11,
};

const step = (dense: number[], rows?: number[], values?: number[]): StepMessage => ({
  type: 'step',
  step: 0,
  weights: floatBytes(Float32Array.from(dense)),
  ...(rows ? { tableRows: wordBytes(Uint32Array.from(rows)), tableValues: floatBytes(Float32Array.from(values ?? [])) } : {}),
  chunks: [],
});

describe('WeightsMirror', () => {
  it('takes the dense weights whole and the embedding rows a step sends, keeping the others', () => {
    const mirror = new WeightsMirror(job);
    mirror.update(step([1, 2, 3], [0, 3], [10, 11, 40, 41]), 'coordinator');
    const flat = mirror.update(step([4, 5, 6], [1], [20, 21]), 'coordinator');
    expect(Array.from(flat)).toEqual([10, 11, 20, 21, 0, 0, 40, 41, 4, 5, 6]);
  });

  it('refuses rows outside the table and steps without rows, naming the peer', () => {
    const mirror = new WeightsMirror(job);
    expect(() => mirror.update(step([1, 2, 3], [4], [1, 1]), 'coordinator ws://x')).toThrow('coordinator ws://x: embedding rows must be ascending ids below 4; found 4 at 0');
    expect(() => mirror.update(step([1, 2, 3]), 'coordinator ws://x')).toThrow('coordinator ws://x: sent a step without the embedding rows');
    expect(() => mirror.update(step([1, 2], [0], [1, 1]), 'coordinator ws://x')).toThrow(/weights has 2 values, expected 3/);
  });

  it('passes a model without an embedding through whole', () => {
    const mirror = new WeightsMirror({ ...job, layers: [{ type: 'dense', units: 1, activation: 'linear', useBias: true, inputShape: [2] }], paramCount: 3 });
    expect(Array.from(mirror.update(step([7, 8, 9]), 'c'))).toEqual([7, 8, 9]);
  });
});
