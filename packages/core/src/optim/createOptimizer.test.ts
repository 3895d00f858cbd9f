import { describe, expect, it } from 'vitest';
import type { AdamSpec, OptimizerSpec } from '../config/optimizer.js';
import { OptimizerStateError } from '../errors.js';
import { mulberry32 } from '../rng.js';
import { thrown } from '../thrown.testutil.js';
import { Adam } from './adam.js';
import { AdamW } from './adamw.js';
import { createOptimizer } from './createOptimizer.js';
import type { Optimizer, OptimizerState } from './optimizer.js';
import { SGD } from './sgd.js';

const spec: AdamSpec = { type: 'adam', learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, epsilonInsideSqrt: false, lazyEmbedding: false };

function gradients(n: number, steps: number, seed: number): Float32Array[] {
  const random = mulberry32(seed);
  return Array.from({ length: steps }, () => Float32Array.from({ length: n }, () => random() * 2 - 1));
}

const bytes = (x: Float32Array): Buffer => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

describe('createOptimizer', () => {
  it('builds Adam from its spec and gives the spec back', () => {
    const optimizer = createOptimizer(spec, 5);
    expect(optimizer).toBeInstanceOf(Adam);
    expect(optimizer).toMatchObject({ name: 'adam', size: 5, step: 0 });
    expect(optimizer.getConfig()).toEqual(spec);
    expect(createOptimizer(optimizer.getConfig(), 5).getConfig()).toEqual(spec);
  });

  const adamw: OptimizerSpec = {
    type: 'adamw',
    learningRate: { schedule: 'cosineDecay', initialLearningRate: 0, decaySteps: 200, alpha: 0, warmupTarget: 0.01, warmupSteps: 100 },
    weightDecay: 0.004,
    excludeFromWeightDecay: ['bias'],
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-7,
    globalClipnorm: 1,
  };
  const sgd: OptimizerSpec = {
    type: 'sgd',
    learningRate: { schedule: 'piecewiseConstantDecay', boundaries: [100], values: [0.1, 0.01] },
    momentum: 0.9,
    nesterov: true,
  };

  it('builds AdamW and SGD from their specs and gives the specs back, as copies', () => {
    const built = createOptimizer(adamw, 5, [{ name: 'dense_1/kernel', offset: 0, size: 4 }, { name: 'dense_1/bias', offset: 4, size: 1 }]);
    expect(built).toBeInstanceOf(AdamW);
    expect(built).toMatchObject({ name: 'adamw', size: 5, step: 0 });
    expect(built.getConfig()).toEqual(adamw);
    expect(built.getConfig()).not.toBe(adamw);
    expect(built.learningRate()).toBe(0);
    const plain = createOptimizer(sgd, 5);
    expect(plain).toBeInstanceOf(SGD);
    expect(plain.getConfig()).toEqual(sgd);
    expect(plain.learningRate()).toBe(0.1);
  });

  it.each([
    ['tfjs-exact', spec],
    ['epsilon inside the sqrt', { ...spec, epsilonInsideSqrt: true }],
    ['adam on a schedule', { ...spec, learningRate: { schedule: 'exponentialDecay', initialLearningRate: 0.01, decaySteps: 10, decayRate: 0.5, staircase: false } } as AdamSpec],
    ['adamw', adamw],
    ['sgd', sgd],
  ])('continues bitwise from state()/restore() as an uninterrupted run (%s)', (_, config) => {
    const n = 33;
    const grads = gradients(n, 300, 11);
    const whole = createOptimizer(config, n);
    const expected = new Float32Array(n);
    for (const g of grads) whole.apply(expected, g);

    const first = createOptimizer(config, n);
    const params = new Float32Array(n);
    for (const g of grads.slice(0, 250)) first.apply(params, g);
    const state = first.state();
    const second: Optimizer = createOptimizer(config, n);
    second.restore(state);
    expect(second.step).toBe(250);
    for (const g of grads.slice(250)) second.apply(params, g);

    expect(bytes(params).equals(bytes(expected))).toBe(true);
    for (const [slot, values] of Object.entries(whole.state().slots)) expect(bytes(second.state().slots[slot]!).equals(bytes(values))).toBe(true);
    expect(second.learningRate()).toBe(whole.learningRate());
  });

  it('steps applied by ranges equal whole steps', () => {
    const n = 20;
    const grads = gradients(n, 5, 2);
    const whole = createOptimizer(spec, n);
    const ranged = createOptimizer(spec, n);
    const a = new Float32Array(n);
    const b = new Float32Array(n);
    for (const g of grads) {
      whole.apply(a, g);
      ranged.applyRange(b, g, 0, 7);
      ranged.applyRange(b, g, 7, n);
      ranged.finishStep();
    }
    expect(bytes(b).equals(bytes(a))).toBe(true);
    expect(ranged.step).toBe(5);
  });

  it('gives copies of its state, slots m and v', () => {
    const optimizer = createOptimizer(spec, 3);
    optimizer.apply(new Float32Array(3), Float32Array.of(1, 2, 3));
    const state = optimizer.state();
    expect(Object.keys(state.slots)).toEqual(['m', 'v']);
    expect(state).toMatchObject({ name: 'adam', step: 1 });
    state.slots.m!.fill(99);
    expect(optimizer.state().slots.m![0]).not.toBe(99);
  });

  it('refuses a state of another optimizer or of other sizes, naming what differs', () => {
    const optimizer = createOptimizer(spec, 3);
    const good = optimizer.state();
    const refuse = (state: OptimizerState): string => thrown(() => optimizer.restore(state), OptimizerStateError, 'E_SHAPE').message;
    expect(refuse({ ...good, name: 'sgd' })).toBe('optimizer state is for "sgd", this optimizer is "adam"');
    expect(refuse({ ...good, slots: { m: new Float32Array(3), v: new Float32Array(4) } })).toBe('adam state: slot v has 4 values, the optimizer updates 3');
    expect(refuse({ ...good, slots: { m: new Float32Array(3) } })).toBe('adam state: slot v is missing');
    expect(refuse({ ...good, slots: { ...good.slots, u: new Float32Array(3) } })).toBe('adam state: unknown slot u; expected m, v');
    expect(refuse({ ...good, step: -1 })).toBe('adam state: step -1 is not a count of steps');
  });
});
