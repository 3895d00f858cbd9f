import { createOptimizer, maxAbs, mulberry32, type AdamSpec, type OptimizerSpec } from '@adamant/core';
import { describe, expect, it } from 'vitest';
import { AdamOverflowBound } from './AdamOverflowBound.js';

const defaults: AdamSpec = { type: 'adam', learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, epsilonInsideSqrt: false, lazyEmbedding: false };

const allFinite = (...arrays: Float32Array[]) => arrays.every((x) => x.every((v) => Number.isFinite(v)));

describe('AdamOverflowBound', () => {
  it('admits the updates of a healthy run, step after step', () => {
    const bound = new AdamOverflowBound(defaults);
    const params = new Float32Array(16).fill(0.5);
    const optimizer = createOptimizer(defaults, 16);
    bound.measure(params, optimizer.state());
    for (let t = 0; t < 100_000; t++) expect(bound.admit(50, t)).toBe(true);
  });

  it('admits nothing it cannot prove: a gradient whose square overflows, a huge learning rate, weights near the float32 limit', () => {
    const params = new Float32Array(4).fill(1);
    const state = createOptimizer(defaults, 4).state();
    const admits = (spec: AdamSpec, gradMax: number, weights = params) => {
      const bound = new AdamOverflowBound(spec);
      bound.measure(weights, state);
      return bound.admit(gradMax, 0);
    };
    expect(admits(defaults, 1e20)).toBe(false);
    expect(admits({ ...defaults, learningRate: 1e30 }, 1)).toBe(false);
    expect(admits(defaults, 1, new Float32Array(4).fill(3e38))).toBe(false);
    expect(admits({ ...defaults, beta1: 0.999999999 }, 1)).toBe(false);
    expect(admits({ ...defaults, epsilon: 1e-60 }, 1)).toBe(false);
    expect(admits(defaults, 1)).toBe(true);
  });

  it('never admits an update that goes non-finite (random states from tiny to near float32 limits)', () => {
    const random = mulberry32(9);
    const magnitude = () => 10 ** (random() * 76 - 38);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    let admitted = 0;
    let refused = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const spec: AdamSpec = {
        ...defaults,
        learningRate: magnitude(),
        beta1: pick([0, 0.5, 0.9, 0.99999]),
        beta2: pick([0, 0.9, 0.999, 0.9999999]),
        epsilon: magnitude(),
        epsilonInsideSqrt: random() < 0.5,
      };
      const n = 8;
      const optimizer = createOptimizer(spec, n);
      const steps = Math.floor(random() * 50);
      const fill = (scale: number, signed: boolean) => Float32Array.from({ length: n }, () => (signed && random() < 0.5 ? -1 : 1) * random() * scale);
      const state = { name: 'adam', step: steps, slots: { m: fill(magnitude(), true), v: fill(magnitude(), false) } };
      if (!allFinite(state.slots.m, state.slots.v)) continue;
      optimizer.restore(state);
      const params = fill(magnitude(), true);
      const grads = fill(magnitude(), true);
      if (!allFinite(params, grads)) continue;
      const bound = new AdamOverflowBound(spec);
      bound.measure(params, state);
      if (!bound.admit(maxAbs(grads), steps)) {
        refused++;
        continue;
      }
      admitted++;
      optimizer.apply(params, grads);
      const after = optimizer.state();
      expect(allFinite(params, after.slots.m!, after.slots.v!), `trial ${trial}: ${JSON.stringify(spec)}`).toBe(true);
    }
    // Both outcomes are exercised.
    expect(admitted).toBeGreaterThan(300);
    expect(refused).toBeGreaterThan(300);
  });

  it('never admits an AdamW or SGD update that goes non-finite, on a schedule too (random states)', () => {
    const random = mulberry32(10);
    const magnitude = () => 10 ** (random() * 76 - 38);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    const outcomes = { adamw: [0, 0], sgd: [0, 0] };
    for (let trial = 0; trial < 4000; trial++) {
      const learningRate = random() < 0.5 ? magnitude() : { schedule: 'exponentialDecay' as const, initialLearningRate: magnitude(), decaySteps: 1 + random() * 10, decayRate: 0.5 + random() * 2, staircase: false };
      const spec: OptimizerSpec =
        random() < 0.5
          ? { type: 'adamw', learningRate, weightDecay: pick([0, 0.004, 1, magnitude()]), excludeFromWeightDecay: [], beta1: pick([0, 0.9]), beta2: pick([0.9, 0.999]), epsilon: magnitude() }
          : { type: 'sgd', learningRate, momentum: pick([0, 0.5, 0.9, 1]), nesterov: random() < 0.5 };
      const n = 8;
      const optimizer = createOptimizer(spec, n);
      const steps = Math.floor(random() * 50);
      const fill = (scale: number, signed: boolean) => Float32Array.from({ length: n }, () => (signed && random() < 0.5 ? -1 : 1) * random() * scale);
      const slots: Record<string, Float32Array> =
        spec.type === 'adamw' ? { m: fill(magnitude(), true), v: fill(magnitude(), false) } : spec.momentum === 0 ? {} : { momentum: fill(magnitude(), true) };
      const state = { name: spec.type, step: steps, slots };
      if (!allFinite(...Object.values(slots))) continue;
      optimizer.restore(state);
      const params = fill(magnitude(), true);
      const grads = fill(magnitude(), true);
      if (!allFinite(params, grads)) continue;
      const bound = new AdamOverflowBound(spec);
      bound.measure(params, state);
      const admitted = bound.admit(maxAbs(grads), steps);
      outcomes[spec.type][admitted ? 0 : 1]!++;
      if (!admitted) continue;
      optimizer.apply(params, grads);
      expect(allFinite(params, ...Object.values(optimizer.state().slots)), `trial ${trial}: ${JSON.stringify(spec)}`).toBe(true);
    }
    for (const [admitted, refused] of Object.values(outcomes)) {
      expect(admitted).toBeGreaterThan(200);
      expect(refused).toBeGreaterThan(200);
    }
  });

  it('admits the updates of healthy AdamW and SGD runs, step after step', () => {
    const specs: OptimizerSpec[] = [
      { type: 'adamw', learningRate: 0.001, weightDecay: 0.004, excludeFromWeightDecay: [], beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
      { type: 'sgd', learningRate: 0.01, momentum: 0.9, nesterov: true },
      { type: 'sgd', learningRate: 0.01, momentum: 0, nesterov: false },
    ];
    for (const spec of specs) {
      const bound = new AdamOverflowBound(spec);
      bound.measure(new Float32Array(16).fill(0.5), createOptimizer(spec, 16).state());
      for (let t = 0; t < 10_000; t++) expect(bound.admit(50, t)).toBe(true);
    }
  });
});
