import { floatBytes, mulberry32, ParamLayout, wordBytes, type ChunkResult, type OptimizerSpec } from '@adamant/core';
import { describe, expect, it } from 'vitest';
import { ParameterServer } from './ParameterServer.js';

const layout = new ParamLayout([
  { name: 'embedding_1/embeddings', shape: [4, 2], offset: 0, size: 8 },
  { name: 'dense_2/kernel', shape: [2, 1], offset: 8, size: 2 },
]);
const table = { rows: 4, dim: 2 };
const adam = (lazyEmbedding: boolean): OptimizerSpec => ({ type: 'adam', learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, epsilonInsideSqrt: false, lazyEmbedding });

/** One chunk per step: a dense gradient and a few embedding rows, drawn from `random`. */
function chunk(random: () => number, step: number): ChunkResult {
  const rows = step % 2 === 0 ? Uint32Array.of(0, 2) : Uint32Array.of(1);
  const values = Float32Array.from({ length: rows.length * 2 }, () => random() - 0.5);
  return { type: 'chunk', step, index: 0, samples: 1, lossSum: 0, metricSums: [], grads: floatBytes(Float32Array.from({ length: 2 }, () => random() - 0.5)), sparseRows: wordBytes(rows), sparseValues: floatBytes(values) };
}

function train(server: ParameterServer, from: number, to: number): void {
  const random = mulberry32(from + 1);
  for (let step = from; step < to; step++) {
    server.beginStep(1, 1);
    server.add(0, server.decode(chunk(random, step), 'test'));
    server.update();
  }
}

const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

describe('ParameterServer', () => {
  for (const lazy of [false, true]) {
    it(`restores a snapshot into a new server that continues bitwise as the original (lazyEmbedding ${lazy})`, () => {
      const initial = Float32Array.from({ length: layout.size }, (_, i) => i / 10);
      const original = new ParameterServer(layout, table, adam(lazy), initial);
      train(original, 0, 3);
      const snapshot = original.snapshot();
      train(original, 3, 6);
      const restored = new ParameterServer(layout, table, adam(lazy), new Float32Array(layout.size));
      restored.restore(snapshot);
      expect(restored.step).toBe(3);
      train(restored, 3, 6);
      expect(bytes(restored.params).equals(bytes(original.params))).toBe(true);
      expect(restored.step).toBe(6);
    });
  }

  it('lazyEmbedding leaves untouched embedding rows as they were; exact Adam moves them by their moments', () => {
    const initial = new Float32Array(layout.size).fill(1);
    const lazy = new ParameterServer(layout, table, adam(true), initial);
    const exact = new ParameterServer(layout, table, adam(false), initial);
    train(lazy, 0, 2);
    train(exact, 0, 2);
    // Row 3 is never touched; row 0 was touched only at step 0.
    expect([...lazy.params.subarray(6, 8)]).toEqual([1, 1]);
    expect([...exact.params.subarray(6, 8)]).toEqual([1, 1]);
    expect(lazy.params[0]).not.toBe(exact.params[0]);
  });

  it('refuses weights of the wrong size or with a NaN, naming the weight', () => {
    const server = new ParameterServer(layout, table, adam(false), new Float32Array(layout.size));
    expect(() => server.setWeights(new Float32Array(3), 'init')).toThrow(/init: has 3 parameters, the model has 10/);
    const bad = new Float32Array(layout.size);
    bad[9] = Number.NaN;
    expect(() => server.setWeights(bad, 'init')).toThrow(/dense_2\/kernel\[1\] is NaN/);
  });
});
