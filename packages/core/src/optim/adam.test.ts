import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam } from './adam.js';
import type { AdamConfig, LearningRate } from '../config/optimizer.js';
import { mulberry32 } from '../rng.js';
import { learningRateAt } from './schedules.js';

const defaults = { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, epsilonInsideSqrt: false, lazyEmbedding: false } satisfies AdamConfig;

function randomArray(n: number, random: () => number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (random() * 2 - 1) * scale;
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe('Adam on flat arrays', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    await tf.setBackend('cpu');
  });

  it.each([
    ['defaults', defaults],
    ['a larger step and other betas', { ...defaults, learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-5 }],
  ])('matches tf.train.adam for 200 steps (%s)', (_, config) => {
    const n = 1000;
    const random = mulberry32(42);
    const initial = randomArray(n, random, 1);
    const params = initial.slice();
    const variable = tf.variable(tf.tensor1d(initial));
    const optimizer = tf.train.adam(config.learningRate, config.beta1, config.beta2, config.epsilon);
    const adam = new Adam(n, config);
    for (let step = 0; step < 200; step++) {
      // Gradients of varying scale, some tiny, as real training produces.
      const grads = randomArray(n, random, step % 7 === 0 ? 1e-4 : 0.5);
      adam.apply(params, grads);
      tf.tidy(() => optimizer.applyGradients([{ name: variable.name, tensor: tf.tensor1d(grads) }]));
    }
    const expected = variable.dataSync() as Float32Array;
    expect(maxAbsDiff(params, expected)).toBeLessThanOrEqual(1e-6);
    // And it really moved: the comparison is not between two unchanged copies.
    expect(maxAbsDiff(params, initial)).toBeGreaterThan(0.01);
    optimizer.dispose();
    variable.dispose();
  });

  it.each<[string, LearningRate]>([
    ['cosine decay with warmup', { schedule: 'cosineDecay', initialLearningRate: 0, decaySteps: 150, alpha: 0.1, warmupTarget: 0.01, warmupSteps: 50 }],
    ['staircase exponential decay', { schedule: 'exponentialDecay', initialLearningRate: 0.01, decaySteps: 30, decayRate: 0.5, staircase: true }],
    ['piecewise constant', { schedule: 'piecewiseConstantDecay', boundaries: [0, 60, 120], values: [0.02, 0.01, 0.005, 0.001] }],
  ])('with a schedule (%s) is tf.train.adam given the schedule\'s rate at each step, the first at step 0', (_, learningRate) => {
    const n = 500;
    const random = mulberry32(21);
    const initial = randomArray(n, random, 1);
    const params = initial.slice();
    const variable = tf.variable(tf.tensor1d(initial));
    const optimizer = tf.train.adam(1, defaults.beta1, defaults.beta2, defaults.epsilon);
    const adam = new Adam(n, { ...defaults, learningRate });
    for (let step = 0; step < 200; step++) {
      const grads = randomArray(n, random, 0.5);
      expect(adam.learningRate()).toBe(learningRateAt(learningRate, step));
      adam.apply(params, grads);
      // tf.train.adam reads its learningRate field at every step.
      (optimizer as unknown as { learningRate: number }).learningRate = learningRateAt(learningRate, step);
      tf.tidy(() => optimizer.applyGradients([{ name: variable.name, tensor: tf.tensor1d(grads) }]));
    }
    expect(Buffer.from(params.buffer).equals(Buffer.from((variable.dataSync() as Float32Array).buffer))).toBe(true);
    expect(maxAbsDiff(params, initial)).toBeGreaterThan(0.01);
    optimizer.dispose();
    variable.dispose();
  });

  it('with epsilonInsideSqrt follows the textbook formulas', () => {
    const config = { ...defaults, learningRate: 0.01, epsilon: 1e-4, epsilonInsideSqrt: true };
    const n = 257;
    const random = mulberry32(7);
    const params = randomArray(n, random, 1);
    const reference = Array.from(params);
    const m = new Array<number>(n).fill(0);
    const v = new Array<number>(n).fill(0);
    const adam = new Adam(n, config);
    for (let t = 1; t <= 200; t++) {
      const grads = randomArray(n, random, 0.3);
      adam.apply(params, grads);
      for (let i = 0; i < n; i++) {
        const g = grads[i]!;
        m[i] = config.beta1 * m[i]! + (1 - config.beta1) * g;
        v[i] = config.beta2 * v[i]! + (1 - config.beta2) * g * g;
        const mHat = m[i]! / (1 - config.beta1 ** t);
        const vHat = v[i]! / (1 - config.beta2 ** t);
        reference[i] = reference[i]! - (config.learningRate * mHat) / Math.sqrt(vHat + config.epsilon);
      }
    }
    expect(maxAbsDiff(params, Float32Array.from(reference))).toBeLessThanOrEqual(1e-5);
    expect(adam.step).toBe(200);
  });

  it('restores a saved state and continues identically', () => {
    const n = 64;
    const random = mulberry32(3);
    const grads = Array.from({ length: 20 }, () => randomArray(n, random, 1));
    const a = new Adam(n, defaults);
    const pa = new Float32Array(n);
    for (const g of grads) a.apply(pa, g);
    const b = new Adam(n, defaults);
    const pb = new Float32Array(n);
    for (const g of grads.slice(0, 10)) b.apply(pb, g);
    const c = new Adam(n, defaults);
    c.restore(b.state());
    for (const g of grads.slice(10)) c.apply(pb, g);
    expect(Buffer.from(pb.buffer).equals(Buffer.from(pa.buffer))).toBe(true);
  });

  it('rejects arrays of the wrong length', () => {
    expect(() => new Adam(4, defaults).apply(new Float32Array(4), new Float32Array(3))).toThrow(/expected 4 values/);
  });
});
