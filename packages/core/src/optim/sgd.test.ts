import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LearningRate, SgdSpec } from '../config/optimizer.js';
import { mulberry32 } from '../rng.js';
import { learningRateAt } from './schedules.js';
import { SGD } from './sgd.js';

const f32 = Math.fround;
const n = 300;

const spec = (overrides: Partial<SgdSpec> = {}): SgdSpec => ({ type: 'sgd', learningRate: 0.01, momentum: 0, nesterov: false, ...overrides });

function run(steps: number, seed: number): { initial: Float32Array; grads: Float32Array[] } {
  const random = mulberry32(seed);
  const initial = Float32Array.from({ length: n }, () => random() * 2 - 1);
  const grads = Array.from({ length: steps }, (_, t) => Float32Array.from({ length: n }, () => (random() * 2 - 1) * (t % 5 === 0 ? 1e-3 : 0.5)));
  return { initial, grads };
}

/** Keras 3's SGD `update_step`, transcribed with every tensor operation rounded to float32. */
function kerasSgd(s: SgdSpec, initial: Float32Array, grads: Float32Array[]): Float32Array {
  const variable = initial.slice();
  const m = new Float32Array(n);
  for (const [iterations, gradient] of grads.entries()) {
    const learningRate = f32(learningRateAt(s.learningRate, iterations));
    const momentum = f32(s.momentum);
    for (let i = 0; i < n; i++) {
      const g = gradient[i]!;
      if (s.momentum !== 0) {
        m[i] = f32(f32(m[i]! * momentum) - f32(g * learningRate));
        if (s.nesterov) variable[i] = f32(variable[i]! + f32(f32(m[i]! * momentum) - f32(g * learningRate)));
        else variable[i] = f32(variable[i]! + m[i]!);
      } else variable[i] = f32(variable[i]! - f32(g * learningRate));
    }
  }
  return variable;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

const bytes = (x: Float32Array): Buffer => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

function train(s: SgdSpec, initial: Float32Array, grads: Float32Array[]): Float32Array {
  const params = initial.slice();
  const sgd = new SGD(n, s);
  for (const g of grads) sgd.apply(params, g);
  return params;
}

/** tfjs's optimizer over the same steps, its learning rate set per step where it has a setter. */
function trainTfjs(optimizer: tf.Optimizer, initial: Float32Array, grads: Float32Array[], rateAt?: (step: number) => number): Float32Array {
  const variable = tf.variable(tf.tensor1d(initial));
  for (const [step, g] of grads.entries()) {
    if (rateAt) (optimizer as tf.SGDOptimizer).setLearningRate(rateAt(step));
    tf.tidy(() => optimizer.applyGradients([{ name: variable.name, tensor: tf.tensor1d(g) }]));
  }
  const out = variable.dataSync() as Float32Array;
  optimizer.dispose();
  variable.dispose();
  return out;
}

const exponential: LearningRate = { schedule: 'exponentialDecay', initialLearningRate: 0.05, decaySteps: 20, decayRate: 0.5, staircase: false };

describe('SGD', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    await tf.setBackend('cpu');
  });

  it('without momentum is tf.train.sgd to the bit over 150 steps, also with a schedule', () => {
    const { initial, grads } = run(150, 1);
    expect(bytes(train(spec(), initial, grads)).equals(bytes(trainTfjs(tf.train.sgd(0.01), initial, grads)))).toBe(true);
    const scheduled = train(spec({ learningRate: exponential }), initial, grads);
    expect(bytes(scheduled).equals(bytes(trainTfjs(tf.train.sgd(1), initial, grads, (step) => learningRateAt(exponential, step))))).toBe(true);
    expect(maxAbsDiff(scheduled, initial)).toBeGreaterThan(0.01);
  });

  it.each([false, true])('with momentum (nesterov %s) equals tf.train.momentum over 150 steps within 1e-6', (nesterov) => {
    const { initial, grads } = run(150, 2);
    const ours = train(spec({ momentum: 0.9, nesterov }), initial, grads);
    const tfjs = trainTfjs(tf.train.momentum(0.01, 0.9, nesterov), initial, grads);
    expect(maxAbsDiff(ours, tfjs)).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiff(ours, initial)).toBeGreaterThan(0.01);
  });

  it('plain, momentum and Nesterov momentum are three different updates', () => {
    const { initial, grads } = run(20, 3);
    const plain = train(spec(), initial, grads);
    const momentum = train(spec({ momentum: 0.9 }), initial, grads);
    const nesterov = train(spec({ momentum: 0.9, nesterov: true }), initial, grads);
    expect(maxAbsDiff(plain, momentum)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(momentum, nesterov)).toBeGreaterThan(1e-3);
  });

  it.each([
    ['plain, exponential decay', spec({ learningRate: exponential })],
    ['momentum, piecewise constant', spec({ momentum: 0.8, learningRate: { schedule: 'piecewiseConstantDecay', boundaries: [30, 90], values: [0.05, 0.01, 0.001] } })],
    [
      'nesterov, cosine with warmup',
      spec({ momentum: 0.95, nesterov: true, learningRate: { schedule: 'cosineDecay', initialLearningRate: 0, decaySteps: 100, alpha: 0, warmupTarget: 0.02, warmupSteps: 20 } }),
    ],
  ])('equals Keras\'s SGD with a schedule over 200 steps within 1e-6 (%s)', (_, s) => {
    const { initial, grads } = run(200, 4);
    const ours = train(s, initial, grads);
    expect(maxAbsDiff(ours, kerasSgd(s, initial, grads))).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiff(ours, initial)).toBeGreaterThan(0.01);
  });

  it('continues bitwise from state()/restore(); its slot is the velocity, absent without momentum', () => {
    const { initial, grads } = run(60, 5);
    for (const s of [spec({ learningRate: exponential }), spec({ momentum: 0.9, nesterov: true, learningRate: exponential })]) {
      const expected = train(s, initial, grads);
      const first = new SGD(n, s);
      const params = initial.slice();
      for (const g of grads.slice(0, 25)) first.apply(params, g);
      const state = first.state();
      expect(Object.keys(state.slots)).toEqual(s.momentum === 0 ? [] : ['momentum']);
      const second = new SGD(n, s);
      second.restore(state);
      expect(second.step).toBe(25);
      for (const g of grads.slice(25)) second.apply(params, g);
      expect(bytes(params).equals(bytes(expected))).toBe(true);
    }
    expect(() => new SGD(n, spec({ momentum: 0.9 })).restore({ name: 'sgd', step: 3, slots: {} })).toThrow('sgd state: slot momentum is missing');
  });
});
