import { describe, expect, it } from 'vitest';
import type { OptimizerSpec } from '../config/optimizer.js';
import { mulberry32 } from '../rng.js';
import { createOptimizer } from './createOptimizer.js';

const n = 300;
const weights = [
  { name: 'embedding_1/embeddings', offset: 0, size: 200 },
  { name: 'dense_2/kernel', offset: 200, size: 90 },
  { name: 'dense_2/bias', offset: 290, size: 10 },
];
const cosine: OptimizerSpec['learningRate'] = { schedule: 'cosineDecay', initialLearningRate: 0.001, decaySteps: 20, alpha: 0.1, warmupTarget: 0.02, warmupSteps: 5 };
const adam = { type: 'adam', learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, epsilonInsideSqrt: false, lazyEmbedding: false } as const;
const specs: [string, OptimizerSpec][] = [
  ['adam', adam],
  ['adam on a schedule, epsilon inside the root', { ...adam, learningRate: cosine, epsilonInsideSqrt: true }],
  ['adamw', { type: 'adamw', learningRate: cosine, weightDecay: 0.1, excludeFromWeightDecay: ['bias'], beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }],
  ['sgd', { type: 'sgd', learningRate: 0.1, momentum: 0, nesterov: false }],
  ['sgd with momentum', { type: 'sgd', learningRate: cosine, momentum: 0.9, nesterov: false }],
  ['sgd with Nesterov momentum', { type: 'sgd', learningRate: 0.05, momentum: 0.8, nesterov: true }],
];

/** [0, n) cut at random points into ranges, shuffled: one Uint32Array of bounds. */
function randomCover(random: () => number): Uint32Array {
  const cuts = [0, n];
  for (let k = 0; k < 12; k++) cuts.push(Math.floor(random() * n));
  cuts.sort((a, b) => a - b);
  const pairs: [number, number][] = [];
  for (let k = 0; k + 1 < cuts.length; k++) pairs.push([cuts[k]!, cuts[k + 1]!]);
  pairs.sort(() => random() - 0.5);
  return Uint32Array.from(pairs.flat());
}

const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

describe('applyRanges', () => {
  for (const [name, spec] of specs) {
    it(`over any cut of the parameters, in any order, equals apply to the bit (${name})`, () => {
      const random = mulberry32(name.length);
      const whole = createOptimizer(spec, n, weights);
      const ranged = createOptimizer(spec, n, weights);
      const a = Float32Array.from({ length: n }, () => random() - 0.5);
      const b = a.slice();
      for (let step = 0; step < 30; step++) {
        // Some zero gradients, as an embedding's untouched rows have.
        const g = Float32Array.from({ length: n }, () => (random() < 0.3 ? 0 : random() - 0.5));
        whole.apply(a, g);
        const bounds = randomCover(random);
        const pairs = bounds.length / 2;
        // Part of the cover in one call, one range alone, the rest in another call.
        const first = Math.floor(random() * pairs);
        ranged.applyRanges(b, g, bounds, first);
        if (first < pairs) ranged.applyRange(b, g, bounds[2 * first]!, bounds[2 * first + 1]!);
        ranged.applyRanges(b, g, bounds.subarray(Math.min(2 * first + 2, bounds.length)), Math.max(0, pairs - first - 1));
        ranged.finishStep();
        expect(bytes(b).equals(bytes(a))).toBe(true);
      }
      const state = ranged.state();
      expect(state.step).toBe(30);
      for (const [slot, values] of Object.entries(whole.state().slots)) expect(bytes(state.slots[slot]!).equals(bytes(values))).toBe(true);
    });
  }

  it('refuses ranges outside the parameters, naming the range', () => {
    const optimizer = createOptimizer(adam, n);
    const params = new Float32Array(n);
    expect(() => optimizer.applyRanges(params, params, Uint32Array.of(0, 10, 290, 301), 2)).toThrow(/^Adam\.apply: \[290, 301\) is outside \[0, 300\)$/);
    expect(() => optimizer.applyRanges(params, params, Uint32Array.of(20, 10), 1)).toThrow(/\[20, 10\) is outside/);
    expect(() => optimizer.applyRanges(params, params, Uint32Array.of(0, 10), 2)).toThrow(/2 ranges, but 2 bounds/);
    expect(() => createOptimizer({ type: 'sgd', learningRate: 0.1, momentum: 0, nesterov: false }, n).applyRanges(params, new Float32Array(3), Uint32Array.of(0, 1), 1)).toThrow(
      /SGD\.apply: expected 300 values, got params 300, grads 3/,
    );
  });
});
