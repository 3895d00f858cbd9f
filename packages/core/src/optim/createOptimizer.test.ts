import { describe, expect, it } from 'vitest';
import type { AdamSpec } from '../config/optimizer.js';
import { OptimizerStateError } from '../errors.js';
import { mulberry32 } from '../rng.js';
import { thrown } from '../thrown.testutil.js';
import { Adam } from './adam.js';
import { createOptimizer } from './createOptimizer.js';
import type { Optimizer, OptimizerState } from './optimizer.js';

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

  it.each([
    ['tfjs-exact', spec],
    ['epsilon inside the sqrt', { ...spec, epsilonInsideSqrt: true }],
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
    expect(bytes(second.state().slots.m!).equals(bytes(whole.state().slots.m!))).toBe(true);
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
